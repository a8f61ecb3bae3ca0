// Where the CLIP BPE merges come from. Single-file checkpoints (.safetensors, .ckpt, .gguf) do
// not carry a tokenizer; diffusers folders do (tokenizer/merges.txt + vocab.json).
// Precedence: an explicit path (the --tokenizer flag, or SD_TOKENIZER_PATH which callers read
// through the config table: this code reads no environment), then the model's own tokenizer/
// folder, then the CLIP ViT-L/14 vocabulary embedded in the library. A path may name merges.txt
// itself or a folder holding it.
#pragma once

#include <memory>
#include <string>

#include "tokenizer/clip_tokenizer.h"

namespace sdr {

struct TokenizerSource {
  enum class Kind { kExplicit, kModelFolder, kEmbedded };
  Kind kind = Kind::kEmbedded;
  std::string path;  // merges.txt (or its folder) for kExplicit / kModelFolder; "" for kEmbedded

  // "tokenizer '/x/merges.txt'", "the model's tokenizer folder '/m/tokenizer'",
  // "the embedded CLIP ViT-L/14 vocabulary".
  std::string Describe() const;
};

// Which source LoadClipTokenizer would use for this model (no file is read).
TokenizerSource ResolveTokenizerSource(const std::string& model_path, const std::string& explicit_path = "");

// Loads the source's tokenizer. NotFound when an explicit path does not exist, CorruptData for a
// merges file or vocab.json that does not hold CLIP's vocabulary; the error names the path.
Result<std::shared_ptr<const ClipTokenizer>> LoadClipTokenizer(const TokenizerSource& source);

}  // namespace sdr
