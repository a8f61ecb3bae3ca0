// Weight-holding building blocks shared by CLIP, the UNet and the VAE. Each loads its weights for
// a backend (models/weights.h) and runs through an Executor (backends/executor.h). Load is told
// what the network feeds the layer (input channels, kernel size) and checks every tensor against
// it, so Forward can rely on its shapes.
//
// Thread-safety: immutable after Load; Forward may run concurrently on different executors.
#pragma once

#include <string>

#include "backends/executor.h"
#include "models/weights.h"

namespace sdr {

// nn.Conv2d with bias and padding k / 2; weight [cout, cin, k, k], bias [cout].
struct Conv2dLayer {
  Weight w, b;
  int64_t cout = 0, cin = 0, k = 0, stride = 1, pad = 0;
  // "<prefix>.weight" must be [cout, cin, k, k] (for k == 1 a [cout, cin] Linear-style weight is
  // taken as 1x1, as SD 2.x stores proj_in/proj_out). `cout` is read from the weight when 0.
  static Result<Conv2dLayer> Load(const WeightLoader& wl, const std::string& prefix, int64_t cin, int64_t k,
                                  int64_t stride = 1, int64_t cout = 0);
  // x: [B, cin, h, w] -> [B, cout, ho, wo]; channel_bias [B, cout] and residual [B, cout, ho, wo]
  // (either may be null) are added in the same pass.
  Result<Act> Forward(Executor& ex, const Act& x, const Act* channel_bias = nullptr,
                      const Act* residual = nullptr) const;
  // The same convolution over x upsampled 2x (nearest), without storing the upsampled map where
  // the backend fuses it (Executor::UpsampleConv2d). Stride 1.
  Result<Act> ForwardUpsampled(Executor& ex, const Act& x) const;
  int64_t OutSize(int64_t in) const { return (in + 2 * pad - k) / stride + 1; }
  // Multiply-adds x 2 on an [cin, h, w] input (one image).
  double Flops(int64_t h, int64_t w) const {
    return 2.0 * static_cast<double>(cout * cin * k * k) * static_cast<double>(OutSize(h) * OutSize(w));
  }
};

// nn.GroupNorm(32, c) with affine weights.
struct GroupNormLayer {
  static constexpr int64_t kGroups = 32;
  Weight w, b;  // [c]
  int64_t c = 0;
  float eps = 1e-5f;
  static Result<GroupNormLayer> Load(const WeightLoader& wl, const std::string& prefix, int64_t c, float eps);
  // x: [B, c, h, w] -> new [B, c, h, w] (then SiLU when `silu`)
  Result<Act> Forward(Executor& ex, const Act& x, bool silu) const;
  // The same, written over x when the caller hands over the last reference (std::move).
  Result<Act> ForwardInPlace(Executor& ex, Act x, bool silu) const;
};

// nn.LayerNorm(c), eps 1e-5.
struct LayerNormLayer {
  static constexpr float kEps = 1e-5f;
  Weight w, b;  // [c]
  int64_t c = 0;
  static Result<LayerNormLayer> Load(const WeightLoader& wl, const std::string& prefix, int64_t c);
  Result<Act> Forward(Executor& ex, const Act& x) const;  // x: [..., c] -> [..., c]
};

// nn.Linear; bias optional.
struct LinearLayer {
  Weight w;  // [out, in]
  Weight b;  // [out], or undefined
  int64_t out = 0, in = 0;
  static Result<LinearLayer> Load(const WeightLoader& wl, const std::string& prefix, int64_t out, int64_t in,
                                  bool bias);
  // x: [..., in] -> act(x w^T + b) (+ residual) : [..., out]
  Result<Act> Forward(Executor& ex, const Act& x, Activation act = Activation::kNone,
                      const Act* residual = nullptr) const;
};

}  // namespace sdr
