#include "models/layers/layers.h"

namespace sdr {

Result<Conv2dLayer> Conv2dLayer::Load(const WeightLoader& wl, const std::string& prefix, int64_t cin, int64_t k,
                                      int64_t stride, int64_t cout) {
  const std::string name = prefix + ".weight";
  const TensorEntry* e = wl.index().Find(name);
  // Read cout from the weight when it is free; a missing or malformed weight is reported by
  // the loader below against the expected shape.
  if (cout <= 0) cout = e != nullptr && e->tensor.rank() >= 1 && e->tensor.dim(0) > 0 ? e->tensor.dim(0) : 0;
  const bool linear_style = k == 1 && e != nullptr && e->tensor.rank() == 2;
  const Shape kernel = {cout, cin, k, k};
  if (cout <= 0) {
    SDR_RETURN_IF_ERROR(RequireTensor(wl.index(), name, 4, {}).status());
    return InvalidArgument("tensor '" + name + "' has shape " + ShapeToString(e->tensor.shape()) + ", expected [out, " +
                           std::to_string(cin) + ", " + std::to_string(k) + ", " + std::to_string(k) + "]");
  }
  Conv2dLayer l;
  l.cout = cout, l.cin = cin, l.k = k, l.stride = stride, l.pad = k / 2;
  SDR_ASSIGN_OR_RETURN(l.w, wl.Load(name, linear_style ? Shape{cout, cin} : kernel, WeightRole::kConvKernel, kernel));
  SDR_ASSIGN_OR_RETURN(l.b, wl.Load(prefix + ".bias", {cout}, WeightRole::kVector));
  return l;
}

Result<Act> Conv2dLayer::Forward(Executor& ex, const Act& x, const Act* channel_bias, const Act* residual) const {
  return ex.Conv2d(x, w, &b, stride, pad, channel_bias, residual);
}

Result<Act> Conv2dLayer::ForwardUpsampled(Executor& ex, const Act& x) const {
  if (stride != 1) return InternalError("upsampled conv2d needs stride 1");
  return ex.UpsampleConv2d(x, w, &b, pad);
}

Result<GroupNormLayer> GroupNormLayer::Load(const WeightLoader& wl, const std::string& prefix, int64_t c, float eps) {
  if (c <= 0 || c % kGroups != 0) {
    return InvalidArgument("GroupNorm '" + prefix + "' (32 groups) gets " + std::to_string(c) +
                           " channels, which do not split into 32 groups");
  }
  GroupNormLayer l;
  l.c = c;
  l.eps = eps;
  SDR_ASSIGN_OR_RETURN(l.w, wl.Load(prefix + ".weight", {c}, WeightRole::kVector));
  SDR_ASSIGN_OR_RETURN(l.b, wl.Load(prefix + ".bias", {c}, WeightRole::kVector));
  return l;
}

Result<Act> GroupNormLayer::Forward(Executor& ex, const Act& x, bool silu) const {
  return ex.GroupNorm(x, w, b, kGroups, eps, silu);
}

Result<Act> GroupNormLayer::ForwardInPlace(Executor& ex, Act x, bool silu) const {
  return ex.GroupNormInPlace(std::move(x), w, b, kGroups, eps, silu);
}

Result<LayerNormLayer> LayerNormLayer::Load(const WeightLoader& wl, const std::string& prefix, int64_t c) {
  LayerNormLayer l;
  l.c = c;
  SDR_ASSIGN_OR_RETURN(l.w, wl.Load(prefix + ".weight", {c}, WeightRole::kVector));
  SDR_ASSIGN_OR_RETURN(l.b, wl.Load(prefix + ".bias", {c}, WeightRole::kVector));
  return l;
}

Result<Act> LayerNormLayer::Forward(Executor& ex, const Act& x) const { return ex.LayerNorm(x, w, b, kEps); }

Result<LinearLayer> LinearLayer::Load(const WeightLoader& wl, const std::string& prefix, int64_t out, int64_t in,
                                      bool bias) {
  LinearLayer l;
  l.out = out;
  l.in = in;
  SDR_ASSIGN_OR_RETURN(l.w, wl.Load(prefix + ".weight", {out, in}, WeightRole::kMatrix));
  if (bias) {
    SDR_ASSIGN_OR_RETURN(l.b, wl.Load(prefix + ".bias", {out}, WeightRole::kVector));
  }
  return l;
}

Result<Act> LinearLayer::Forward(Executor& ex, const Act& x, Activation act, const Act* residual) const {
  return ex.Linear(x, w, b.defined() ? &b : nullptr, act, residual);
}

}  // namespace sdr
