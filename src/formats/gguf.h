// GGUF v2/v3: magic "GGUF", version, tensor count, metadata key/values, tensor infos
// (name, dims innermost-first, ggml type, offset), alignment (general.alignment, default 32),
// then the data section. Tensor shapes are reported in PyTorch order (dims reversed).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/mapped_file.h"
#include "formats/tensor_index.h"

namespace sdr {

// Adds every tensor to `index` (borrowing the mmapped bytes, quantized types kept as such);
// scalar metadata is stringified into index->metadata.
Status ReadGguf(const std::string& path, TensorIndex* index);
// The same over bytes already in memory (an mmapped file or MappedFile::FromBytes); tensors
// borrow `file`. Errors name file->path().
Status ReadGguf(const std::shared_ptr<const MappedFile>& file, TensorIndex* index);

// Writes GGUF v3 with the tensors' own dtypes (f32/f16/bf16/quantized) and string metadata.
Status WriteGguf(const std::string& path, const std::vector<NamedTensor>& tensors,
                 const std::vector<std::pair<std::string, std::string>>& metadata = {});

}  // namespace sdr
