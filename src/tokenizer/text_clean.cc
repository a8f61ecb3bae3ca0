#include "tokenizer/text_clean.h"

#include <unicode/uchar.h>
#include <unicode/ustring.h>

#include <array>
#include <utility>

namespace sdr {
namespace {

struct NamedEntity {
  std::u32string_view name;
  char32_t value;
  bool legacy;  // HTML5 also accepts it without the ';' ("&amp" -> "&")
};

// The named references prompts actually contain; the full HTML5 table (2,231) is not needed.
constexpr std::array<NamedEntity, 34> kEntities = {{
    {U"amp", U'&', true},     {U"lt", U'<', true},       {U"gt", U'>', true},      {U"quot", U'"', true},
    {U"apos", U'\'', false},   {U"nbsp", 0xA0, true},     {U"copy", 0xA9, true},    {U"reg", 0xAE, true},
    {U"trade", 0x2122, false}, {U"hellip", 0x2026, false}, {U"mdash", 0x2014, false}, {U"ndash", 0x2013, false},
    {U"lsquo", 0x2018, false}, {U"rsquo", 0x2019, false},  {U"ldquo", 0x201C, false}, {U"rdquo", 0x201D, false},
    {U"laquo", 0xAB, true},   {U"raquo", 0xBB, true},    {U"deg", 0xB0, true},     {U"times", 0xD7, true},
    {U"divide", 0xF7, true},  {U"middot", 0xB7, true},   {U"bull", 0x2022, false},  {U"euro", 0x20AC, false},
    {U"pound", 0xA3, true},   {U"yen", 0xA5, true},      {U"cent", 0xA2, true},    {U"sect", 0xA7, true},
    {U"para", 0xB6, true},    {U"plusmn", 0xB1, true},   {U"frac12", 0xBD, true},  {U"micro", 0xB5, true},
    {U"eacute", 0xE9, true},  {U"szlig", 0xDF, true},
}};

bool IsAsciiDigit(char32_t c) { return c >= U'0' && c <= U'9'; }
int HexValue(char32_t c) {
  if (c >= U'0' && c <= U'9') return static_cast<int>(c - U'0');
  if (c >= U'a' && c <= U'f') return static_cast<int>(c - U'a' + 10);
  if (c >= U'A' && c <= U'F') return static_cast<int>(c - U'A' + 10);
  return -1;
}

// Numeric reference at s[i] == '&', s[i+1] == '#'. Returns chars consumed (0: not a reference).
size_t NumericReference(std::u32string_view s, size_t i, char32_t* out) {
  size_t j = i + 2;
  const bool hex = j < s.size() && (s[j] == U'x' || s[j] == U'X');
  if (hex) ++j;
  const size_t start = j;
  uint64_t v = 0;
  while (j < s.size() && (hex ? HexValue(s[j]) >= 0 : IsAsciiDigit(s[j]))) {
    v = v * (hex ? 16 : 10) + static_cast<uint64_t>(hex ? HexValue(s[j]) : static_cast<int>(s[j] - U'0'));
    if (v > 0x10FFFF) v = 0x110000;  // saturate: invalid
    ++j;
  }
  if (j == start) return 0;
  if (j < s.size() && s[j] == U';') ++j;
  // As Python's html.unescape: invalid code points become U+FFFD; 0x80-0x9F are cp1252 in
  // HTML5 but are rare enough in prompts that we map them like the others.
  if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) v = 0xFFFD;
  *out = static_cast<char32_t>(v);
  return j - i;
}

std::u32string UnescapeOnce(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s[i] != U'&' || i + 1 >= s.size()) {
      out.push_back(s[i++]);
      continue;
    }
    char32_t c;
    if (s[i + 1] == U'#') {
      if (size_t n = NumericReference(s, i, &c)) {
        out.push_back(c);
        i += n;
        continue;
      }
    } else {
      bool matched = false;
      for (const NamedEntity& e : kEntities) {
        const size_t end = i + 1 + e.name.size();
        if (end > s.size() || s.substr(i + 1, e.name.size()) != e.name) continue;
        const bool semicolon = end < s.size() && s[end] == U';';
        if (!semicolon && !e.legacy) continue;
        out.push_back(e.value);
        i = semicolon ? end + 1 : end;
        matched = true;
        break;
      }
      if (matched) continue;
    }
    out.push_back(s[i++]);
  }
  return out;
}

}  // namespace

std::u32string HtmlUnescape(std::u32string_view s) { return UnescapeOnce(s); }

bool IsUnicodeSpace(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)); }
bool IsUnicodeLetter(char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_L_MASK) != 0; }
bool IsUnicodeNumber(char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_N_MASK) != 0; }

std::u32string CleanClipText(std::u32string_view text) {
  const std::u32string unescaped = UnescapeOnce(UnescapeOnce(text));
  // Collapse whitespace runs and strip.
  std::u32string collapsed;
  collapsed.reserve(unescaped.size());
  bool pending_space = false;
  for (char32_t c : unescaped) {
    if (IsUnicodeSpace(c)) {
      pending_space = !collapsed.empty();
      continue;
    }
    if (pending_space) collapsed.push_back(U' ');
    pending_space = false;
    collapsed.push_back(c);
  }
  // Full Unicode lowercase (root locale), through UTF-16 for ICU.
  std::u16string u16;
  u16.reserve(collapsed.size());
  for (char32_t c : collapsed) {
    if (c >= 0x10000) {
      u16.push_back(static_cast<char16_t>(0xD800 + ((c - 0x10000) >> 10)));
      u16.push_back(static_cast<char16_t>(0xDC00 + ((c - 0x10000) & 0x3FF)));
    } else {
      u16.push_back(static_cast<char16_t>(c));
    }
  }
  std::u16string lower(u16.size() * 3 + 1, u'\0');
  UErrorCode err = U_ZERO_ERROR;
  const int32_t n = u_strToLower(reinterpret_cast<UChar*>(lower.data()), static_cast<int32_t>(lower.size()),
                                 reinterpret_cast<const UChar*>(u16.data()), static_cast<int32_t>(u16.size()), "",
                                 &err);
  if (U_FAILURE(err)) return collapsed;  // cannot happen with a 3x buffer; keep the text as is
  lower.resize(static_cast<size_t>(n));
  std::u32string out;
  out.reserve(lower.size());
  for (size_t i = 0; i < lower.size(); ++i) {
    char32_t c = lower[i];
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < lower.size()) {
      c = 0x10000 + ((c - 0xD800) << 10) + (lower[i + 1] - 0xDC00);
      ++i;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace sdr
