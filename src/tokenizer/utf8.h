// UTF-8 <-> code points. Invalid input (bad lead/continuation bytes, overlongs, surrogates,
// values past U+10FFFF, truncated sequences) decodes to U+FFFD per maximal invalid subpart, the
// way Python's bytes.decode("utf-8", errors="replace") does, so no input can crash the tokenizer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sdr {

// Code points of `s`; *had_invalid (if given) reports whether any replacement happened.
std::u32string DecodeUtf8(std::string_view s, bool* had_invalid = nullptr);
std::string EncodeUtf8(std::u32string_view s);
void AppendUtf8(char32_t c, std::string* out);
// `s` as valid UTF-8: each invalid subpart replaced by U+FFFD, as DecodeUtf8 reads it.
std::string SanitizeUtf8(std::string_view s);

}  // namespace sdr
