// Weight-holding building blocks shared by the UNet and the VAE. Each loads its tensors from a
// TensorIndex by name prefix (checking shapes) and runs through the CPU kernel interface.
// Feature maps are f32 tensors [C, H, W] (one image; the batch dim is handled by callers).
//
// Thread-safety: immutable after Load; Forward may run concurrently.
#pragma once

#include <string>

#include "formats/tensor_index.h"

namespace sdr {

// nn.Conv2d with bias; weight [cout, cin, k, k].
struct Conv2dLayer {
  Tensor w, b;
  int64_t cout = 0, cin = 0, k = 0, stride = 1, pad = 0;
  // Shapes read from "<prefix>.weight" ([cout, cin, k, k]; a [cout, cin] Linear-style weight
  // is taken as 1x1). pad defaults to k / 2.
  static Result<Conv2dLayer> Load(const TensorIndex& index, const std::string& prefix, int64_t stride = 1);
  // x: [cin, h, w] -> [cout, ho, wo]
  Result<Tensor> Forward(const Tensor& x) const;
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

bool HasTensor(const TensorIndex& index, const std::string& name);

// y = a + b elementwise into a new tensor of a's shape (shapes must match: checked).
Result<Tensor> AddTensors(const Tensor& a, const Tensor& b);

}  // namespace sdr
