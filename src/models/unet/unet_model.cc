#include "models/unet/unet_model.h"

#include <cmath>
#include <cstring>
#include <optional>

#include "formats/ldm_names.h"
#include "models/weights.h"

namespace sdr {
namespace {

constexpr const char* kPrefix = kLdmUnetPrefix;
constexpr float kResNormEps = 1e-5f;
constexpr float kTransformerNormEps = 1e-6f;

Result<ResBlockWeights> LoadRes(const WeightLoader& wl, const std::string& p, int64_t cin, int64_t temb) {
  ResBlockWeights r;
  SDR_ASSIGN_OR_RETURN(r.in_norm, GroupNormLayer::Load(wl, p + ".in_layers.0", cin, kResNormEps));
  SDR_ASSIGN_OR_RETURN(r.in_conv, Conv2dLayer::Load(wl, p + ".in_layers.2", cin, 3));
  const int64_t cout = r.in_conv.cout;
  SDR_ASSIGN_OR_RETURN(r.emb, LinearLayer::Load(wl, p + ".emb_layers.1", cout, temb, true));
  SDR_ASSIGN_OR_RETURN(r.out_norm, GroupNormLayer::Load(wl, p + ".out_layers.0", cout, kResNormEps));
  SDR_ASSIGN_OR_RETURN(r.out_conv, Conv2dLayer::Load(wl, p + ".out_layers.3", cout, 3, 1, cout));
  r.has_skip = HasTensorsUnder(wl.index(), p + ".skip_connection.");
  if (r.has_skip) {
    SDR_ASSIGN_OR_RETURN(r.skip, Conv2dLayer::Load(wl, p + ".skip_connection", cin, 1, 1, cout));
  } else if (cin != cout) {
    return NotFound("tensor '" + p + ".skip_connection.weight' is missing from the model (expected shape " +
                    ShapeToString({cout, cin, 1, 1}) + ": the block changes " + std::to_string(cin) + " -> " +
                    std::to_string(cout) + " channels)");
  }
  return r;
}

Result<TransformerWeights> LoadTransformer(const WeightLoader& wl, const std::string& p, int64_t c,
                                           int64_t ctx_dim, int64_t heads) {
  TransformerWeights t;
  t.c = c;
  t.heads = heads;
  if (c % heads != 0) {
    return InvalidArgument("'" + p + "' gets " + std::to_string(c) + " channels, which do not split into " +
                           std::to_string(heads) + " heads");
  }
  const std::string b = p + ".transformer_blocks.0.";
  if (HasTensorsUnder(wl.index(), p + ".transformer_blocks.1.")) {
    return Unsupported("'" + p + "' has more than one transformer block (an SDXL-style UNet)");
  }
  SDR_ASSIGN_OR_RETURN(t.norm, GroupNormLayer::Load(wl, p + ".norm", c, kTransformerNormEps));
  SDR_ASSIGN_OR_RETURN(t.proj_in, Conv2dLayer::Load(wl, p + ".proj_in", c, 1, 1, c));
  SDR_ASSIGN_OR_RETURN(t.proj_out, Conv2dLayer::Load(wl, p + ".proj_out", c, 1, 1, c));
  SDR_ASSIGN_OR_RETURN(t.norm1, LayerNormLayer::Load(wl, b + "norm1", c));
  SDR_ASSIGN_OR_RETURN(t.norm2, LayerNormLayer::Load(wl, b + "norm2", c));
  SDR_ASSIGN_OR_RETURN(t.norm3, LayerNormLayer::Load(wl, b + "norm3", c));
  SDR_ASSIGN_OR_RETURN(t.q1, LinearLayer::Load(wl, b + "attn1.to_q", c, c, false));
  SDR_ASSIGN_OR_RETURN(t.k1, LinearLayer::Load(wl, b + "attn1.to_k", c, c, false));
  SDR_ASSIGN_OR_RETURN(t.v1, LinearLayer::Load(wl, b + "attn1.to_v", c, c, false));
  SDR_ASSIGN_OR_RETURN(t.o1, LinearLayer::Load(wl, b + "attn1.to_out.0", c, c, true));
  SDR_ASSIGN_OR_RETURN(t.q2, LinearLayer::Load(wl, b + "attn2.to_q", c, c, false));
  SDR_ASSIGN_OR_RETURN(t.k2, LinearLayer::Load(wl, b + "attn2.to_k", c, ctx_dim, false));
  SDR_ASSIGN_OR_RETURN(t.v2, LinearLayer::Load(wl, b + "attn2.to_v", c, ctx_dim, false));
  SDR_ASSIGN_OR_RETURN(t.o2, LinearLayer::Load(wl, b + "attn2.to_out.0", c, c, true));
  SDR_ASSIGN_OR_RETURN(t.ff_proj, LinearLayer::Load(wl, b + "ff.net.0.proj", 8 * c, c, true));
  SDR_ASSIGN_OR_RETURN(t.ff_out, LinearLayer::Load(wl, b + "ff.net.2", c, 4 * c, true));
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

// The channel count and resolution level flowing between layers while loading: every layer is
// loaded for the channels it will actually receive, so a file whose layers do not chain fails
// here, naming the tensor, instead of in a kernel.
struct UnetModel::Flow {
  int64_t ch = 0;
  int level = 0;                                  // downsamplings applied so far
  std::vector<std::pair<int64_t, int>> skips;     // (channels, level) of each input block's output
};

Status UnetModel::LoadLayer(const WeightLoader& wl, const std::string& q, UnetLayer::Kind kind, bool first_layer,
                            Flow* f, UnetBlock* block) {
  using Kind = UnetLayer::Kind;
  switch (kind) {
    case Kind::kRes: {
      SDR_ASSIGN_OR_RETURN(ResBlockWeights r, LoadRes(wl, q, f->ch, temb_dim_));
      f->ch = r.in_conv.cout;
      block->layers.push_back({UnetLayer::Kind::kRes, res_.size()});
      res_.push_back(std::move(r));
      return Status::Ok();
    }
    case Kind::kTransformer: {
      SDR_ASSIGN_OR_RETURN(TransformerWeights t, LoadTransformer(wl, q, f->ch, context_dim_, heads_));
      block->layers.push_back({UnetLayer::Kind::kTransformer, transformers_.size()});
      transformers_.push_back(std::move(t));
      return Status::Ok();
    }
    case Kind::kDownsample: {
      SDR_ASSIGN_OR_RETURN(Conv2dLayer c, Conv2dLayer::Load(wl, q + ".op", f->ch, 3, 2));
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
      SDR_ASSIGN_OR_RETURN(Conv2dLayer c, Conv2dLayer::Load(wl, q + ".conv", f->ch, 3));
      f->ch = c.cout;
      --f->level;
      block->layers.push_back({UnetLayer::Kind::kUpsample, convs_.size()});
      convs_.push_back(std::move(c));
      return Status::Ok();
    }
    case Kind::kConv: {
      if (!first_layer) return CorruptData("unexpected plain convolution '" + q + "' inside the UNet");
      SDR_ASSIGN_OR_RETURN(Conv2dLayer c, Conv2dLayer::Load(wl, q, f->ch, 3, 1, model_channels_));
      f->ch = c.cout;
      block->layers.push_back({UnetLayer::Kind::kConv, convs_.size()});
      convs_.push_back(std::move(c));
      return Status::Ok();
    }
  }
  return InternalError("unknown layer kind at '" + q + "'");
}

// Reads the sub-layers "<bp>.0", "<bp>.1", ... of one block (empty when the block is absent).
Result<UnetBlock> UnetModel::LoadBlock(const WeightLoader& wl, const std::string& bp, bool first_block, Flow* f) {
  const TensorIndex& index = wl.index();
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
    SDR_RETURN_IF_ERROR(LoadLayer(wl, q, *kind, first_block && i == 0, f, &block));
  }
}

Result<std::unique_ptr<UnetModel>> UnetModel::Load(const TensorIndex& index, Backend& backend,
                                                  const UnetLoadOptions& opts) {
  auto m = std::unique_ptr<UnetModel>(new UnetModel());
  m->backend_ = &backend;
  Status s = m->LoadAll(WeightLoader(index, backend), opts);
  if (!s.ok()) return s.WithContext("loading UNet");
  return m;
}

Status UnetModel::LoadAll(const WeightLoader& wl, const UnetLoadOptions& opts) {
  const TensorIndex& index = wl.index();
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
  SDR_ASSIGN_OR_RETURN(time1_, LinearLayer::Load(wl, p + "time_embed.0", temb_dim_, model_channels_, true));
  SDR_ASSIGN_OR_RETURN(time2_, LinearLayer::Load(wl, p + "time_embed.2", temb_dim_, temb_dim_, true));

  // The latent channels: what the VAE takes (when known), else what the input conv reads.
  if (opts.latent_channels > 0) {
    latent_channels_ = opts.latent_channels;
    in_channels_ = opts.latent_channels + opts.extra_in_channels;
  } else {
    SDR_ASSIGN_OR_RETURN(const TensorEntry* in, RequireTensor(index, p + "input_blocks.0.0.weight", 4));
    in_channels_ = in->tensor.dim(1);
    latent_channels_ = in_channels_ - opts.extra_in_channels;
  }
  Flow f;
  f.ch = in_channels_;
  for (int i = 0;; ++i) {
    const std::string bp = p + "input_blocks." + std::to_string(i);
    SDR_ASSIGN_OR_RETURN(UnetBlock b, LoadBlock(wl, bp, i == 0, &f));
    if (b.layers.empty()) {
      if (i == 0) return NotFound("tensor '" + bp + ".0.weight' is missing from the model (the input convolution)");
      break;
    }
    input_blocks_.push_back(std::move(b));
    f.skips.emplace_back(f.ch, f.level);
  }
  SDR_ASSIGN_OR_RETURN(middle_, LoadBlock(wl, p + "middle_block", false, &f));
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
    SDR_ASSIGN_OR_RETURN(UnetBlock b, LoadBlock(wl, bp, false, &f));
    output_blocks_.push_back(std::move(b));
  }
  if (!f.skips.empty()) {
    return CorruptData(std::to_string(input_blocks_.size()) + " input blocks but " +
                       std::to_string(output_blocks_.size()) + " output blocks ('" + p + "output_blocks." +
                       std::to_string(output_blocks_.size()) + "' is missing)");
  }
  SDR_ASSIGN_OR_RETURN(out_norm_, GroupNormLayer::Load(wl, p + "out.0", f.ch, kResNormEps));
  // The UNet predicts noise of the latent's shape: it gives back as many channels as it takes.
  SDR_ASSIGN_OR_RETURN(out_conv_, Conv2dLayer::Load(wl, p + "out.2", f.ch, 3, 1, latent_channels_));
  return Status::Ok();
}

Result<Act> UnetModel::RunRes(Executor& ex, const ResBlockWeights& r, const Act& x, const Act& emb) const {
  SDR_ASSIGN_OR_RETURN(Act h, r.in_norm.Forward(ex, x, /*silu=*/true));
  SDR_ASSIGN_OR_RETURN(Act e, r.emb.Forward(ex, emb));  // [B, cout]: emb arrives already SiLU'd
  if (e.dim(0) > x.dim(0)) e = e.FirstImages(x.dim(0));  // shared input: the images' t are alike
  SDR_ASSIGN_OR_RETURN(h, r.in_conv.Forward(ex, h, /*channel_bias=*/&e));
  SDR_ASSIGN_OR_RETURN(h, r.out_norm.Forward(ex, h, /*silu=*/true));
  if (!r.has_skip) return r.out_conv.Forward(ex, h, nullptr, /*residual=*/&x);
  SDR_ASSIGN_OR_RETURN(Act s, r.skip.Forward(ex, x));
  return r.out_conv.Forward(ex, h, nullptr, /*residual=*/&s);
}

Result<Act> UnetModel::RunTransformer(Executor& ex, const TransformerWeights& tw, const Act& x, const Act& ctx) const {
  const int64_t h = x.dim(2), w = x.dim(3), d = tw.c / tw.heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  Act t;  // [B, h*w, c] token-major residual stream
  {
    SDR_ASSIGN_OR_RETURN(Act n, tw.norm.Forward(ex, x, /*silu=*/false));
    SDR_ASSIGN_OR_RETURN(n, tw.proj_in.Forward(ex, n));
    SDR_ASSIGN_OR_RETURN(t, ex.ToTokens(n));
  }
  {  // Self-attention.
    SDR_ASSIGN_OR_RETURN(Act n, tw.norm1.Forward(ex, t));
    SDR_ASSIGN_OR_RETURN(Act q, tw.q1.Forward(ex, n));
    SDR_ASSIGN_OR_RETURN(Act k, tw.k1.Forward(ex, n));
    SDR_ASSIGN_OR_RETURN(Act v, tw.v1.Forward(ex, n));
    SDR_ASSIGN_OR_RETURN(Act a, ex.Attention(q, k, v, tw.heads, scale, /*causal=*/false));
    SDR_ASSIGN_OR_RETURN(t, tw.o1.Forward(ex, a, Activation::kNone, /*residual=*/&t));
  }
  SDR_RETURN_IF_ERROR(ex.Check());
  Act x_all = x;  // the block input, as many images as the context from here on
  if (t.dim(0) < ctx.dim(0)) {  // shared input: the images part at their contexts
    SDR_ASSIGN_OR_RETURN(t, ex.RepeatImages(t, ctx.dim(0)));
    SDR_ASSIGN_OR_RETURN(x_all, ex.RepeatImages(x, ctx.dim(0)));
  }
  {  // Cross-attention over the text context.
    SDR_ASSIGN_OR_RETURN(Act n, tw.norm2.Forward(ex, t));
    SDR_ASSIGN_OR_RETURN(Act q, tw.q2.Forward(ex, n));
    SDR_ASSIGN_OR_RETURN(Act k, tw.k2.Forward(ex, ctx));
    SDR_ASSIGN_OR_RETURN(Act v, tw.v2.Forward(ex, ctx));
    SDR_ASSIGN_OR_RETURN(Act a, ex.Attention(q, k, v, tw.heads, scale, /*causal=*/false));
    SDR_ASSIGN_OR_RETURN(t, tw.o2.Forward(ex, a, Activation::kNone, /*residual=*/&t));
  }
  SDR_RETURN_IF_ERROR(ex.Check());
  {  // GEGLU feed-forward: g = proj(n) [B, hw, 8c]; out = g[..., :4c] * gelu(g[..., 4c:]).
    SDR_ASSIGN_OR_RETURN(Act n, tw.norm3.Forward(ex, t));
    SDR_ASSIGN_OR_RETURN(Act g, tw.ff_proj.Forward(ex, n));
    SDR_ASSIGN_OR_RETURN(g, ex.Geglu(g));
    SDR_ASSIGN_OR_RETURN(t, tw.ff_out.Forward(ex, g, Activation::kNone, /*residual=*/&t));
  }
  // Back to feature maps, project, add the block input.
  SDR_ASSIGN_OR_RETURN(Act back, ex.FromTokens(t, h, w));
  t = Act();
  return tw.proj_out.Forward(ex, back, nullptr, /*residual=*/&x_all);
}

Result<Act> UnetModel::RunBlock(Executor& ex, const UnetBlock& block, Act h, const Act& emb, const Act& ctx,
                                const Act* up_to) const {
  for (const UnetLayer& l : block.layers) {
    SDR_RETURN_IF_ERROR(ex.Check());
    switch (l.kind) {
      case UnetLayer::Kind::kRes: {
        SDR_ASSIGN_OR_RETURN(h, RunRes(ex, res_[l.index], h, emb));
        break;
      }
      case UnetLayer::Kind::kTransformer: {
        SDR_ASSIGN_OR_RETURN(h, RunTransformer(ex, transformers_[l.index], h, ctx));
        break;
      }
      case UnetLayer::Kind::kUpsample: {
        // Nearest x2, or to the next skip's size when an odd size was halved on the way down.
        const int64_t ho = up_to ? up_to->dim(2) : 2 * h.dim(2), wo = up_to ? up_to->dim(3) : 2 * h.dim(3);
        SDR_ASSIGN_OR_RETURN(h, ex.ResizeNearest(h, ho, wo));
        SDR_ASSIGN_OR_RETURN(h, convs_[l.index].Forward(ex, h));
        break;
      }
      case UnetLayer::Kind::kDownsample:
      case UnetLayer::Kind::kConv: {
        SDR_ASSIGN_OR_RETURN(h, convs_[l.index].Forward(ex, h));
        break;
      }
    }
  }
  return h;
}

Result<Act> UnetModel::Forward(Executor& ex, const Act& x, const std::vector<float>& t, const Act& ctx,
                               UnetBatch batch) const {
  SDR_RETURN_IF_ERROR(CheckInputs(x, static_cast<int64_t>(t.size()), ctx));
  SDR_ASSIGN_OR_RETURN(Act sinus, ex.TimestepEmbedding(t, model_channels_));
  return ForwardFrom(ex, x, std::move(sinus), ctx, batch);
}

Result<Act> UnetModel::Forward(Executor& ex, const Act& x, const Act& t, const Act& ctx, UnetBatch batch) const {
  SDR_RETURN_IF_ERROR(CheckInputs(x, t.rank() == 1 ? t.dim(0) : -1, ctx));
  SDR_ASSIGN_OR_RETURN(Act sinus, ex.TimestepEmbedding(t, model_channels_));
  return ForwardFrom(ex, x, std::move(sinus), ctx, batch);
}

Status UnetModel::CheckInputs(const Act& x, int64_t timesteps, const Act& ctx) const {
  const int64_t b = x.rank() == 4 ? x.dim(0) : 0;
  if (x.rank() != 4 || b < 1 || x.dim(1) != in_channels_ || x.dim(2) < 1 || x.dim(3) < 1 || timesteps != b) {
    return InvalidArgument("UNet input must be [B, " + std::to_string(in_channels_) + ", h, w] with B timesteps, got " +
                           ShapeToString(x.shape()) + " and " + std::to_string(timesteps));
  }
  if (ctx.rank() != 3 || ctx.dim(0) != b || ctx.dim(2) != context_dim_) {
    return InvalidArgument("UNet context must be [" + std::to_string(b) + ", L, " + std::to_string(context_dim_) +
                           "], got " + ShapeToString(ctx.shape()));
  }
  return Status::Ok();
}

Result<Act> UnetModel::ForwardFrom(Executor& ex, const Act& x, Act sinus, const Act& ctx, UnetBatch batch) const {
  // Time embedding: emb = SiLU(Linear(SiLU(Linear(sinusoid(t))))), the SiLU every ResBlock applies.
  Act emb;
  {
    SDR_ASSIGN_OR_RETURN(Act e1, time1_.Forward(ex, sinus, Activation::kSilu));
    SDR_ASSIGN_OR_RETURN(emb, time2_.Forward(ex, e1, Activation::kSilu));
    sinus = Act();
  }
  const int64_t images = x.dim(0);
  // Shared input: one image until the first transformer parts them (RunTransformer).
  Act h = batch == UnetBatch::kSharedInput ? x.FirstImages(1) : x;
  std::vector<Act> skips;
  for (const UnetBlock& blk : input_blocks_) {
    SDR_ASSIGN_OR_RETURN(h, RunBlock(ex, blk, std::move(h), emb, ctx, nullptr));
    skips.push_back(h);
  }
  SDR_ASSIGN_OR_RETURN(h, RunBlock(ex, middle_, std::move(h), emb, ctx, nullptr));
  for (const UnetBlock& blk : output_blocks_) {
    SDR_CHECK(skips.back().dim(2) == h.dim(2) && skips.back().dim(3) == h.dim(3));  // levels were matched at load
    if (skips.back().dim(0) < h.dim(0)) {  // a skip from before the images parted
      SDR_ASSIGN_OR_RETURN(skips.back(), ex.RepeatImages(skips.back(), h.dim(0)));
    }
    SDR_ASSIGN_OR_RETURN(Act cat, ex.ConcatChannels(h, skips.back()));
    h = Act();
    skips.pop_back();
    SDR_ASSIGN_OR_RETURN(h, RunBlock(ex, blk, std::move(cat), emb, ctx, skips.empty() ? nullptr : &skips.back()));
  }
  SDR_ASSIGN_OR_RETURN(h, out_norm_.Forward(ex, h, /*silu=*/true));
  SDR_ASSIGN_OR_RETURN(h, out_conv_.Forward(ex, h));
  if (h.dim(0) < images) return ex.RepeatImages(h, images);  // no transformer parted them
  return h;
}

Result<Tensor> UnetModel::Forward(const Tensor& x, float t, const Tensor& ctx, const RunControl* control) const {
  return RunPlanned(*backend_, control, [&](Executor& ex) -> Result<Act> {
    SDR_ASSIGN_OR_RETURN(Act xa, ex.Upload(x));
    SDR_ASSIGN_OR_RETURN(Act ca, ex.Upload(ctx));
    return Forward(ex, xa, {t}, ca);
  });
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
