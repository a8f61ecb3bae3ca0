// Random-weight LoRA files for tests and `sdr make-test-lora`: the same layers written in either
// key form, so that both readers can be checked against each other and against an offline merge.
//
// Layers (for the SD 1.x topology at any width): in every UNet transformer block attn1.to_q,
// attn2.to_k (cross-attention, in = context width), ff.net.2 and proj_in; the first ResBlock's
// in_layers.2 3x3 conv (LoCon); text encoder layer 0 self_attn.q_proj and mlp.fc1.
// kohya form: lora_down / lora_up / alpha = rank / 2 (scale 0.5); diffusers (PEFT) form: lora_A /
// lora_B with the 0.5 folded into lora_B and no alpha (scale 1) -- the same delta, exactly, as
// halving is exact in floating point.
#pragma once

#include <cstdint>
#include <vector>

#include "formats/tensor_index.h"

namespace sdr {

enum class LoraForm { kKohya, kDiffusers };

struct RandomLoraOptions {
  LoraForm form = LoraForm::kKohya;
  int64_t rank = 4;
  uint64_t seed = 99;
  float scale = 1.0f;  // multiplies every up weight (how strong the LoRA is)
};

// `model`: the index of the model the LoRA is for (widths are read from it). InvalidArgument
// when a layer the LoRA covers is missing.
Result<std::vector<NamedTensor>> MakeRandomLora(const TensorIndex& model, const RandomLoraOptions& opts);

}  // namespace sdr
