// LoRA on the tiny model: the prompt syntax, both key forms, weight 0 = the base image exactly,
// weight 1 = a model merged offline, kohya and diffusers forms of one LoRA = one image, several
// LoRAs at once, and the errors (no folder, missing file, unknown keys reported).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "formats/model_file.h"
#include "formats/safetensors.h"
#include "models/lora/lora_file.h"
#include "models/lora/random_lora.h"
#include "runtime/txt2img.h"
#include "testing/temp_dir.h"
#include "testing/tiny_model.h"
#include "tokenizer/lora_tags.h"

namespace sdr {
namespace {

TEST(LoraTags, AreRemovedFromThePromptAndReturnedInOrder) {
  auto r = ExtractLoraTags("a cat <lora:pixel_art:0.8>, detailed <lora:other> <b>");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->prompt, "a cat , detailed  <b>");
  ASSERT_EQ(r->loras.size(), 2u);
  EXPECT_EQ(r->loras[0].name, "pixel_art");
  EXPECT_FLOAT_EQ(r->loras[0].weight, 0.8f);
  EXPECT_EQ(r->loras[1].name, "other");
  EXPECT_FLOAT_EQ(r->loras[1].weight, 1.0f);
  EXPECT_EQ(ExtractLoraTags("no tags <lora:x")->prompt, "no tags <lora:x");
  EXPECT_FALSE(ExtractLoraTags("<lora::1>").ok());
  EXPECT_FALSE(ExtractLoraTags("<lora:x:abc>").ok());
  EXPECT_FALSE(ExtractLoraTags("<lora:x:1:2>").ok());
  EXPECT_FLOAT_EQ(ExtractLoraTags("<lora:x:-0.5>")->loras[0].weight, -0.5f);
}

class LoraTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    auto index = OpenModelFile(testing::TinyModelPath());
    ASSERT_TRUE(index.ok());
    for (LoraForm form : {LoraForm::kKohya, LoraForm::kDiffusers}) {
      auto w = MakeRandomLora(*index, {.form = form, .rank = 4, .seed = 99, .scale = 3.0f});
      ASSERT_TRUE(w.ok()) << w.status().ToString();
      ASSERT_TRUE(WriteSafetensors(File(form == LoraForm::kKohya ? "style.safetensors" : "style_diffusers.safetensors"),
                                   *w)
                      .ok());
    }
    auto other = MakeRandomLora(*index, {.form = LoraForm::kKohya, .rank = 2, .seed = 5, .scale = 3.0f});
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE(WriteSafetensors(File("other.safetensors"), *other).ok());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string File(const std::string& n) { return dir_->File(n); }

  static GenerateParams Params(const std::string& prompt) {
    GenerateParams p;
    p.prompt = prompt;
    p.negative_prompt = "blurry";
    p.width = 64;
    p.height = 64;
    p.steps = 3;
    p.seed = 12;
    p.sampler = SamplerKind::kEuler;
    p.lora_dir = dir_->path().string();
    return p;
  }
  static std::vector<uint8_t> Image(const SdModel& m, const std::string& prompt) {
    auto r = Generate(m, Params(prompt));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->images[0].rgb : std::vector<uint8_t>();
  }
  static testing::TempDir* dir_;
};
testing::TempDir* LoraTest::dir_ = nullptr;

TEST_F(LoraTest, FilesReadInBothFormsMapToTheSameLayers) {
  auto k = ReadLoraFile(File("style.safetensors"));
  auto d = ReadLoraFile(File("style_diffusers.safetensors"));
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(k->form, "kohya");
  EXPECT_EQ(d->form, "diffusers");
  EXPECT_TRUE(k->unknown_keys.empty());
  ASSERT_EQ(k->layers.size(), d->layers.size());
  ASSERT_GE(k->layers.size(), 10u);
  std::vector<std::string> kt, dt;
  for (const auto& l : k->layers) kt.push_back(l.target);
  for (const auto& l : d->layers) dt.push_back(l.target);
  std::sort(kt.begin(), kt.end());
  std::sort(dt.begin(), dt.end());
  EXPECT_EQ(kt, dt);
  EXPECT_FLOAT_EQ(k->layers[0].scale(), 0.5f);  // alpha = rank / 2
  EXPECT_FLOAT_EQ(d->layers[0].scale(), 1.0f);  // no alpha: alpha = rank
}

TEST_F(LoraTest, WeightZeroIsTheBaseImageExactly) {
  auto model = testing::TinySdModel();
  const auto base = Image(*model, "a red house ");
  EXPECT_EQ(Image(*model, "a red house <lora:style:0>"), base);
  EXPECT_NE(Image(*model, "a red house <lora:style:1>"), base);
}

// The offline merge: W + (alpha / r) * up @ down for every layer, written as a model file.
TEST_F(LoraTest, WeightOneEqualsAModelMergedOffline) {
  auto lora = ReadLoraFile(File("style.safetensors"));
  ASSERT_TRUE(lora.ok());
  auto index = OpenModelFile(testing::TinyModelPath());
  ASSERT_TRUE(index.ok());
  std::vector<NamedTensor> tensors;
  for (const TensorEntry& e : index->entries()) {
    Tensor t = e.tensor;
    for (const LoraLayer& l : lora->layers) {
      if (l.target != e.name) continue;
      auto f32 = ToF32(e.tensor);
      ASSERT_TRUE(f32.ok());
      auto copy = Tensor::Allocate(DType::kF32, e.tensor.shape());
      ASSERT_TRUE(copy.ok());
      const int64_t out = l.up.dim(0), r = l.rank(), in = l.down.numel() / r;
      for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i) {
          double d = 0;
          for (int64_t k = 0; k < r; ++k) d += double(l.up.data<float>()[o * r + k]) * l.down.data<float>()[k * in + i];
          copy->mutable_data<float>()[o * in + i] = f32->data<float>()[o * in + i] + l.scale() * static_cast<float>(d);
        }
      t = *copy;
    }
    tensors.push_back({e.name, t});
  }
  ASSERT_TRUE(WriteSafetensors(File("merged.safetensors"), tensors).ok());
  auto merged = SdModel::Load({File("merged.safetensors"), "", testing::ClipMergesPath()});
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  const auto want = Image(**merged, "a red house ");
  const auto got = Image(*testing::TinySdModel(), "a red house <lora:style:1>");
  ASSERT_EQ(want.size(), got.size());
  int max_diff = 0;
  for (size_t i = 0; i < want.size(); ++i) max_diff = std::max(max_diff, std::abs(int(want[i]) - int(got[i])));
  EXPECT_LE(max_diff, 1) << "levels";
}

TEST_F(LoraTest, KohyaAndDiffusersFormsGiveTheSameImage) {
  auto model = testing::TinySdModel();
  EXPECT_EQ(Image(*model, "a red house <lora:style:0.7>"), Image(*model, "a red house <lora:style_diffusers:0.7>"));
}

TEST_F(LoraTest, SeveralLorasAtOnceAndTheSetIsCached) {
  auto model = testing::TinySdModel();
  const auto one = Image(*model, "a red house <lora:style:0.5>");
  const auto both = Image(*model, "a red house <lora:style:0.5> <lora:other:0.8>");
  EXPECT_NE(one, both);
  EXPECT_EQ(Image(*model, "a red house <lora:style:0.5> <lora:other:0.8>"), both);
  std::vector<LoraRequest> set = {{File("style.safetensors"), 0.5f}, {File("other.safetensors"), 0.8f}};
  auto a = model->WithLoras(set);
  auto b = model->WithLoras(set);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());  // merged once, shared
  EXPECT_GT((*a)->merged_bytes, 0u);
}

TEST_F(LoraTest, ErrorsNameTheProblemAndUnknownKeysAreReported) {
  auto model = testing::TinySdModel();
  GenerateParams p = Params("a cat <lora:missing:1>");
  auto r = Generate(*model, p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("missing.safetensors"), std::string::npos) << r.status().ToString();
  p = Params("a cat <lora:style:1>");
  p.lora_dir.clear();
  r = Generate(*model, p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("SD_LORA_DIR"), std::string::npos);
  // A tensor no layer takes is listed, the rest applies.
  auto index = OpenModelFile(testing::TinyModelPath());
  auto w = MakeRandomLora(*index, {});
  ASSERT_TRUE(w.ok());
  w->push_back({"lora_unet_no_such_block.lora_down.weight", w->front().tensor});
  w->push_back({"lora_unet_no_such_block.lora_up.weight", (*w)[1].tensor});
  ASSERT_TRUE(WriteSafetensors(File("extra.safetensors"), *w).ok());
  auto f = ReadLoraFile(File("extra.safetensors"));
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f->unknown_keys.size(), 1u);
  EXPECT_EQ(f->unknown_keys[0], "lora_unet_no_such_block");
  std::vector<LoraRequest> set = {{File("extra.safetensors"), 1.0f}};
  auto c = model->WithLoras(set);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ((*c)->unknown_keys.size(), 1u);
  // Not a LoRA at all.
  EXPECT_FALSE(ReadLoraFile(testing::TinyModelPath()).ok());
}

}  // namespace
}  // namespace sdr
