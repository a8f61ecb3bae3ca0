// Where the CLIP BPE merges come from. Single-file checkpoints (.safetensors, .ckpt, .gguf) do
// not carry a tokenizer; diffusers folders do (tokenizer/merges.txt + vocab.json).
// Precedence: an explicit path (the --tokenizer flag), then $SD_TOKENIZER_PATH, then the
// model's own tokenizer/ folder. A path may name merges.txt itself or a folder holding it.
#pragma once

#include <string>

#include "tokenizer/clip_tokenizer.h"

namespace sdr {

// NotFound with instructions when no source is available.
Result<ClipTokenizer> LoadClipTokenizer(const std::string& model_path, const std::string& explicit_path = "");

}  // namespace sdr
