// GroupNorm (+ SiLU) over NHWC maps and LayerNorm over rows. Shapes in kernels.h.
//
// GroupNorm runs in three launches so that every SM has work at any size (SD's groups hold 10 to
// 40 channels, and a whole group is up to HW * 40 values):
//   1. partial: grid (S, B); block (s, b) takes pixels [s P / S, (s + 1) P / S) of sample b and,
//      per channel, the mean and M2 (sum of squared deviations) of its values (two passes over a
//      slice that stays in L1/L2) -> part: [B, S, C] (mean, M2)
//   2. merge: grid (B); one warp per group merges its S x C/G partials (Chan et al.) -> stats:
//      [B, G] (mean, rstd)
//   3. apply: y = (x - mean) * rstd * gamma + beta, then SiLU when asked.
#include "backends/cuda/device_common.cuh"

namespace sdr::cuda {
namespace {

constexpr int kThreads = 256;

int64_t Slices(int64_t hw) {
  const int64_t s = (hw + 63) / 64;
  return s < 1 ? 1 : (s > 64 ? 64 : s);
}

size_t Align256(size_t n) { return (n + 255) / 256 * 256; }

// x: [b, hw, c] -> part: [b, slices, c] of (mean, M2) over each slice's pixels
template <typename T>
__global__ void GroupNormPartialKernel(const T* x, float2* part, int64_t hw, int64_t c, int64_t slices) {
  const int64_t s = blockIdx.x, n = blockIdx.y;
  const int64_t p0 = s * hw / slices, p1 = (s + 1) * hw / slices;
  const float count = static_cast<float>(p1 - p0);
  const T* xs = x + n * hw * c;
  for (int64_t ch = threadIdx.x; ch < c; ch += blockDim.x) {
    float sum = 0.0f;
    for (int64_t p = p0; p < p1; ++p) sum += Ld(xs, p * c + ch);
    const float mean = count > 0 ? sum / count : 0.0f;
    float m2 = 0.0f;
    for (int64_t p = p0; p < p1; ++p) {
      const float d = Ld(xs, p * c + ch) - mean;
      m2 += d * d;
    }
    part[(n * slices + s) * c + ch] = make_float2(mean, m2);
  }
}

struct Moments {
  float n, mean, m2;
};

__device__ __forceinline__ Moments Merge(Moments a, Moments b) {
  const float n = a.n + b.n;
  if (n <= 0.0f) return a;
  const float delta = b.mean - a.mean;
  return {n, a.mean + delta * (b.n / n), a.m2 + b.m2 + delta * delta * (a.n * b.n / n)};
}

// part: [b, slices, c] -> stats: [b, groups] of (mean, rstd)
__global__ void GroupNormMergeKernel(const float2* part, float2* stats, int64_t hw, int64_t c, int64_t slices,
                                     int64_t groups, float eps) {
  const int64_t n = blockIdx.x;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  const int64_t cg = c / groups, items = slices * cg;
  for (int64_t g = warp; g < groups; g += warps) {
    Moments m{0.0f, 0.0f, 0.0f};
    for (int64_t i = lane; i < items; i += 32) {
      const int64_t s = i / cg, ch = g * cg + i % cg;
      const float2 pm = part[(n * slices + s) * c + ch];
      const float count = static_cast<float>((s + 1) * hw / slices - s * hw / slices);
      m = Merge(m, Moments{count, pm.x, pm.y});
    }
    for (int o = 16; o > 0; o >>= 1) {
      Moments other{__shfl_xor_sync(0xffffffffu, m.n, o), __shfl_xor_sync(0xffffffffu, m.mean, o),
                    __shfl_xor_sync(0xffffffffu, m.m2, o)};
      m = Merge(m, other);
    }
    if (lane == 0) {
      const float var = m.n > 0.0f ? m.m2 / m.n : 0.0f;
      stats[n * groups + g] = make_float2(m.mean, rsqrtf(var + eps));
    }
  }
}

// x, y: [b, hw, c]
template <typename T>
__global__ void GroupNormApplyKernel(const T* x, const T* gamma, const T* beta, T* y, const float2* stats, int64_t b,
                                     int64_t hw, int64_t c, int64_t groups, bool silu) {
  const int64_t total = b * hw * c, cg = c / groups;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = i % c, n = i / (hw * c);
    const float2 st = stats[n * groups + ch / cg];
    float v = (Ld(x, i) - st.x) * st.y * Ld(gamma, ch) + Ld(beta, ch);
    if (silu) v = SiluF(v);
    St(y, i, v);
  }
}

// x, y: [m, c]; one warp per row
template <typename T>
__global__ void LayerNormKernel(const T* x, const T* gamma, const T* beta, T* y, int64_t m, int64_t c, float eps) {
  const int lane = threadIdx.x % 32;
  const int64_t row = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
  if (row >= m) return;
  const T* xr = x + row * c;
  float sum = 0.0f;
  for (int64_t j = lane; j < c; j += 32) sum += Ld(xr, j);
  const float mean = WarpSum(sum) / static_cast<float>(c);
  float sq = 0.0f;
  for (int64_t j = lane; j < c; j += 32) {
    const float d = Ld(xr, j) - mean;
    sq += d * d;
  }
  const float rstd = rsqrtf(WarpSum(sq) / static_cast<float>(c) + eps);
  T* yr = y + row * c;
  for (int64_t j = lane; j < c; j += 32) St(yr, j, (Ld(xr, j) - mean) * rstd * Ld(gamma, j) + Ld(beta, j));
}

}  // namespace

size_t GroupNormScratchBytes(int64_t b, int64_t hw, int64_t c) {
  return Align256(static_cast<size_t>(b * Slices(hw) * c) * sizeof(float2)) +
         Align256(static_cast<size_t>(b * c) * sizeof(float2));
}

cudaError_t GroupNormNhwc(Dt dt, const void* x, const void* gamma, const void* beta, void* y, int64_t b, int64_t hw,
                          int64_t c, int64_t groups, float eps, bool silu, void* scratch, cudaStream_t s) {
  if (b * hw * c <= 0) return cudaSuccess;
  if (groups < 1 || c % groups != 0 || scratch == nullptr) return cudaErrorInvalidValue;
  const int64_t slices = Slices(hw);
  auto* part = static_cast<float2*>(scratch);
  auto* stats = reinterpret_cast<float2*>(static_cast<char*>(scratch) +
                                          Align256(static_cast<size_t>(b * slices * c) * sizeof(float2)));
  SDR_CUDA_DISPATCH(dt, T, {
    GroupNormPartialKernel<T><<<dim3(static_cast<unsigned>(slices), static_cast<unsigned>(b)), kThreads, 0, s>>>(
        static_cast<const T*>(x), part, hw, c, slices);
    GroupNormMergeKernel<<<static_cast<unsigned>(b), kThreads, 0, s>>>(part, stats, hw, c, slices, groups, eps);
    GroupNormApplyKernel<T><<<GridFor(b * hw * c, kThreads), kThreads, 0, s>>>(
        static_cast<const T*>(x), static_cast<const T*>(gamma), static_cast<const T*>(beta), static_cast<T*>(y),
        stats, b, hw, c, groups, silu);
  });
  return cudaGetLastError();
}

cudaError_t LayerNorm(Dt dt, const void* x, const void* gamma, const void* beta, void* y, int64_t m, int64_t c,
                      float eps, cudaStream_t s) {
  if (m * c <= 0) return cudaSuccess;
  const int rows_per_block = kThreads / 32;
  const auto blocks = static_cast<unsigned>((m + rows_per_block - 1) / rows_per_block);
  SDR_CUDA_DISPATCH(dt, T,
                    LayerNormKernel<T><<<blocks, kThreads, 0, s>>>(static_cast<const T*>(x),
                                                                  static_cast<const T*>(gamma),
                                                                  static_cast<const T*>(beta), static_cast<T*>(y), m,
                                                                  c, eps));
  return cudaGetLastError();
}

}  // namespace sdr::cuda
