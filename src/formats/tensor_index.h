// TensorIndex: the format-neutral view of a model file. Whatever the file kind (.safetensors,
// .ckpt, .gguf, diffusers folder), opening it yields one index of named tensors, each with its
// dtype, shape (PyTorch order) and bytes. Names are canonical original-LDM names
// ("model.diffusion_model.input_blocks.0.0.weight", "cond_stage_model.transformer.text_model...",
// "first_stage_model.decoder...").
//
// Ownership: entries hold Tensors that either borrow the mmapped file (zero-copy; the mapping
// stays alive while any tensor does) or own converted bytes.
// Thread-safety: immutable once built; safe to share across threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/tensor.h"

namespace sdr {

enum class ModelFormat { kUnknown, kSafetensors, kCkpt, kGguf, kDiffusers };
std::string_view ModelFormatName(ModelFormat f);  // "safetensors", "ckpt", "gguf", "diffusers"

struct TensorEntry {
  std::string name;  // canonical LDM name
  Tensor tensor;     // dtype + shape + bytes
};

class TensorIndex {
 public:
  // CorruptData when `name` is already present (two tensors claiming one name).
  Status Add(std::string name, Tensor tensor);

  const TensorEntry* Find(std::string_view name) const;  // nullptr when absent
  bool HasPrefix(std::string_view prefix) const;          // any name starting with `prefix`
  const std::vector<TensorEntry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

  ModelFormat format = ModelFormat::kUnknown;
  std::string path;                               // what was opened
  std::map<std::string, std::string> metadata;    // format-level key/values (stringified)
  int64_t ignored_tensors = 0;                    // present in the file, not needed (EMA, ...)

 private:
  std::vector<TensorEntry> entries_;
  std::map<std::string, size_t, std::less<>> by_name_;
};

// Tensors SD files carry that inference does not use: EMA copies, schedule buffers
// (betas, alphas_cumprod*, ...), position_ids, logvar. Readers skip them without error.
bool IsIgnoredTensorName(std::string_view name);

// A named tensor to write (test-model writers, converters).
struct NamedTensor {
  std::string name;
  Tensor tensor;
};

}  // namespace sdr
