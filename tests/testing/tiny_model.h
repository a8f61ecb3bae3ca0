// A tiny random-weight SD 1.x model (UNet 32 channels, CLIP 64 x 2 layers, VAE 32 channels)
// written once per test process and loaded as a shared SdModel.
#pragma once

#include <memory>
#include <string>

#include "runtime/sd_model.h"

namespace sdr::testing {

std::shared_ptr<const SdModel> TinySdModel();
Backend& CpuBackend();  // the process's cpu backend (backends/registry.h)
std::string TinyModelPath();  // the .safetensors behind it
std::string ClipMergesPath();  // ../shared/data/clip-vit-l-14-merges.txt

}  // namespace sdr::testing
