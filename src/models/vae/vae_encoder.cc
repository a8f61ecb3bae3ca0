#include "models/vae/vae_encoder.h"

#include <algorithm>
#include <cmath>

#include "formats/ldm_names.h"
#include "models/weights.h"

namespace sdr {
namespace {

constexpr int64_t kImageChannels = 3;  // RGB

// "<p>.weight" [c, c, 3, 3] (any stored dtype) -> an f32 [c, c, 5, 5] kernel with the 3x3 in
// its bottom-right corner, run with stride 2 and padding 2 (the header says why).
Result<Conv2dLayer> LoadDownsample(const WeightLoader& wl, const std::string& p, int64_t c) {
  const std::string name = p + ".weight";
  SDR_ASSIGN_OR_RETURN(const TensorEntry* e, RequireTensor(wl.index(), name, 4, {c, c, 3, 3}));
  if (e->tensor.shape() != Shape{c, c, 3, 3}) {
    return InvalidArgument("tensor '" + name + "' has shape " + ShapeToString(e->tensor.shape()) + ", expected " +
                           ShapeToString({c, c, 3, 3}));
  }
  SDR_ASSIGN_OR_RETURN(Tensor k3, ToF32(e->tensor));
  SDR_ASSIGN_OR_RETURN(Tensor k5, Tensor::Zeros(DType::kF32, {c, c, 5, 5}));
  const float* src = k3.data<float>();
  float* dst = k5.mutable_data<float>();
  for (int64_t oc = 0; oc < c * c; ++oc) {
    for (int64_t y = 0; y < 3; ++y)
      for (int64_t x = 0; x < 3; ++x) dst[oc * 25 + (y + 2) * 5 + (x + 2)] = src[oc * 9 + y * 3 + x];
  }
  Conv2dLayer l;
  l.cout = c, l.cin = c, l.k = 5, l.stride = 2, l.pad = 2;
  auto w = wl.backend().PrepareWeight(k5, WeightRole::kConvKernel);
  if (!w.ok()) return w.status().WithContext("tensor '" + name + "'");
  l.w = std::move(w).value();
  SDR_ASSIGN_OR_RETURN(l.b, wl.Load(p + ".bias", {c}, WeightRole::kVector));
  return l;
}

}  // namespace

Result<std::unique_ptr<VaeEncoder>> VaeEncoder::Load(const TensorIndex& index, Backend& backend) {
  const std::string p = kLdmVaePrefix, e = p + "encoder.";
  if (!HasTensorsUnder(index, e)) return NotFound("the VAE has no encoder ('" + e + "*' tensors)");
  auto m = std::unique_ptr<VaeEncoder>(new VaeEncoder());
  m->backend_ = &backend;
  const WeightLoader wl(index, backend);
  auto body = [&]() -> Status {
    SDR_ASSIGN_OR_RETURN(m->conv_in_, Conv2dLayer::Load(wl, e + "conv_in", kImageChannels, 3));
    int64_t ch = m->conv_in_.cout;
    SDR_ASSIGN_OR_RETURN(const int levels, CountNumbered(index, e + "down."));
    if (levels == 0) return NotFound("no '" + e + "down.0.block.0' layers");
    m->down_.resize(static_cast<size_t>(levels));
    for (int i = 0; i < levels; ++i) {
      VaeDownLevel& level = m->down_[static_cast<size_t>(i)];
      const std::string down = e + "down." + std::to_string(i);
      SDR_ASSIGN_OR_RETURN(level.blocks, LoadVaeResBlocks(wl, down, &ch));
      level.has_downsample = HasTensorsUnder(index, down + ".downsample.");
      if (level.has_downsample) {
        SDR_ASSIGN_OR_RETURN(level.downsample, LoadDownsample(wl, down + ".downsample.conv", ch));
      }
    }
    SDR_ASSIGN_OR_RETURN(m->mid1_, LoadVaeRes(wl, e + "mid.block_1", ch));
    ch = m->mid1_.conv1.cout;
    SDR_ASSIGN_OR_RETURN(m->mid_attn_, LoadVaeAttention(wl, e + "mid.attn_1", ch));
    SDR_ASSIGN_OR_RETURN(m->mid2_, LoadVaeRes(wl, e + "mid.block_2", ch));
    ch = m->mid2_.conv1.cout;
    SDR_ASSIGN_OR_RETURN(m->norm_out_, GroupNormLayer::Load(wl, e + "norm_out", ch, kVaeNormEps));
    SDR_ASSIGN_OR_RETURN(m->conv_out_, Conv2dLayer::Load(wl, e + "conv_out", ch, 3));
    const int64_t moments = m->conv_out_.cout;
    if (moments % 2 != 0) {
      return InvalidArgument("tensor '" + e + "conv_out.weight' has " + std::to_string(moments) +
                             " output channels; the moments (mean, logvar) need an even count");
    }
    SDR_ASSIGN_OR_RETURN(m->quant_conv_, Conv2dLayer::Load(wl, p + "quant_conv", moments, 1, 1, moments));
    return Status::Ok();
  };
  Status s = body();
  if (!s.ok()) return s.WithContext("loading VAE encoder");
  return m;
}

Result<Act> VaeEncoder::Encode(Executor& ex, const Act& image) const {
  if (image.rank() != 4 || image.dim(1) != kImageChannels || image.dim(2) % 8 != 0 || image.dim(3) % 8 != 0) {
    return InvalidArgument("VAE encoder input must be [B, 3, H, W] with H and W multiples of 8, got " +
                           ShapeToString(image.shape()));
  }
  SDR_ASSIGN_OR_RETURN(Act h, ex.Affine(image, 2.0f, -1.0f));  // [0, 1] -> [-1, 1]
  SDR_ASSIGN_OR_RETURN(h, conv_in_.Forward(ex, h));
  for (const VaeDownLevel& level : down_) {
    SDR_ASSIGN_OR_RETURN(h, RunVaeResBlocks(ex, level.blocks, std::move(h)));
    if (level.has_downsample) {
      SDR_ASSIGN_OR_RETURN(h, level.downsample.Forward(ex, h));  // [B, c, H/2, W/2]
    }
  }
  SDR_RETURN_IF_ERROR(ex.Check());
  SDR_ASSIGN_OR_RETURN(h, RunVaeRes(ex, mid1_, std::move(h)));
  SDR_RETURN_IF_ERROR(ex.Check());
  SDR_ASSIGN_OR_RETURN(h, RunVaeAttention(ex, mid_attn_, h));
  SDR_RETURN_IF_ERROR(ex.Check());
  SDR_ASSIGN_OR_RETURN(h, RunVaeRes(ex, mid2_, std::move(h)));
  SDR_ASSIGN_OR_RETURN(h, norm_out_.ForwardInPlace(ex, std::move(h), /*silu=*/true));
  SDR_ASSIGN_OR_RETURN(h, conv_out_.Forward(ex, h));
  return quant_conv_.Forward(ex, h);  // [B, 2C, H/8, W/8]
}

Result<Tensor> VaeEncoder::Encode(const Tensor& image, const RunControl* control) const {
  return RunPlanned(*backend_, control, [&](Executor& ex) -> Result<Act> {
    SDR_ASSIGN_OR_RETURN(Act x, ex.Upload(image));
    return Encode(ex, x);
  });
}

double VaeEncoder::EncodeFlops(int64_t h, int64_t w) const {
  double flops = conv_in_.Flops(h, w);
  for (const VaeDownLevel& level : down_) {
    for (const VaeResBlock& r : level.blocks) flops += VaeResFlops(r, h, w);
    if (level.has_downsample) {
      flops += level.downsample.Flops(h, w);
      h = level.downsample.OutSize(h);
      w = level.downsample.OutSize(w);
    }
  }
  flops += VaeResFlops(mid1_, h, w) + VaeResFlops(mid2_, h, w) + VaeAttentionFlops(mid_attn_, h, w);
  return flops + conv_out_.Flops(h, w) + quant_conv_.Flops(h, w);
}

Result<Tensor> MomentsToLatent(const Tensor& moments, std::span<const float> noise) {
  if (moments.rank() != 4 || moments.dim(0) != 1 || moments.dim(1) % 2 != 0) {
    return InvalidArgument("VAE moments must be [1, 2C, h, w], got " + ShapeToString(moments.shape()));
  }
  const int64_t c = moments.dim(1) / 2, hw = moments.dim(2) * moments.dim(3), n = c * hw;
  if (!noise.empty() && static_cast<int64_t>(noise.size()) != n) {
    return InvalidArgument("latent noise has " + std::to_string(noise.size()) + " values, expected " +
                           std::to_string(n));
  }
  SDR_ASSIGN_OR_RETURN(Tensor m, ToF32(moments));
  SDR_ASSIGN_OR_RETURN(Tensor z, Tensor::Allocate(DType::kF32, {1, c, moments.dim(2), moments.dim(3)}));
  const float* mean = m.data<float>();
  const float* logvar = mean + n;
  float* out = z.mutable_data<float>();
  for (int64_t i = 0; i < n; ++i) {
    float v = mean[i];
    if (!noise.empty()) {
      const float std = std::exp(0.5f * std::clamp(logvar[i], -30.0f, 20.0f));
      v += std * noise[static_cast<size_t>(i)];
    }
    out[i] = v * VaeDecoder::kLatentScale;
  }
  return z;
}

}  // namespace sdr
