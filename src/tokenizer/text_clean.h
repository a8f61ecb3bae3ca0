// CLIP's text cleaning, as the original tokenizer does it (without ftfy): HTML unescape (twice),
// collapse Unicode whitespace runs to one space, strip, lowercase (full Unicode case mapping).
#pragma once

#include <string>
#include <string_view>

namespace sdr {

// HTML character references: numeric (&#65; &#x41;) and the common named ones (&amp; &lt; ...).
std::u32string HtmlUnescape(std::u32string_view s);

// Unicode White_Space property (what \s matches in the reference tokenizer).
bool IsUnicodeSpace(char32_t c);
bool IsUnicodeLetter(char32_t c);  // general category L*
bool IsUnicodeNumber(char32_t c);  // general category N*

std::u32string CleanClipText(std::u32string_view text);

}  // namespace sdr
