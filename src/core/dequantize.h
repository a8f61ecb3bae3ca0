// Conversion of stored element types to f32: plain types (f16, bf16, f64, ints, bool) and the
// GGUF/ggml block-quantized types (see quant.h).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/status.h"

namespace sdr {

// src: n values of `dtype` (n a whole number of blocks for quantized types); dst: n floats.
Status ConvertToF32(DType dtype, const void* src, int64_t n, float* dst);

}  // namespace sdr
