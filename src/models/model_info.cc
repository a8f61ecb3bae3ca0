#include "models/model_info.h"

#include <algorithm>

#include "formats/ldm_names.h"

namespace sdr {
namespace {

constexpr std::string_view kUnetPrefix = kLdmUnetPrefix;
constexpr std::string_view kTextPrefix = kLdmCondStagePrefix;
constexpr std::string_view kSdxlTextPrefix = kLdmSdxlConditionerPrefix;
constexpr std::string_view kVaePrefix = kLdmVaePrefix;
constexpr std::string_view kClipPrefix = kLdmClipTextPrefix;

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

const Shape* ShapeOf(const TensorIndex& index, const std::string& name) {
  const TensorEntry* e = index.Find(name);
  return e ? &e->tensor.shape() : nullptr;
}

void Count(ComponentInfo& c, const Tensor& t) {
  c.present = true;
  ++c.tensors;
  c.params += t.numel();
  ++c.dtypes[t.dtype()];
}

}  // namespace

std::string_view SdVersionName(SdVersion v) {
  switch (v) {
    case SdVersion::kSd1: return "SD 1.x";
    case SdVersion::kSd2: return "SD 2.x";
    case SdVersion::kSdxl: return "SDXL";
    case SdVersion::kUnknown: break;
  }
  return "unknown";
}

Result<ModelInfo> DetectModel(const TensorIndex& index) {
  ModelInfo info;
  const TensorEntry* first_attn2_k = nullptr;
  const TensorEntry* first_proj_in = nullptr;
  for (const TensorEntry& e : index.entries()) {
    const std::string_view n = e.name;
    if (StartsWith(n, kUnetPrefix)) {
      Count(info.unet, e.tensor);
      if (!first_attn2_k && n.ends_with(".attn2.to_k.weight")) first_attn2_k = &e;
      if (!first_proj_in && n.ends_with(".proj_in.weight")) first_proj_in = &e;
    } else if (StartsWith(n, kTextPrefix) || StartsWith(n, kSdxlTextPrefix)) {
      Count(info.text_encoder, e.tensor);
      if (StartsWith(n, kClipPrefix) && n.find(".encoder.layers.") != std::string_view::npos) {
        const size_t at = n.find(".encoder.layers.") + 16;
        int64_t layer = 0;
        for (size_t i = at; i < n.size() && n[i] >= '0' && n[i] <= '9'; ++i) layer = layer * 10 + (n[i] - '0');
        info.text_layers = std::max(info.text_layers, layer + 1);
      }
    } else if (StartsWith(n, kVaePrefix)) {
      Count(info.vae, e.tensor);
      if (StartsWith(n, std::string(kVaePrefix) + "encoder.")) info.vae_encoder = true;
      if (StartsWith(n, std::string(kVaePrefix) + "decoder.")) info.vae_decoder = true;
    } else {
      ++info.other_tensors;
    }
  }
  if (!info.unet.present && !info.text_encoder.present && !info.vae.present) {
    return InvalidArgument("no Stable Diffusion tensors found (expected names under '" +
                           std::string(kUnetPrefix) + "', '" + std::string(kTextPrefix) + "' or '" +
                           std::string(kVaePrefix) + "'; " + std::to_string(index.size()) + " other tensors)");
  }
  if (const Shape* s = ShapeOf(index, std::string(kUnetPrefix) + "input_blocks.0.0.weight"); s && s->size() == 4) {
    info.unet_model_channels = (*s)[0];
    info.unet_in_channels = (*s)[1];
  }
  if (first_attn2_k && first_attn2_k->tensor.rank() == 2) info.unet_context_dim = first_attn2_k->tensor.dim(1);
  const bool has_label_emb = index.Find(std::string(kUnetPrefix) + "label_emb.0.0.weight") != nullptr;
  const bool linear_proj_in = first_proj_in && first_proj_in->tensor.rank() == 2;
  if (info.unet.present) {
    if (has_label_emb) info.version = SdVersion::kSdxl;
    else if (linear_proj_in) info.version = SdVersion::kSd2;
    else info.version = SdVersion::kSd1;
    info.unet_heads = info.version == SdVersion::kSd1 ? 8 : std::max<int64_t>(info.unet_model_channels / 64, 1);
  } else if (index.Find(std::string(kClipPrefix) + "embeddings.token_embedding.weight")) {
    info.version = SdVersion::kSd1;  // a text encoder on its own: CLIP ViT-L as SD 1.x uses it
  }
  if (const Shape* s = ShapeOf(index, std::string(kClipPrefix) + "embeddings.token_embedding.weight");
      s && s->size() == 2) {
    info.text_vocab = (*s)[0];
    info.text_hidden = (*s)[1];
    info.text_heads = std::max<int64_t>(info.text_hidden / 64, 1);
  }
  if (const Shape* s = ShapeOf(index, std::string(kClipPrefix) + "embeddings.position_embedding.weight");
      s && s->size() == 2) {
    info.text_positions = (*s)[0];
  }
  if (const Shape* s = ShapeOf(index, std::string(kVaePrefix) + "decoder.conv_out.weight"); s && s->size() == 4) {
    info.vae_channels = (*s)[1];
  } else if (const Shape* e = ShapeOf(index, std::string(kVaePrefix) + "encoder.conv_in.weight"); e && e->size() == 4) {
    info.vae_channels = (*e)[0];
  }
  return info;
}

}  // namespace sdr
