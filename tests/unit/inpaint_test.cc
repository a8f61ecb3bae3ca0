// Inpainting on the tiny model: the masks (fitting, rounding, nearest-max to the latent, blur,
// dilation), the per-call latent blend with a regular UNet (the kept region ends exactly at the
// init latent), A1111's overlay with mask_blur, and 9-channel inpainting UNets.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "formats/npy.h"
#include "formats/safetensors.h"
#include "models/random_weights.h"
#include "runtime/image_fit.h"
#include "runtime/inpaint_mask.h"
#include "runtime/txt2img.h"
#include "testing/reference_ops.h"
#include "testing/temp_dir.h"
#include "testing/tiny_model.h"

namespace sdr {
namespace {

RgbImage Picture(int w, int h) {
  RgbImage img{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &img.rgb[(static_cast<size_t>(y) * w + x) * 3];
      p[0] = static_cast<uint8_t>(4 * x), p[1] = static_cast<uint8_t>(3 * y), p[2] = static_cast<uint8_t>(2 * (x + y));
    }
  return img;
}

// White (repaint) where x >= x0.
RgbImage RightMask(int w, int h, int x0) {
  RgbImage m{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3, 0)};
  for (int y = 0; y < h; ++y)
    for (int x = x0; x < w; ++x)
      for (int c = 0; c < 3; ++c) m.rgb[(static_cast<size_t>(y) * w + x) * 3 + c] = 255;
  return m;
}

GenerateParams Inpaint(int blur = 0) {
  GenerateParams p;
  p.prompt = "a cat";
  p.negative_prompt = "";
  p.width = 64;
  p.height = 64;
  p.steps = 4;
  p.seed = 7;
  p.sampler = SamplerKind::kEuler;
  p.init_image = Picture(64, 64);
  p.mask = RightMask(64, 64, 36);  // latent columns 4..7 repaint (column 4 holds pixels 32..39)
  p.mask_blur = blur;
  p.strength = 1.0f;
  return p;
}

Tensor Npy(const testing::TempDir& d, const std::string& n) {
  auto t = ReadNpy(d.File(n + ".npy"));
  EXPECT_TRUE(t.ok()) << n;
  return t.ok() ? *t : Tensor();
}

TEST(InpaintMask, RoundsNearestMaxesBlursAndDilates) {
  auto m = MakeInpaintMask(RightMask(64, 64, 36), 64, 64, 0);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->latent.shape(), (Shape{1, 1, 8, 8}));
  for (int x = 0; x < 8; ++x) EXPECT_EQ(m->latent.data<float>()[3 * 8 + x], x >= 4 ? 1.0f : 0.0f) << x;
  // Grey 127 rounds to keep, 128 to repaint (stb luma of a grey is the grey).
  RgbImage grey{8, 8, std::vector<uint8_t>(8 * 8 * 3, 127)};
  EXPECT_EQ(MakeInpaintMask(grey, 8, 8, 0)->latent.data<float>()[0], 0.0f);
  grey.rgb.assign(grey.rgb.size(), 128);
  EXPECT_EQ(MakeInpaintMask(grey, 8, 8, 0)->latent.data<float>()[0], 1.0f);
  // Blur 4: kernel 21 wide; the pixel mask ramps across the edge, is 0 beyond 10 px of it.
  auto b = MakeInpaintMask(RightMask(64, 64, 36), 64, 64, 4);
  ASSERT_TRUE(b.ok());
  const float* px = b->pixel.data<float>();
  EXPECT_EQ(px[10 * 64 + 25], 0.0f);
  EXPECT_GT(px[10 * 64 + 34], 0.05f);
  EXPECT_LT(px[10 * 64 + 34], 0.5f);
  EXPECT_GT(px[10 * 64 + 37], 0.5f);
  EXPECT_LT(px[10 * 64 + 37], 0.95f);
  // Dilation: column 3 joins.
  auto d = DilateMask(m->latent);
  ASSERT_TRUE(d.ok());
  for (int x = 0; x < 8; ++x) EXPECT_EQ(d->data<float>()[2 * 8 + x], x >= 3 ? 1.0f : 0.0f) << x;
  // The masked image is grey where repainted.
  auto img = ImageToTensor(Picture(64, 64));
  auto masked = MaskedImage(*img, *m);
  ASSERT_TRUE(masked.ok());
  EXPECT_FLOAT_EQ(masked->data<float>()[5 * 64 + 40], 0.5f);
  EXPECT_FLOAT_EQ(masked->data<float>()[5 * 64 + 20], img->data<float>()[5 * 64 + 20]);
}

// A regular model: the kept latent region ends at the init latent (the blend after every call,
// the last Euler step landing on D), the repainted region does not.
TEST(Inpaint, RegularModelKeepsTheUnmaskedLatentAndRepaintsTheRest) {
  auto model = testing::TinySdModel();
  testing::TempDir dump;
  GenerateParams p = Inpaint();
  p.dump_dir = dump.path().string();
  auto r = Generate(*model, p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Tensor z = Npy(dump, "init_latent"), x0 = Npy(dump, "x0"), lm = Npy(dump, "latent_mask");
  ASSERT_EQ(lm.shape(), (Shape{1, 1, 8, 8}));
  double kept = 0, repainted = 0;
  for (int64_t c = 0; c < 4; ++c)
    for (int64_t i = 0; i < 64; ++i) {
      const float a = z.data<float>()[c * 64 + i], b = x0.data<float>()[c * 64 + i];
      if (lm.data<float>()[i] == 0.0f) {
        ASSERT_NEAR(a, b, 1e-5f * (1 + std::fabs(a))) << "kept latent " << c << "," << i;
      } else {
        repainted = std::max(repainted, static_cast<double>(std::fabs(a - b)));
      }
      kept += lm.data<float>()[i] == 0.0f;
    }
  EXPECT_EQ(kept, 4 * 32);
  EXPECT_GT(repainted, 0.1) << "the masked region should change";
}

// inpainting_fill (A1111): x_T = start + noise * sigma_0, where start is the init latent in kept
// cells and, in masked ones, the init latent (original), the noise draw (latent noise) or 0.
TEST(Inpaint, FillModesChooseWhatTheMaskedLatentStartsFrom) {
  auto model = testing::TinySdModel();
  for (InpaintingFill fill : {InpaintingFill::kOriginal, InpaintingFill::kLatentNoise, InpaintingFill::kLatentNothing}) {
    testing::TempDir dump;
    GenerateParams p = Inpaint();
    p.inpainting_fill = fill;
    p.dump_dir = dump.path().string();
    auto r = Generate(*model, p);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const Tensor z = Npy(dump, "init_latent"), noise = Npy(dump, "noise"), xt = Npy(dump, "x_T"),
                 lm = Npy(dump, "latent_mask"), sigmas = Npy(dump, "sigmas");
    const float s0 = sigmas.data<float>()[0];
    int64_t masked = 0;
    for (int64_t c = 0; c < 4; ++c)
      for (int64_t i = 0; i < 64; ++i) {
        const int64_t k = c * 64 + i;
        const float e = noise.data<float>()[k], zk = z.data<float>()[k];
        const bool repaint = lm.data<float>()[i] != 0.0f;
        masked += repaint;
        const float start = !repaint || fill == InpaintingFill::kOriginal ? zk
                            : fill == InpaintingFill::kLatentNoise     ? e
                                                                       : 0.0f;
        ASSERT_NEAR(xt.data<float>()[k], e * s0 + start, 1e-4f * (1 + std::fabs(e * s0)))
            << static_cast<int>(fill) << " at " << c << "," << i;
      }
    EXPECT_EQ(masked, 4 * 32);
  }
  // The fill changes the image (same seed): latent nothing differs from original.
  GenerateParams a = Inpaint(), b = Inpaint();
  b.inpainting_fill = InpaintingFill::kLatentNothing;
  auto ra = Generate(*model, a), rb = Generate(*model, b);
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_NE(ra->images[0].rgb, rb->images[0].rgb);
}

// mask_blur > 0 (A1111): pixels beyond the blur's reach of the mask are the init image's exactly.
TEST(Inpaint, MaskBlurPastesTheInitImageBackOutsideTheMask) {
  auto model = testing::TinySdModel();
  auto r = Generate(*model, Inpaint(4));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto init = ImageToTensor(Picture(64, 64));
  const std::vector<uint8_t>& out = r->images[0].rgb;
  const RgbImage in = Picture(64, 64);
  double repainted = 0;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c) {
        const size_t i = (static_cast<size_t>(y) * 64 + x) * 3 + c;
        if (x < 36 - 11) {
          ASSERT_EQ(out[i], in.rgb[i]) << x << "," << y;
        } else if (x >= 36 + 11) {
          repainted += std::abs(out[i] - in.rgb[i]);
        }
      }
  EXPECT_GT(repainted / (17 * 64 * 3), 5.0) << "mean change in levels inside the mask";
}

TEST(Inpaint, MaskNeedsAnInitImageAndValidBlur) {
  auto model = testing::TinySdModel();
  GenerateParams p = Inpaint();
  p.init_image = {};
  auto r = Generate(*model, p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("init image"), std::string::npos);
  p = Inpaint(65);
  r = Generate(*model, p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("mask_blur"), std::string::npos);
}

// A 9-channel inpainting UNet: input = [x * c_in, latent mask, masked-image latent], the masked
// image encoded with the generation RNG's second draw; the blend uses the dilated mask.
TEST(Inpaint, NineChannelUnetGetsMaskAndMaskedImageLatent) {
  RandomModelOptions o;
  o.layout.unet_in_channels = 9;
  auto w = MakeRandomSd1Weights(o);
  ASSERT_TRUE(w.ok());
  testing::TempDir dir, dump;
  ASSERT_TRUE(WriteSafetensors(dir.File("inpaint.safetensors"), *w).ok());
  auto m = SdModel::Load({dir.File("inpaint.safetensors"), "", testing::ClipMergesPath()});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE((*m)->is_inpainting());
  EXPECT_EQ((*m)->unet().in_channels(), 9);
  EXPECT_EQ((*m)->unet().latent_channels(), 4);
  GenerateParams p = Inpaint();
  p.dump_dir = dump.path().string();
  auto r = Generate(**m, p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // The masked image's latent: the encoder on the grey-filled image, sampled with draw 2.
  auto mask = MakeInpaintMask(p.mask, 64, 64, 0);
  auto pixels = ImageToTensor(p.init_image);
  auto masked = MaskedImage(*pixels, *mask);
  auto moments = (*m)->vae_encoder().Encode(*masked);
  ASSERT_TRUE(moments.ok());
  std::vector<float> draw1(256), draw2(256);
  auto gen = MakeNoiseGenerator(RngKind::kCuda, 7);
  gen->Randn(draw1);
  gen->Randn(draw2);
  auto want = MomentsToLatent(*moments, draw2);
  ASSERT_TRUE(want.ok());
  const Tensor got = Npy(dump, "masked_latent");
  EXPECT_LT(ref::RelL2(want->data<float>(), got.data<float>(), 256), 1e-6);
  // Dilated blend mask: latent column 3 joins the repainted region; the rest is kept exactly.
  const Tensor lm = Npy(dump, "latent_mask"), z = Npy(dump, "init_latent"), x0 = Npy(dump, "x0");
  for (int x = 0; x < 8; ++x) EXPECT_EQ(lm.data<float>()[8 + x], x >= 3 ? 1.0f : 0.0f) << x;
  for (int64_t c = 0; c < 4; ++c)
    for (int64_t i = 0; i < 64; ++i)
      if (lm.data<float>()[i] == 0.0f) ASSERT_NEAR(z.data<float>()[c * 64 + i], x0.data<float>()[c * 64 + i], 1e-5);
  // No mask: refused, naming what it needs.
  p.mask = {};
  p.dump_dir.clear();
  auto bad = Generate(**m, p);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("inpainting UNet"), std::string::npos);
}

}  // namespace
}  // namespace sdr
