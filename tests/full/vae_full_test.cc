// The VAE decoder on the full-size random SD 1.5 checkpoint (f32) against the reference
// engine's decoded image for every golden case.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "formats/model_file.h"
#include "formats/npy.h"
#include "models/vae/vae_decoder.h"
#include "testing/tiny_model.h"
#include "testing/model_cache.h"
#include "testing/reference_ops.h"

namespace sdr {
namespace {

TEST(VaeFullTest, DecodedMatchesGoldenForEveryCase) {
  auto index = OpenModelFile(testing::FullSizeModel("f32.safetensors"));
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  auto vae = VaeDecoder::Load(*index, testing::CpuBackend());
  ASSERT_TRUE(vae.ok()) << vae.status().ToString();
  for (const auto& e : std::filesystem::directory_iterator(std::string(SDR_SHARED_DIR) + "/golden/sd15-rand")) {
    const std::string dir = e.path().string();
    auto x0 = ReadNpy(dir + "/x0.npy");
    auto golden = ReadNpy(dir + "/decoded.npy");
    ASSERT_TRUE(x0.ok() && golden.ok());
    const auto t0 = std::chrono::steady_clock::now();
    auto img = (*vae)->Decode(*x0);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(img.ok()) << img.status().ToString();
    ASSERT_EQ(img->shape(), golden->shape());
    const double psnr = ref::Psnr(golden->data<float>(), img->data<float>(), img->numel());
    const double rel = ref::RelL2(golden->data<float>(), img->data<float>(), img->numel());
    std::printf("[ figures ] %s decoded: psnr %.1f dB, rel_l2 %.3e (decode %.2f s)\n",
                e.path().filename().c_str(), psnr, rel, secs);
    EXPECT_GE(psnr, 45.0);
    EXPECT_LT(rel, 5e-3);
  }
}

}  // namespace
}  // namespace sdr
