#include "fuzz/fuzz_targets.h"

namespace sdr::fuzz {
namespace {

constexpr FuzzTarget kTargets[] = {
    {"safetensors", FuzzSafetensors}, {"gguf", FuzzGguf},           {"zip", FuzzZip},
    {"ckpt", FuzzCkpt},               {"pickle", FuzzPickle},       {"tokenizer", FuzzTokenizer},
    {"config", FuzzConfig},           {"server_request", FuzzServerRequest},
};

}  // namespace

std::span<const FuzzTarget> FuzzTargets() { return kTargets; }

const FuzzTarget* FindFuzzTarget(std::string_view name) {
  for (const FuzzTarget& t : kTargets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace sdr::fuzz
