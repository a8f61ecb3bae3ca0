// Elementwise kernels: grid-stride loops over flat indices, f32 arithmetic. Shapes in kernels.h.
#include "backends/cuda/device_common.cuh"

namespace sdr::cuda {
namespace {

constexpr int kThreads = 256;

// a, b, y: [n]
template <typename T>
__global__ void AddKernel(const T* a, const T* b, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    St(y, i, Ld(a, i) + Ld(b, i));
  }
}

// x, y: [n]
template <typename T>
__global__ void AffineKernel(const T* x, T* y, int64_t n, float scale, float shift, bool clamp, float lo, float hi) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float v = Ld(x, i) * scale + shift;
    if (clamp) v = fminf(fmaxf(v, lo), hi);
    St(y, i, v);
  }
}

// x: [m, 2f] -> y: [m, f]
template <typename T>
__global__ void GegluKernel(const T* x, T* y, int64_t m, int64_t f) {
  const int64_t n = m * f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / f, j = i - r * f;
    const T* row = x + r * 2 * f;
    St(y, i, Ld(row, j) * GeluF(Ld(row, f + j)));
  }
}

// y: [m, n] in place; residual: [m, n] or null
template <typename T>
__global__ void ActResidualKernel(T* y, const T* residual, int64_t total, Act act) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    float v = ApplyAct(act, Ld(y, i));
    if (residual != nullptr) v += Ld(residual, i);
    St(y, i, v);
  }
}

// y: [b, p, n] in place; bias: [b, n]
template <typename T>
__global__ void AddRowBiasKernel(T* y, const T* bias, int64_t b, int64_t p, int64_t n) {
  const int64_t total = b * p * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t sample = i / (p * n), c = i % n;
    St(y, i, Ld(y, i) + Ld(bias, sample * n + c));
  }
}

// x: [n] of From -> y: [n] of To
template <typename From, typename To>
__global__ void ConvertKernel(const From* x, To* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    St(y, i, Ld(x, i));
  }
}

// out: [n] = a (may be null) + b
template <typename T>
__global__ void AddVectorsKernel(const T* a, const T* b, T* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    St(out, i, (a != nullptr ? Ld(a, i) : 0.0f) + Ld(b, i));
  }
}

template <typename From>
cudaError_t ConvertTo(const From* x, Dt to, void* y, int64_t n, cudaStream_t s) {
  SDR_CUDA_DISPATCH(to, T, ConvertKernel<From, T><<<GridFor(n, kThreads), kThreads, 0, s>>>(x, static_cast<T*>(y), n));
  return cudaGetLastError();
}

}  // namespace

cudaError_t Add(Dt dt, const void* a, const void* b, void* y, int64_t n, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  SDR_CUDA_DISPATCH(dt, T,
                    AddKernel<T><<<GridFor(n, kThreads), kThreads, 0, s>>>(static_cast<const T*>(a),
                                                                           static_cast<const T*>(b),
                                                                           static_cast<T*>(y), n));
  return cudaGetLastError();
}

cudaError_t Affine(Dt dt, const void* x, void* y, int64_t n, float scale, float shift, bool clamp, float lo, float hi,
                   cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  SDR_CUDA_DISPATCH(dt, T,
                    AffineKernel<T><<<GridFor(n, kThreads), kThreads, 0, s>>>(
                        static_cast<const T*>(x), static_cast<T*>(y), n, scale, shift, clamp, lo, hi));
  return cudaGetLastError();
}

cudaError_t Geglu(Dt dt, const void* x, void* y, int64_t m, int64_t f, cudaStream_t s) {
  if (m * f <= 0) return cudaSuccess;
  SDR_CUDA_DISPATCH(dt, T,
                    GegluKernel<T><<<GridFor(m * f, kThreads), kThreads, 0, s>>>(static_cast<const T*>(x),
                                                                                 static_cast<T*>(y), m, f));
  return cudaGetLastError();
}

cudaError_t ActResidual(Dt dt, void* y, const void* residual, int64_t m, int64_t n, Act act, cudaStream_t s) {
  if (m * n <= 0 || (act == Act::kNone && residual == nullptr)) return cudaSuccess;
  SDR_CUDA_DISPATCH(dt, T,
                    ActResidualKernel<T><<<GridFor(m * n, kThreads), kThreads, 0, s>>>(
                        static_cast<T*>(y), static_cast<const T*>(residual), m * n, act));
  return cudaGetLastError();
}

cudaError_t AddRowBias(Dt dt, void* y, const void* bias, int64_t b, int64_t p, int64_t n, cudaStream_t s) {
  if (b * p * n <= 0) return cudaSuccess;
  SDR_CUDA_DISPATCH(dt, T,
                    AddRowBiasKernel<T><<<GridFor(b * p * n, kThreads), kThreads, 0, s>>>(
                        static_cast<T*>(y), static_cast<const T*>(bias), b, p, n));
  return cudaGetLastError();
}

cudaError_t Convert(Dt from, const void* x, Dt to, void* y, int64_t n, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  SDR_CUDA_DISPATCH(from, F, return ConvertTo<F>(static_cast<const F*>(x), to, y, n, s));
  return cudaErrorInvalidValue;
}

cudaError_t AddVectors(Dt dt, const void* a, const void* b, void* out, int64_t n, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  SDR_CUDA_DISPATCH(dt, T,
                    AddVectorsKernel<T><<<GridFor(n, kThreads), kThreads, 0, s>>>(
                        static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(out), n));
  return cudaGetLastError();
}

}  // namespace sdr::cuda
