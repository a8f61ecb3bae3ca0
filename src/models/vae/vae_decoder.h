// The SD VAE decoder (LDM "AutoencoderKL" first stage): latent / 0.18215 -> post_quant_conv ->
// conv_in -> mid (ResBlock, single-head attention, ResBlock) -> up levels (3 ResBlocks each,
// nearest x2 + conv between levels) -> GroupNorm + SiLU -> conv_out -> (x + 1) / 2 clamped to
// [0, 1]. GroupNorm eps 1e-6 throughout; widths read from the weights.
//
// Ownership: immutable weights prepared for one backend; Decode runs on the caller's Executor
// (thread-safe across executors).
#pragma once

#include <memory>
#include <vector>

#include "core/run_control.h"
#include "models/layers/layers.h"
#include "models/vae/vae_blocks.h"

namespace sdr {

struct VaeUpLevel {
  std::vector<VaeResBlock> blocks;
  bool has_upsample = false;
  Conv2dLayer upsample;
};

class VaeDecoder {
 public:
  static constexpr float kLatentScale = 0.18215f;

  // Loads and checks every layer for the channels it will receive (errors name the tensor, the
  // expected and the actual shape); the output is always 3 (RGB) channels.
  static Result<std::unique_ptr<VaeDecoder>> Load(const TensorIndex& index, Backend& backend);

  int64_t latent_channels() const { return post_quant_conv_.cin; }  // SD: 4

  // Floating-point operations of one Decode of a [1, C, lh, lw] latent (as UnetModel::EvalFlops).
  double DecodeFlops(int64_t lh, int64_t lw) const;

  // latent: [B, C, h, w] (the sampler's x0, still scaled). Returns [B, 3, 8h, 8w] in [0, 1]. The
  // executor's run control is checked before every block.
  Result<Act> Decode(Executor& ex, const Act& latent) const;
  // One-off host-level decode (tests, tools) on a stream and arena of its own.
  Result<Tensor> Decode(const Tensor& latent, const RunControl* control = nullptr) const;

 private:
  Backend* backend_ = nullptr;
  Conv2dLayer post_quant_conv_, conv_in_, conv_out_;
  VaeResBlock mid1_, mid2_;
  VaeAttention mid_attn_;
  std::vector<VaeUpLevel> up_;  // up_[i] = "decoder.up.i"; run from the last to 0
  GroupNormLayer norm_out_;
};

}  // namespace sdr
