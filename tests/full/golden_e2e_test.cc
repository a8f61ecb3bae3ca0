// End to end against the reference engine: every case in ../shared/golden/sd15-rand runs
// through Generate on the full-size random f32 checkpoint with --dump-dir, and every dumped
// tensor is compared with the golden one (what ../shared/tools/compare_dumps.py prints).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "backends/host_memory.h"
#include "formats/npy.h"
#include "runtime/txt2img.h"
#include "testing/golden_case.h"
#include "testing/model_cache.h"
#include "testing/reference_ops.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

namespace fs = std::filesystem;

SdModel* Model() {
  static SdModel* model = [] {
    SetPoisonHostMemoryForTesting(true);  // a kernel reading unwritten activations shows as NaN
    SdModelOptions o;
    o.model_path = testing::FullSizeModel("f32.safetensors");
    o.tokenizer_path = std::string(SDR_SHARED_DIR) + "/data/clip-vit-l-14-merges.txt";
    auto m = SdModel::Load(o);
    if (!m.ok()) {
      ADD_FAILURE() << m.status().ToString();
      return static_cast<SdModel*>(nullptr);
    }
    return std::move(m).value().release();
  }();
  return model;
}

class GoldenE2eTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenE2eTest, EveryDumpedTensorMatches) {
  SdModel* model = Model();
  ASSERT_NE(model, nullptr);
  const std::string gdir = testing::GoldenCaseDir(GetParam());
  GenerateParams p = testing::GoldenCaseParams(GetParam());
  testing::TempDir dump;
  p.dump_dir = dump.path().string();
  auto r = Generate(*model, p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->seed, static_cast<uint64_t>(p.seed));  // the case file's seed
  ASSERT_EQ(r->images.size(), 1u);
  double worst = 0;
  int compared = 0;
  for (const auto& e : fs::directory_iterator(gdir)) {
    if (e.path().extension() != ".npy") continue;
    const std::string name = e.path().stem().string();
    auto golden = ReadNpy(e.path().string());
    auto ours = ReadNpy(dump.File(name + ".npy"));
    ASSERT_TRUE(golden.ok()) << golden.status().ToString();
    ASSERT_TRUE(ours.ok()) << name << " was not dumped: " << ours.status().ToString();
    ASSERT_EQ(golden->shape(), ours->shape()) << name;
    const float* g = golden->data<float>();
    const float* o = ours->data<float>();
    const double rel = ref::RelL2(g, o, golden->numel());
    ++compared;
    if (name == "noise" || name == "sigmas") {
      for (int64_t i = 0; i < golden->numel(); ++i) {
        EXPECT_LE(std::fabs(g[i] - o[i]), 1e-5 * std::max(1.0f, std::fabs(g[i]))) << name << "[" << i << "]";
      }
    } else if (name == "decoded") {
      const double psnr = ref::Psnr(g, o, golden->numel());
      std::printf("[ figures ] %s decoded: psnr %.1f dB\n", GetParam().c_str(), psnr);
      EXPECT_GE(psnr, 45.0);
    }
    if (name != "decoded") {
      worst = std::max(worst, rel);
      EXPECT_LT(rel, 5e-3) << name;
    }
  }
  EXPECT_GE(compared, 20);
  std::printf("[ figures ] %s: %d tensors, worst rel_l2 %.3e; text %.2f s, sampling %.2f s, decode %.2f s\n",
              GetParam().c_str(), compared, worst, r->timings.text_s, r->timings.sampling_s, r->timings.decode_s);
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenE2eTest,
                         ::testing::Values("euler_128", "euler_a_128", "dpmpp2m_karras_192x128"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sdr
