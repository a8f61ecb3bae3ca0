// diffusers folders: model_index.json + unet/, text_encoder/, vae/ (+ tokenizer/), each with
// *.safetensors (possibly sharded) or *.bin weights under diffusers names. Names are mapped to
// the canonical LDM names by a table generated from the SD topology (see diffusers_names.h).
#pragma once

#include <string>

#include "formats/tensor_index.h"

namespace sdr {

// True when `path` is a directory that looks like a diffusers model.
bool IsDiffusersFolder(const std::string& path);

// Reads every component present into `index` under LDM names.
Status ReadDiffusers(const std::string& dir, TensorIndex* index);

}  // namespace sdr
