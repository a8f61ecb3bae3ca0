// Layout kernels: nearest resize and im2col over NHWC feature maps. Shapes in kernels.h.
#include "backends/cuda/device_common.cuh"

namespace sdr::cuda {
namespace {

constexpr int kThreads = 256;

// x: [b, h, w, c] -> y: [b, ho, wo, c]
template <typename T>
__global__ void ResizeNearestKernel(const T* x, T* y, int64_t b, int64_t h, int64_t w, int64_t c, int64_t ho,
                                    int64_t wo) {
  const int64_t total = b * ho * wo * c;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = i % c;
    int64_t rest = i / c;
    const int64_t ox = rest % wo;
    rest /= wo;
    const int64_t oy = rest % ho;
    const int64_t n = rest / ho;
    const int64_t iy = oy * h / ho, ix = ox * w / wo;
    y[i] = x[((n * h + iy) * w + ix) * c + ch];
  }
}

// x: [b, h, w, c] -> col: [rows, kp] (rows from row0 of the flattened [b, ho, wo])
template <typename T>
__global__ void Im2colKernel(const T* x, T* col, int64_t h, int64_t w, int64_t c, int64_t k, int64_t stride,
                             int64_t pad, int64_t ho, int64_t wo, int64_t row0, int64_t rows, int64_t kp) {
  const int64_t total = rows * kp, kc = k * k * c;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / kp, j = i - r * kp;
    T v = FromF<T>(0.0f);
    if (j < kc) {
      const int64_t ch = j % c, tap = j / c, kx = tap % k, ky = tap / k;
      const int64_t pix = row0 + r;
      const int64_t ox = pix % wo, oy = (pix / wo) % ho, n = pix / (wo * ho);
      const int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
      if (iy >= 0 && iy < h && ix >= 0 && ix < w) v = x[((n * h + iy) * w + ix) * c + ch];
    }
    col[i] = v;
  }
}

// The same with 16-byte chunks (V elements), when C is a multiple of V: a chunk never straddles a
// tap or the padding, and every chunk is 16-byte aligned (rows of kp * sizeof(T), kp % 8 == 0).
template <typename T>
__global__ void Im2colVecKernel(const T* x, T* col, int64_t h, int64_t w, int64_t c, int64_t k, int64_t stride,
                                int64_t pad, int64_t ho, int64_t wo, int64_t row0, int64_t rows, int64_t kp) {
  constexpr int64_t kV = 16 / sizeof(T);
  const int64_t chunks = kp / kV, total = rows * chunks, kc = k * k * c;
  const uint4* xv = reinterpret_cast<const uint4*>(x);
  uint4* cv = reinterpret_cast<uint4*>(col);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / chunks, j = (i - r * chunks) * kV;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (j < kc) {
      const int64_t ch = j % c, tap = j / c, kx = tap % k, ky = tap / k;
      const int64_t pix = row0 + r;
      const int64_t ox = pix % wo, oy = (pix / wo) % ho, n = pix / (wo * ho);
      const int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
      if (iy >= 0 && iy < h && ix >= 0 && ix < w) v = xv[(((n * h + iy) * w + ix) * c + ch) / kV];
    }
    cv[i] = v;
  }
}

}  // namespace

cudaError_t ResizeNearestNhwc(Dt dt, const void* x, void* y, int64_t b, int64_t h, int64_t w, int64_t c, int64_t ho,
                              int64_t wo, cudaStream_t s) {
  const int64_t total = b * ho * wo * c;
  if (total <= 0) return cudaSuccess;
  SDR_CUDA_DISPATCH(dt, T,
                    ResizeNearestKernel<T><<<GridFor(total, kThreads), kThreads, 0, s>>>(
                        static_cast<const T*>(x), static_cast<T*>(y), b, h, w, c, ho, wo));
  return cudaGetLastError();
}

cudaError_t Im2colNhwc(Dt dt, const void* x, void* col, int64_t b, int64_t h, int64_t w, int64_t c, int64_t k,
                       int64_t stride, int64_t pad, int64_t ho, int64_t wo, int64_t row0, int64_t rows, int64_t kp,
                       cudaStream_t s) {
  const int64_t total = rows * kp;
  if (total <= 0) return cudaSuccess;
  (void)b;
  const int64_t v = 16 / static_cast<int64_t>(DtBytes(dt));
  const bool aligned = reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(col) % 16 == 0;
  if (aligned && c % v == 0 && kp % v == 0) {
    SDR_CUDA_DISPATCH(dt, T,
                      Im2colVecKernel<T><<<GridFor(rows * (kp / v), kThreads), kThreads, 0, s>>>(
                          static_cast<const T*>(x), static_cast<T*>(col), h, w, c, k, stride, pad, ho, wo, row0, rows,
                          kp));
    return cudaGetLastError();
  }
  SDR_CUDA_DISPATCH(dt, T,
                    Im2colKernel<T><<<GridFor(total, kThreads), kThreads, 0, s>>>(
                        static_cast<const T*>(x), static_cast<T*>(col), h, w, c, k, stride, pad, ho, wo, row0, rows,
                        kp));
  return cudaGetLastError();
}

}  // namespace sdr::cuda
