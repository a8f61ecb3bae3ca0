// Backends by device name, as SD_DEVICE / --device spell them:
//   auto        the best available : cuda:0 when the CUDA module loads and sees a device, else cpu
//   cpu         our CPU kernels (backends/cpu): TileGemm, weights read in their stored dtype
//   cpu-blas    the OpenBLAS baseline (f32 weights), for comparisons
//   reference   plain loops (backends/reference): slow, for checking
//   cuda, cuda:N  an NVIDIA GPU, through the CUDA backend module (backends/cuda_loader.h)
// One backend per device (and GPU precision) per process, shared by every model and context on
// it: weights are prepared once per device.
//
// Thread-safety: all functions are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "backends/backend.h"
#include "backends/cuda_module.h"

namespace sdr {

struct BackendOptions {
  GpuPrecision precision = GpuPrecision::kF16;  // GPU activations and weights (SD_CUDA_PRECISION); CPUs: f32
};

// InvalidArgument naming `device` when it is not one of the forms above (no device is touched).
Status ValidateDeviceName(std::string_view device);

// The backend for `device`. Unavailable (with the reason: no CUDA module in this build, module
// or CUDA library not found, no driver, driver too old, no such device) when it cannot be used
// here.
Result<std::shared_ptr<Backend>> OpenBackend(std::string_view device, const BackendOptions& options = {});

// Why CUDA cannot be used here ("" when it can). Probes once per process.
std::string CudaUnavailableReason();

// What CUDA looks like here now (devices with their free VRAM, versions, libraries, or the
// reason it is unavailable). Asks the driver again on every call.
CudaProbe ProbeCuda();

}  // namespace sdr
