// Fetching model weights from a TensorIndex as f32 tensors of an expected shape: f32 tensors
// are borrowed zero-copy from the file; f16/bf16/quantized ones are converted into owned memory.
#pragma once

#include <string>

#include "formats/tensor_index.h"

namespace sdr {

// NotFound naming the tensor when absent; InvalidArgument "expected [..], got [..]" on a shape
// mismatch (a model of another topology).
Result<Tensor> LoadF32(const TensorIndex& index, const std::string& name, const Shape& expected);

}  // namespace sdr
