// The ops of the `cpu` backend (a Stream): run on the calling thread, fanning out over the
// shared thread pool and the BLAS threads. Two GEMM paths: TileGemm (our AVX2 kernel, which
// reads f16/bf16/quantized weights in place and convolutions as implicit im2col) and OpenBLAS
// over f32 weights (machines without AVX2, and the `cpu-blas` baseline device).
#pragma once

#include <memory>

#include "backends/backend.h"

namespace sdr::cpu {

struct CpuOptions {
  bool tile_gemm = true;  // TileGemm for Linear and Conv2d (weights may stay f16/bf16/quantized)
};

std::unique_ptr<Stream> MakeCpuStream(const CpuOptions& options);

// Scratch the ops need (planned by the caller, backends/backend.h).
size_t CpuScratchBytes(const CpuOptions& options, const LinearArgs& a);
size_t CpuScratchBytes(const CpuOptions& options, const Conv2dArgs& a);
// Whether Conv2d takes `a` with a.upsample 2 (Backend::FusesUpsample).
bool CpuFusesUpsample(const CpuOptions& options, const Conv2dArgs& a);
size_t CpuScratchBytes(const CpuOptions& options, const AttentionArgs& a);

// Whether a weight of `dtype` can stay in that form for the ops (else it is widened to f32 at load).
bool CpuKeepsWeightDtype(const CpuOptions& options, DType dtype, WeightRole role);

}  // namespace sdr::cpu
