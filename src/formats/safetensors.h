// .safetensors: an 8-byte little-endian header length, a JSON header
// {"name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the raw little-endian tensor bytes. Reading mmaps the file: tensors borrow its bytes
// (except tensors not naturally aligned for their dtype, which are copied).
// Sharded models: "*.safetensors.index.json" {"weight_map": {"name": "shard file"}}.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "formats/tensor_index.h"

namespace sdr {

// Adds every tensor of the file (minus ignored names) to `index`. `name_prefix` is prepended
// to each name (used by diffusers folders). Errors name the file and the offending tensor.
Status ReadSafetensors(const std::string& path, TensorIndex* index,
                       const std::string& name_prefix = "");
// The same over bytes already in memory (an mmapped file or MappedFile::FromBytes); tensors
// borrow `file`. Errors name file->path().
Status ReadSafetensors(const std::shared_ptr<const MappedFile>& file, TensorIndex* index,
                       const std::string& name_prefix = "");

// Reads a sharded model through its index JSON; every shard it names must exist.
Status ReadSafetensorsSharded(const std::string& index_json_path, TensorIndex* index,
                             const std::string& name_prefix = "");

// Writes `tensors` (any plain dtype) with optional string metadata; tensors keep their order.
Status WriteSafetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                        const std::vector<std::pair<std::string, std::string>>& metadata = {});

}  // namespace sdr
