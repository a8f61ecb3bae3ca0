// Seed corpora for the fuzz targets (fuzz_targets.h), made by our own code: the format writers
// (WriteSafetensors, WriteGguf, WriteCkpt), the test fixtures (hand-built pickles and zips,
// tests/testing/ckpt_fixtures.h), sample prompts and SD_* environments. Every seed is a valid
// input that its target accepts (the unit suite checks this; one prompt seed deliberately runs
// past the chunk limit), so the fuzzer starts deep inside each parser rather than at its first
// magic-number check.
//
// scripts/fuzz.sh runs the sdr_fuzz_seeds program (fuzz_seeds_main.cc) to write them before
// fuzzing; nothing generated is committed.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace sdr::fuzz {

struct FuzzSeed {
  std::string name;   // file name, e.g. "f32_f16_metadata.safetensors"
  std::string bytes;
};

// The seeds of the target called `target` (empty for an unknown name). `scratch_dir` is an
// existing folder for the writers' temporary files.
Result<std::vector<FuzzSeed>> MakeFuzzSeeds(const std::string& target, const std::string& scratch_dir);

// A libFuzzer dictionary (-dict=) for `target`, or "" when it has none: the SD_* names and
// choice values for "config", the pickle globals and checkpoint entry names for "pickle" and
// "ckpt".
std::string FuzzDictionary(const std::string& target);

}  // namespace sdr::fuzz
