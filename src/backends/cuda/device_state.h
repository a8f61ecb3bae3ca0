// What the cuda backend and its streams share about one device: its identity and limits, the
// precision activations and weights are held in, and device memory with VRAM accounting.
//
// Thread-safety: thread-safe (Allocate may be called from any thread).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "backends/cuda/kernels.h"
#include "backends/cuda_module.h"
#include "core/result.h"

namespace sdr::cuda {

struct DeviceState {
  int device = 0;
  GpuPrecision precision = GpuPrecision::kF16;
  DType dtype = DType::kF16;  // of activations and weights
  Dt dt = Dt::kF16;
  std::string name;           // "cuda:0"
  std::string gpu_name;       // "NVIDIA H200"
  int cc_major = 0, cc_minor = 0;
  int smem_optin = 48 << 10;  // cudaDevAttrMaxSharedMemoryPerBlockOptin
  uint64_t total_bytes = 0;   // VRAM
  std::atomic<uint64_t> in_use{0};  // bytes this process allocated through Allocate

  // Free VRAM now (cudaMemGetInfo), 0 on error.
  uint64_t FreeBytes() const;

  // `bytes` of device memory for `what` ("weights", "activations", ...), freed (cudaFree) when
  // the last pointer goes. OutOfMemory tagged out_of_vram naming the device, needed vs free VRAM
  // and what this process holds, when the device cannot give it; the device stays usable.
  static Result<std::shared_ptr<void>> Allocate(const std::shared_ptr<DeviceState>& state, uint64_t bytes,
                                                std::string_view what);
};

}  // namespace sdr::cuda
