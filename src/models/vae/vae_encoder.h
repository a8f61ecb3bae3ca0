// The SD VAE encoder (LDM "AutoencoderKL" first stage, the img2img / inpainting input side):
// image in [0, 1] -> 2x - 1 -> conv_in -> down levels (ResBlocks, then a stride-2 downsample on
// every level but the last) -> mid (ResBlock, single-head attention, ResBlock) -> GroupNorm +
// SiLU -> conv_out (2 x latent channels) -> quant_conv (1x1) = the moments (mean, logvar) of a
// diagonal Gaussian per latent element. GroupNorm eps 1e-6; widths read from the weights.
//
// The LDM downsample pads (left 0, right 1, top 0, bottom 1) and then runs a 3x3 stride-2
// convolution without padding. The backend seam has symmetric padding only, so the 3x3 kernel
// is embedded at load time in the bottom-right corner of a zero 5x5 kernel run with padding 2:
// output (i, j) then reads rows 2i..2i+2 and columns 2j..2j+2, exactly the asymmetric-pad
// window (the two extra zero rows/columns on the top-left only meet zero weights). Costs
// 25/9 of the three downsample convolutions, a few percent of the encoder.
//
// Ownership: immutable weights prepared for one backend; Encode runs on the caller's Executor
// (thread-safe across executors).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "core/run_control.h"
#include "models/layers/layers.h"
#include "models/vae/vae_decoder.h"

namespace sdr {

struct VaeDownLevel {
  std::vector<VaeResBlock> blocks;
  bool has_downsample = false;
  Conv2dLayer downsample;  // the 3x3 stride-2 kernel as 5x5, pad 2 (see above)
};

class VaeEncoder {
 public:
  // NotFound when the index holds no "first_stage_model.encoder." tensors (a decoder-only VAE);
  // otherwise every layer is checked as VaeDecoder::Load checks its own.
  static Result<std::unique_ptr<VaeEncoder>> Load(const TensorIndex& index, Backend& backend);

  int64_t latent_channels() const { return quant_conv_.cout / 2; }  // SD: 4

  // image: [B, 3, H, W] in [0, 1], H and W multiples of 8. Returns the moments
  // [B, 2C, H/8, W/8]: channels [0, C) the mean, [C, 2C) the log-variance (unscaled: not yet
  // multiplied by 0.18215). Run control checked before every block.
  Result<Act> Encode(Executor& ex, const Act& image) const;
  // One-off host-level encode (tests, tools).
  Result<Tensor> Encode(const Tensor& image, const RunControl* control = nullptr) const;

  // Floating-point operations of one Encode of a [1, 3, H, W] image (the 5x5 downsamples counted
  // as they run).
  double EncodeFlops(int64_t h, int64_t w) const;

 private:
  Backend* backend_ = nullptr;
  Conv2dLayer conv_in_, conv_out_, quant_conv_;
  std::vector<VaeDownLevel> down_;  // down_[i] = "encoder.down.i", run from 0 up
  VaeResBlock mid1_, mid2_;
  VaeAttention mid_attn_;
  GroupNormLayer norm_out_;
};

// moments [1, 2C, h, w] (mean, logvar) and `noise` ([1, C, h, w] standard normal values) ->
// the diffusion latent 0.18215 * (mean + exp(0.5 * clamp(logvar, -30, 20)) * noise), as
// LDM's DiagonalGaussianDistribution.sample() and stable-diffusion.cpp compute it. An empty
// `noise` takes the mean (the distribution's mode).
Result<Tensor> MomentsToLatent(const Tensor& moments, std::span<const float> noise);

}  // namespace sdr
