// Tensor dtype conversion: any readable dtype -> f32 -> any writable float or quantized dtype.
#pragma once

#include "core/tensor.h"

namespace sdr {

// True when `shape`'s innermost dim is a whole number of `dtype` blocks (rows quantize
// independently, as GGUF stores them) and the tensor is at least 2-D.
bool CanQuantizeRows(DType dtype, const Shape& shape);

// New owned tensor of `target` (f32, f16, bf16 or a quantized type). Same dtype returns `t`.
// InvalidArgument when the shape cannot be quantized to `target`.
Result<Tensor> ConvertTensor(const Tensor& t, DType target);

}  // namespace sdr
