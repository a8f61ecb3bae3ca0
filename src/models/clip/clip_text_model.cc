#include "models/clip/clip_text_model.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "backends/cpu/ops.h"
#include "formats/ldm_names.h"
#include "models/weights.h"

namespace sdr {
namespace {

constexpr const char* kPrefix = kLdmClipTextPrefix;

Status LoadLayer(const TensorIndex& index, const std::string& p, int64_t c, ClipLayerWeights* l) {
  struct Item {
    Tensor* dst;
    const char* name;
    Shape shape;
  };
  const Item items[] = {
      {&l->ln1_w, "layer_norm1.weight", {c}},       {&l->ln1_b, "layer_norm1.bias", {c}},
      {&l->q_w, "self_attn.q_proj.weight", {c, c}}, {&l->q_b, "self_attn.q_proj.bias", {c}},
      {&l->k_w, "self_attn.k_proj.weight", {c, c}}, {&l->k_b, "self_attn.k_proj.bias", {c}},
      {&l->v_w, "self_attn.v_proj.weight", {c, c}}, {&l->v_b, "self_attn.v_proj.bias", {c}},
      {&l->o_w, "self_attn.out_proj.weight", {c, c}}, {&l->o_b, "self_attn.out_proj.bias", {c}},
      {&l->ln2_w, "layer_norm2.weight", {c}},       {&l->ln2_b, "layer_norm2.bias", {c}},
      {&l->fc1_w, "mlp.fc1.weight", {4 * c, c}},    {&l->fc1_b, "mlp.fc1.bias", {4 * c}},
      {&l->fc2_w, "mlp.fc2.weight", {c, 4 * c}},    {&l->fc2_b, "mlp.fc2.bias", {c}},
  };
  for (const Item& it : items) {
    SDR_ASSIGN_OR_RETURN(*it.dst, LoadF32(index, p + it.name, it.shape));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<ClipTextModel>> ClipTextModel::Load(const TensorIndex& index) {
  const std::string p = kPrefix;
  auto ctx = [](const Status& s) { return s.WithContext("loading CLIP text encoder"); };
  auto tok = RequireTensor(index, p + "embeddings.token_embedding.weight", 2);
  if (!tok.ok()) return ctx(tok.status());
  auto pos = RequireTensor(index, p + "embeddings.position_embedding.weight", 2);
  if (!pos.ok()) return ctx(pos.status());
  auto m = std::make_unique<ClipTextModel>();
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
  auto t = LoadF32(index, p + "embeddings.token_embedding.weight", {w.vocab, c});
  if (!t.ok()) return ctx(t.status());
  w.token_embedding = std::move(t).value();
  auto pe = LoadF32(index, p + "embeddings.position_embedding.weight", {w.positions, c});
  if (!pe.ok()) return ctx(pe.status());
  w.position_embedding = std::move(pe).value();
  auto layers = CountNumbered(index, p + "encoder.layers.");
  if (!layers.ok()) return ctx(layers.status());
  for (int i = 0; i < *layers; ++i) {
    const std::string lp = p + "encoder.layers." + std::to_string(i) + ".";
    ClipLayerWeights layer;
    Status s = LoadLayer(index, lp, c, &layer);
    if (!s.ok()) return ctx(s);
    w.layers.push_back(std::move(layer));
  }
  if (w.layers.empty()) return ctx(NotFound("no encoder layers ('" + p + "encoder.layers.0.*')"));
  auto fw = LoadF32(index, p + "final_layer_norm.weight", {c});
  if (!fw.ok()) return ctx(fw.status());
  auto fb = LoadF32(index, p + "final_layer_norm.bias", {c});
  if (!fb.ok()) return ctx(fb.status());
  w.final_ln_w = std::move(fw).value();
  w.final_ln_b = std::move(fb).value();
  return m;
}

Status ClipTextModel::Encode(const int32_t* ids, int64_t n, int clip_skip, float* out) const {
  const ClipTextWeights& w = w_;
  const int64_t c = w.hidden, layers = static_cast<int64_t>(w.layers.size());
  if (n <= 0 || n > w.positions) {
    return InvalidArgument("CLIP takes 1.." + std::to_string(w.positions) + " tokens, got " + std::to_string(n));
  }
  if (clip_skip < 1 || clip_skip > layers) {
    return InvalidArgument("clip_skip " + std::to_string(clip_skip) + " is outside [1, " + std::to_string(layers) + "]");
  }
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= w.vocab) {
      return InvalidArgument("token id " + std::to_string(ids[i]) + " is outside the vocabulary of " +
                             std::to_string(w.vocab));
    }
  }
  // x: [n, C] residual stream; h: [n, C]; qkv: 3 x [n, C]; a: [n, C]; mlp: [n, 4C]
  std::vector<float> x(static_cast<size_t>(n * c)), h(x.size()), q(x.size()), k(x.size()), v(x.size()), a(x.size());
  std::vector<float> mlp(static_cast<size_t>(n * 4 * c));
  const float* tok = w.token_embedding.data<float>();
  const float* pos = w.position_embedding.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < c; ++j) x[static_cast<size_t>(i * c + j)] = tok[ids[i] * c + j] + pos[i * c + j];
  }
  const int64_t run = layers - clip_skip + 1;
  const int64_t d = c / w.heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (int64_t l = 0; l < run; ++l) {
    const ClipLayerWeights& L = w.layers[static_cast<size_t>(l)];
    cpu::LayerNorm(x.data(), L.ln1_w.data<float>(), L.ln1_b.data<float>(), h.data(), n, c, kLayerNormEps);
    cpu::Linear(h.data(), L.q_w.data<float>(), L.q_b.data<float>(), q.data(), n, c, c);
    cpu::Linear(h.data(), L.k_w.data<float>(), L.k_b.data<float>(), k.data(), n, c, c);
    cpu::Linear(h.data(), L.v_w.data<float>(), L.v_b.data<float>(), v.data(), n, c, c);
    cpu::Attention(q.data(), c, k.data(), v.data(), c, a.data(), w.heads, n, n, d, scale, /*causal=*/true);
    cpu::Linear(a.data(), L.o_w.data<float>(), L.o_b.data<float>(), h.data(), n, c, c);
    cpu::AddInPlace(x.data(), h.data(), n * c);
    cpu::LayerNorm(x.data(), L.ln2_w.data<float>(), L.ln2_b.data<float>(), h.data(), n, c, kLayerNormEps);
    cpu::Linear(h.data(), L.fc1_w.data<float>(), L.fc1_b.data<float>(), mlp.data(), n, 4 * c, c);
    cpu::QuickGelu(mlp.data(), n * 4 * c);
    cpu::Linear(mlp.data(), L.fc2_w.data<float>(), L.fc2_b.data<float>(), h.data(), n, c, 4 * c);
    cpu::AddInPlace(x.data(), h.data(), n * c);
  }
  cpu::LayerNorm(x.data(), w.final_ln_w.data<float>(), w.final_ln_b.data<float>(), out, n, c, kLayerNormEps);
  return Status::Ok();
}

}  // namespace sdr
