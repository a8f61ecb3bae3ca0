// Text conditioning on the full-size random SD 1.5 checkpoint (f32) against the goldens of the
// reference engine: cond_crossattn / uncond_crossattn for every case in ../shared/golden.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "formats/model_file.h"
#include "formats/npy.h"
#include "models/clip/text_conditioner.h"
#include "testing/tiny_model.h"
#include "testing/model_cache.h"
#include "testing/reference_ops.h"

namespace sdr {
namespace {

struct Fixture {
  TensorIndex index;
  std::unique_ptr<ClipTextModel> model;
  std::unique_ptr<ClipTokenizer> tok;
};

Fixture& Get() {
  static Fixture* f = [] {
    auto* fx = new Fixture();
    auto index = OpenModelFile(testing::FullSizeModel("f32.safetensors"));
    if (!index.ok()) { ADD_FAILURE() << index.status().ToString(); return fx; }
    fx->index = std::move(index).value();
    auto m = ClipTextModel::Load(fx->index, testing::CpuBackend());
    if (!m.ok()) { ADD_FAILURE() << m.status().ToString(); return fx; }
    fx->model = std::move(m).value();
    auto t = ClipTokenizer::FromMergesFile(std::string(SDR_SHARED_DIR) + "/data/clip-vit-l-14-merges.txt");
    if (!t.ok()) { ADD_FAILURE() << t.status().ToString(); return fx; }
    fx->tok = std::make_unique<ClipTokenizer>(std::move(t).value());
    return fx;
  }();
  return *f;
}

std::vector<std::string> CaseDirs() {
  std::vector<std::string> dirs;
  for (const auto& e : std::filesystem::directory_iterator(std::string(SDR_SHARED_DIR) + "/golden/sd15-rand")) {
    if (std::filesystem::exists(e.path() / "case.json")) dirs.push_back(e.path().string());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

TEST(TextConditioningFullTest, MatchesGoldenCondAndUncondForEveryCase) {
  Fixture& fx = Get();
  ASSERT_TRUE(fx.model && fx.tok);
  TextConditioner cond(fx.model.get(), fx.tok.get());
  const auto dirs = CaseDirs();
  ASSERT_FALSE(dirs.empty());
  for (const std::string& dir : dirs) {
    std::ifstream in(dir + "/case.json");
    auto c = nlohmann::json::parse(in);
    for (const auto& [key, file] : {std::pair{"prompt", "cond_crossattn"}, std::pair{"negative_prompt", "uncond_crossattn"}}) {
      const std::string prompt = c[key].get<std::string>();
      auto golden = ReadNpy(dir + "/" + file + ".npy");
      ASSERT_TRUE(golden.ok()) << golden.status().ToString();
      const auto t0 = std::chrono::steady_clock::now();
      auto ours = cond.Encode(prompt);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ASSERT_TRUE(ours.ok()) << ours.status().ToString();
      ASSERT_EQ(ours->shape(), golden->shape()) << dir << " " << file;
      const double rel = ref::RelL2(golden->data<float>(), ours->data<float>(), golden->numel());
      std::printf("[ figures ] %s/%s: rel_l2 %.3e (encode %.3f s)\n",
                  std::filesystem::path(dir).filename().c_str(), file, rel, s);
      EXPECT_LT(rel, 5e-3) << dir << " " << file << " prompt '" << prompt << "'";
    }
  }
}

}  // namespace
}  // namespace sdr
