// The tensor layout of an SD 1.x single-file checkpoint (original LDM names, PyTorch shapes),
// generated from a few widths so that small test models share the real topology and names.
// With the defaults it lists exactly the 1130 tensors of SD 1.5 (UNet 686, CLIP 196, VAE 248).
#pragma once

#include <string>
#include <vector>

#include "core/shape.h"

namespace sdr {

struct Sd1LayoutOptions {
  int unet_model_channels = 320;  // SD 1.x: 320; tiny test models: 32
  int unet_context_dim = 768;     // = text_hidden for SD 1.x
  int text_hidden = 768;          // CLIP ViT-L/14: 768
  int text_layers = 12;           // CLIP ViT-L/14: 12
  int text_vocab = 49408;         // CLIP BPE vocabulary
  int text_positions = 77;        // context length
  int vae_channels = 128;         // VAE base channels (SD: 128)
  bool include_vae_encoder = true;
  int unet_in_channels = 4;       // 9: an inpainting UNet (latent + mask + masked-image latent)
};

// How a random-weight generator should initialise a tensor (mirrors make_random_sd.py).
enum class InitKind { kWeight, kBias, kNormScale, kNormShift, kFinalNormShift, kEmbedding, kPosition };

struct LayoutTensor {
  std::string name;
  Shape shape;
  InitKind init;
};

// In the order the blocks appear in the model (not sorted).
std::vector<LayoutTensor> Sd1Layout(const Sd1LayoutOptions& opts = {});

// Sizes of a tiny SD 1.x model for fast tests: UNet 32 channels, CLIP 64 wide x 2 layers,
// VAE 32 channels (GroupNorm(32) still divides every width).
Sd1LayoutOptions TinySd1LayoutOptions();

}  // namespace sdr
