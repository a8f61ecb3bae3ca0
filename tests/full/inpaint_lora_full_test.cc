// Inpainting and LoRA on the full-size random SD 1.5 checkpoint (f16 weights), the checks the unit
// tests make on the tiny model, at SD 1.5's real widths: the kept latent ends at the init latent,
// A1111's overlay keeps the pixels beyond the blur exactly, the mask region changes; a LoRA over
// every SD 1.5 layer at weight 0 is the base image bit for bit, at weight 1 it changes the image,
// and its kohya and diffusers forms give the same image.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "formats/model_file.h"
#include "formats/npy.h"
#include "formats/safetensors.h"
#include "models/lora/random_lora.h"
#include "runtime/txt2img.h"
#include "testing/model_cache.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

constexpr int kSide = 128;

std::shared_ptr<const SdModel> FullModel() {
  static std::shared_ptr<const SdModel> model = [] {
    const std::string merges = std::string(SDR_SHARED_DIR) + "/data/clip-vit-l-14-merges.txt";
    auto m = SdModel::Load({testing::FullSizeModel("f16.safetensors"), "", merges});
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? std::move(m).value() : nullptr;
  }();
  return model;
}

RgbImage Picture() {
  RgbImage img{kSide, kSide, std::vector<uint8_t>(kSide * kSide * 3)};
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      uint8_t* p = &img.rgb[(static_cast<size_t>(y) * kSide + x) * 3];
      p[0] = static_cast<uint8_t>(2 * x), p[1] = static_cast<uint8_t>(2 * y), p[2] = static_cast<uint8_t>(x + y);
    }
  return img;
}

// White (repaint) where x >= 64: latent columns 8..15.
RgbImage RightHalfMask() {
  RgbImage m{kSide, kSide, std::vector<uint8_t>(kSide * kSide * 3, 0)};
  for (int y = 0; y < kSide; ++y)
    for (int x = kSide / 2; x < kSide; ++x)
      for (int c = 0; c < 3; ++c) m.rgb[(static_cast<size_t>(y) * kSide + x) * 3 + c] = 255;
  return m;
}

GenerateParams Inpaint(int blur) {
  GenerateParams p;
  p.prompt = "a red house on a hill";
  p.negative_prompt = "blurry";
  p.width = p.height = kSide;
  p.steps = 4;
  p.seed = 3;
  p.sampler = SamplerKind::kEuler;
  p.init_image = Picture();
  p.mask = RightHalfMask();
  p.mask_blur = blur;
  p.strength = 1.0f;
  return p;
}

TEST(InpaintFullTest, KeptLatentEndsAtTheInitLatentAndTheMaskRegionChanges) {
  auto model = FullModel();
  ASSERT_NE(model, nullptr);
  testing::TempDir dump;
  GenerateParams p = Inpaint(0);
  p.dump_dir = dump.path().string();
  auto r = Generate(*model, p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto z = ReadNpy(dump.File("init_latent.npy")), x0 = ReadNpy(dump.File("x0.npy"));
  ASSERT_TRUE(z.ok() && x0.ok());
  constexpr int64_t kLat = kSide / 8;
  double worst_kept = 0, mean_repaint = 0;
  for (int64_t c = 0; c < 4; ++c)
    for (int64_t y = 0; y < kLat; ++y)
      for (int64_t x = 0; x < kLat; ++x) {
        const int64_t i = (c * kLat + y) * kLat + x;
        const double a = z->data<float>()[i], b = x0->data<float>()[i];
        if (x < kLat / 2) {
          worst_kept = std::max(worst_kept, std::fabs(a - b) / (1 + std::fabs(a)));
        } else {
          mean_repaint += std::fabs(a - b) / (4 * kLat * kLat / 2);
        }
      }
  std::printf("kept latent: worst relative difference %.3g; repainted latent: mean change %.3f\n", worst_kept,
              mean_repaint);
  EXPECT_LT(worst_kept, 1e-5);
  EXPECT_GT(mean_repaint, 0.1);
}

// Tolerance: 0 levels beyond the blur's reach (A1111's kernel 2 * int(2.5 * 4 + 0.5) + 1 = 21 px
// wide: 10 px either side of the mask edge).
TEST(InpaintFullTest, MaskBlurKeepsPixelsBeyondItsReachExactly) {
  auto model = FullModel();
  ASSERT_NE(model, nullptr);
  auto r = Generate(*model, Inpaint(4));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const RgbImage in = Picture();
  const std::vector<uint8_t>& out = r->images[0].rgb;
  int64_t kept_differ = 0;
  double repainted = 0;
  int64_t repainted_n = 0;
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x)
      for (int c = 0; c < 3; ++c) {
        const size_t i = (static_cast<size_t>(y) * kSide + x) * 3 + c;
        if (x < kSide / 2 - 11) {
          kept_differ += out[i] != in.rgb[i];
        } else if (x >= kSide / 2 + 11) {
          repainted += std::abs(out[i] - in.rgb[i]);
          ++repainted_n;
        }
      }
  std::printf("kept pixels differing: %lld; repainted pixels: mean change %.1f levels\n",
              static_cast<long long>(kept_differ), repainted / static_cast<double>(repainted_n));
  EXPECT_EQ(kept_differ, 0);
  EXPECT_GT(repainted / static_cast<double>(repainted_n), 5.0);
}

class LoraFullTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    auto index = OpenModelFile(testing::FullSizeModel("f16.safetensors"));
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    for (LoraForm form : {LoraForm::kKohya, LoraForm::kDiffusers}) {
      auto w = MakeRandomLora(*index, {.form = form, .rank = 4, .seed = 99, .scale = 3.0f});
      ASSERT_TRUE(w.ok()) << w.status().ToString();
      ASSERT_TRUE(WriteSafetensors(dir_->File(form == LoraForm::kKohya ? "k.safetensors" : "d.safetensors"), *w).ok());
    }
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::vector<uint8_t> Image(const std::string& prompt) {
    GenerateParams p;
    p.prompt = prompt;
    p.negative_prompt = "blurry";
    p.width = p.height = 64;
    p.steps = 2;
    p.seed = 12;
    p.sampler = SamplerKind::kEuler;
    p.lora_dir = dir_->path().string();
    auto r = Generate(*FullModel(), p);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->images[0].rgb : std::vector<uint8_t>();
  }
  static testing::TempDir* dir_;
};
testing::TempDir* LoraFullTest::dir_ = nullptr;

TEST_F(LoraFullTest, WeightZeroIsTheBaseAndBothFormsGiveOneImage) {
  ASSERT_NE(FullModel(), nullptr);
  const auto base = Image("a red house ");
  EXPECT_EQ(Image("a red house <lora:k:0>"), base);
  const auto kohya = Image("a red house <lora:k:1>");
  const auto diffusers = Image("a red house <lora:d:1>");
  ASSERT_EQ(kohya.size(), base.size());
  double change = 0;
  for (size_t i = 0; i < base.size(); ++i) change += std::abs(kohya[i] - base[i]);
  std::printf("LoRA at weight 1: mean change %.1f levels\n", change / static_cast<double>(base.size()));
  EXPECT_GT(change / static_cast<double>(base.size()), 1.0);
  EXPECT_EQ(kohya, diffusers);
}

}  // namespace
}  // namespace sdr
