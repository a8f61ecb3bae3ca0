#include "models/clip/clip_text_model.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "formats/ldm_names.h"
#include "models/weights.h"

namespace sdr {
namespace {

constexpr const char* kPrefix = kLdmClipTextPrefix;

Status LoadLayer(const WeightLoader& wl, const std::string& p, int64_t c, ClipLayerWeights* l) {
  SDR_ASSIGN_OR_RETURN(l->ln1, LayerNormLayer::Load(wl, p + "layer_norm1", c));
  SDR_ASSIGN_OR_RETURN(l->q, LinearLayer::Load(wl, p + "self_attn.q_proj", c, c, true));
  SDR_ASSIGN_OR_RETURN(l->k, LinearLayer::Load(wl, p + "self_attn.k_proj", c, c, true));
  SDR_ASSIGN_OR_RETURN(l->v, LinearLayer::Load(wl, p + "self_attn.v_proj", c, c, true));
  SDR_ASSIGN_OR_RETURN(l->o, LinearLayer::Load(wl, p + "self_attn.out_proj", c, c, true));
  SDR_ASSIGN_OR_RETURN(l->ln2, LayerNormLayer::Load(wl, p + "layer_norm2", c));
  SDR_ASSIGN_OR_RETURN(l->fc1, LinearLayer::Load(wl, p + "mlp.fc1", 4 * c, c, true));
  SDR_ASSIGN_OR_RETURN(l->fc2, LinearLayer::Load(wl, p + "mlp.fc2", c, 4 * c, true));
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<ClipTextModel>> ClipTextModel::Load(const TensorIndex& index, Backend& backend) {
  const std::string p = kPrefix;
  auto ctx = [](const Status& s) { return s.WithContext("loading CLIP text encoder"); };
  auto tok = RequireTensor(index, p + "embeddings.token_embedding.weight", 2);
  if (!tok.ok()) return ctx(tok.status());
  auto pos = RequireTensor(index, p + "embeddings.position_embedding.weight", 2);
  if (!pos.ok()) return ctx(pos.status());
  auto m = std::make_unique<ClipTextModel>();
  m->backend_ = &backend;
  ClipTextWeights& w = m->w_;
  w.vocab = (*tok)->tensor.dim(0);
  w.hidden = (*tok)->tensor.dim(1);
  w.positions = (*pos)->tensor.dim(0);
  w.heads = std::max<int64_t>(w.hidden / 64, 1);
  if (w.hidden % w.heads != 0) {
    return ctx(InvalidArgument("tensor '" + p + "embeddings.token_embedding.weight' is " + std::to_string(w.hidden) +
                               " wide, which does not split into " + std::to_string(w.heads) + " heads of 64"));
  }
  const int64_t c = w.hidden;
  const WeightLoader wl(index, backend);
  auto body = [&]() -> Status {
    SDR_ASSIGN_OR_RETURN(w.token_embedding,
                         wl.Load(p + "embeddings.token_embedding.weight", {w.vocab, c}, WeightRole::kTable));
    SDR_ASSIGN_OR_RETURN(w.position_embedding,
                         wl.Load(p + "embeddings.position_embedding.weight", {w.positions, c}, WeightRole::kTable));
    SDR_ASSIGN_OR_RETURN(const int layers, CountNumbered(index, p + "encoder.layers."));
    if (layers == 0) return NotFound("no encoder layers ('" + p + "encoder.layers.0.*')");
    for (int i = 0; i < layers; ++i) {
      ClipLayerWeights layer;
      SDR_RETURN_IF_ERROR(LoadLayer(wl, p + "encoder.layers." + std::to_string(i) + ".", c, &layer));
      w.layers.push_back(std::move(layer));
    }
    SDR_ASSIGN_OR_RETURN(w.final_ln, LayerNormLayer::Load(wl, p + "final_layer_norm", c));
    return Status::Ok();
  };
  Status s = body();
  if (!s.ok()) return ctx(s);
  return m;
}

Status ClipTextModel::Validate(const std::vector<int32_t>& ids, int64_t batch, int clip_skip) const {
  const int64_t layers = num_layers();
  const int64_t n = batch > 0 ? static_cast<int64_t>(ids.size()) / batch : 0;
  if (batch < 1 || n <= 0 || n * batch != static_cast<int64_t>(ids.size()) || n > w_.positions) {
    return InvalidArgument("CLIP takes 1.." + std::to_string(w_.positions) + " tokens per sequence, got " +
                           std::to_string(ids.size()) + " ids for " + std::to_string(batch) + " sequences");
  }
  if (clip_skip < 1 || clip_skip > layers) {
    return InvalidArgument("clip_skip " + std::to_string(clip_skip) + " is outside [1, " + std::to_string(layers) + "]");
  }
  for (int32_t id : ids) {
    if (id < 0 || id >= w_.vocab) {
      return InvalidArgument("token id " + std::to_string(id) + " is outside the vocabulary of " +
                             std::to_string(w_.vocab));
    }
  }
  return Status::Ok();
}

Result<Act> ClipTextModel::Encode(Executor& ex, const std::vector<int32_t>& ids, int64_t batch, int clip_skip) const {
  SDR_RETURN_IF_ERROR(Validate(ids, batch, clip_skip));
  const ClipTextWeights& w = w_;
  const int64_t run = num_layers() - clip_skip + 1;
  const float scale = 1.0f / std::sqrt(static_cast<float>(w.hidden / w.heads));
  SDR_ASSIGN_OR_RETURN(Act x, ex.Embed(ids, batch, w.token_embedding, w.position_embedding));  // [B, n, C]
  for (int64_t l = 0; l < run; ++l) {
    const ClipLayerWeights& L = w.layers[static_cast<size_t>(l)];
    {
      SDR_ASSIGN_OR_RETURN(Act h, L.ln1.Forward(ex, x));
      SDR_ASSIGN_OR_RETURN(Act q, L.q.Forward(ex, h));
      SDR_ASSIGN_OR_RETURN(Act k, L.k.Forward(ex, h));
      SDR_ASSIGN_OR_RETURN(Act v, L.v.Forward(ex, h));
      SDR_ASSIGN_OR_RETURN(Act a, ex.Attention(q, k, v, w.heads, scale, /*causal=*/true));
      SDR_ASSIGN_OR_RETURN(x, L.o.Forward(ex, a, Activation::kNone, /*residual=*/&x));
    }
    SDR_ASSIGN_OR_RETURN(Act h, L.ln2.Forward(ex, x));
    SDR_ASSIGN_OR_RETURN(Act m, L.fc1.Forward(ex, h, Activation::kQuickGelu));
    SDR_ASSIGN_OR_RETURN(x, L.fc2.Forward(ex, m, Activation::kNone, /*residual=*/&x));
  }
  return w.final_ln.Forward(ex, x);
}

Status ClipTextModel::Encode(const int32_t* ids, int64_t n, int clip_skip, float* out) const {
  const std::vector<int32_t> v(ids, ids + std::max<int64_t>(n, 0));
  SDR_RETURN_IF_ERROR(Validate(v, 1, clip_skip));
  SDR_ASSIGN_OR_RETURN(Tensor z, RunPlanned(*backend_, nullptr, [&](Executor& ex) { return Encode(ex, v, 1, clip_skip); }));
  std::memcpy(out, z.raw(), z.nbytes());
  return Status::Ok();
}

}  // namespace sdr
