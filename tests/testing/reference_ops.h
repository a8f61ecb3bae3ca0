// Test helpers beside the reference kernels (which live in the `reference` backend,
// backends/reference/reference_kernels.h, reachable here as ref::).
#pragma once

#include <cstdint>
#include <vector>

#include "backends/reference/reference_kernels.h"

namespace sdr::ref {

using namespace ::sdr::reference;  // NOLINT: ref::Gemm, ref::Conv2d, ... are the reference kernels

// Relative L2 error ||a - b|| / ||a||.
double RelL2(const float* a, const float* b, int64_t n);
// PSNR in dB of b against a, for values in [0, 1] (peak 1).
double Psnr(const float* a, const float* b, int64_t n);
std::vector<float> RandomVector(int64_t n, uint32_t seed, float scale = 1.0f);

}  // namespace sdr::ref
