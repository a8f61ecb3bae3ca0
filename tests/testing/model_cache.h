// Paths of the full-size random SD 1.5 test checkpoints that scripts/make_test_models.sh
// writes into the model cache ($SDR_MODEL_CACHE, default ~/.cache/sdruntime/models).
#pragma once

#include <string>

namespace sdr::testing {

std::string ModelCacheDir();
// e.g. FullSizeModel("f16.safetensors") -> <cache>/sd15-rand-f16.safetensors
std::string FullSizeModel(const std::string& suffix);

// Runs a shell command, returns its exit status and captures stdout (stderr appended when
// `merge_stderr`).
int RunCommand(const std::string& cmd, std::string* out, bool merge_stderr = false);

}  // namespace sdr::testing
