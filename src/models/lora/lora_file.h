// LoRA files (.safetensors) read and mapped onto an SD 1.x model's tensors, in the two key forms
// in circulation:
//   kohya-ss   "lora_unet_<module with '_' for '.'>.lora_down.weight" [r, in(, kh, kw)],
//              ".lora_up.weight" [out, r(, 1, 1)], ".alpha" (scalar); the UNet module is the
//              diffusers path (down_blocks_0_attentions_0_...) or, in some SD 1.x trainers, the
//              LDM path (input_blocks_1_1_...); text encoder "lora_te_text_model_encoder_...".
//              LoCon conv layers (3x3 down, 1x1 up) take the same keys.
//   diffusers  "unet.<module>.lora_A.weight" / ".lora_B.weight" (PEFT) or ".lora.down.weight" /
//              ".lora.up.weight", "text_encoder.<module>..."; an optional ".alpha".
// Modules are looked up in the diffusers <-> LDM name tables (formats/diffusers_names.h), never
// rewritten by hand. Each layer changes one weight by
//   delta W = up @ down * (alpha / r) * multiplier        (alpha absent: alpha = r)
// (convolutions: up [out, r] @ down [r, in * kh * kw], reshaped to the kernel).
//
// Ownership: a LoraFile owns its tensors (mmapped from the file). Thread-safety: immutable.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"
#include "core/tensor.h"

namespace sdr {

struct LoraLayer {
  std::string key;     // the module key in the file (errors name it)
  std::string target;  // LDM name of the weight it changes ("model.diffusion_model....to_q.weight")
  Tensor down;         // [r, in] or [r, in, kh, kw]
  Tensor up;           // [out, r] or [out, r, 1, 1]
  float alpha = 0;     // scale = alpha / r
  int64_t rank() const { return down.dim(0); }
  float scale() const { return alpha / static_cast<float>(rank()); }
};

struct LoraFile {
  std::string path;
  std::string form;                       // "kohya" or "diffusers"
  std::vector<LoraLayer> layers;          // in file order
  std::vector<std::string> unknown_keys;  // tensors mapping to no SD 1.x layer (reported, not used)
};

// NotFound / IoError naming the path; InvalidArgument for a layer missing its up or down half,
// a rank mismatch between them, or no LoRA layer at all (naming the file).
Result<LoraFile> ReadLoraFile(const std::string& path);

}  // namespace sdr
