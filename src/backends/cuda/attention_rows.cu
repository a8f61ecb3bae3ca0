// Attention for any element type and head size (f32 mode, odd head sizes, the VAE's single
// 512-wide head): one warp per query row. Per round of 32 keys, lane j scores key j0 + j against
// the query (held in shared memory, pre-scaled by scale * log2(e)), the warp takes the round's
// maximum, rescales its running sum and accumulators (online softmax in base 2), and then adds
// p_j * v_j for the 32 keys, lane l owning output columns l, l + 32, ... (kR of them).
#include <cmath>

#include "backends/cuda/device_common.cuh"

namespace sdr::cuda {
namespace {

constexpr int kRowsPerBlock = 4;  // warps per block, one query row each
constexpr float kLog2e = 1.4426950408889634f;

// q, y: [b, lq, heads * d]; k, v: [b, lk, heads * d]; grid (ceil(lq / 4), heads, b)
template <typename T, int kR>
__global__ void __launch_bounds__(32 * kRowsPerBlock) RowsAttentionKernel(const T* q, const T* k, const T* v, T* y,
                                                                          int64_t lq, int64_t lk, int64_t heads,
                                                                          int64_t d, float scale_log2, bool causal) {
  __shared__ float sq[kRowsPerBlock][32 * kR];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t n = blockIdx.z, h = blockIdx.y, i = blockIdx.x * int64_t(kRowsPerBlock) + warp;
  if (i >= lq) return;  // whole warp leaves together; no block-wide barrier below
  const int64_t stride = heads * d;
  const T* qrow = q + (n * lq + i) * stride + h * d;
  for (int64_t j = lane; j < d; j += 32) sq[warp][j] = Ld(qrow, j) * scale_log2;
  __syncwarp();
  const T* kb = k + n * lk * stride + h * d;
  const T* vb = v + n * lk * stride + h * d;
  float acc[kR];
#pragma unroll
  for (int r = 0; r < kR; ++r) acc[r] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  const int64_t kend = causal ? (i + 1 < lk ? i + 1 : lk) : lk;
  for (int64_t j0 = 0; j0 < kend; j0 += 32) {
    const int64_t j = j0 + lane;
    float s = -INFINITY;
    if (j < kend) {
      const T* krow = kb + j * stride;
      float dot = 0.0f;
      for (int64_t p = 0; p < d; ++p) dot += sq[warp][p] * Ld(krow, p);
      s = dot;
    }
    const float m_new = fmaxf(m, WarpMax(s));  // finite: key j0 is always valid here
    const float alpha = exp2f(m - m_new);       // 0 on the first round (m = -inf)
    const float p = j < kend ? exp2f(s - m_new) : 0.0f;
    l = l * alpha + WarpSum(p);
    m = m_new;
#pragma unroll
    for (int r = 0; r < kR; ++r) acc[r] *= alpha;
    const int64_t valid = kend - j0 < 32 ? kend - j0 : 32;
    for (int jj = 0; jj < valid; ++jj) {
      const float pj = __shfl_sync(0xffffffffu, p, jj);
      const T* vrow = vb + (j0 + jj) * stride;
#pragma unroll
      for (int r = 0; r < kR; ++r) {
        const int64_t col = lane + 32 * r;
        if (col < d) acc[r] += pj * Ld(vrow, col);
      }
    }
  }
  T* yrow = y + (n * lq + i) * stride + h * d;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
  for (int r = 0; r < kR; ++r) {
    const int64_t col = lane + 32 * r;
    if (col < d) St(yrow, col, acc[r] * inv);
  }
}

template <typename T, int kR>
void LaunchRows(const void* q, const void* k, const void* v, void* y, const AttentionShape& a, cudaStream_t s) {
  const dim3 grid(static_cast<unsigned>((a.lq + kRowsPerBlock - 1) / kRowsPerBlock), static_cast<unsigned>(a.heads),
                  static_cast<unsigned>(a.b));
  RowsAttentionKernel<T, kR><<<grid, 32 * kRowsPerBlock, 0, s>>>(
      static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), static_cast<T*>(y), a.lq, a.lk,
      a.heads, a.d, a.scale * kLog2e, a.causal);
}

template <typename T>
cudaError_t RowsFor(const void* q, const void* k, const void* v, void* y, const AttentionShape& a, cudaStream_t s) {
  const int64_t r = (a.d + 31) / 32;
  if (r <= 1) LaunchRows<T, 1>(q, k, v, y, a, s);
  else if (r <= 2) LaunchRows<T, 2>(q, k, v, y, a, s);
  else if (r <= 4) LaunchRows<T, 4>(q, k, v, y, a, s);
  else if (r <= 8) LaunchRows<T, 8>(q, k, v, y, a, s);
  else if (r <= 16) LaunchRows<T, 16>(q, k, v, y, a, s);
  else LaunchRows<T, 32>(q, k, v, y, a, s);
  return cudaGetLastError();
}

}  // namespace

cudaError_t RowsAttention(Dt dt, const void* q, const void* k, const void* v, void* y, const AttentionShape& a,
                          cudaStream_t s) {
  if (a.b * a.lq * a.heads * a.d <= 0) return cudaSuccess;
  if (a.d > kMaxRowsAttentionD || a.lk <= 0) return cudaErrorInvalidValue;
  SDR_CUDA_DISPATCH(dt, T, return RowsFor<T>(q, k, v, y, a, s));
  return cudaErrorInvalidValue;
}

}  // namespace sdr::cuda
