#include "models/unet/unet_model.h"

#include <cmath>
#include <cstring>
#include <optional>

#include "backends/cpu/ops.h"
#include "formats/ldm_names.h"
#include "models/weights.h"

namespace sdr {
namespace {

constexpr const char* kPrefix = kLdmUnetPrefix;
constexpr float kResNormEps = 1e-5f;
constexpr float kTransformerNormEps = 1e-6f;

Result<ResBlockWeights> LoadRes(const TensorIndex& index, const std::string& p, int64_t cin, int64_t temb) {
  ResBlockWeights r;
  SDR_ASSIGN_OR_RETURN(r.in_norm, GroupNormLayer::Load(index, p + ".in_layers.0", cin, kResNormEps));
  SDR_ASSIGN_OR_RETURN(r.in_conv, Conv2dLayer::Load(index, p + ".in_layers.2", cin, 3));
  const int64_t cout = r.in_conv.cout;
  SDR_ASSIGN_OR_RETURN(r.emb, LinearLayer::Load(index, p + ".emb_layers.1", cout, temb, true));
  SDR_ASSIGN_OR_RETURN(r.out_norm, GroupNormLayer::Load(index, p + ".out_layers.0", cout, kResNormEps));
  SDR_ASSIGN_OR_RETURN(r.out_conv, Conv2dLayer::Load(index, p + ".out_layers.3", cout, 3, 1, cout));
  r.has_skip = HasTensorsUnder(index, p + ".skip_connection.");
  if (r.has_skip) {
    SDR_ASSIGN_OR_RETURN(r.skip, Conv2dLayer::Load(index, p + ".skip_connection", cin, 1, 1, cout));
  } else if (cin != cout) {
    return NotFound("tensor '" + p + ".skip_connection.weight' is missing from the model (expected shape " +
                    ShapeToString({cout, cin, 1, 1}) + ": the block changes " + std::to_string(cin) + " -> " +
                    std::to_string(cout) + " channels)");
  }
  return r;
}

Result<TransformerWeights> LoadTransformer(const TensorIndex& index, const std::string& p, int64_t c,
                                           int64_t ctx_dim, int64_t heads) {
  TransformerWeights t;
  t.c = c;
  t.heads = heads;
  if (c % heads != 0) {
    return InvalidArgument("'" + p + "' gets " + std::to_string(c) + " channels, which do not split into " +
                           std::to_string(heads) + " heads");
  }
  const std::string b = p + ".transformer_blocks.0.";
  if (HasTensorsUnder(index, p + ".transformer_blocks.1.")) {
    return Unsupported("'" + p + "' has more than one transformer block (an SDXL-style UNet)");
  }
  SDR_ASSIGN_OR_RETURN(t.norm, GroupNormLayer::Load(index, p + ".norm", c, kTransformerNormEps));
  SDR_ASSIGN_OR_RETURN(t.proj_in, Conv2dLayer::Load(index, p + ".proj_in", c, 1, 1, c));
  SDR_ASSIGN_OR_RETURN(t.proj_out, Conv2dLayer::Load(index, p + ".proj_out", c, 1, 1, c));
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

// What a sub-layer "<block>.<i>" is, from the names under it (so that a layer missing one tensor
// is still recognised, and the missing tensor named): nullopt when nothing is under "<q>.".
std::string FirstNameUnder(const TensorIndex& index, const std::string& prefix);

Result<std::optional<UnetLayer::Kind>> KindOf(const TensorIndex& index, const std::string& q) {
  using Kind = UnetLayer::Kind;
  auto has = [&](const char* sub) { return HasTensorsUnder(index, q + sub); };
  if (has(".in_layers.") || has(".emb_layers.") || has(".out_layers.") || has(".skip_connection.")) return Kind::kRes;
  if (has(".proj_in.") || has(".proj_out.") || has(".transformer_blocks.") || has(".norm.")) return Kind::kTransformer;
  if (has(".op.")) return Kind::kDownsample;
  if (has(".conv.")) return Kind::kUpsample;
  if (index.Find(q + ".weight") != nullptr || index.Find(q + ".bias") != nullptr) return Kind::kConv;
  if (has(".")) return CorruptData("unrecognised UNet layer '" + q + "' (e.g. tensor '" + FirstNameUnder(index, q + ".") + "')");
  return std::optional<Kind>();
}

// The first tensor name under `prefix` (for messages about unrecognised layers).
std::string FirstNameUnder(const TensorIndex& index, const std::string& prefix) {
  for (const TensorEntry& e : index.entries()) {
    if (e.name.rfind(prefix, 0) == 0) return e.name;
  }
  return prefix;
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

// The channel count and resolution level flowing between layers while loading: every layer is
// loaded for the channels it will actually receive, so a file whose layers do not chain fails
// here, naming the tensor, instead of in a kernel.
struct UnetModel::Flow {
  int64_t ch = 0;
  int level = 0;                                  // downsamplings applied so far
  std::vector<std::pair<int64_t, int>> skips;     // (channels, level) of each input block's output
};

Status UnetModel::LoadLayer(const TensorIndex& index, const std::string& q, UnetLayer::Kind kind, bool first_layer,
                            Flow* f, UnetBlock* block) {
  using Kind = UnetLayer::Kind;
  switch (kind) {
    case Kind::kRes: {
      SDR_ASSIGN_OR_RETURN(ResBlockWeights r, LoadRes(index, q, f->ch, temb_dim_));
      f->ch = r.in_conv.cout;
      block->layers.push_back({UnetLayer::Kind::kRes, res_.size()});
      res_.push_back(std::move(r));
      return Status::Ok();
    }
    case Kind::kTransformer: {
      SDR_ASSIGN_OR_RETURN(TransformerWeights t, LoadTransformer(index, q, f->ch, context_dim_, heads_));
      block->layers.push_back({UnetLayer::Kind::kTransformer, transformers_.size()});
      transformers_.push_back(std::move(t));
      return Status::Ok();
    }
    case Kind::kDownsample: {
      SDR_ASSIGN_OR_RETURN(Conv2dLayer c, Conv2dLayer::Load(index, q + ".op", f->ch, 3, 2));
      f->ch = c.cout;
      ++f->level;
      block->layers.push_back({UnetLayer::Kind::kDownsample, convs_.size()});
      convs_.push_back(std::move(c));
      return Status::Ok();
    }
    case Kind::kUpsample: {
      if (f->skips.empty() || f->skips.back().second != f->level - 1) {
        return CorruptData("'" + q + "' upsamples where no skip connection of the next resolution follows "
                           "(the UNet's down- and up-sampling layers do not match)");
      }
      SDR_ASSIGN_OR_RETURN(Conv2dLayer c, Conv2dLayer::Load(index, q + ".conv", f->ch, 3));
      f->ch = c.cout;
      --f->level;
      block->layers.push_back({UnetLayer::Kind::kUpsample, convs_.size()});
      convs_.push_back(std::move(c));
      return Status::Ok();
    }
    case Kind::kConv: {
      if (!first_layer) return CorruptData("unexpected plain convolution '" + q + "' inside the UNet");
      SDR_ASSIGN_OR_RETURN(Conv2dLayer c, Conv2dLayer::Load(index, q, f->ch, 3, 1, model_channels_));
      f->ch = c.cout;
      block->layers.push_back({UnetLayer::Kind::kConv, convs_.size()});
      convs_.push_back(std::move(c));
      return Status::Ok();
    }
  }
  return InternalError("unknown layer kind at '" + q + "'");
}

// Reads the sub-layers "<bp>.0", "<bp>.1", ... of one block (empty when the block is absent).
Result<UnetBlock> UnetModel::LoadBlock(const TensorIndex& index, const std::string& bp, bool first_block, Flow* f) {
  UnetBlock block;
  for (int i = 0;; ++i) {
    const std::string q = bp + "." + std::to_string(i);
    SDR_ASSIGN_OR_RETURN(const std::optional<UnetLayer::Kind> kind, KindOf(index, q));
    if (!kind) {
      if (HasTensorsUnder(index, bp + "." + std::to_string(i + 1) + ".")) {
        return NotFound("UNet layer '" + q + "' is missing from the model (but '" + bp + "." + std::to_string(i + 1) +
                        "' is there)");
      }
      return block;
    }
    if (first_block && i == 0 && *kind != UnetLayer::Kind::kConv) {
      return CorruptData("the UNet's first layer '" + q + "' is not its input convolution ('" + q + ".weight')");
    }
    SDR_RETURN_IF_ERROR(LoadLayer(index, q, *kind, first_block && i == 0, f, &block));
  }
}

Result<std::unique_ptr<UnetModel>> UnetModel::Load(const TensorIndex& index, const UnetLoadOptions& opts) {
  auto m = std::unique_ptr<UnetModel>(new UnetModel());
  Status s = m->LoadAll(index, opts);
  if (!s.ok()) return s.WithContext("loading UNet");
  return m;
}

Status UnetModel::LoadAll(const TensorIndex& index, const UnetLoadOptions& opts) {
  const std::string p = kPrefix;
  heads_ = opts.heads;
  if (heads_ < 1) return InvalidArgument("UNet heads " + std::to_string(heads_) + " must be positive");
  SDR_ASSIGN_OR_RETURN(const TensorEntry* t0, RequireTensor(index, p + "time_embed.0.weight", 2));
  model_channels_ = t0->tensor.dim(1);
  temb_dim_ = t0->tensor.dim(0);
  if (opts.context_dim > 0) {
    context_dim_ = opts.context_dim;
  } else {
    for (const TensorEntry& e : index.entries()) {
      if (e.name.rfind(p, 0) == 0 && e.name.ends_with(".attn2.to_k.weight") && e.tensor.rank() == 2) {
        context_dim_ = e.tensor.dim(1);
        break;
      }
    }
    if (context_dim_ <= 0) return NotFound("no cross-attention ('" + p + "*.attn2.to_k.weight')");
  }
  SDR_ASSIGN_OR_RETURN(time1_, LinearLayer::Load(index, p + "time_embed.0", temb_dim_, model_channels_, true));
  SDR_ASSIGN_OR_RETURN(time2_, LinearLayer::Load(index, p + "time_embed.2", temb_dim_, temb_dim_, true));

  // The latent channels: what the VAE takes (when known), else what the input conv reads.
  if (opts.latent_channels > 0) {
    in_channels_ = opts.latent_channels;
  } else {
    SDR_ASSIGN_OR_RETURN(const TensorEntry* in, RequireTensor(index, p + "input_blocks.0.0.weight", 4));
    in_channels_ = in->tensor.dim(1);
  }
  Flow f;
  f.ch = in_channels_;
  for (int i = 0;; ++i) {
    const std::string bp = p + "input_blocks." + std::to_string(i);
    SDR_ASSIGN_OR_RETURN(UnetBlock b, LoadBlock(index, bp, i == 0, &f));
    if (b.layers.empty()) {
      if (i == 0) return NotFound("tensor '" + bp + ".0.weight' is missing from the model (the input convolution)");
      break;
    }
    input_blocks_.push_back(std::move(b));
    f.skips.emplace_back(f.ch, f.level);
  }
  SDR_ASSIGN_OR_RETURN(middle_, LoadBlock(index, p + "middle_block", false, &f));
  for (int i = 0;; ++i) {
    const std::string bp = p + "output_blocks." + std::to_string(i);
    if (!HasTensorsUnder(index, bp + ".")) break;
    if (f.skips.empty()) {
      return CorruptData("'" + bp + "' has no skip connection to take: the UNet has " +
                         std::to_string(input_blocks_.size()) + " input blocks");
    }
    const auto [skip_ch, skip_level] = f.skips.back();
    if (skip_level != f.level) {
      return CorruptData("'" + bp + "' joins a skip connection of another resolution (the UNet's down- and "
                         "up-sampling layers do not match)");
    }
    f.skips.pop_back();
    f.ch += skip_ch;
    SDR_ASSIGN_OR_RETURN(UnetBlock b, LoadBlock(index, bp, false, &f));
    output_blocks_.push_back(std::move(b));
  }
  if (!f.skips.empty()) {
    return CorruptData(std::to_string(input_blocks_.size()) + " input blocks but " +
                       std::to_string(output_blocks_.size()) + " output blocks ('" + p + "output_blocks." +
                       std::to_string(output_blocks_.size()) + "' is missing)");
  }
  SDR_ASSIGN_OR_RETURN(out_norm_, GroupNormLayer::Load(index, p + "out.0", f.ch, kResNormEps));
  // The UNet predicts noise of the latent's shape: it gives back as many channels as it takes.
  SDR_ASSIGN_OR_RETURN(out_conv_, Conv2dLayer::Load(index, p + "out.2", f.ch, 3, 1, in_channels_));
  return Status::Ok();
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
  if (x.rank() != 4 || x.dim(0) != 1 || x.dim(1) != in_channels_ || x.dim(2) < 1 || x.dim(3) < 1) {
    return InvalidArgument("UNet input must be [1, " + std::to_string(in_channels_) + ", h, w], got " +
                           ShapeToString(x.shape()));
  }
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

  Tensor h = x.Reshaped({in_channels_, x.dim(2), x.dim(3)});
  std::vector<Tensor> skips;
  for (const UnetBlock& b : input_blocks_) {
    SDR_ASSIGN_OR_RETURN(h, RunBlock(b, std::move(h), emb.data(), ctx, nullptr, control));
    skips.push_back(h);
  }
  SDR_ASSIGN_OR_RETURN(h, RunBlock(middle_, std::move(h), emb.data(), ctx, nullptr, control));
  for (const UnetBlock& b : output_blocks_) {
    const Tensor& s = skips.back();
    SDR_CHECK(s.dim(1) == h.dim(1) && s.dim(2) == h.dim(2));  // levels were matched at load
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

double UnetModel::EvalFlops(int64_t lh, int64_t lw, int64_t context_tokens) const {
  const double ctx = static_cast<double>(context_tokens), cd = static_cast<double>(context_dim_);
  double flops = 0;
  int64_t h = lh, w = lw;
  std::vector<std::pair<int64_t, int64_t>> sizes;  // the skips' sizes, as Forward keeps them
  auto run_block = [&](const UnetBlock& block, const std::pair<int64_t, int64_t>* up_to) {
    for (const UnetLayer& l : block.layers) {
      switch (l.kind) {
        case UnetLayer::Kind::kRes: {
          const ResBlockWeights& r = res_[l.index];
          flops += r.in_conv.Flops(h, w) + r.out_conv.Flops(h, w) + (r.has_skip ? r.skip.Flops(h, w) : 0);
          break;
        }
        case UnetLayer::Kind::kTransformer: {
          const double c = static_cast<double>(transformers_[l.index].c), hw = static_cast<double>(h * w);
          flops += 2 * 2 * c * c * hw;                 // proj_in, proj_out
          flops += 4 * 2 * c * c * hw + 2 * 2 * hw * hw * c;  // self-attention: q k v o, QK^T and AV
          flops += 2 * 2 * c * c * hw + 2 * 2 * c * cd * ctx + 2 * 2 * hw * ctx * c;  // cross-attention
          flops += 2 * hw * c * 8 * c + 2 * hw * 4 * c * c;  // GEGLU feed-forward
          break;
        }
        case UnetLayer::Kind::kUpsample: {
          h = up_to ? up_to->first : 2 * h;
          w = up_to ? up_to->second : 2 * w;
          flops += convs_[l.index].Flops(h, w);
          break;
        }
        case UnetLayer::Kind::kDownsample:
        case UnetLayer::Kind::kConv: {
          const Conv2dLayer& c = convs_[l.index];
          flops += c.Flops(h, w);
          h = c.OutSize(h);
          w = c.OutSize(w);
          break;
        }
      }
    }
  };
  for (const UnetBlock& b : input_blocks_) {
    run_block(b, nullptr);
    sizes.emplace_back(h, w);
  }
  run_block(middle_, nullptr);
  for (const UnetBlock& b : output_blocks_) {
    sizes.pop_back();
    run_block(b, sizes.empty() ? nullptr : &sizes.back());
  }
  return flops + out_conv_.Flops(h, w);
}

}  // namespace sdr
