// Host-side helpers of the cuda backend: CUDA errors as Status, dtype mapping, the device guard.
#pragma once

#include <cuda_runtime.h>

#include <string>
#include <string_view>

#include "backends/cuda/kernels.h"
#include "backends/cuda_module.h"
#include "core/dtype.h"
#include "core/status.h"

namespace sdr::cuda {

// `e` as a Status naming `what`: OutOfMemory tagged out_of_vram for cudaErrorMemoryAllocation,
// InternalError otherwise (a sticky error says the process must restart to use the GPU again).
Status CudaError(cudaError_t e, std::string_view what);

#define SDR_CUDA_RETURN_IF_ERROR(expr, what)                                   \
  do {                                                                         \
    const cudaError_t sdr_cuda_err_ = (expr);                                  \
    if (sdr_cuda_err_ != cudaSuccess) return ::sdr::cuda::CudaError(sdr_cuda_err_, what); \
  } while (0)

Dt ToDt(DType d);                // f32, f16, bf16 (a bug otherwise)
DType ToDType(GpuPrecision p);   // kF16 -> DType::kF16, ...

// "1.2 GB", "345 MB"
std::string Bytes(uint64_t bytes);

// Makes `device` current for the calling thread for the guard's lifetime (CUDA's current device
// is per thread; every entry point of the backend sets it).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    cudaGetDevice(&previous_);
    if (previous_ != device) cudaSetDevice(device);
  }
  ~DeviceGuard() {
    int now = -1;
    cudaGetDevice(&now);
    if (now != previous_ && previous_ >= 0) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

}  // namespace sdr::cuda
