// `sdr info --json` on the full-size random SD 1.5 checkpoint in every format we read.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

#include "formats/model_file.h"
#include "testing/model_cache.h"

namespace sdr {
namespace {

class InfoFullTest : public ::testing::TestWithParam<std::string> {};

TEST_P(InfoFullTest, ReportsSd1AndExactCounts) {
  const std::string model = testing::FullSizeModel(GetParam());
  std::string out;
  const int rc = testing::RunCommand(std::string(SDR_BIN_DIR) + "/sdr info --json '" + model + "'", &out);
  ASSERT_EQ(rc, 0) << out;
  auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["version"], "SD 1.x");
  EXPECT_EQ(j["components"]["unet"]["tensors"], 686);
  EXPECT_EQ(j["components"]["unet"]["params"], 859520964);
  EXPECT_EQ(j["components"]["text_encoder"]["tensors"], 196);
  EXPECT_EQ(j["components"]["text_encoder"]["params"], 123060480);
  EXPECT_EQ(j["components"]["vae"]["tensors"], 248);
  EXPECT_EQ(j["components"]["vae"]["params"], 83653863);
  const std::string ext = GetParam().substr(GetParam().find('.') + 1);
  EXPECT_EQ(j["format"], ext == "safetensors" ? "safetensors" : ext);
  std::printf("[ figures ] %s: load %.3f s\n", GetParam().c_str(), j["load_seconds"].get<double>());
}

INSTANTIATE_TEST_SUITE_P(Formats, InfoFullTest,
                         ::testing::Values("f32.safetensors", "f16.safetensors", "f16.ckpt", "f16.gguf"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s) c = (c == '.') ? '_' : c;
                           return s;
                         });

TEST(LoadTimeFullTest, F16SafetensorsOpensZeroCopy) {
  // mmap: opening the 2.1 GB file must not read it. Printed, not a timing assertion on speed
  // beyond the zero-copy property (which would take seconds otherwise).
  const auto t0 = std::chrono::steady_clock::now();
  auto index = OpenModelFile(testing::FullSizeModel("f16.safetensors"));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ(index->size(), 1130u);
  EXPECT_FALSE(index->entries()[0].tensor.writable());  // borrowed from the mapping, not copied
  std::printf("[ figures ] open f16 safetensors (2.1 GB): %.4f s\n", s);
}

}  // namespace
}  // namespace sdr
