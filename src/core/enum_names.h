// "a, b, c": the stable names of every value of an enum, from its ToString (found by
// argument-dependent lookup) and its All...() list, so that help texts and error messages never
// restate a list that the enum's own table already holds.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace sdr {

template <typename Enum>
std::string JoinNames(std::span<const Enum> all, std::string_view separator = ", ") {
  std::string s;
  for (const Enum value : all) {
    if (!s.empty()) s += separator;
    s += ToString(value);
  }
  return s;
}

}  // namespace sdr
