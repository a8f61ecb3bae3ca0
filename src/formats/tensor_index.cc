#include "formats/tensor_index.h"

#include <array>

namespace sdr {

std::string_view ModelFormatName(ModelFormat f) {
  switch (f) {
    case ModelFormat::kSafetensors: return "safetensors";
    case ModelFormat::kCkpt: return "ckpt";
    case ModelFormat::kGguf: return "gguf";
    case ModelFormat::kDiffusers: return "diffusers";
    case ModelFormat::kUnknown: break;
  }
  return "unknown";
}

Status TensorIndex::Add(std::string name, Tensor tensor) {
  if (by_name_.count(name) != 0) return CorruptData("tensor '" + name + "' appears twice");
  by_name_.emplace(name, entries_.size());
  entries_.push_back({std::move(name), std::move(tensor)});
  return Status::Ok();
}

const TensorEntry* TensorIndex::Find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

bool TensorIndex::HasPrefix(std::string_view prefix) const {
  auto it = by_name_.lower_bound(prefix);
  return it != by_name_.end() && std::string_view(it->first).substr(0, prefix.size()) == prefix;
}

bool IsIgnoredTensorName(std::string_view name) {
  static constexpr std::array<std::string_view, 4> kPrefixes = {
      "model_ema.", "ema.", "loss.", "lora_",
  };
  static constexpr std::array<std::string_view, 15> kExact = {
      "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
      "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod",
      "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
      "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
      "logvar", "lvlb_weights", "model.logvar",
  };
  for (auto p : kPrefixes) {
    if (name.substr(0, p.size()) == p) return true;
  }
  for (auto e : kExact) {
    if (name == e) return true;
  }
  static constexpr std::string_view kPos = "position_ids";
  return name.size() >= kPos.size() && name.substr(name.size() - kPos.size()) == kPos;
}

}  // namespace sdr
