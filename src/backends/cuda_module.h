// The boundary between the main library and the CUDA backend module, libsdr-cuda.so (built from
// src/backends/cuda when SDR_CUDA is on; cmake/Cuda.cmake). The main library never links CUDA:
// backends/cuda_loader.cc dlopens the module and calls its one C entry point,
//
//   extern "C" const sdr::CudaModuleApi* sdr_cuda_module(void);
//
// which returns the table below. Both sides are built from the same source tree with the same
// compiler, so the table may carry C++ types; `abi` (read first, before anything else in the
// table) and `seam_id` (a hash of this header and backends/backend.h taken at configure time)
// make a module from another build fail to load with "version mismatch" instead of crashing.
//
// Thread-safety: every function of the table may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"

namespace sdr {

inline constexpr uint32_t kCudaModuleAbi = 1;  // bump when the table's layout changes
inline constexpr const char* kCudaModuleEntry = "sdr_cuda_module";
inline constexpr const char* kCudaModuleFile = "libsdr-cuda.so";

// What activations (and weights) are held in on a GPU. f16 and bf16 run the GEMMs and the fused
// attention on tensor cores with f32 accumulation; f32 is plain f32 everywhere (no TF32), for
// checking against the f32 goldens.
enum class GpuPrecision { kF16, kBf16, kF32 };
std::string_view GpuPrecisionName(GpuPrecision p);  // "f16", "bf16", "f32"
bool ParseGpuPrecision(std::string_view name, GpuPrecision* out);  // exact, lower case

struct CudaDeviceInfo {
  int index = 0;
  std::string name;               // "NVIDIA H200"
  int cc_major = 0, cc_minor = 0; // compute capability
  uint64_t total_bytes = 0;       // VRAM
  uint64_t free_bytes = 0;        // VRAM free when probed
  int multiprocessors = 0;
};

// What the module sees of the machine. Never an error: `reason` says why CUDA is unusable.
struct CudaProbe {
  bool available = false;       // a usable device is there
  std::string reason;           // why not ("" when available)
  int driver_version = 0;       // CUDA version the driver supports, 1000 * major + 10 * minor; 0 = no driver
  int runtime_version = 0;      // the CUDA runtime the module was built with (same encoding)
  std::vector<CudaDeviceInfo> devices;
  std::vector<std::string> libraries;  // the CUDA libraries in use, "name version path" each
  std::string architectures;    // GPU code in the module, e.g. "sm_80 sm_86 sm_89 sm_90 compute_90"
};

struct CudaBackendOptions {
  int device = 0;  // cuda:N
  GpuPrecision precision = GpuPrecision::kF16;
};

struct CudaModuleApi {
  uint32_t abi;          // kCudaModuleAbi of the module's build
  const char* seam_id;   // SDR_SEAM_ID of the module's build
  const char* version;   // the sdruntime version the module was built from
  // Fills `out`. With `query_free` each device's free VRAM is read too, which creates a CUDA
  // context on every device (slow, and VRAM of its own): only `sdr info --system` asks for it.
  void (*probe)(CudaProbe* out, bool query_free);
  // Unavailable (no such device, driver problems) or OutOfMemory tagged out_of_vram.
  Result<std::unique_ptr<Backend>> (*create)(const CudaBackendOptions& options);
};

using CudaModuleEntryFn = const CudaModuleApi* (*)();

// Status::detail() of device-memory failures: runtime/errors.h's ErrorCode::kOutOfVram (checked
// there with a static_assert), spelled here because backends sit below the runtime.
inline constexpr int kOutOfVramDetail = 10;

}  // namespace sdr
