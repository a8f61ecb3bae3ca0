// The `cpu` backend: the kernels of backends/cpu/ops.h (OpenBLAS GEMM, our im2col convolution,
// vectorised norms and activations) behind the Backend seam. Activations are f32 in host memory,
// laid out as their logical shapes (NCHW feature maps, row-major token rows); ops run on the
// calling thread (kernels fan out over the BLAS threads) and Synchronize() is a no-op. Weights:
// f32 tensors are borrowed from the model file (zero-copy), other dtypes widened to f32 once.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace sdr {

// A new CPU backend (the registry keeps one per process).
std::unique_ptr<Backend> MakeCpuBackend();

}  // namespace sdr
