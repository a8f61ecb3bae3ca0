// PyTorch .ckpt / .pt / .bin files (torch.save zip format: "<archive>/data.pkl" pickle plus
// "<archive>/data/<key>" storage blobs). The pickle is read by a restricted unpickler that knows
// exactly what torch.save writes for state dicts and refuses every other global with an error
// naming it (never importing or executing anything).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "formats/tensor_index.h"

namespace sdr {

// Adds the tensors of the state dict (either {"state_dict": {...}} or a bare dict; nested
// dicts are flattened with '.') to `index`, skipping ignored names. Contiguous tensors borrow
// the mmapped file; non-contiguous views are copied.
Status ReadCkpt(const std::string& path, TensorIndex* index, const std::string& name_prefix = "");
// The same over bytes already in memory (an mmapped file or MappedFile::FromBytes); tensors
// borrow `file`. Errors name file->path().
Status ReadCkpt(std::shared_ptr<const MappedFile> file, TensorIndex* index,
                const std::string& name_prefix = "");

// Writes a torch.save-compatible zip (loadable by torch.load(weights_only=True)):
// {"state_dict": {name: tensor}} when wrap_in_state_dict, else the bare dict.
Status WriteCkpt(const std::string& path, const std::vector<NamedTensor>& tensors,
                 bool wrap_in_state_dict = true);

}  // namespace sdr
