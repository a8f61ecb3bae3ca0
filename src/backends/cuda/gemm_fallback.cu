// A plain tiled GEMM for the shapes cuBLASLt has no algorithm for: y = x w^T + bias + c, f32
// accumulation, 16 x 16 output tiles with 16-deep slices of x and w staged in shared memory.
#include "backends/cuda/device_common.cuh"

namespace sdr::cuda {
namespace {

constexpr int kTile = 16;

// x: [m, k] (ldx), w: [n, k] (ldw), bias: [n] or null, c: [m, n] or null -> y: [m, n]
template <typename T>
__global__ void GemmKernel(const T* x, int64_t ldx, const T* w, int64_t ldw, const T* bias, const T* c, T* y,
                           int64_t m, int64_t n, int64_t k) {
  __shared__ float sx[kTile][kTile + 1];
  __shared__ float sw[kTile][kTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t row = blockIdx.y * int64_t(kTile) + ty, col = blockIdx.x * int64_t(kTile) + tx;
  float acc = 0.0f;
  for (int64_t k0 = 0; k0 < k; k0 += kTile) {
    const int64_t kx = k0 + tx;
    sx[ty][tx] = (row < m && kx < k) ? Ld(x, row * ldx + kx) : 0.0f;
    const int64_t wrow = blockIdx.x * int64_t(kTile) + ty;
    sw[ty][tx] = (wrow < n && kx < k) ? Ld(w, wrow * ldw + kx) : 0.0f;
    __syncthreads();
#pragma unroll
    for (int p = 0; p < kTile; ++p) acc += sx[ty][p] * sw[tx][p];
    __syncthreads();
  }
  if (row < m && col < n) {
    if (bias != nullptr) acc += Ld(bias, col);
    if (c != nullptr) acc += Ld(c, row * n + col);
    St(y, row * n + col, acc);
  }
}

}  // namespace

cudaError_t GemmFallback(Dt dt, const void* x, int64_t ldx, const void* w, int64_t ldw, const void* bias,
                         const void* c, void* y, int64_t m, int64_t n, int64_t k, cudaStream_t s) {
  if (m * n <= 0) return cudaSuccess;
  const dim3 block(kTile, kTile);
  const dim3 grid(static_cast<unsigned>((n + kTile - 1) / kTile), static_cast<unsigned>((m + kTile - 1) / kTile));
  SDR_CUDA_DISPATCH(dt, T,
                    GemmKernel<T><<<grid, block, 0, s>>>(static_cast<const T*>(x), ldx, static_cast<const T*>(w),
                                                         ldw, static_cast<const T*>(bias), static_cast<const T*>(c),
                                                         static_cast<T*>(y), m, n, k));
  return cudaGetLastError();
}

}  // namespace sdr::cuda
