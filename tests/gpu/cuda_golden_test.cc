// The public golden cases (../shared/golden/sd15-rand) on the cuda backend (label `gpu`): the
// full-size random f32 checkpoint generates each case with --dump-dir semantics, and every dumped
// tensor is compared with the golden one:
//   f32 (no TF32)  the CPU's tolerances: rel L2 < 5e-3 per tensor, decoded PSNR >= 45 dB
//   f16            rel L2 <= 2e-2 per tensor, decoded PSNR >= 35 dB
// Skipped with one line without a CUDA device or without the checkpoint (scripts/gpu_check.sh
// writes it; scripts/make_test_models.sh too).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "formats/npy.h"
#include "gpu/gpu_testing.h"
#include "runtime/txt2img.h"
#include "testing/golden_case.h"
#include "testing/model_cache.h"
#include "testing/reference_ops.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

namespace fs = std::filesystem;

struct Tolerance {
  double rel_l2;
  bool strict;  // rel < tol (the CPU test's form) rather than <=
  double psnr;
};

const SdModel* ModelIn(const std::string& precision) {
  static std::map<std::string, std::unique_ptr<SdModel>> models;
  auto& slot = models[precision];
  if (slot == nullptr) {
    SdModelOptions o;
    o.model_path = testing::FullSizeModel("f32.safetensors");
    o.tokenizer_path = std::string(SDR_SHARED_DIR) + "/data/clip-vit-l-14-merges.txt";
    o.device = "cuda:0";
    o.cuda_precision = precision;
    auto m = SdModel::Load(o);
    if (!m.ok()) {
      ADD_FAILURE() << m.status().ToString();
      return nullptr;
    }
    slot = std::move(m).value();
  }
  return slot.get();
}

class CudaGoldenTest : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(CudaGoldenTest, EveryDumpedTensorMatches) {
  SDR_REQUIRE_CUDA();
  const auto& [name, precision] = GetParam();
  if (!fs::exists(testing::FullSizeModel("f32.safetensors"))) {
    GTEST_SKIP() << "no full-size model: " << testing::FullSizeModel("f32.safetensors")
                 << " (scripts/gpu_check.sh or scripts/make_test_models.sh writes it)";
  }
  const Tolerance tol = precision == "f32" ? Tolerance{5e-3, true, 45.0} : Tolerance{2e-2, false, 35.0};
  const SdModel* model = ModelIn(precision);
  ASSERT_NE(model, nullptr);
  const std::string gdir = testing::GoldenCaseDir(name);
  GenerateParams p = testing::GoldenCaseParams(name);
  testing::TempDir dump;
  p.dump_dir = dump.path().string();
  auto r = Generate(*model, p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  double worst = 0, psnr = 0;
  std::string worst_name;
  int compared = 0;
  for (const auto& e : fs::directory_iterator(gdir)) {
    if (e.path().extension() != ".npy") continue;
    const std::string t = e.path().stem().string();
    auto golden = ReadNpy(e.path().string());
    auto ours = ReadNpy(dump.File(t + ".npy"));
    ASSERT_TRUE(golden.ok()) << golden.status().ToString();
    ASSERT_TRUE(ours.ok()) << t << " was not dumped: " << ours.status().ToString();
    ASSERT_EQ(golden->shape(), ours->shape()) << t;
    ++compared;
    if (t == "decoded") {
      psnr = ref::Psnr(golden->data<float>(), ours->data<float>(), golden->numel());
      EXPECT_GE(psnr, tol.psnr) << precision;
      continue;
    }
    const double rel = ref::RelL2(golden->data<float>(), ours->data<float>(), golden->numel());
    if (rel > worst) {
      worst = rel;
      worst_name = t;
    }
    if (tol.strict) {
      EXPECT_LT(rel, tol.rel_l2) << t << " (" << precision << ")";
    } else {
      EXPECT_LE(rel, tol.rel_l2) << t << " (" << precision << ")";
    }
  }
  EXPECT_GE(compared, 20);
  std::printf("[ figures ] cuda %s %s: %d tensors, worst rel_l2 %.3e (%s), decoded PSNR %.1f dB; text %.3f s, "
              "sampling %.3f s, decode %.3f s\n",
              precision.c_str(), name.c_str(), compared, worst, worst_name.c_str(), psnr, r->timings.text_s,
              r->timings.sampling_s, r->timings.decode_s);
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaGoldenTest,
                         ::testing::Combine(::testing::Values("euler_128", "euler_a_128", "dpmpp2m_karras_192x128"),
                                            ::testing::Values("f32", "f16")),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

}  // namespace
}  // namespace sdr
