// Random-weight SD 1.x models for tests: values drawn from a seeded generator with the scales
// make_random_sd.py uses (weights ~ N(0, 1/fan_in), norm scales near 1, small biases).
// Deterministic for a given seed; not bit-identical to the Python tool (different generator).
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "formats/tensor_index.h"
#include "models/sd1_layout.h"

namespace sdr {

struct RandomModelOptions {
  Sd1LayoutOptions layout = TinySd1LayoutOptions();
  uint64_t seed = 1234;
  DType dtype = DType::kF32;  // f32, f16 or bf16; quantized types quantize tensors whose
                              // innermost dim is a whole number of blocks (others stay f16)
};

Result<std::vector<NamedTensor>> MakeRandomSd1Weights(const RandomModelOptions& opts);

// A random TAESD decoder (models/vae/taesd_decoder.h) with madebyollin's tensor names
// ("1.weight", "3.conv.0.weight", ...); `channels` 64 is the real width (1.2 M parameters).
Result<std::vector<NamedTensor>> MakeRandomTaesdDecoder(uint64_t seed = 7, int64_t channels = 64);

}  // namespace sdr
