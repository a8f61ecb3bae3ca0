#include "models/layers/layers.h"

#include "backends/cpu/ops.h"
#include "models/weights.h"

namespace sdr {


Result<Conv2dLayer> Conv2dLayer::Load(const TensorIndex& index, const std::string& prefix, int64_t cin, int64_t k,
                                      int64_t stride, int64_t cout) {
  const std::string name = prefix + ".weight";
  const TensorEntry* e = index.Find(name);
  // Read cout from the weight when it is free; a missing or malformed weight is reported by
  // LoadF32 below against the expected shape.
  if (cout <= 0) cout = e != nullptr && e->tensor.rank() >= 1 && e->tensor.dim(0) > 0 ? e->tensor.dim(0) : 0;
  const bool linear_style = k == 1 && e != nullptr && e->tensor.rank() == 2;
  const Shape expected = linear_style ? Shape{cout, cin} : Shape{cout, cin, k, k};
  if (cout <= 0) {
    SDR_RETURN_IF_ERROR(RequireTensor(index, name, 4, {}).status());
    return InvalidArgument("tensor '" + name + "' has shape " + ShapeToString(e->tensor.shape()) + ", expected [out, " +
                           std::to_string(cin) + ", " + std::to_string(k) + ", " + std::to_string(k) + "]");
  }
  Conv2dLayer l;
  l.cout = cout, l.cin = cin, l.k = k, l.stride = stride, l.pad = k / 2;
  SDR_ASSIGN_OR_RETURN(l.w, LoadF32(index, name, expected));
  SDR_ASSIGN_OR_RETURN(l.b, LoadF32(index, prefix + ".bias", {cout}));
  return l;
}

Result<Tensor> Conv2dLayer::Forward(const Tensor& x) const {
  SDR_CHECK(x.rank() == 3 && x.dim(0) == cin);
  const int64_t ho = cpu::ConvOutSize(x.dim(1), k, stride, pad), wo = cpu::ConvOutSize(x.dim(2), k, stride, pad);
  SDR_ASSIGN_OR_RETURN(Tensor y, Tensor::Allocate(DType::kF32, {cout, ho, wo}));
  cpu::Conv2d(x.data<float>(), cin, x.dim(1), x.dim(2), w.data<float>(), b.data<float>(), cout, k, k, stride, pad,
              y.mutable_data<float>());
  return y;
}

Result<GroupNormLayer> GroupNormLayer::Load(const TensorIndex& index, const std::string& prefix, int64_t c, float eps) {
  if (c <= 0 || c % 32 != 0) {
    return InvalidArgument("GroupNorm '" + prefix + "' (32 groups) gets " + std::to_string(c) +
                           " channels, which do not split into 32 groups");
  }
  GroupNormLayer l;
  l.c = c;
  l.eps = eps;
  SDR_ASSIGN_OR_RETURN(l.w, LoadF32(index, prefix + ".weight", {c}));
  SDR_ASSIGN_OR_RETURN(l.b, LoadF32(index, prefix + ".bias", {c}));
  return l;
}

Result<Tensor> GroupNormLayer::Forward(const Tensor& x, bool silu) const {
  SDR_CHECK(x.rank() == 3 && x.dim(0) == c);
  SDR_ASSIGN_OR_RETURN(Tensor y, Tensor::Allocate(DType::kF32, x.shape()));
  cpu::GroupNorm(x.data<float>(), w.data<float>(), b.data<float>(), y.mutable_data<float>(), c, x.dim(1) * x.dim(2),
                 32, eps, silu);
  return y;
}

Result<LayerNormLayer> LayerNormLayer::Load(const TensorIndex& index, const std::string& prefix, int64_t c) {
  LayerNormLayer l;
  l.c = c;
  SDR_ASSIGN_OR_RETURN(l.w, LoadF32(index, prefix + ".weight", {c}));
  SDR_ASSIGN_OR_RETURN(l.b, LoadF32(index, prefix + ".bias", {c}));
  return l;
}

void LayerNormLayer::Forward(const float* x, float* y, int64_t rows) const {
  cpu::LayerNorm(x, w.data<float>(), b.data<float>(), y, rows, c, 1e-5f);
}

Result<LinearLayer> LinearLayer::Load(const TensorIndex& index, const std::string& prefix, int64_t out, int64_t in,
                                      bool bias) {
  LinearLayer l;
  l.out = out;
  l.in = in;
  SDR_ASSIGN_OR_RETURN(l.w, LoadF32(index, prefix + ".weight", {out, in}));
  if (bias) {
    SDR_ASSIGN_OR_RETURN(l.b, LoadF32(index, prefix + ".bias", {out}));
  }
  return l;
}

void LinearLayer::Forward(const float* x, float* y, int64_t rows) const {
  cpu::Linear(x, w.data<float>(), b.defined() ? b.data<float>() : nullptr, y, rows, out, in);
}

Result<Tensor> AddTensors(const Tensor& a, const Tensor& b) {
  SDR_CHECK(a.shape() == b.shape());
  SDR_ASSIGN_OR_RETURN(Tensor y, Tensor::Allocate(DType::kF32, a.shape()));
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* py = y.mutable_data<float>();
  for (int64_t i = 0; i < a.numel(); ++i) py[i] = pa[i] + pb[i];
  return y;
}

}  // namespace sdr
