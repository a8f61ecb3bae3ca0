// The `sdr` command line end to end on tiny random models: info, convert, generate, and the
// clear errors for bad files and bad settings.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>

#include "formats/safetensors.h"
#include "models/random_weights.h"
#include "testing/model_cache.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

const std::string kSdr = std::string(SDR_BIN_DIR) + "/sdr";
const std::string kMerges = std::string(SDR_SHARED_DIR) + "/data/clip-vit-l-14-merges.txt";

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    auto w = MakeRandomSd1Weights({});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(WriteSafetensors(dir_->File("tiny.safetensors"), *w).ok());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Model() { return dir_->File("tiny.safetensors"); }
  static int Run(const std::string& args, std::string* out) {
    return testing::RunCommand(kSdr + " " + args, out, /*merge_stderr=*/true);
  }
  static testing::TempDir* dir_;
};
testing::TempDir* CliTest::dir_ = nullptr;

TEST_F(CliTest, InfoJsonDescribesTheTinyModel) {
  std::string out;
  ASSERT_EQ(testing::RunCommand(kSdr + " info --json " + Model(), &out), 0) << out;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["format"], "safetensors");
  EXPECT_EQ(j["version"], "SD 1.x");
  EXPECT_EQ(j["components"]["unet"]["tensors"], 686);
  EXPECT_EQ(j["components"]["vae"]["tensors"], 248);
  EXPECT_EQ(j["widths"]["unet_model_channels"], 32);
}

TEST_F(CliTest, ConvertRoundTripsThroughEveryFormat) {
  for (const char* ext : {"ckpt", "gguf"}) {
    const std::string out_path = dir_->File(std::string("conv.") + ext);
    std::string out;
    ASSERT_EQ(Run("convert " + Model() + " " + out_path + " --type f16", &out), 0) << out;
    std::string info;
    ASSERT_EQ(testing::RunCommand(kSdr + " info --json " + out_path, &info), 0) << info;
    auto j = nlohmann::json::parse(info);
    EXPECT_EQ(j["format"], ext);
    EXPECT_EQ(j["components"]["unet"]["tensors"], 686);
    EXPECT_GT(j["components"]["unet"]["dtypes"]["f16"].get<int>(), 0);
  }
  std::string out;
  ASSERT_EQ(Run("convert " + Model() + " " + dir_->File("q.gguf") + " --type q8_0", &out), 0) << out;
  std::string info;
  ASSERT_EQ(testing::RunCommand(kSdr + " info --json " + dir_->File("q.gguf"), &info), 0);
  EXPECT_GT(nlohmann::json::parse(info)["components"]["unet"]["dtypes"]["q8_0"].get<int>(), 0);
}

TEST_F(CliTest, BadFilesGiveOneLineErrorsAndNonZeroExit) {
  std::string out;
  EXPECT_NE(Run("info /nonexistent/model.safetensors", &out), 0);
  EXPECT_NE(out.find("does not exist"), std::string::npos) << out;
  testing::WriteFileBytes(dir_->File("junk.bin"), "this is not a model at all");
  out.clear();
  EXPECT_NE(Run("info " + dir_->File("junk.bin"), &out), 0);
  EXPECT_NE(out.find("not a model file we recognise"), std::string::npos) << out;
  testing::WriteFileBytes(dir_->File("trunc.safetensors"), testing::ReadFileBytes(Model()).substr(0, 5000));
  out.clear();
  EXPECT_EQ(Run("info " + dir_->File("trunc.safetensors"), &out), 6);  // corrupt_data
  EXPECT_NE(out.find("trunc.safetensors"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

TEST_F(CliTest, GenerateWritesAPngWithInfotextAndTimings) {
  const std::string png = dir_->File("out.png");
  std::string out;
  ASSERT_EQ(Run("generate -m " + Model() + " --tokenizer " + kMerges +
                    " -p 'a red house' -n 'blurry' -W 64 -H 64 --steps 2 --seed 5 --sampler euler_a -o " + png,
                &out),
            0)
      << out;
  EXPECT_NE(out.find("timings: load "), std::string::npos) << out;
  EXPECT_NE(out.find(", text "), std::string::npos);
  EXPECT_NE(out.find(", sampling "), std::string::npos);
  EXPECT_NE(out.find(", decode "), std::string::npos);
  EXPECT_NE(out.find(", total "), std::string::npos);
  const std::string bytes = testing::ReadFileBytes(png);
  ASSERT_GT(bytes.size(), 100u);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  EXPECT_NE(bytes.find("parameters"), std::string::npos);
  EXPECT_NE(bytes.find("Steps: 2, Sampler: Euler a"), std::string::npos);
  EXPECT_NE(bytes.find("Seed: 5, Size: 64x64"), std::string::npos);
}

TEST_F(CliTest, InvalidSettingsFailFastNamingTheSetting) {
  struct Case {
    std::string args, needle;
  };
  const Case cases[] = {
      {"-W 100", "width 100"},
      {"-H 4096", "height 4096"},
      {"--steps 0", "steps 0"},
      {"--sampler ddim", "unknown --sampler 'ddim'"},
      {"--scheduler linear", "unknown --scheduler"},
      {"--cfg-scale nan", "cfg_scale"},
      {"--rng gpu", "unknown --rng"},
  };
  for (const Case& c : cases) {
    std::string out;
    EXPECT_EQ(Run("generate -m " + Model() + " -p cat " + c.args, &out), 3) << c.args << ": " << out;
    EXPECT_NE(out.find(c.needle), std::string::npos) << c.args << ": " << out;
  }
  std::string out;
  EXPECT_EQ(Run("generate -m /nonexistent.safetensors -p cat", &out), 4) << out;
  out.clear();
  EXPECT_NE(Run("generate -m " + Model() + " -p cat", &out), 0);  // no tokenizer for a single file
  EXPECT_NE(out.find("SD_TOKENIZER_PATH"), std::string::npos) << out;
}

}  // namespace
}  // namespace sdr
