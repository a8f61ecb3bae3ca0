#include "models/vae/vae_decoder.h"

#include <algorithm>
#include <cmath>

#include "backends/cpu/ops.h"
#include "formats/ldm_names.h"
#include "models/weights.h"

namespace sdr {
namespace {

constexpr const char* kPrefix = kLdmVaePrefix;
constexpr float kEps = 1e-6f;

constexpr int64_t kImageChannels = 3;  // RGB

Result<VaeResBlock> LoadRes(const TensorIndex& index, const std::string& p, int64_t cin) {
  VaeResBlock r;
  SDR_ASSIGN_OR_RETURN(r.norm1, GroupNormLayer::Load(index, p + ".norm1", cin, kEps));
  SDR_ASSIGN_OR_RETURN(r.conv1, Conv2dLayer::Load(index, p + ".conv1", cin, 3));
  const int64_t cout = r.conv1.cout;
  SDR_ASSIGN_OR_RETURN(r.norm2, GroupNormLayer::Load(index, p + ".norm2", cout, kEps));
  SDR_ASSIGN_OR_RETURN(r.conv2, Conv2dLayer::Load(index, p + ".conv2", cout, 3, 1, cout));
  r.has_shortcut = HasTensorsUnder(index, p + ".nin_shortcut.");
  if (r.has_shortcut) {
    SDR_ASSIGN_OR_RETURN(r.shortcut, Conv2dLayer::Load(index, p + ".nin_shortcut", cin, 1, 1, cout));
  } else if (cin != cout) {
    return NotFound("tensor '" + p + ".nin_shortcut.weight' is missing from the model (expected shape " +
                    ShapeToString({cout, cin, 1, 1}) + ": the block changes " + std::to_string(cin) + " -> " +
                    std::to_string(cout) + " channels)");
  }
  return r;
}

Result<VaeAttention> LoadAttention(const TensorIndex& index, const std::string& p, int64_t c) {
  VaeAttention a;
  SDR_ASSIGN_OR_RETURN(a.norm, GroupNormLayer::Load(index, p + ".norm", c, kEps));
  SDR_ASSIGN_OR_RETURN(a.q, Conv2dLayer::Load(index, p + ".q", c, 1, 1, c));
  SDR_ASSIGN_OR_RETURN(a.k, Conv2dLayer::Load(index, p + ".k", c, 1, 1, c));
  SDR_ASSIGN_OR_RETURN(a.v, Conv2dLayer::Load(index, p + ".v", c, 1, 1, c));
  SDR_ASSIGN_OR_RETURN(a.proj_out, Conv2dLayer::Load(index, p + ".proj_out", c, 1, 1, c));
  return a;
}

}  // namespace

// Layers are loaded in the order they run, each for the channels the previous one produces.
Result<std::unique_ptr<VaeDecoder>> VaeDecoder::Load(const TensorIndex& index) {
  const std::string p = kPrefix, d = p + "decoder.";
  auto m = std::unique_ptr<VaeDecoder>(new VaeDecoder());
  auto body = [&]() -> Status {
    // post_quant_conv: 1x1, latent -> latent.
    SDR_ASSIGN_OR_RETURN(const TensorEntry* pq, RequireTensor(index, p + "post_quant_conv.weight", 4));
    const int64_t z = pq->tensor.dim(1);
    SDR_ASSIGN_OR_RETURN(m->post_quant_conv_, Conv2dLayer::Load(index, p + "post_quant_conv", z, 1, 1, z));
    SDR_ASSIGN_OR_RETURN(m->conv_in_, Conv2dLayer::Load(index, d + "conv_in", z, 3));
    int64_t ch = m->conv_in_.cout;
    SDR_ASSIGN_OR_RETURN(m->mid1_, LoadRes(index, d + "mid.block_1", ch));
    ch = m->mid1_.conv1.cout;
    SDR_ASSIGN_OR_RETURN(m->mid_attn_, LoadAttention(index, d + "mid.attn_1", ch));
    SDR_ASSIGN_OR_RETURN(m->mid2_, LoadRes(index, d + "mid.block_2", ch));
    ch = m->mid2_.conv1.cout;
    SDR_ASSIGN_OR_RETURN(const int levels, CountNumbered(index, d + "up."));
    if (levels == 0) return NotFound("no '" + d + "up.0.block.0' layers");
    m->up_.resize(static_cast<size_t>(levels));
    for (int i = levels - 1; i >= 0; --i) {  // the order they run in
      VaeUpLevel& level = m->up_[static_cast<size_t>(i)];
      const std::string up = d + "up." + std::to_string(i);
      SDR_ASSIGN_OR_RETURN(const int blocks, CountNumbered(index, up + ".block."));
      if (blocks == 0) return NotFound("no '" + up + ".block.0' layers");
      for (int j = 0; j < blocks; ++j) {
        SDR_ASSIGN_OR_RETURN(VaeResBlock r, LoadRes(index, up + ".block." + std::to_string(j), ch));
        ch = r.conv1.cout;
        level.blocks.push_back(std::move(r));
      }
      level.has_upsample = HasTensorsUnder(index, up + ".upsample.");
      if (level.has_upsample) {
        SDR_ASSIGN_OR_RETURN(level.upsample, Conv2dLayer::Load(index, up + ".upsample.conv", ch, 3, 1, ch));
      }
    }
    SDR_ASSIGN_OR_RETURN(m->norm_out_, GroupNormLayer::Load(index, d + "norm_out", ch, kEps));
    SDR_ASSIGN_OR_RETURN(m->conv_out_, Conv2dLayer::Load(index, d + "conv_out", ch, 3, 1, kImageChannels));
    return Status::Ok();
  };
  Status s = body();
  if (!s.ok()) return s.WithContext("loading VAE decoder");
  return m;
}

Result<Tensor> VaeDecoder::RunRes(const VaeResBlock& r, const Tensor& x) const {
  SDR_ASSIGN_OR_RETURN(Tensor h, r.norm1.Forward(x, /*silu=*/true));
  SDR_ASSIGN_OR_RETURN(h, r.conv1.Forward(h));
  SDR_ASSIGN_OR_RETURN(h, r.norm2.Forward(h, /*silu=*/true));
  SDR_ASSIGN_OR_RETURN(h, r.conv2.Forward(h));
  if (r.has_shortcut) {
    SDR_ASSIGN_OR_RETURN(Tensor s, r.shortcut.Forward(x));
    cpu::AddInPlace(h.mutable_data<float>(), s.data<float>(), h.numel());
  } else {
    cpu::AddInPlace(h.mutable_data<float>(), x.data<float>(), h.numel());
  }
  return h;
}

Result<Tensor> VaeDecoder::RunAttention(const VaeAttention& a, const Tensor& x) const {
  const int64_t c = x.dim(0), hw = x.dim(1) * x.dim(2);
  SDR_ASSIGN_OR_RETURN(Tensor h, a.norm.Forward(x, /*silu=*/false));
  SDR_ASSIGN_OR_RETURN(Tensor q, a.q.Forward(h));  // [c, hw]
  SDR_ASSIGN_OR_RETURN(Tensor k, a.k.Forward(h));
  SDR_ASSIGN_OR_RETURN(Tensor v, a.v.Forward(h));
  // Token-major copies [hw, c] for the attention kernel.
  SDR_ASSIGN_OR_RETURN(Tensor qt, Tensor::Allocate(DType::kF32, {hw, c}));
  SDR_ASSIGN_OR_RETURN(Tensor kt, Tensor::Allocate(DType::kF32, {hw, c}));
  SDR_ASSIGN_OR_RETURN(Tensor vt, Tensor::Allocate(DType::kF32, {hw, c}));
  cpu::Transpose(q.data<float>(), c, hw, qt.mutable_data<float>());
  cpu::Transpose(k.data<float>(), c, hw, kt.mutable_data<float>());
  cpu::Transpose(v.data<float>(), c, hw, vt.mutable_data<float>());
  cpu::Attention(qt.data<float>(), c, kt.data<float>(), vt.data<float>(), c, q.mutable_data<float>(), 1, hw, hw, c,
                 1.0f / std::sqrt(static_cast<float>(c)), /*causal=*/false);
  // q now holds the attention output [hw, c]; back to [c, hw].
  cpu::Transpose(q.data<float>(), hw, c, h.mutable_data<float>());
  SDR_ASSIGN_OR_RETURN(Tensor out, a.proj_out.Forward(h));
  cpu::AddInPlace(out.mutable_data<float>(), x.data<float>(), out.numel());
  return out;
}

Result<Tensor> VaeDecoder::Decode(const Tensor& latent, const RunControl* control) const {
  if (latent.rank() != 4 || latent.dim(0) != 1 || latent.dim(1) != post_quant_conv_.cin) {
    return InvalidArgument("VAE latent must be [1, " + std::to_string(post_quant_conv_.cin) + ", h, w], got " +
                           ShapeToString(latent.shape()));
  }
  SDR_ASSIGN_OR_RETURN(Tensor z, Tensor::Allocate(DType::kF32, {latent.dim(1), latent.dim(2), latent.dim(3)}));
  for (int64_t i = 0; i < z.numel(); ++i) z.mutable_data<float>()[i] = latent.data<float>()[i] / kLatentScale;
  SDR_ASSIGN_OR_RETURN(Tensor h, post_quant_conv_.Forward(z));
  SDR_ASSIGN_OR_RETURN(h, conv_in_.Forward(h));
  SDR_RETURN_IF_ERROR(CheckRun(control));
  SDR_ASSIGN_OR_RETURN(h, RunRes(mid1_, h));
  SDR_RETURN_IF_ERROR(CheckRun(control));
  SDR_ASSIGN_OR_RETURN(h, RunAttention(mid_attn_, h));
  SDR_RETURN_IF_ERROR(CheckRun(control));
  SDR_ASSIGN_OR_RETURN(h, RunRes(mid2_, h));
  for (size_t i = up_.size(); i-- > 0;) {
    for (const VaeResBlock& r : up_[i].blocks) {
      SDR_RETURN_IF_ERROR(CheckRun(control));
      SDR_ASSIGN_OR_RETURN(h, RunRes(r, h));
    }
    SDR_RETURN_IF_ERROR(CheckRun(control));
    if (up_[i].has_upsample) {
      SDR_ASSIGN_OR_RETURN(Tensor u, Tensor::Allocate(DType::kF32, {h.dim(0), 2 * h.dim(1), 2 * h.dim(2)}));
      cpu::UpsampleNearest2x(h.data<float>(), h.dim(0), h.dim(1), h.dim(2), u.mutable_data<float>());
      SDR_ASSIGN_OR_RETURN(h, up_[i].upsample.Forward(u));
    }
  }
  SDR_ASSIGN_OR_RETURN(h, norm_out_.Forward(h, /*silu=*/true));
  SDR_ASSIGN_OR_RETURN(h, conv_out_.Forward(h));
  float* p = h.mutable_data<float>();
  for (int64_t i = 0; i < h.numel(); ++i) p[i] = std::clamp((p[i] + 1.0f) * 0.5f, 0.0f, 1.0f);
  return h.Reshaped({1, h.dim(0), h.dim(1), h.dim(2)});
}

double VaeDecoder::DecodeFlops(int64_t lh, int64_t lw) const {
  int64_t h = lh, w = lw;
  auto res = [&](const VaeResBlock& r) {
    return r.conv1.Flops(h, w) + r.conv2.Flops(h, w) + (r.has_shortcut ? r.shortcut.Flops(h, w) : 0);
  };
  const double hw = static_cast<double>(lh * lw), c = static_cast<double>(mid_attn_.q.cin);
  double flops = post_quant_conv_.Flops(h, w) + conv_in_.Flops(h, w) + res(mid1_) + res(mid2_);
  flops += 4 * 2 * c * c * hw + 2 * 2 * hw * hw * c;  // mid attention: q k v proj_out, QK^T and AV
  for (size_t i = up_.size(); i-- > 0;) {
    for (const VaeResBlock& r : up_[i].blocks) flops += res(r);
    if (up_[i].has_upsample) {
      h *= 2;
      w *= 2;
      flops += up_[i].upsample.Flops(h, w);
    }
  }
  return flops + conv_out_.Flops(h, w);
}

}  // namespace sdr
