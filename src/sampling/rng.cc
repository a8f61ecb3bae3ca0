#include "sampling/rng.h"

#include <array>

#include "core/check.h"

namespace sdr {
namespace {

struct RngKindEntry {
  RngKind kind;
  std::string_view name;
};
constexpr std::array<RngKindEntry, 2> kRngKinds = {{
    {RngKind::kCuda, "cuda"},
    {RngKind::kCpu, "cpu"},
}};
constexpr std::array<RngKind, 2> kAllRngKinds = {RngKind::kCuda, RngKind::kCpu};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

std::string_view ToString(RngKind kind) {
  for (const auto& e : kRngKinds) {
    if (e.kind == kind) return e.name;
  }
  SDR_CHECK(false && "RngKind missing from kRngKinds");
  return {};
}

std::optional<RngKind> ParseRngKind(std::string_view name) {
  for (const auto& e : kRngKinds) {
    if (EqualsIgnoreCase(e.name, name)) return e.kind;
  }
  return std::nullopt;
}

std::span<const RngKind> AllRngKinds() { return kAllRngKinds; }

NoiseGenerator::~NoiseGenerator() = default;

std::unique_ptr<NoiseGenerator> MakeNoiseGenerator(RngKind kind, uint64_t seed) {
  switch (kind) {
    case RngKind::kCuda:
      return MakePhiloxGenerator(seed);
    case RngKind::kCpu:
      return MakeMt19937Generator(seed);
  }
  SDR_CHECK(false && "unknown RngKind");
  return nullptr;
}

}  // namespace sdr
