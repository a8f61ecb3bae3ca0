#include "tokenizer/prompt_parser.h"

#include <cctype>
#include <cstdlib>

namespace sdr {
namespace {

constexpr float kRoundMultiplier = 1.1f;
constexpr float kSquareMultiplier = 1.0f / 1.1f;

bool IsWordChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || u >= 0x80;  // non-ASCII letters count as word chars
}
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Matches ":\s*([+-]?[.\d]+)\s*\)" at s[i]; on success sets *weight_text and returns its length.
size_t MatchWeight(std::string_view s, size_t i, std::string* weight_text) {
  if (s[i] != ':') return 0;
  size_t j = i + 1;
  while (j < s.size() && IsSpace(s[j])) ++j;
  const size_t start = j;
  if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
  const size_t digits = j;
  while (j < s.size() && (s[j] == '.' || std::isdigit(static_cast<unsigned char>(s[j])))) ++j;
  if (j == digits) return 0;
  const size_t end_num = j;
  while (j < s.size() && IsSpace(s[j])) ++j;
  if (j >= s.size() || s[j] != ')') return 0;
  *weight_text = std::string(s.substr(start, end_num - start));
  return j + 1 - i;
}

// Parses "[+-]?[.\d]+" fully as a float; false for forms like "1.2.3" or ".".
bool ParseFloat(const std::string& t, float* out) {
  char* end = nullptr;
  const float v = std::strtof(t.c_str(), &end);
  if (end != t.c_str() + t.size()) return false;
  *out = v;
  return true;
}

// Splits plain text on \s*\bBREAK\b\s*, appending pieces and BREAK markers.
void AppendWithBreaks(std::string_view text, std::vector<WeightedText>* res) {
  size_t from = 0, search = 0;
  for (;;) {
    const size_t at = text.find("BREAK", search);
    if (at == std::string_view::npos) break;
    const size_t after = at + 5;
    const bool left_ok = at == 0 || !IsWordChar(text[at - 1]);
    const bool right_ok = after >= text.size() || !IsWordChar(text[after]);
    if (!left_ok || !right_ok) {
      search = at + 1;
      continue;
    }
    size_t piece_end = at;
    while (piece_end > from && IsSpace(text[piece_end - 1])) --piece_end;
    res->push_back({std::string(text.substr(from, piece_end - from)), 1.0f, false});
    res->push_back({"", -1.0f, true});
    from = after;
    while (from < text.size() && IsSpace(text[from])) ++from;
    search = from;
  }
  res->push_back({std::string(text.substr(from)), 1.0f, false});
}

}  // namespace

std::vector<WeightedText> ParsePromptAttention(std::string_view s) {
  std::vector<WeightedText> res;
  std::vector<size_t> round, square;
  auto multiply_from = [&](size_t start, float m) {
    for (size_t p = start; p < res.size(); ++p) {
      if (!res[p].is_break) res[p].weight *= m;
    }
  };
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\\') {
      // "\(" "\)" "\[" "\]" "\\" -> the escaped char; a lone backslash -> nothing.
      if (i + 1 < s.size() && (s[i + 1] == '(' || s[i + 1] == ')' || s[i + 1] == '[' || s[i + 1] == ']' ||
                               s[i + 1] == '\\')) {
        res.push_back({std::string(1, s[i + 1]), 1.0f, false});
        i += 2;
      } else {
        res.push_back({"", 1.0f, false});
        i += 1;
      }
      continue;
    }
    if (c == '(') { round.push_back(res.size()); ++i; continue; }
    if (c == '[') { square.push_back(res.size()); ++i; continue; }
    std::string weight_text;
    if (const size_t n = MatchWeight(s, i, &weight_text)) {
      float w;
      if (!round.empty() && ParseFloat(weight_text, &w)) {
        multiply_from(round.back(), w);
        round.pop_back();
      } else {
        AppendWithBreaks(s.substr(i, n), &res);  // no open "(" or not a number: plain text
      }
      i += n;
      continue;
    }
    if (c == ')' && !round.empty()) { multiply_from(round.back(), kRoundMultiplier); round.pop_back(); ++i; continue; }
    if (c == ']' && !square.empty()) { multiply_from(square.back(), kSquareMultiplier); square.pop_back(); ++i; continue; }
    if (c == ')' || c == ']' || c == ':') {
      AppendWithBreaks(s.substr(i, 1), &res);  // unbalanced closer or a lone colon: literal text
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && s[j] != '\\' && s[j] != '(' && s[j] != ')' && s[j] != '[' && s[j] != ']' &&
           s[j] != ':') {
      ++j;
    }
    AppendWithBreaks(s.substr(i, j - i), &res);
    i = j;
  }
  for (size_t p : round) multiply_from(p, kRoundMultiplier);
  for (size_t p : square) multiply_from(p, kSquareMultiplier);
  if (res.empty()) res.push_back({"", 1.0f, false});
  // Merge neighbours of equal weight.
  std::vector<WeightedText> merged;
  for (auto& piece : res) {
    if (!merged.empty() && !piece.is_break && !merged.back().is_break && merged.back().weight == piece.weight) {
      merged.back().text += piece.text;
    } else {
      merged.push_back(std::move(piece));
    }
  }
  return merged;
}

}  // namespace sdr
