#include "backends/cuda/cuda_util.h"

#include <cstdio>

#include "core/check.h"

namespace sdr::cuda {

Status CudaError(cudaError_t e, std::string_view what) {
  const std::string detail = std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")";
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it so the context stays usable
    return OutOfMemory(std::string(what) + ": out of VRAM: " + detail).WithDetail(kOutOfVramDetail);
  }
  const bool sticky = e == cudaErrorIllegalAddress || e == cudaErrorLaunchFailure || e == cudaErrorAssert ||
                      e == cudaErrorHardwareStackError || e == cudaErrorIllegalInstruction ||
                      e == cudaErrorMisalignedAddress || e == cudaErrorInvalidPc || e == cudaErrorLaunchTimeout;
  if (!sticky) cudaGetLastError();
  return InternalError(std::string(what) + ": CUDA error " + detail +
                       (sticky ? "; the GPU context is lost, restart the process to use the GPU again" : ""));
}

Dt ToDt(DType d) {
  switch (d) {
    case DType::kF32: return Dt::kF32;
    case DType::kF16: return Dt::kF16;
    case DType::kBF16: return Dt::kBf16;
    default: SDR_CHECK(false && "GPU tensors are f32, f16 or bf16");
  }
  return Dt::kF32;
}

DType ToDType(GpuPrecision p) {
  switch (p) {
    case GpuPrecision::kF16: return DType::kF16;
    case GpuPrecision::kBf16: return DType::kBF16;
    case GpuPrecision::kF32: return DType::kF32;
  }
  return DType::kF16;
}

std::string Bytes(uint64_t bytes) {
  char buf[64];
  if (bytes >= (1ull << 30)) {
    std::snprintf(buf, sizeof(buf), "%.2f GB", static_cast<double>(bytes) / (1ull << 30));
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f MB", static_cast<double>(bytes) / (1ull << 20));
  }
  return buf;
}

}  // namespace sdr::cuda
