// Weight-holding building blocks shared by the UNet and the VAE. Each loads its tensors from a
// TensorIndex by name prefix and runs through the CPU kernel interface. Load is told what the
// network feeds the layer (input channels, kernel size) and checks every tensor against it
// (models/weights.h), so Forward can rely on its shapes: the SDR_CHECKs there guard invariants.
// Feature maps are f32 tensors [C, H, W] (one image; the batch dim is handled by callers).
//
// Thread-safety: immutable after Load; Forward may run concurrently.
#pragma once

#include <string>

#include "formats/tensor_index.h"

namespace sdr {

// nn.Conv2d with bias and padding k / 2; weight [cout, cin, k, k], bias [cout].
struct Conv2dLayer {
  Tensor w, b;
  int64_t cout = 0, cin = 0, k = 0, stride = 1, pad = 0;
  // "<prefix>.weight" must be [cout, cin, k, k] (for k == 1 a [cout, cin] Linear-style weight is
  // taken as 1x1, as SD 2.x stores proj_in/proj_out). `cout` is read from the weight when 0.
  static Result<Conv2dLayer> Load(const TensorIndex& index, const std::string& prefix, int64_t cin, int64_t k,
                                  int64_t stride = 1, int64_t cout = 0);
  // x: [cin, h, w] -> [cout, ho, wo]
  Result<Tensor> Forward(const Tensor& x) const;
  int64_t OutSize(int64_t in) const { return (in + 2 * pad - k) / stride + 1; }
  // Multiply-adds x 2 on an [cin, h, w] input.
  double Flops(int64_t h, int64_t w) const {
    return 2.0 * static_cast<double>(cout * cin * k * k) * static_cast<double>(OutSize(h) * OutSize(w));
  }
};

// nn.GroupNorm(32, c) with affine weights.
struct GroupNormLayer {
  Tensor w, b;  // [c]
  int64_t c = 0;
  float eps = 1e-5f;
  static Result<GroupNormLayer> Load(const TensorIndex& index, const std::string& prefix, int64_t c, float eps);
  // x: [c, h, w] -> new [c, h, w]
  Result<Tensor> Forward(const Tensor& x, bool silu) const;
};

// nn.LayerNorm(c) (eps 1e-5).
struct LayerNormLayer {
  Tensor w, b;  // [c]
  int64_t c = 0;
  static Result<LayerNormLayer> Load(const TensorIndex& index, const std::string& prefix, int64_t c);
  void Forward(const float* x, float* y, int64_t rows) const;  // x, y: [rows, c]
};

// nn.Linear; bias optional (undefined tensor when absent).
struct LinearLayer {
  Tensor w;  // [out, in]
  Tensor b;  // [out] or undefined
  int64_t out = 0, in = 0;
  static Result<LinearLayer> Load(const TensorIndex& index, const std::string& prefix, int64_t out, int64_t in,
                                  bool bias);
  void Forward(const float* x, float* y, int64_t rows) const;  // x: [rows, in] -> y: [rows, out]
};

// y = a + b elementwise into a new tensor of a's shape (shapes must match: checked).
Result<Tensor> AddTensors(const Tensor& a, const Tensor& b);

}  // namespace sdr
