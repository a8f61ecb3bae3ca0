// img2img on the tiny model: the VAE encoder (against the reference backend and an independent
// PyTorch reference), the strength -> partial schedule rule, how the init latent is drawn and
// noised (stable-diffusion.cpp's order), seeds, batches, and input image reading and fitting.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "formats/model_file.h"
#include "formats/npy.h"
#include "formats/safetensors.h"
#include "models/random_weights.h"
#include "runtime/image_fit.h"
#include "runtime/png_reader.h"
#include "runtime/png_writer.h"
#include "runtime/txt2img.h"
#include "testing/ckpt_fixtures.h"
#include "testing/model_cache.h"
#include "testing/reference_ops.h"
#include "testing/temp_dir.h"
#include "testing/tiny_model.h"

namespace sdr {
namespace {

// A smooth, structured test picture (gradients and a disc), w x h.
RgbImage TestPicture(int w, int h) {
  RgbImage img{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &img.rgb[(static_cast<size_t>(y) * w + x) * 3];
      const double dx = x - w / 2.0, dy = y - h / 2.0;
      const bool disc = dx * dx + dy * dy < (w * h) / 10.0;
      p[0] = static_cast<uint8_t>(255 * x / std::max(1, w - 1));
      p[1] = static_cast<uint8_t>(255 * y / std::max(1, h - 1));
      p[2] = disc ? 230 : 20;
    }
  return img;
}

GenerateParams Img2Img(int64_t seed = 11, float strength = 0.5f) {
  GenerateParams p;
  p.prompt = "a red house on a hill";
  p.negative_prompt = "blurry";
  p.width = 64;
  p.height = 64;
  p.steps = 4;
  p.seed = seed;
  p.sampler = SamplerKind::kEuler;
  p.init_image = TestPicture(64, 64);
  p.strength = strength;
  return p;
}

Tensor Load(const testing::TempDir& dir, const std::string& name) {
  auto t = ReadNpy(dir.File(name + ".npy"));
  EXPECT_TRUE(t.ok()) << name << ": " << t.status().ToString();
  return t.ok() ? *t : Tensor();
}

std::vector<float> Values(const Tensor& t) { return {t.data<float>(), t.data<float>() + t.numel()}; }

// ---- schedule -------------------------------------------------------------------------------

TEST(Img2ImgSchedule, StrengthKeepsTheLastTencPlusOneSigmasAsStableDiffusionCpp) {
  const NoiseSchedule schedule;
  const std::vector<float> full = MakeSigmas(schedule, Scheduler::kDiscrete, 20);
  ASSERT_EQ(full.size(), 21u);
  // t_enc = int(20 * 0.75) = 15: sigmas[20 - 15 - 1 ..] = 16 levels + the final 0.
  const std::vector<float> s75 = Img2ImgSigmas(full, 0.75f);
  EXPECT_EQ(s75, std::vector<float>(full.begin() + 4, full.end()));
  // strength 1: the whole schedule; 0.999: t_enc 19, also the whole schedule.
  EXPECT_EQ(Img2ImgSigmas(full, 1.0f), full);
  EXPECT_EQ(Img2ImgSigmas(full, 0.999f), full);
  // strength 0: one step from the smallest level.
  EXPECT_EQ(Img2ImgSigmas(full, 0.0f), (std::vector<float>{full[19], 0.0f}));
  // 0.3 of 10 steps: int(3.0000002) = 3 -> 4 levels.
  const std::vector<float> ten = MakeSigmas(schedule, Scheduler::kKarras, 10);
  EXPECT_EQ(Img2ImgSigmas(ten, 0.3f), std::vector<float>(ten.begin() + 6, ten.end()));
}

// ---- the encoder ----------------------------------------------------------------------------

TEST(VaeEncoder, TinyModelHasOneAndItGivesMomentsOfTheLatentShape) {
  auto model = testing::TinySdModel();
  ASSERT_NE(model, nullptr);
  ASSERT_TRUE(model->has_vae_encoder());
  EXPECT_EQ(model->vae_encoder().latent_channels(), 4);
  auto x = ImageToTensor(TestPicture(64, 48));
  ASSERT_TRUE(x.ok());
  auto m = model->vae_encoder().Encode(*x);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->shape(), (Shape{1, 8, 6, 8}));
  // Not 8x8 multiples: refused by name.
  auto bad = ImageToTensor(TestPicture(60, 48));
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(model->vae_encoder().Encode(*bad).ok());
}

TEST(VaeEncoder, CpuBackendMatchesTheReferenceBackend) {
  auto ref_backend = OpenBackend("reference");
  ASSERT_TRUE(ref_backend.ok());
  auto index = OpenModelFile(testing::TinyModelPath());
  ASSERT_TRUE(index.ok());
  auto cpu = VaeEncoder::Load(*index, testing::CpuBackend());
  auto ref = VaeEncoder::Load(*index, **ref_backend);
  ASSERT_TRUE(cpu.ok() && ref.ok());
  auto x = ImageToTensor(TestPicture(32, 40));
  ASSERT_TRUE(x.ok());
  auto a = (*cpu)->Encode(*x);
  auto b = (*ref)->Encode(*x);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(ref::RelL2(b->data<float>(), a->data<float>(), b->numel()), 1e-5);
}

// The encoder op by op against PyTorch (tests/tools/torch_vae_encode.py: LDM's encode with the
// asymmetric F.pad downsample, on torch_ref.py's blocks).
TEST(VaeEncoder, MatchesAnIndependentPyTorchReference) {
  if (!testing::HaveTorch()) GTEST_SKIP() << "python3-torch not installed";
  testing::TempDir dir;
  auto x = ImageToTensor(TestPicture(48, 32));
  ASSERT_TRUE(x.ok());
  ASSERT_TRUE(WriteNpy(dir.File("image.npy"), *x).ok());
  std::string out;
  const std::string cmd = "/usr/bin/python3 " + std::string(SDR_SOURCE_DIR) + "/tests/tools/torch_vae_encode.py " +
                          std::string(SDR_SHARED_DIR) + "/tools " + testing::TinyModelPath() + " " +
                          dir.File("image.npy") + " " + dir.File("moments.npy");
  ASSERT_EQ(testing::RunCommand(cmd, &out, true), 0) << out;
  auto want = ReadNpy(dir.File("moments.npy"));
  ASSERT_TRUE(want.ok()) << want.status().ToString();
  auto got = testing::TinySdModel()->vae_encoder().Encode(*x);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->shape(), want->shape());
  const double err = ref::RelL2(want->data<float>(), got->data<float>(), want->numel());
  EXPECT_LT(err, 1e-5) << "relative L2 vs PyTorch";
}

TEST(VaeEncoder, MomentsToLatentSamplesLikeLdm) {
  auto m = Tensor::Allocate(DType::kF32, {1, 2, 1, 2});  // C = 1: mean (2 values), logvar (2)
  ASSERT_TRUE(m.ok());
  float* v = m->mutable_data<float>();
  v[0] = 1.0f, v[1] = -2.0f, v[2] = std::log(4.0f), v[3] = 100.0f;  // std 2; logvar clamped to 20
  const std::vector<float> noise = {0.5f, -1.0f};
  auto z = MomentsToLatent(*m, noise);
  ASSERT_TRUE(z.ok());
  EXPECT_FLOAT_EQ(z->data<float>()[0], 0.18215f * (1.0f + 2.0f * 0.5f));
  EXPECT_FLOAT_EQ(z->data<float>()[1], 0.18215f * (-2.0f - std::exp(10.0f)));
  auto mode = MomentsToLatent(*m, {});
  ASSERT_TRUE(mode.ok());
  EXPECT_FLOAT_EQ(mode->data<float>()[1], 0.18215f * -2.0f);
}

// ---- generation -----------------------------------------------------------------------------

// The init latent is mean + std * noise drawn by the generation's RNG at the seed (the same draw
// as image 0's initial noise), the start is init + noise * sigma_0 of the partial schedule.
TEST(Img2Img, InitLatentAndStartFollowStableDiffusionCpp) {
  auto model = testing::TinySdModel();
  testing::TempDir dump;
  GenerateParams p = Img2Img(11, 0.5f);
  p.dump_dir = dump.path().string();
  auto r = Generate(*model, p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Tensor moments = Load(dump, "init_moments"), latent = Load(dump, "init_latent");
  const Tensor noise = Load(dump, "noise"), x_t = Load(dump, "x_T"), sigmas = Load(dump, "sigmas");
  // The noise is Philox at the seed, offset 0.
  std::vector<float> want_noise(static_cast<size_t>(noise.numel()));
  MakeNoiseGenerator(RngKind::kCuda, 11)->Randn(want_noise);
  EXPECT_EQ(Values(noise), want_noise);
  // The encoder's sample used the same draw.
  auto z = MomentsToLatent(moments, want_noise);
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(Values(latent), Values(*z));
  // strength 0.5 of 4 steps: t_enc 2 -> 3 levels + 0.
  const std::vector<float> full = MakeSigmas(NoiseSchedule(), Scheduler::kDiscrete, 4);
  EXPECT_EQ(Values(sigmas), std::vector<float>(full.begin() + 1, full.end()));
  for (int64_t i = 0; i < x_t.numel(); ++i) {
    ASSERT_FLOAT_EQ(x_t.data<float>()[i], want_noise[i] * full[1] + latent.data<float>()[i]) << i;
  }
}

// strength 1: the txt2img schedule and noise, offset by the init latent (the reference adds the
// init latent even then).
TEST(Img2Img, StrengthOneRunsTheWholeScheduleFromInitPlusTxt2ImgNoise) {
  auto model = testing::TinySdModel();
  testing::TempDir d1, d2;
  GenerateParams p = Img2Img(5, 1.0f);
  p.dump_dir = d1.path().string();
  ASSERT_TRUE(Generate(*model, p).ok());
  GenerateParams t = p;
  t.init_image = {};
  t.dump_dir = d2.path().string();
  ASSERT_TRUE(Generate(*model, t).ok());
  EXPECT_EQ(Values(Load(d1, "sigmas")), Values(Load(d2, "sigmas")));
  EXPECT_EQ(Values(Load(d1, "noise")), Values(Load(d2, "noise")));
  const Tensor a = Load(d1, "x_T"), b = Load(d2, "x_T"), z = Load(d1, "init_latent");
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_FLOAT_EQ(a.data<float>()[i], b.data<float>()[i] + z.data<float>()[i]);
}

// strength 0: one step from the schedule's smallest sigma s, so the result is the encoded init
// latent moved by s * (noise - eps): decode(encode(init)) up to that one small step.
TEST(Img2Img, StrengthZeroIsOneStepFromTheEncodedImage) {
  auto model = testing::TinySdModel();
  testing::TempDir dump;
  GenerateParams p = Img2Img(3, 0.0f);
  p.dump_dir = dump.path().string();
  int steps_seen = 0;
  GenerateControl control;
  control.progress = [&](const StepProgress& s) {
    steps_seen = s.total_steps;
    return true;
  };
  auto r = Generate(*model, p, control);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(steps_seen, 1);
  const Tensor z = Load(dump, "init_latent"), x0 = Load(dump, "x0"), noise = Load(dump, "noise");
  const Tensor sig = Load(dump, "sigmas"), x = Load(dump, "call0_x"), d = Load(dump, "call0_denoised");
  const std::vector<float> full = MakeSigmas(NoiseSchedule(), Scheduler::kDiscrete, 4);
  EXPECT_EQ(Values(sig), (std::vector<float>{full[3], 0.0f}));
  const float s = full[3];
  for (int64_t i = 0; i < z.numel(); ++i) {
    ASSERT_FLOAT_EQ(x.data<float>()[i], z.data<float>()[i] + noise.data<float>()[i] * s) << i;
    ASSERT_NEAR(x0.data<float>()[i], d.data<float>()[i], 1e-5f) << i;  // the one Euler step lands on D
  }
  EXPECT_FALSE(std::filesystem::exists(dump.File("call1_x.npy")));
  // The decoded image is decode(x0), and more strength moves x0 further from the init latent.
  auto decoded = model->vae().Decode(x0);
  ASSERT_TRUE(decoded.ok());
  EXPECT_GT(ref::Psnr(decoded->data<float>(), r->images[0].image.data<float>(), decoded->numel()), 60.0);
  testing::TempDir far_dump;
  GenerateParams q = Img2Img(3, 0.75f);
  q.dump_dir = far_dump.path().string();
  ASSERT_TRUE(Generate(*model, q).ok());
  const Tensor far = Load(far_dump, "x0");
  EXPECT_GT(ref::RelL2(z.data<float>(), far.data<float>(), z.numel()),
            ref::RelL2(z.data<float>(), x0.data<float>(), z.numel()));
}

TEST(Img2Img, FixedSeedReproducesAndBatchSharesTheInitLatent) {
  auto model = testing::TinySdModel();
  GenerateParams p = Img2Img(21, 0.6f);
  p.sampler = SamplerKind::kEulerA;
  auto a = Generate(*model, p);
  auto b = Generate(*model, p);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->images[0].rgb, b->images[0].rgb);
  GenerateParams other = p;
  other.seed = 22;
  auto c = Generate(*model, other);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->images[0].rgb, c->images[0].rgb);
  // A batch of 2: image 0 is the single image; image 1 uses seed + 1 for its noise over the
  // same init latent (drawn once, at the base seed), so it differs from both.
  GenerateParams batch = p;
  batch.batch_count = 2;
  auto d = Generate(*model, batch);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->images.size(), 2u);
  EXPECT_EQ(d->images[0].rgb, a->images[0].rgb);
  EXPECT_EQ(d->images[1].seed, 22u);
  EXPECT_NE(d->images[1].rgb, c->images[0].rgb);
  EXPECT_NE(d->images[1].rgb, a->images[0].rgb);
}

TEST(Img2Img, AnyInputSizeIsFittedAndBadInputsAreRefused) {
  auto model = testing::TinySdModel();
  GenerateParams p = Img2Img(4, 0.5f);
  p.init_image = TestPicture(100, 37);
  auto r = Generate(*model, p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->images[0].width(), 64);
  p.strength = 1.5f;
  auto bad = Generate(*model, p);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("strength"), std::string::npos);
  p.strength = 0.5f;
  p.init_image.rgb.pop_back();
  bad = Generate(*model, p);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("init_image"), std::string::npos);
}

TEST(Img2Img, DecoderOnlyVaeRefusesInitImagesByName) {
  RandomModelOptions o;
  o.layout.include_vae_encoder = false;
  auto w = MakeRandomSd1Weights(o);
  ASSERT_TRUE(w.ok());
  testing::TempDir dir;
  ASSERT_TRUE(WriteSafetensors(dir.File("m.safetensors"), *w).ok());
  auto m = SdModel::Load({dir.File("m.safetensors"), "", testing::ClipMergesPath()});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_FALSE((*m)->has_vae_encoder());
  auto r = Generate(**m, Img2Img());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no encoder"), std::string::npos) << r.status().ToString();
}

// ---- input images ---------------------------------------------------------------------------

TEST(ImageFit, SameSizeIsUnchangedOtherSizesCropToAspectThenBoxResize) {
  const RgbImage img = TestPicture(16, 8);
  auto same = FitImage(img, 16, 8);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->rgb, img.rgb);
  // 16x8 -> 4x4: the centre 8x8 crop (columns 4..11), each output pixel the mean of a 2x2 block.
  auto sq = FitImage(img, 4, 4);
  ASSERT_TRUE(sq.ok());
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) {
        double sum = 0;
        for (int dy = 0; dy < 2; ++dy)
          for (int dx = 0; dx < 2; ++dx) sum += img.rgb[((2 * y + dy) * 16 + 4 + 2 * x + dx) * 3 + c];
        EXPECT_EQ(sq->rgb[(y * 4 + x) * 3 + c], static_cast<uint8_t>(std::lround(sum / 4))) << x << "," << y;
      }
  // Upscaling a constant image keeps it constant.
  RgbImage flat{3, 3, std::vector<uint8_t>(27, 77)};
  auto up = FitImage(flat, 8, 8);
  ASSERT_TRUE(up.ok());
  for (uint8_t v : up->rgb) ASSERT_EQ(v, 77);
  EXPECT_FALSE(FitImage(RgbImage{}, 8, 8).ok());
}

TEST(PngReader, RoundTripsOurPngsAndRefusesOtherFormatsByName) {
  const RgbImage img = TestPicture(13, 7);
  auto png = EncodePng(img.rgb.data(), img.width, img.height);
  ASSERT_TRUE(png.ok());
  auto back = DecodePng(*png);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->width, 13);
  EXPECT_EQ(back->height, 7);
  EXPECT_EQ(back->rgb, img.rgb);
  auto jpeg = DecodePng(std::string("\xff\xd8\xff\xe0 not really", 15));
  ASSERT_FALSE(jpeg.ok());
  EXPECT_NE(jpeg.status().message().find("JPEG"), std::string::npos);
  auto missing = ReadPng("/nonexistent/in.png");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/in.png"), std::string::npos);
}

}  // namespace
}  // namespace sdr
