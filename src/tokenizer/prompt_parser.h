// A1111 prompt-attention syntax: "(text)" x1.1, "[text]" /1.1, "(text:1.3)", nesting multiplies,
// "\(" "\)" "\[" "\]" "\\" escapes, unbalanced brackets tolerated (an unclosed "(" still applies
// to the rest), and "BREAK" (a separate word, upper case) forcing a new 77-token chunk.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sdr {

struct WeightedText {
  std::string text;
  float weight = 1.0f;
  bool is_break = false;  // a BREAK marker (text empty)
};

// Adjacent pieces of equal weight are merged; an empty prompt gives one empty piece.
std::vector<WeightedText> ParsePromptAttention(std::string_view prompt);

}  // namespace sdr
