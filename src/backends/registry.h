// Backends by device name, as SD_DEVICE / --device spell them:
//   auto        the best available (cuda:0 when a CUDA device and our CUDA module are there, else cpu)
//   cpu         our CPU kernels (backends/cpu): TileGemm, weights read in their stored dtype
//   cpu-blas    the OpenBLAS baseline (f32 weights), for comparisons
//   reference   plain loops (backends/reference): slow, for checking
//   cuda, cuda:N  an NVIDIA GPU (needs the CUDA backend module)
// One backend per device per process, shared by every model and context on it.
//
// Thread-safety: all functions are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "backends/backend.h"

namespace sdr {

// InvalidArgument naming `device` when it is not one of the forms above (no device is touched).
Status ValidateDeviceName(std::string_view device);

// The backend for `device`. Unavailable (with the reason: no CUDA module in this build, no
// driver, no such device) when it cannot be used here.
Result<std::shared_ptr<Backend>> OpenBackend(std::string_view device);

// Why CUDA cannot be used here ("" when it can).
std::string CudaUnavailableReason();

}  // namespace sdr
