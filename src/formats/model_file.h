// OpenModelFile: detects the kind of a model path by its content (magic bytes / folder layout,
// not its extension) and reads it into a TensorIndex.
#pragma once

#include <string>

#include "formats/tensor_index.h"

namespace sdr {

ModelFormat DetectModelFormat(const std::string& path);

// NotFound for a missing path; Unsupported for an unknown kind; CorruptData etc. from readers.
Result<TensorIndex> OpenModelFile(const std::string& path);

}  // namespace sdr
