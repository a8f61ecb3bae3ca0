// GGUF v2/v3: magic "GGUF", version, tensor count, metadata key/values, tensor infos
// (name, dims innermost-first, ggml type, offset), alignment (general.alignment, default 32),
// then the data section. Tensor shapes are reported in PyTorch order (dims reversed).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "formats/tensor_index.h"

namespace sdr {

// Adds every tensor to `index` (borrowing the mmapped bytes, quantized types kept as such);
// scalar metadata is stringified into index->metadata.
Status ReadGguf(const std::string& path, TensorIndex* index);

// Writes GGUF v3 with the tensors' own dtypes (f32/f16/bf16/quantized) and string metadata.
Status WriteGguf(const std::string& path, const std::vector<NamedTensor>& tensors,
                 const std::vector<std::pair<std::string, std::string>>& metadata = {});

}  // namespace sdr
