#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "formats/safetensors.h"
#include "models/model_info.h"
#include "models/random_weights.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

TensorIndex IndexOf(const std::vector<LayoutTensor>& layout) {
  TensorIndex index;
  static const float zero[1] = {0};
  for (const auto& t : layout) {
    // Shapes only matter for detection: borrow a dummy pointer (never read).
    EXPECT_TRUE(index.Add(t.name, Tensor::Borrow(DType::kF16, t.shape, zero, nullptr)).ok());
  }
  return index;
}

TEST(ModelInfoTest, FullSizeLayoutIsSd1WithRealWidths) {
  auto info = DetectModel(IndexOf(Sd1Layout()));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->version, SdVersion::kSd1);
  EXPECT_EQ(info->unet.tensors, 686);
  EXPECT_EQ(info->unet.params, 859520964);
  EXPECT_EQ(info->text_encoder.tensors, 196);
  EXPECT_EQ(info->text_encoder.params, 123060480);
  EXPECT_EQ(info->vae.tensors, 248);
  EXPECT_EQ(info->vae.params, 83653863);
  EXPECT_EQ(info->vae.dtypes.at(DType::kF16), 248);
  EXPECT_EQ(info->unet_model_channels, 320);
  EXPECT_EQ(info->unet_context_dim, 768);
  EXPECT_EQ(info->unet_heads, 8);
  EXPECT_EQ(info->text_hidden, 768);
  EXPECT_EQ(info->text_layers, 12);
  EXPECT_EQ(info->text_heads, 12);
  EXPECT_EQ(info->text_vocab, 49408);
  EXPECT_EQ(info->text_positions, 77);
  EXPECT_EQ(info->vae_channels, 128);
  EXPECT_TRUE(info->vae_encoder);
  EXPECT_TRUE(info->vae_decoder);
}

TEST(ModelInfoTest, TinyModelWrittenAndReadBackIsDetected) {
  testing::TempDir dir;
  auto weights = MakeRandomSd1Weights({});
  ASSERT_TRUE(weights.ok()) << weights.status().ToString();
  ASSERT_TRUE(WriteSafetensors(dir.File("tiny.safetensors"), *weights).ok());
  TensorIndex index;
  ASSERT_TRUE(ReadSafetensors(dir.File("tiny.safetensors"), &index).ok());
  auto info = DetectModel(index);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->version, SdVersion::kSd1);
  EXPECT_EQ(info->unet_model_channels, 32);
  EXPECT_EQ(info->unet_context_dim, 64);
  EXPECT_EQ(info->text_hidden, 64);
  EXPECT_EQ(info->text_layers, 2);
  EXPECT_EQ(info->text_heads, 1);
  EXPECT_EQ(info->vae_channels, 32);
  EXPECT_EQ(info->unet.tensors, 686);
}

TEST(ModelInfoTest, RandomWeightsAreDeterministicAndScaled) {
  auto a = MakeRandomSd1Weights({});
  auto b = MakeRandomSd1Weights({});
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), b->size());
  const Tensor& w0 = (*a)[100].tensor;
  EXPECT_EQ(std::memcmp(w0.raw(), (*b)[100].tensor.raw(), w0.nbytes()), 0);
  RandomModelOptions other;
  other.seed = 7;
  auto c = MakeRandomSd1Weights(other);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(std::memcmp(w0.raw(), (*c)[100].tensor.raw(), w0.nbytes()), 0);
  // A conv weight [32, 4, 3, 3]: std ~ 1/sqrt(36).
  for (const auto& nt : *a) {
    if (nt.name != "model.diffusion_model.input_blocks.0.0.weight") continue;
    double sq = 0;
    for (int64_t i = 0; i < nt.tensor.numel(); ++i) sq += nt.tensor.data<float>()[i] * nt.tensor.data<float>()[i];
    EXPECT_NEAR(std::sqrt(sq / static_cast<double>(nt.tensor.numel())), 1.0 / 6.0, 0.02);
  }
}

TEST(ModelInfoTest, Sd2AndSdxlAreToldApartByShapes) {
  auto layout = Sd1Layout(TinySd1LayoutOptions());
  for (auto& t : layout) {
    if (t.name.ends_with(".proj_in.weight")) t.shape = {t.shape[0], t.shape[1]};  // Linear in SD 2.x
  }
  auto sd2 = DetectModel(IndexOf(layout));
  ASSERT_TRUE(sd2.ok());
  EXPECT_EQ(sd2->version, SdVersion::kSd2);
  layout.push_back({"model.diffusion_model.label_emb.0.0.weight", {128, 2816}, InitKind::kWeight});
  auto xl = DetectModel(IndexOf(layout));
  ASSERT_TRUE(xl.ok());
  EXPECT_EQ(xl->version, SdVersion::kSdxl);
}

TEST(ModelInfoTest, NoSdTensorsIsAClearError) {
  TensorIndex index;
  static const float zero[1] = {0};
  ASSERT_TRUE(index.Add("bert.embeddings.weight", Tensor::Borrow(DType::kF32, {1}, zero, nullptr)).ok());
  auto info = DetectModel(index);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(info.status().message().find("no Stable Diffusion tensors"), std::string::npos);
}

}  // namespace
}  // namespace sdr
