// The UNet on the full-size random SD 1.5 checkpoint (f32) against the reference engine's
// per-call eps for every golden case.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "formats/model_file.h"
#include "formats/npy.h"
#include "models/unet/unet_model.h"
#include "sampling/schedule.h"
#include "testing/tiny_model.h"
#include "testing/model_cache.h"
#include "testing/reference_ops.h"

namespace sdr {
namespace {

TEST(UnetFullTest, EpsMatchesGoldenForFirstCallsOfEveryCase) {
  auto index = OpenModelFile(testing::FullSizeModel("f32.safetensors"));
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  auto unet = UnetModel::Load(*index, testing::CpuBackend());
  ASSERT_TRUE(unet.ok()) << unet.status().ToString();
  EXPECT_EQ((*unet)->model_channels(), 320);
  EXPECT_EQ((*unet)->context_dim(), 768);
  const NoiseSchedule schedule;
  for (const auto& e : std::filesystem::directory_iterator(std::string(SDR_SHARED_DIR) + "/golden/sd15-rand")) {
    const std::string dir = e.path().string();
    const std::string name = e.path().filename().string();
    auto cond = ReadNpy(dir + "/cond_crossattn.npy");
    auto uncond = ReadNpy(dir + "/uncond_crossattn.npy");
    ASSERT_TRUE(cond.ok() && uncond.ok());
    for (int call : {0, 1}) {
      const std::string c = dir + "/call" + std::to_string(call) + "_";
      auto x = ReadNpy(c + "x.npy");
      auto sigma = ReadNpy(c + "sigma.npy");
      auto eps_c = ReadNpy(c + "eps_cond.npy");
      auto eps_u = ReadNpy(c + "eps_uncond.npy");
      ASSERT_TRUE(x.ok() && sigma.ok() && eps_c.ok() && eps_u.ok());
      const float s = sigma->data<float>()[0];
      auto xin = Tensor::Allocate(DType::kF32, x->shape());
      const float c_in = 1.0f / std::sqrt(s * s + 1.0f);
      for (int64_t i = 0; i < x->numel(); ++i) xin->mutable_data<float>()[i] = x->data<float>()[i] * c_in;
      const float t = schedule.SigmaToT(s);
      const auto t0 = std::chrono::steady_clock::now();
      auto ec = (*unet)->Forward(*xin, t, *cond);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      auto eu = (*unet)->Forward(*xin, t, *uncond);
      ASSERT_TRUE(ec.ok() && eu.ok()) << ec.status().ToString();
      const double rc = ref::RelL2(eps_c->data<float>(), ec->data<float>(), ec->numel());
      const double ru = ref::RelL2(eps_u->data<float>(), eu->data<float>(), eu->numel());
      std::printf("[ figures ] %s call%d: eps_cond rel_l2 %.3e, eps_uncond %.3e (one UNet eval %.2f s)\n",
                  name.c_str(), call, rc, ru, secs);
      EXPECT_LT(rc, 5e-3) << name << " call" << call;
      EXPECT_LT(ru, 5e-3) << name << " call" << call;
    }
  }
}

}  // namespace
}  // namespace sdr
