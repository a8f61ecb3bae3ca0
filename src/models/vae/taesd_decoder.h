// TAESD (madebyollin/taesd): a tiny decoder from SD latents to RGB, for per-step previews.
// Takes the UNet's latent as it is (no division by 0.18215):
//   clamp tanh(z / 3) * 3 -> conv 4->64 + ReLU -> 3 x Block(64) -> [nearest x2 -> conv (no bias)
//   -> 3 x Block(64)] x 3 ... -> conv 64->3, then clamped to [0, 1]
// with Block(x) = ReLU(conv(ReLU(conv(ReLU(conv(x))))) + x), convolutions 3x3 padding 1. The
// exact layout is the nn.Sequential of taesd.py, whose indices name the tensors of
// taesd_decoder.safetensors ("1.weight", "3.conv.0.weight", ..., "19.weight"); a
// "decoder." or "decoder.layers." prefix (other packagings of the same file) is accepted.
// ReLU runs as an affine clamp at 0; the tanh clamp on the host (the latent comes from there).
//
// Ownership: immutable weights for one backend; Decode runs on the caller's Executor.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/run_control.h"
#include "models/layers/layers.h"

namespace sdr {

class TaesdDecoder {
 public:
  // NotFound / InvalidArgument naming the file and tensor when it is not a TAESD decoder.
  static Result<std::unique_ptr<TaesdDecoder>> Load(const std::string& path, Backend& backend);
  // From an index already open (names as in the file).
  static Result<std::unique_ptr<TaesdDecoder>> Load(const TensorIndex& index, Backend& backend);

  int64_t latent_channels() const { return conv_in_.cin; }

  // latent: [B, C, h, w] already clamped (ClampLatent). Returns [B, 3, 8h, 8w] in [0, 1].
  Result<Act> Decode(Executor& ex, const Act& latent) const;
  // Host-level: clamps, decodes on a stream and arena of its own.
  Result<Tensor> Decode(const Tensor& latent, const RunControl* control = nullptr) const;
  // z -> tanh(z / 3) * 3, in place.
  static void ClampLatent(std::span<float> z);

 private:
  struct Block {
    Conv2dLayer c0, c1, c2;
  };
  struct Level {
    bool upsample = false;
    Conv2dLayer up_conv;  // after the nearest x2 (no bias)
    std::vector<Block> blocks;
  };
  Result<Act> Relu(Executor& ex, const Act& x) const;

  Backend* backend_ = nullptr;
  Conv2dLayer conv_in_, conv_out_;
  std::vector<Level> levels_;
  Weight zero_bias_;  // [64] zeros for the bias-free convolutions
};

}  // namespace sdr
