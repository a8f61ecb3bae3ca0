// The CPU backends behind the Backend seam. Activations are f32 in host memory, laid out as their
// logical shapes (NCHW feature maps, row-major token rows); ops run on the calling thread
// (fanning out over the thread pool) and Synchronize() is a no-op.
//   cpu       TileGemm (AVX2/FMA) for Linear and Conv2d: f32, f16, bf16 and GGUF-quantized weights
//             are read in place from the model file (no conversion at load, no f32 copy), and
//             convolutions need no im2col buffer. Without AVX2 it falls back to the BLAS path.
//   cpu-blas  the baseline: OpenBLAS SGEMM over f32 weights (other dtypes widened once at load)
//             and an im2col convolution; kept for comparison benchmarks and checks.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace sdr {

// New backends (the registry keeps one of each per process).
std::unique_ptr<Backend> MakeCpuBackend();
std::unique_ptr<Backend> MakeCpuBlasBackend();

}  // namespace sdr
