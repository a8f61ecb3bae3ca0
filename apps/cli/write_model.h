// Writes a list of tensors in the model format that the output path's extension names.
#pragma once

#include <string>
#include <vector>

#include "formats/tensor_index.h"

namespace sdr::cli {

// .safetensors, .ckpt/.pt (torch zip), .gguf; InvalidArgument for any other extension.
Status WriteModelByExtension(const std::string& path, const std::vector<NamedTensor>& tensors,
                             const std::vector<std::pair<std::string, std::string>>& metadata);

}  // namespace sdr::cli
