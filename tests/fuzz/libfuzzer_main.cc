// The libFuzzer program for one target (SDR_FUZZ_TARGET, e.g. "gguf"; see fuzz_targets.h).
// Built only with -DSDR_FUZZ=ON (clang, -fsanitize=fuzzer,address,undefined).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/check.h"
#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const sdr::fuzz::FuzzTarget* const target = sdr::fuzz::FindFuzzTarget(SDR_FUZZ_TARGET);
  SDR_CHECK(target != nullptr);
  target->run(std::string_view(reinterpret_cast<const char*>(data), size)).IgnoreError();
  return 0;
}
