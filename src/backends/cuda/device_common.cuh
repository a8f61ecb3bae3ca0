// Device-side helpers shared by the .cu files: element loads and stores through f32, the dtype
// dispatch, activations, warp reductions and launch sizing.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/kernels.h"

namespace sdr::cuda {

template <typename T> __device__ __forceinline__ float Ld(const T* p, int64_t i);
template <> __device__ __forceinline__ float Ld<float>(const float* p, int64_t i) { return p[i]; }
template <> __device__ __forceinline__ float Ld<__half>(const __half* p, int64_t i) { return __half2float(p[i]); }
template <> __device__ __forceinline__ float Ld<__nv_bfloat16>(const __nv_bfloat16* p, int64_t i) {
  return __bfloat162float(p[i]);
}

template <typename T> __device__ __forceinline__ T FromF(float v);
template <> __device__ __forceinline__ float FromF<float>(float v) { return v; }
template <> __device__ __forceinline__ __half FromF<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 FromF<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <typename T> __device__ __forceinline__ void St(T* p, int64_t i, float v) { p[i] = FromF<T>(v); }

// Runs `body` with `T` bound to the element type of `dt`.
#define SDR_CUDA_DISPATCH(dt, T, ...)             \
  switch (dt) {                                   \
    case ::sdr::cuda::Dt::kF32: {                 \
      using T = float;                            \
      __VA_ARGS__;                                \
      break;                                      \
    }                                             \
    case ::sdr::cuda::Dt::kF16: {                 \
      using T = __half;                           \
      __VA_ARGS__;                                \
      break;                                      \
    }                                             \
    case ::sdr::cuda::Dt::kBf16: {                \
      using T = __nv_bfloat16;                    \
      __VA_ARGS__;                                \
      break;                                      \
    }                                             \
  }

__device__ __forceinline__ float SiluF(float x) { return x / (1.0f + expf(-x)); }
__device__ __forceinline__ float GeluF(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
__device__ __forceinline__ float QuickGeluF(float x) { return x / (1.0f + expf(-1.702f * x)); }

__device__ __forceinline__ float ApplyAct(Act act, float x) {
  switch (act) {
    case Act::kNone: return x;
    case Act::kSilu: return SiluF(x);
    case Act::kGelu: return GeluF(x);
    case Act::kQuickGelu: return QuickGeluF(x);
  }
  return x;
}

__device__ __forceinline__ float WarpSum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float WarpMax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Blocks for a grid-stride loop over n elements with `threads` per block (at most 65535 * 32).
inline unsigned GridFor(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 32 ? 65535 * 32 : blocks));
}

}  // namespace sdr::cuda
