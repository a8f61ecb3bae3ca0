// Model detection: which Stable Diffusion family a TensorIndex holds, which components are
// present, and the widths read from tensor shapes (so small test models of the same topology
// are recognised just like full-size ones).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "formats/tensor_index.h"

namespace sdr {

enum class SdVersion { kUnknown, kSd1, kSd2, kSdxl };
std::string_view SdVersionName(SdVersion v);  // "SD 1.x", "SD 2.x", "SDXL", "unknown"

struct ComponentInfo {
  bool present = false;
  int64_t tensors = 0;
  int64_t params = 0;                  // elements, whatever their storage type
  std::map<DType, int64_t> dtypes;     // dtype -> tensor count
};

struct ModelInfo {
  SdVersion version = SdVersion::kUnknown;
  ComponentInfo unet, text_encoder, vae;
  int64_t other_tensors = 0;  // names outside the three components

  // UNet widths (from input_blocks.0.0 and the first cross-attention).
  int64_t unet_model_channels = 0;  // SD 1.x: 320
  int64_t unet_context_dim = 0;     // SD 1.x: 768
  int64_t unet_heads = 0;           // SD 1.x: 8 (fixed); SD 2.x/SDXL: channels / 64
  int64_t unet_in_channels = 0;     // 4 (latent); 9 for inpainting UNets, 8 for instruct-pix2pix
  // CLIP text encoder (SD 1.x layout).
  int64_t text_hidden = 0;     // 768
  int64_t text_layers = 0;     // 12
  int64_t text_vocab = 0;      // 49408
  int64_t text_positions = 0;  // 77
  int64_t text_heads = 0;      // hidden / 64 (at least 1)
  // VAE.
  bool vae_encoder = false, vae_decoder = false;
  int64_t vae_channels = 0;  // 128
};

// InvalidArgument when no Stable Diffusion component is recognised.
Result<ModelInfo> DetectModel(const TensorIndex& index);

}  // namespace sdr
