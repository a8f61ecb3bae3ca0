#include "core/quant.h"

#include <string>

namespace sdr {

// Placeholder until the GGUF block layouts land (issue 2, GGUF part).
Status Dequantize(DType dtype, const void*, int64_t, float*) {
  return Unsupported("dequantization of " + std::string(DTypeName(dtype)) + " not implemented");
}

Status Quantize(DType dtype, const float*, int64_t, void*) {
  return Unsupported("quantization to " + std::string(DTypeName(dtype)) + " not implemented");
}

}  // namespace sdr
