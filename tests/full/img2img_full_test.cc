// img2img on the full-size random SD 1.5 checkpoint (f16 weights) against an independent
// PyTorch pipeline (tests/tools/torch_img2img.py: torch_ref.py's CLIP / UNet / decoder plus the
// LDM encoder, stable-diffusion.cpp's init-latent and partial-schedule rules), given the same
// init image, strength, seed and sampler: the final image within 40 dB PSNR.
#include <gtest/gtest.h>

#include <string>

#include "formats/npy.h"
#include "runtime/txt2img.h"
#include "testing/ckpt_fixtures.h"
#include "testing/model_cache.h"
#include "testing/reference_ops.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

TEST(Img2ImgFullTest, MatchesAnIndependentPyTorchImg2Img) {
  if (!testing::HaveTorch()) GTEST_SKIP() << "python3-torch not installed";
  const std::string model_path = testing::FullSizeModel("f16.safetensors");
  const std::string merges = std::string(SDR_SHARED_DIR) + "/data/clip-vit-l-14-merges.txt";
  auto model = SdModel::Load({model_path, "", merges});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  testing::TempDir dump, ref;
  GenerateParams p;
  p.prompt = "a photograph of an astronaut riding a horse";
  p.negative_prompt = "blurry";
  p.width = 128;
  p.height = 128;
  p.steps = 6;
  p.strength = 0.6f;  // t_enc 3: 4 sigmas of the 6-step schedule
  p.cfg_scale = 7.0f;
  p.seed = 42;
  p.sampler = SamplerKind::kEuler;
  p.init_image = {160, 120, std::vector<uint8_t>(160 * 120 * 3)};  // fitted: centre crop 120x120, resize
  for (int y = 0; y < 120; ++y)
    for (int x = 0; x < 160; ++x)
      for (int c = 0; c < 3; ++c)
        p.init_image.rgb[(y * 160 + x) * 3 + c] = static_cast<uint8_t>((x * (c + 1) + y * (3 - c)) % 256);
  p.dump_dir = dump.path().string();
  auto r = Generate(**model, p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string out;
  const std::string cmd = "/usr/bin/python3 " + std::string(SDR_SOURCE_DIR) + "/tests/tools/torch_img2img.py " +
                          std::string(SDR_SHARED_DIR) + "/tools " + model_path + " " + dump.path().string() + " '" +
                          p.prompt + "' '" + p.negative_prompt + "' 7 " + ref.path().string();
  ASSERT_EQ(testing::RunCommand(cmd, &out, true), 0) << out;
  for (const char* name : {"init_moments", "init_latent", "x0"}) {
    auto a = ReadNpy(ref.File(std::string(name) + ".npy"));
    auto b = ReadNpy(dump.File(std::string(name) + ".npy"));
    ASSERT_TRUE(a.ok() && b.ok()) << name;
    const double err = ref::RelL2(a->data<float>(), b->data<float>(), a->numel());
    std::printf("%s: relative L2 %.3g\n", name, err);
    EXPECT_LT(err, 1e-2) << name;
  }
  auto want = ReadNpy(ref.File("decoded.npy"));
  ASSERT_TRUE(want.ok());
  const double psnr = ref::Psnr(want->data<float>(), r->images[0].image.data<float>(), want->numel());
  std::printf("decoded image PSNR vs PyTorch: %.1f dB\n", psnr);
  EXPECT_GT(psnr, 40.0);
}

}  // namespace
}  // namespace sdr
