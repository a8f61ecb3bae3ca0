// Timestep and token embeddings. Shapes in kernels.h. Host values (timesteps, token ids) travel
// by value in the launch parameters, so these kernels need no staging memory and are captured
// into CUDA graphs with their values; timesteps that change between replays come from the device.
#include <cmath>

#include "backends/cuda/device_common.cuh"

namespace sdr::cuda {
namespace {

constexpr int kThreads = 256;

struct HostTimesteps {
  float t[kMaxHostTimesteps];
};
struct HostIds {
  int32_t id[kMaxEmbedIds];
};

// y: [b, dim]
template <typename T>
__global__ void TimestepKernel(const float* t_dev, HostTimesteps t_host, int64_t b, int64_t dim, T* y) {
  const int64_t half = dim / 2, total = b * dim;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / dim, j = i - n * dim;
    const float t = t_dev != nullptr ? t_dev[n] : t_host.t[n];
    float v = 0.0f;
    if (j < 2 * half) {
      const int64_t f = j < half ? j : j - half;
      // As the CPU kernel: freq in f32 from expf, then the argument t * freq in f32.
      const float freq = expf(-logf(10000.0f) * static_cast<float>(f) / static_cast<float>(half));
      const float a = t * freq;
      v = j < half ? cosf(a) : sinf(a);
    }
    St(y, i, v);
  }
}

// table: [V, c], positions: [P, c] -> y rows [row0, row0 + n) of [rows, c]
template <typename T>
__global__ void EmbedKernel(HostIds ids, int64_t n, int64_t row0, int64_t l, int64_t c, const T* table,
                            const T* positions, T* y) {
  const int64_t total = n * c;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / c, j = i - r * c, row = row0 + r;
    St(y, row * c + j, Ld(table, static_cast<int64_t>(ids.id[r]) * c + j) + Ld(positions, (row % l) * c + j));
  }
}

}  // namespace

cudaError_t TimestepEmbedding(Dt dt, const float* t_dev, const float* t_host, int64_t b, int64_t dim, void* y,
                              cudaStream_t s) {
  if (b * dim <= 0) return cudaSuccess;
  HostTimesteps th{};
  if (t_dev == nullptr) {
    if (b > kMaxHostTimesteps || t_host == nullptr) return cudaErrorInvalidValue;
    for (int64_t i = 0; i < b; ++i) th.t[i] = t_host[i];
  }
  SDR_CUDA_DISPATCH(dt, T,
                    TimestepKernel<T><<<GridFor(b * dim, kThreads), kThreads, 0, s>>>(t_dev, th, b, dim,
                                                                                    static_cast<T*>(y)));
  return cudaGetLastError();
}

cudaError_t Embed(Dt dt, const int32_t* ids, int64_t n, int64_t row0, int64_t l, int64_t c, const void* table,
                  const void* positions, void* y, cudaStream_t s) {
  if (n * c <= 0) return cudaSuccess;
  if (n > kMaxEmbedIds) return cudaErrorInvalidValue;
  HostIds h{};
  for (int64_t i = 0; i < n; ++i) h.id[i] = ids[i];
  SDR_CUDA_DISPATCH(dt, T,
                    EmbedKernel<T><<<GridFor(n * c, kThreads), kThreads, 0, s>>>(
                        h, n, row0, l, c, static_cast<const T*>(table), static_cast<const T*>(positions),
                        static_cast<T*>(y)));
  return cudaGetLastError();
}

}  // namespace sdr::cuda
