#include "models/unet/unet_model.h"

#include <cmath>
#include <cstring>

#include "backends/cpu/ops.h"

namespace sdr {
namespace {

constexpr const char* kPrefix = "model.diffusion_model.";
constexpr float kResNormEps = 1e-5f;
constexpr float kTransformerNormEps = 1e-6f;

int64_t Dim0(const TensorIndex& index, const std::string& name) { return index.Find(name)->tensor.dim(0); }

Result<ResBlockWeights> LoadRes(const TensorIndex& index, const std::string& p, int64_t temb) {
  ResBlockWeights r;
  const int64_t cin = Dim0(index, p + ".in_layers.0.weight");
  SDR_ASSIGN_OR_RETURN(r.in_norm, GroupNormLayer::Load(index, p + ".in_layers.0", cin, kResNormEps));
  SDR_ASSIGN_OR_RETURN(r.in_conv, Conv2dLayer::Load(index, p + ".in_layers.2"));
  const int64_t cout = r.in_conv.cout;
  if (r.in_conv.cin != cin) return InvalidArgument("'" + p + ".in_layers.2' does not take " + std::to_string(cin) + " channels");
  SDR_ASSIGN_OR_RETURN(r.emb, LinearLayer::Load(index, p + ".emb_layers.1", cout, temb, true));
  SDR_ASSIGN_OR_RETURN(r.out_norm, GroupNormLayer::Load(index, p + ".out_layers.0", cout, kResNormEps));
  SDR_ASSIGN_OR_RETURN(r.out_conv, Conv2dLayer::Load(index, p + ".out_layers.3"));
  r.has_skip = HasTensor(index, p + ".skip_connection.weight");
  if (r.has_skip) {
    SDR_ASSIGN_OR_RETURN(r.skip, Conv2dLayer::Load(index, p + ".skip_connection"));
  } else if (cin != cout) {
    return NotFound("'" + p + ".skip_connection.weight' is missing (channels change " + std::to_string(cin) + " -> " +
                    std::to_string(cout) + ")");
  }
  return r;
}

Result<TransformerWeights> LoadTransformer(const TensorIndex& index, const std::string& p, int64_t ctx_dim,
                                           int64_t heads) {
  TransformerWeights t;
  t.c = Dim0(index, p + ".norm.weight");
  t.heads = heads;
  const int64_t c = t.c;
  if (c % heads != 0) return InvalidArgument("'" + p + "': " + std::to_string(c) + " channels do not split into " + std::to_string(heads) + " heads");
  const std::string b = p + ".transformer_blocks.0.";
  SDR_ASSIGN_OR_RETURN(t.norm, GroupNormLayer::Load(index, p + ".norm", c, kTransformerNormEps));
  SDR_ASSIGN_OR_RETURN(t.proj_in, Conv2dLayer::Load(index, p + ".proj_in"));
  SDR_ASSIGN_OR_RETURN(t.proj_out, Conv2dLayer::Load(index, p + ".proj_out"));
  SDR_ASSIGN_OR_RETURN(t.norm1, LayerNormLayer::Load(index, b + "norm1", c));
  SDR_ASSIGN_OR_RETURN(t.norm2, LayerNormLayer::Load(index, b + "norm2", c));
  SDR_ASSIGN_OR_RETURN(t.norm3, LayerNormLayer::Load(index, b + "norm3", c));
  SDR_ASSIGN_OR_RETURN(t.q1, LinearLayer::Load(index, b + "attn1.to_q", c, c, false));
  SDR_ASSIGN_OR_RETURN(t.k1, LinearLayer::Load(index, b + "attn1.to_k", c, c, false));
  SDR_ASSIGN_OR_RETURN(t.v1, LinearLayer::Load(index, b + "attn1.to_v", c, c, false));
  SDR_ASSIGN_OR_RETURN(t.o1, LinearLayer::Load(index, b + "attn1.to_out.0", c, c, true));
  SDR_ASSIGN_OR_RETURN(t.q2, LinearLayer::Load(index, b + "attn2.to_q", c, c, false));
  SDR_ASSIGN_OR_RETURN(t.k2, LinearLayer::Load(index, b + "attn2.to_k", c, ctx_dim, false));
  SDR_ASSIGN_OR_RETURN(t.v2, LinearLayer::Load(index, b + "attn2.to_v", c, ctx_dim, false));
  SDR_ASSIGN_OR_RETURN(t.o2, LinearLayer::Load(index, b + "attn2.to_out.0", c, c, true));
  SDR_ASSIGN_OR_RETURN(t.ff_proj, LinearLayer::Load(index, b + "ff.net.0.proj", 8 * c, c, true));
  SDR_ASSIGN_OR_RETURN(t.ff_out, LinearLayer::Load(index, b + "ff.net.2", c, 4 * c, true));
  return t;
}

}  // namespace

void TimestepEmbedding(float t, int64_t dim, float* out) {
  const int64_t half = dim / 2;
  for (int64_t j = 0; j < half; ++j) {
    const float freq = std::exp(-std::log(10000.0f) * static_cast<float>(j) / static_cast<float>(half));
    const float a = t * freq;
    out[j] = std::cos(a);
    out[half + j] = std::sin(a);
  }
}

Result<std::unique_ptr<UnetModel>> UnetModel::Load(const TensorIndex& index, int64_t heads) {
  const std::string p = kPrefix;
  auto m = std::unique_ptr<UnetModel>(new UnetModel());
  auto ctx = [](const Status& s) { return s.WithContext("loading UNet"); };
  const TensorEntry* t0 = index.Find(p + "time_embed.0.weight");
  const TensorEntry* a2 = nullptr;
  for (const TensorEntry& e : index.entries()) {
    if (e.name.rfind(p, 0) == 0 && e.name.ends_with(".attn2.to_k.weight")) { a2 = &e; break; }
  }
  if (t0 == nullptr || t0->tensor.rank() != 2) return ctx(NotFound("no '" + p + "time_embed.0.weight'"));
  if (a2 == nullptr || a2->tensor.rank() != 2) return ctx(NotFound("no cross-attention ('*.attn2.to_k.weight')"));
  m->model_channels_ = t0->tensor.dim(1);
  m->temb_dim_ = t0->tensor.dim(0);
  m->context_dim_ = a2->tensor.dim(1);
  auto l1 = LinearLayer::Load(index, p + "time_embed.0", m->temb_dim_, m->model_channels_, true);
  if (!l1.ok()) return ctx(l1.status());
  m->time1_ = std::move(l1).value();
  auto l2 = LinearLayer::Load(index, p + "time_embed.2", m->temb_dim_, m->temb_dim_, true);
  if (!l2.ok()) return ctx(l2.status());
  m->time2_ = std::move(l2).value();

  // Reads the sub-layers "<bp>.0", "<bp>.1", ... of one block (empty when the block is absent).
  auto load_block = [&](const std::string& bp) -> Result<UnetBlock> {
    UnetBlock block;
    for (int i = 0;; ++i) {
      const std::string q = bp + "." + std::to_string(i);
      if (HasTensor(index, q + ".in_layers.0.weight")) {
        SDR_ASSIGN_OR_RETURN(ResBlockWeights r, LoadRes(index, q, m->temb_dim_));
        block.layers.push_back({UnetLayer::Kind::kRes, m->res_.size()});
        m->res_.push_back(std::move(r));
      } else if (HasTensor(index, q + ".proj_in.weight")) {
        SDR_ASSIGN_OR_RETURN(TransformerWeights t, LoadTransformer(index, q, m->context_dim_, heads));
        block.layers.push_back({UnetLayer::Kind::kTransformer, m->transformers_.size()});
        m->transformers_.push_back(std::move(t));
      } else if (HasTensor(index, q + ".op.weight")) {
        SDR_ASSIGN_OR_RETURN(Conv2dLayer c, Conv2dLayer::Load(index, q + ".op", 2));
        block.layers.push_back({UnetLayer::Kind::kDownsample, m->convs_.size()});
        m->convs_.push_back(std::move(c));
      } else if (HasTensor(index, q + ".conv.weight")) {
        SDR_ASSIGN_OR_RETURN(Conv2dLayer c, Conv2dLayer::Load(index, q + ".conv"));
        block.layers.push_back({UnetLayer::Kind::kUpsample, m->convs_.size()});
        m->convs_.push_back(std::move(c));
      } else if (HasTensor(index, q + ".weight")) {
        SDR_ASSIGN_OR_RETURN(Conv2dLayer c, Conv2dLayer::Load(index, q));
        block.layers.push_back({UnetLayer::Kind::kConv, m->convs_.size()});
        m->convs_.push_back(std::move(c));
      } else {
        return block;
      }
    }
  };
  for (int i = 0;; ++i) {
    auto b = load_block(p + "input_blocks." + std::to_string(i));
    if (!b.ok()) return ctx(b.status());
    if (b->layers.empty()) break;
    m->input_blocks_.push_back(std::move(b).value());
  }
  auto mid = load_block(p + "middle_block");
  if (!mid.ok()) return ctx(mid.status());
  m->middle_ = std::move(mid).value();
  for (int i = 0;; ++i) {
    auto b = load_block(p + "output_blocks." + std::to_string(i));
    if (!b.ok()) return ctx(b.status());
    if (b->layers.empty()) break;
    m->output_blocks_.push_back(std::move(b).value());
  }
  if (m->input_blocks_.empty() || m->output_blocks_.size() != m->input_blocks_.size()) {
    return ctx(CorruptData(std::to_string(m->input_blocks_.size()) + " input blocks but " +
                           std::to_string(m->output_blocks_.size()) + " output blocks"));
  }
  if (m->input_blocks_[0].layers[0].kind != UnetLayer::Kind::kConv) return ctx(CorruptData("input_blocks.0 is not a conv"));
  const int64_t last_c = m->res_.empty() ? 0 : Dim0(index, p + "out.0.weight");
  auto on = GroupNormLayer::Load(index, p + "out.0", last_c, kResNormEps);
  if (!on.ok()) return ctx(on.status());
  m->out_norm_ = std::move(on).value();
  auto oc = Conv2dLayer::Load(index, p + "out.2");
  if (!oc.ok()) return ctx(oc.status());
  m->out_conv_ = std::move(oc).value();
  return m;
}

Result<Tensor> UnetModel::RunRes(const ResBlockWeights& r, const Tensor& x, const float* emb) const {
  SDR_ASSIGN_OR_RETURN(Tensor h, r.in_norm.Forward(x, /*silu=*/true));
  SDR_ASSIGN_OR_RETURN(h, r.in_conv.Forward(h));
  // h += Linear(SiLU(emb)) per channel (emb arrives already SiLU'd).
  std::vector<float> e(static_cast<size_t>(r.emb.out));
  r.emb.Forward(emb, e.data(), 1);
  const int64_t hw = h.dim(1) * h.dim(2);
  float* ph = h.mutable_data<float>();
  for (int64_t c = 0; c < h.dim(0); ++c)
    for (int64_t i = 0; i < hw; ++i) ph[c * hw + i] += e[static_cast<size_t>(c)];
  SDR_ASSIGN_OR_RETURN(h, r.out_norm.Forward(h, /*silu=*/true));
  SDR_ASSIGN_OR_RETURN(h, r.out_conv.Forward(h));
  if (r.has_skip) {
    SDR_ASSIGN_OR_RETURN(Tensor s, r.skip.Forward(x));
    cpu::AddInPlace(h.mutable_data<float>(), s.data<float>(), h.numel());
  } else {
    cpu::AddInPlace(h.mutable_data<float>(), x.data<float>(), h.numel());
  }
  return h;
}

Result<Tensor> UnetModel::RunTransformer(const TransformerWeights& tw, const Tensor& x, const Tensor& ctx,
                                         const RunControl* control) const {
  const int64_t c = tw.c, hw = x.dim(1) * x.dim(2), d = c / tw.heads;
  const int64_t lk = ctx.dim(1);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  SDR_ASSIGN_OR_RETURN(Tensor h, tw.norm.Forward(x, /*silu=*/false));
  SDR_ASSIGN_OR_RETURN(h, tw.proj_in.Forward(h));  // [c, hw]
  // t: [hw, c] token-major residual stream.
  SDR_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kF32, {hw, c}));
  cpu::Transpose(h.data<float>(), c, hw, t.mutable_data<float>());
  SDR_ASSIGN_OR_RETURN(Tensor n, Tensor::Allocate(DType::kF32, {hw, c}));
  SDR_ASSIGN_OR_RETURN(Tensor q, Tensor::Allocate(DType::kF32, {hw, c}));
  SDR_ASSIGN_OR_RETURN(Tensor a, Tensor::Allocate(DType::kF32, {hw, c}));
  const int64_t kv_rows = std::max(hw, lk);
  SDR_ASSIGN_OR_RETURN(Tensor k, Tensor::Allocate(DType::kF32, {kv_rows, c}));
  SDR_ASSIGN_OR_RETURN(Tensor v, Tensor::Allocate(DType::kF32, {kv_rows, c}));
  float* pt = t.mutable_data<float>();
  float* pn = n.mutable_data<float>();
  float* pq = q.mutable_data<float>();
  float* pa = a.mutable_data<float>();
  float* pk = k.mutable_data<float>();
  float* pv = v.mutable_data<float>();
  // Self-attention.
  tw.norm1.Forward(pt, pn, hw);
  tw.q1.Forward(pn, pq, hw);
  tw.k1.Forward(pn, pk, hw);
  tw.v1.Forward(pn, pv, hw);
  cpu::Attention(pq, c, pk, pv, c, pa, tw.heads, hw, hw, d, scale, /*causal=*/false);
  tw.o1.Forward(pa, pn, hw);
  cpu::AddInPlace(pt, pn, hw * c);
  SDR_RETURN_IF_ERROR(CheckRun(control));
  // Cross-attention over the text context.
  tw.norm2.Forward(pt, pn, hw);
  tw.q2.Forward(pn, pq, hw);
  tw.k2.Forward(ctx.data<float>(), pk, lk);
  tw.v2.Forward(ctx.data<float>(), pv, lk);
  cpu::Attention(pq, c, pk, pv, c, pa, tw.heads, hw, lk, d, scale, /*causal=*/false);
  tw.o2.Forward(pa, pn, hw);
  cpu::AddInPlace(pt, pn, hw * c);
  SDR_RETURN_IF_ERROR(CheckRun(control));
  // GEGLU feed-forward: g = proj(n) [hw, 8c]; out = g[:, :4c] * gelu(g[:, 4c:]).
  tw.norm3.Forward(pt, pn, hw);
  SDR_ASSIGN_OR_RETURN(Tensor g, Tensor::Allocate(DType::kF32, {hw, 8 * c}));
  SDR_ASSIGN_OR_RETURN(Tensor gg, Tensor::Allocate(DType::kF32, {hw, 4 * c}));
  tw.ff_proj.Forward(pn, g.mutable_data<float>(), hw);
  float* pg = g.mutable_data<float>();
  float* pgg = gg.mutable_data<float>();
  for (int64_t i = 0; i < hw; ++i) {
    float* row = pg + i * 8 * c;
    float* gate = row + 4 * c;
    cpu::Gelu(gate, 4 * c);
    float* dst = pgg + i * 4 * c;
    for (int64_t j = 0; j < 4 * c; ++j) dst[j] = row[j] * gate[j];
  }
  tw.ff_out.Forward(pgg, pn, hw);
  cpu::AddInPlace(pt, pn, hw * c);
  // Back to [c, hw], project, add the block input.
  SDR_ASSIGN_OR_RETURN(Tensor back, Tensor::Allocate(DType::kF32, {c, x.dim(1), x.dim(2)}));
  cpu::Transpose(pt, hw, c, back.mutable_data<float>());
  SDR_ASSIGN_OR_RETURN(Tensor out, tw.proj_out.Forward(back));
  cpu::AddInPlace(out.mutable_data<float>(), x.data<float>(), out.numel());
  return out;
}

Result<Tensor> UnetModel::RunBlock(const UnetBlock& block, Tensor h, const float* emb, const Tensor& ctx,
                                   const Tensor* up_to, const RunControl* control) const {
  for (const UnetLayer& l : block.layers) {
    SDR_RETURN_IF_ERROR(CheckRun(control));
    switch (l.kind) {
      case UnetLayer::Kind::kRes: {
        SDR_ASSIGN_OR_RETURN(h, RunRes(res_[l.index], h, emb));
        break;
      }
      case UnetLayer::Kind::kTransformer: {
        SDR_ASSIGN_OR_RETURN(h, RunTransformer(transformers_[l.index], h, ctx, control));
        break;
      }
      case UnetLayer::Kind::kUpsample: {
        // Nearest x2, or to the next skip's size when an odd size was halved on the way down.
        const int64_t ho = up_to ? up_to->dim(1) : 2 * h.dim(1), wo = up_to ? up_to->dim(2) : 2 * h.dim(2);
        SDR_ASSIGN_OR_RETURN(Tensor up, Tensor::Allocate(DType::kF32, {h.dim(0), ho, wo}));
        cpu::ResizeNearest(h.data<float>(), h.dim(0), h.dim(1), h.dim(2), ho, wo, up.mutable_data<float>());
        SDR_ASSIGN_OR_RETURN(h, convs_[l.index].Forward(up));
        break;
      }
      case UnetLayer::Kind::kDownsample:
      case UnetLayer::Kind::kConv: {
        SDR_ASSIGN_OR_RETURN(h, convs_[l.index].Forward(h));
        break;
      }
    }
  }
  return h;
}

Result<Tensor> UnetModel::Forward(const Tensor& x, float t, const Tensor& ctx, const RunControl* control) const {
  if (x.rank() != 4 || x.dim(0) != 1 || x.dim(1) != 4) return InvalidArgument("UNet input must be [1, 4, h, w], got " + ShapeToString(x.shape()));
  if (ctx.rank() != 3 || ctx.dim(0) != 1 || ctx.dim(2) != context_dim_) {
    return InvalidArgument("UNet context must be [1, L, " + std::to_string(context_dim_) + "], got " + ShapeToString(ctx.shape()));
  }
  // Time embedding: emb = Linear(SiLU(Linear(sinusoid(t)))), then SiLU once for every ResBlock.
  std::vector<float> sinus(static_cast<size_t>(model_channels_)), e1(static_cast<size_t>(temb_dim_)),
      emb(static_cast<size_t>(temb_dim_));
  TimestepEmbedding(t, model_channels_, sinus.data());
  time1_.Forward(sinus.data(), e1.data(), 1);
  cpu::Silu(e1.data(), temb_dim_);
  time2_.Forward(e1.data(), emb.data(), 1);
  cpu::Silu(emb.data(), temb_dim_);

  Tensor h = x.Reshaped({4, x.dim(2), x.dim(3)});
  std::vector<Tensor> skips;
  for (const UnetBlock& b : input_blocks_) {
    SDR_ASSIGN_OR_RETURN(h, RunBlock(b, std::move(h), emb.data(), ctx, nullptr, control));
    skips.push_back(h);
  }
  SDR_ASSIGN_OR_RETURN(h, RunBlock(middle_, std::move(h), emb.data(), ctx, nullptr, control));
  for (const UnetBlock& b : output_blocks_) {
    const Tensor& s = skips.back();
    SDR_CHECK(s.dim(1) == h.dim(1) && s.dim(2) == h.dim(2));
    SDR_ASSIGN_OR_RETURN(Tensor cat, Tensor::Allocate(DType::kF32, {h.dim(0) + s.dim(0), h.dim(1), h.dim(2)}));
    std::memcpy(cat.mutable_data<float>(), h.data<float>(), h.nbytes());
    std::memcpy(cat.mutable_data<float>() + h.numel(), s.data<float>(), s.nbytes());
    skips.pop_back();
    SDR_ASSIGN_OR_RETURN(h, RunBlock(b, std::move(cat), emb.data(), ctx, skips.empty() ? nullptr : &skips.back(), control));
  }
  SDR_ASSIGN_OR_RETURN(h, out_norm_.Forward(h, /*silu=*/true));
  SDR_ASSIGN_OR_RETURN(h, out_conv_.Forward(h));
  return h.Reshaped({1, h.dim(0), h.dim(1), h.dim(2)});
}

}  // namespace sdr
