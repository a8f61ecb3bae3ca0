#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "models/clip/clip_text_model.h"
#include "models/clip/text_conditioner.h"
#include "models/clip/tokenizer_source.h"
#include "models/random_weights.h"
#include "testing/tiny_model.h"
#include "testing/reference_ops.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

const std::string kMerges = std::string(SDR_SHARED_DIR) + "/data/clip-vit-l-14-merges.txt";

struct Tiny {
  TensorIndex index;
  std::unique_ptr<ClipTextModel> model;
};

Tiny& GetTiny() {
  static Tiny* t = [] {
    auto* tiny = new Tiny();
    auto w = MakeRandomSd1Weights({});
    for (auto& nt : *w) EXPECT_TRUE(tiny->index.Add(nt.name, nt.tensor).ok());
    auto m = ClipTextModel::Load(tiny->index, testing::CpuBackend());
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    tiny->model = std::move(m).value();
    return tiny;
  }();
  return *t;
}

// Independent double-precision forward of the same math, straight from the definition.
std::vector<float> ReferenceEncode(const TensorIndex& idx, const std::vector<int32_t>& ids, int layers_to_run) {
  const std::string p = "cond_stage_model.transformer.text_model.";
  auto W = [&](const std::string& n) { return idx.Find(p + n)->tensor.data<float>(); };
  const int64_t c = idx.Find(p + "embeddings.token_embedding.weight")->tensor.dim(1);
  const int64_t n = static_cast<int64_t>(ids.size()), heads = std::max<int64_t>(c / 64, 1), d = c / heads;
  std::vector<float> x(static_cast<size_t>(n * c)), h(x.size()), q(x.size()), k(x.size()), v(x.size()), a(x.size());
  std::vector<float> m(static_cast<size_t>(n * 4 * c));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j)
      x[static_cast<size_t>(i * c + j)] = W("embeddings.token_embedding.weight")[ids[static_cast<size_t>(i)] * c + j] +
                                          W("embeddings.position_embedding.weight")[i * c + j];
  auto linear = [&](const float* in, const std::string& name, float* out, int64_t nout, int64_t nin) {
    ref::Gemm(false, true, n, nout, nin, 1.0f, in, W(name + ".weight"), 0.0f, out);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < nout; ++j) out[i * nout + j] += W(name + ".bias")[j];
  };
  for (int l = 0; l < layers_to_run; ++l) {
    const std::string L = "encoder.layers." + std::to_string(l) + ".";
    ref::LayerNorm(x.data(), W(L + "layer_norm1.weight"), W(L + "layer_norm1.bias"), h.data(), n, c, 1e-5f);
    linear(h.data(), L + "self_attn.q_proj", q.data(), c, c);
    linear(h.data(), L + "self_attn.k_proj", k.data(), c, c);
    linear(h.data(), L + "self_attn.v_proj", v.data(), c, c);
    ref::Attention(q.data(), k.data(), v.data(), a.data(), heads, n, n, d, 1.0f / std::sqrt(static_cast<float>(d)), true);
    linear(a.data(), L + "self_attn.out_proj", h.data(), c, c);
    for (size_t i = 0; i < x.size(); ++i) x[i] += h[i];
    ref::LayerNorm(x.data(), W(L + "layer_norm2.weight"), W(L + "layer_norm2.bias"), h.data(), n, c, 1e-5f);
    linear(h.data(), L + "mlp.fc1", m.data(), 4 * c, c);
    for (float& e : m) e = ref::QuickGelu(e);
    linear(m.data(), L + "mlp.fc2", h.data(), c, 4 * c);
    for (size_t i = 0; i < x.size(); ++i) x[i] += h[i];
  }
  std::vector<float> out(x.size());
  ref::LayerNorm(x.data(), W("final_layer_norm.weight"), W("final_layer_norm.bias"), out.data(), n, c, 1e-5f);
  return out;
}

TEST(ClipTextModelTest, TinyModelMatchesReferenceForwardAndClipSkip) {
  Tiny& t = GetTiny();
  ASSERT_TRUE(t.model);
  EXPECT_EQ(t.model->hidden(), 64);
  EXPECT_EQ(t.model->num_layers(), 2);
  std::vector<int32_t> ids = {49406, 320, 2165, 2368, 49407};
  while (ids.size() < 77) ids.push_back(49407);
  for (int skip : {1, 2}) {
    std::vector<float> out(77 * 64);
    ASSERT_TRUE(t.model->Encode(ids.data(), 77, skip, out.data()).ok());
    const auto expected = ReferenceEncode(t.index, ids, 2 - skip + 1);
    EXPECT_LT(ref::RelL2(expected.data(), out.data(), 77 * 64), 1e-5) << "clip_skip " << skip;
  }
}

TEST(ClipTextModelTest, InvalidInputsAreClearErrors) {
  Tiny& t = GetTiny();
  ASSERT_TRUE(t.model);
  std::vector<int32_t> ids(77, 49407);
  std::vector<float> out(77 * 64);
  EXPECT_EQ(t.model->Encode(ids.data(), 77, 3, out.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.model->Encode(ids.data(), 77, 0, out.data()).code(), StatusCode::kInvalidArgument);
  ids[5] = 49408;
  Status s = t.model->Encode(ids.data(), 77, 1, out.data());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("49408"), std::string::npos);
  EXPECT_EQ(t.model->Encode(ids.data(), 78, 1, out.data()).code(), StatusCode::kInvalidArgument);
}

TEST(ClipTextModelTest, MissingOrMisshapenWeightsNameTheTensor) {
  TensorIndex empty;
  auto none = ClipTextModel::Load(empty, testing::CpuBackend());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  auto w = MakeRandomSd1Weights({});
  TensorIndex bad;
  for (auto& nt : *w) {
    Tensor tensor = nt.tensor;
    if (nt.name.ends_with("encoder.layers.1.mlp.fc2.weight")) tensor = tensor.Reshaped({256, 64});
    ASSERT_TRUE(bad.Add(nt.name, tensor).ok());
  }
  auto m = ClipTextModel::Load(bad, testing::CpuBackend());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("encoder.layers.1.mlp.fc2.weight"), std::string::npos) << m.status().ToString();
  EXPECT_NE(m.status().message().find("expected [64, 256]"), std::string::npos) << m.status().ToString();
}

TEST(TextConditionerTest, WeightsScaleTokensAndKeepTheMean) {
  std::vector<float> z = ref::RandomVector(77 * 8, 3);
  for (float& v : z) v += 0.5f;
  std::vector<float> w(77, 1.0f);
  auto same = z;
  ApplyTokenWeights(same.data(), w.data(), 77, 8);
  EXPECT_EQ(same, z);  // all ones: untouched
  w[3] = 1.5f;
  w[4] = 0.5f;
  auto weighted = z;
  ApplyTokenWeights(weighted.data(), w.data(), 77, 8);
  double before = 0, after = 0;
  for (size_t i = 0; i < z.size(); ++i) { before += z[i]; after += weighted[i]; }
  EXPECT_NEAR(after, before, 1e-3 * std::fabs(before));
  // Token 3 relative to token 0 is scaled by 1.5 (the common rescale cancels).
  EXPECT_NEAR(weighted[3 * 8] / weighted[0], 1.5f * z[3 * 8] / z[0], 1e-4);
}

TEST(TextConditionerTest, EmphasisChangesOnlyTheWeightedPromptsOutput) {
  Tiny& t = GetTiny();
  ASSERT_TRUE(t.model);
  auto tok = ClipTokenizer::FromMergesFile(kMerges);
  ASSERT_TRUE(tok.ok());
  TextConditioner cond(t.model.get(), &*tok);
  auto plain = cond.Encode("a lovely cat");
  auto unit = cond.Encode("a (lovely:1.0) cat");
  auto strong = cond.Encode("a (lovely:1.5) cat");
  auto long_prompt = cond.Encode(std::string(400, 'x') + " BREAK cat");
  ASSERT_TRUE(plain.ok() && unit.ok() && strong.ok() && long_prompt.ok());
  EXPECT_EQ(plain->shape(), (Shape{1, 77, 64}));
  EXPECT_EQ(std::memcmp(plain->raw(), unit->raw(), plain->nbytes()), 0);
  EXPECT_GT(ref::RelL2(plain->data<float>(), strong->data<float>(), plain->numel()), 1e-3);
  EXPECT_EQ(long_prompt->dim(1) % 77, 0);
  EXPECT_GE(long_prompt->dim(1), 2 * 77);
}

TEST(TokenizerSourceTest, PrecedenceExplicitThenModelFolderThenEmbedded) {
  testing::TempDir dir;
  // A single file: no tokenizer beside it, so the embedded vocabulary, which is CLIP's.
  const TokenizerSource none = ResolveTokenizerSource(dir.File("model.safetensors"));
  EXPECT_EQ(none.kind, TokenizerSource::Kind::kEmbedded);
  EXPECT_EQ(none.Describe(), "the embedded CLIP ViT-L/14 vocabulary");
  auto embedded = LoadClipTokenizer(none);
  ASSERT_TRUE(embedded.ok()) << embedded.status().ToString();
  auto from_file = LoadClipTokenizer(ResolveTokenizerSource(dir.File("model.safetensors"), kMerges));
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  EXPECT_EQ((*embedded)->vocab_size(), 49408u);
  const std::string text = "a photograph of an astronaut riding a horse, (masterpiece:1.2) caf\xc3\xa9 42";
  EXPECT_EQ((*embedded)->EncodeWithSpecials(text), (*from_file)->EncodeWithSpecials(text));
  // The same instance every time (built once per process).
  EXPECT_EQ(LoadClipTokenizer(none)->get(), embedded->get());

  // An explicit path that does not exist is an error naming it, never a silent fallback.
  auto missing = LoadClipTokenizer(ResolveTokenizerSource(dir.File("model.safetensors"), "/nonexistent/merges.txt"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/merges.txt"), std::string::npos);

  // A diffusers-style tokenizer/ folder comes before the embedded one; a vocab.json that
  // disagrees is refused.
  std::filesystem::create_directories(dir.path() / "model" / "tokenizer");
  std::filesystem::copy_file(kMerges, dir.path() / "model" / "tokenizer" / "merges.txt");
  const TokenizerSource own = ResolveTokenizerSource(dir.File("model"));
  EXPECT_EQ(own.kind, TokenizerSource::Kind::kModelFolder);
  EXPECT_TRUE(LoadClipTokenizer(own).ok());
  EXPECT_EQ(ResolveTokenizerSource(dir.File("model"), kMerges).kind, TokenizerSource::Kind::kExplicit);
  testing::WriteFileBytes(dir.File("model/tokenizer/vocab.json"), R"({"a": 0})");
  auto bad_vocab = LoadClipTokenizer(own);
  EXPECT_EQ(bad_vocab.status().code(), StatusCode::kCorruptData);
}

}  // namespace
}  // namespace sdr
