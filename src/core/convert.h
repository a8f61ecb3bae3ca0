// Tensor dtype conversion: any readable dtype -> f32 -> any writable float or quantized dtype.
#pragma once

#include "core/tensor.h"

namespace sdr {

// A quantized tensor is stored as rows of whole blocks. A row is everything after the first dim:
// [out, in] matrices quantize by rows of `in`, [cout, cin, kh, kw] kernels by rows of cin*kh*kw
// (the GEMM's view of a convolution); a 1-D tensor is one row.
int64_t QuantRowElems(const Shape& shape);

// True when `shape` can be stored as `dtype`: a non-empty shape whose rows (QuantRowElems) are
// whole blocks. Always true for float types.
bool QuantRowsValid(DType dtype, const Shape& shape);

// True when ggml (stable-diffusion.cpp, llama.cpp) can read `shape` stored as `dtype`: ggml
// quantizes along the innermost dim only, so a kernel whose last dim is 3 cannot be quantized.
bool GgmlQuantRowsValid(DType dtype, const Shape& shape);

// Whether a converter quantizes this weight: at least 2-D (biases and norms stay float) with
// QuantRowsValid rows.
bool CanQuantizeRows(DType dtype, const Shape& shape);

// New owned tensor of `target` (f32, f16, bf16 or a quantized type). Same dtype returns `t`.
// InvalidArgument when the shape cannot be quantized to `target`.
Result<Tensor> ConvertTensor(const Tensor& t, DType target);

}  // namespace sdr
