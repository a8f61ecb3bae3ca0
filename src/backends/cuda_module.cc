#include "backends/cuda_module.h"

namespace sdr {

std::string_view GpuPrecisionName(GpuPrecision p) {
  switch (p) {
    case GpuPrecision::kF16: return "f16";
    case GpuPrecision::kBf16: return "bf16";
    case GpuPrecision::kF32: return "f32";
  }
  return "f16";
}

bool ParseGpuPrecision(std::string_view name, GpuPrecision* out) {
  for (GpuPrecision p : {GpuPrecision::kF16, GpuPrecision::kBf16, GpuPrecision::kF32}) {
    if (name == GpuPrecisionName(p)) {
      *out = p;
      return true;
    }
  }
  return false;
}

}  // namespace sdr
