// The `cuda` backend: one NVIDIA GPU behind the Backend seam, built into libsdr-cuda.so.
//
//   activations  f16 (default), bf16 or f32 (GpuPrecision), in device memory; feature maps NHWC
//                (backends/gpu_layout.h), token rows row-major
//   weights      converted once at PrepareWeight (from any file dtype, quantized ones through
//                the host's ToF32) to the activation dtype and uploaded; conv kernels packed
//                [Cout, Kp] for the im2col GEMM; shared read-only by every context (stream)
//   GEMMs        cuBLASLt with fused bias / residual epilogues (gemm.h); convolutions as
//                im2col (chunked, bounded scratch) + GEMM, 1x1 convolutions as plain GEMMs
//   kernels      kernels.h: fused GroupNorm + SiLU, LayerNorm, flash attention (tensor cores) for
//                SD's head sizes with a 77-token cross-attention path, elementwise and layout
//   memory       every allocation checks free VRAM first; refusals are OutOfMemory tagged
//                out_of_vram naming needed vs free bytes, and leave the device usable
//
// Thread-safety: the backend is thread-safe; each stream is used by one thread at a time.
#pragma once

#include <memory>

#include "backends/backend.h"
#include "backends/cuda_module.h"

namespace sdr::cuda {

// Unavailable when the device cannot be used (no such device, compute capability below 8.0,
// CUDA errors); OutOfMemory (out_of_vram) when not even the context fits.
Result<std::unique_ptr<Backend>> CreateCudaBackend(const CudaBackendOptions& options);

// Fills `out` (CudaModuleApi::probe).
void ProbeCudaDevices(CudaProbe* out, bool query_free);

}  // namespace sdr::cuda
