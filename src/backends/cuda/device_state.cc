#include "backends/cuda/device_state.h"

#include <cuda_runtime.h>

#include "backends/cuda/cuda_util.h"

namespace sdr::cuda {

uint64_t DeviceState::FreeBytes() const {
  DeviceGuard guard(device);
  size_t free = 0, total = 0;
  if (cudaMemGetInfo(&free, &total) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return free;
}

Result<std::shared_ptr<void>> DeviceState::Allocate(const std::shared_ptr<DeviceState>& state, uint64_t bytes,
                                                    std::string_view what) {
  DeviceGuard guard(state->device);
  const uint64_t size = bytes == 0 ? 1 : bytes;
  auto refuse = [&](uint64_t free) {
    return OutOfMemory(state->name + " (" + state->gpu_name + "): out of VRAM: " + std::string(what) + " needs " +
                       Bytes(bytes) + ", " + Bytes(free) + " free of " + Bytes(state->total_bytes) +
                       " (this process holds " + Bytes(state->in_use.load()) + ")")
        .WithDetail(kOutOfVramDetail);
  };
  size_t free = 0, total = 0;
  if (cudaMemGetInfo(&free, &total) == cudaSuccess && size > free) return refuse(free);
  cudaGetLastError();
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, size);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    return refuse(state->FreeBytes());
  }
  if (e != cudaSuccess) return CudaError(e, state->name + ": allocating " + std::string(what));
  state->in_use.fetch_add(size);
  return std::shared_ptr<void>(p, [state, size](void* q) {
    DeviceGuard g(state->device);
    cudaFree(q);
    state->in_use.fetch_sub(size);
  });
}

}  // namespace sdr::cuda
