// Provider selection from the configuration, every branch: a local model that loads, one that is
// missing or corrupt (falling back to the cloud, or returning its own load error), Azure before
// OpenAI, half-configured Azure, nothing at all. And the local engine end to end through the
// Generator on the tiny model.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "imagegen/image_check.h"
#include "imagegen/selection.h"
#include "runtime/errors.h"
#include "testing/fake_image_server.h"
#include "testing/temp_dir.h"
#include "testing/tiny_model.h"

namespace sdr {
namespace {

using testing::FakeImageServer;

RuntimeConfig Config(const std::map<std::string, std::string>& vars) {
  auto c = LoadConfigFromEnv([&](const char* name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : RuntimeConfig{};
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += l + "\n";
  return s;
}

class SelectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    // Exists, but is no model (the tiny model is written only by the tests that load it).
    testing::WriteFileBytes(dir_->File("corrupt.safetensors"), std::string(4096, 'x'));
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Corrupt() { return dir_->File("corrupt.safetensors"); }
  static std::string Missing() { return dir_->File("missing.safetensors"); }
  static std::map<std::string, std::string> Local() {
    return {{"SD_MODEL_PATH", testing::TinyModelPath()}, {"SD_TOKENIZER_PATH", testing::ClipMergesPath()}};
  }
  static testing::TempDir* dir_;
};
testing::TempDir* SelectionTest::dir_ = nullptr;

TEST_F(SelectionTest, NothingConfiguredListsTheVariables) {
  auto s = SelectProvider(Config({}));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(ClassifyError(s.status()), ErrorCode::kInvalidParams);
  for (const char* var : {"SD_MODEL_PATH", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_DEPLOYMENT",
                          "AZURE_OPENAI_API_VERSION", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_IMAGE_MODEL"}) {
    EXPECT_NE(s.status().message().find(var), std::string::npos) << var << ": " << s.status().message();
  }
  EXPECT_EQ(s.status().message().rfind("no image provider configured", 0), 0u);
  EXPECT_EQ(PlanProvider(Config({})).kind, ProviderKind::kNone);
}

TEST_F(SelectionTest, ModelThatLoadsIsLocalEvenWithCloudConfigured) {
  auto vars = Local();
  vars["OPENAI_API_KEY"] = "sk-unused";
  auto s = SelectProvider(Config(vars));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->provider->name(), "local");
  ASSERT_EQ(s->reasons.size(), 1u);
  EXPECT_EQ(s->reasons[0], "local: SD_MODEL_PATH " + testing::TinyModelPath() + " loaded");
  EXPECT_TRUE(s->provider->capabilities().engine_settings);
  EXPECT_EQ(PlanProvider(Config(vars)).kind, ProviderKind::kLocal);
}

TEST_F(SelectionTest, MissingModelWithoutCloudIsModelNotFound) {
  auto s = SelectProvider(Config({{"SD_MODEL_PATH", Missing()}}));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(ClassifyError(s.status(), Operation::kLoadModel), ErrorCode::kModelNotFound) << s.status().ToString();
  EXPECT_NE(s.status().message().find(Missing()), std::string::npos);
  const ProviderPlan plan = PlanProvider(Config({{"SD_MODEL_PATH", Missing()}}));
  EXPECT_EQ(plan.kind, ProviderKind::kNone);
  EXPECT_NE(Joined(plan.reasons).find("does not exist"), std::string::npos) << Joined(plan.reasons);
}

TEST_F(SelectionTest, CorruptModelWithoutCloudIsModelLoadFailed) {
  auto s = SelectProvider(Config({{"SD_MODEL_PATH", Corrupt()}}));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(ClassifyError(s.status(), Operation::kLoadModel), ErrorCode::kModelLoadFailed) << s.status().ToString();
  EXPECT_EQ(ClassifyError(s.status()), ErrorCode::kModelLoadFailed);  // tagged: any operation reads it
  EXPECT_NE(s.status().message().find("corrupt.safetensors"), std::string::npos) << s.status().message();
}

TEST_F(SelectionTest, CorruptModelFallsBackToOpenAiWithTheReason) {
  auto s = SelectProvider(Config({{"SD_MODEL_PATH", Corrupt()}, {"OPENAI_API_KEY", "sk-x"}}));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->provider->name(), "openai");
  const std::string why = Joined(s->reasons);
  EXPECT_NE(why.find("local failed (model_load_failed)"), std::string::npos) << why;
  EXPECT_NE(why.find("azure skipped: AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY are not set"), std::string::npos)
      << why;
  EXPECT_NE(why.find("openai: OPENAI_API_KEY is set (model dall-e-3, base URL https://api.openai.com/v1)"),
            std::string::npos)
      << why;
  EXPECT_EQ(why.find("sk-x"), std::string::npos) << "no key in the reasons";
  // The plan (sdr config) sees an existing file: local if it loads, else openai.
  const ProviderPlan plan = PlanProvider(Config({{"SD_MODEL_PATH", Corrupt()}, {"OPENAI_API_KEY", "sk-x"}}));
  EXPECT_EQ(plan.kind, ProviderKind::kLocal);
  EXPECT_NE(Joined(plan.reasons).find("if it fails to load: openai"), std::string::npos) << Joined(plan.reasons);
}

TEST_F(SelectionTest, MissingModelFallsBackToAzureBeforeOpenAi) {
  auto s = SelectProvider(Config({{"SD_MODEL_PATH", Missing()},
                                  {"AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com"},
                                  {"AZURE_OPENAI_API_KEY", "az-key"},
                                  {"OPENAI_API_KEY", "sk-x"}}));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->provider->name(), "azure");
  const std::string why = Joined(s->reasons);
  EXPECT_NE(why.find("local failed (model_not_found)"), std::string::npos) << why;
  EXPECT_NE(why.find("azure: AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY are set (deployment dall-e-3, "
                     "api-version 2024-02-01)"),
            std::string::npos)
      << why;
  EXPECT_EQ(why.find("openai:"), std::string::npos) << why;
}

TEST_F(SelectionTest, HalfConfiguredAzureIsSkippedWithTheMissingVariable) {
  auto s = SelectProvider(Config({{"AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com"}, {"OPENAI_API_KEY", "k"}}));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->provider->name(), "openai");
  EXPECT_NE(Joined(s->reasons).find("azure skipped: AZURE_OPENAI_ENDPOINT is set but AZURE_OPENAI_API_KEY is not"),
            std::string::npos);
  auto none = SelectProvider(Config({{"AZURE_OPENAI_API_KEY", "k"}}));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(ClassifyError(none.status()), ErrorCode::kInvalidParams);
}

TEST_F(SelectionTest, CloudVariablesAreValidated) {
  auto bad = LoadConfigFromEnv([](const char* name) -> std::optional<std::string> {
    if (std::string(name) == "OPENAI_BASE_URL") return "api.openai.com/v1";
    if (std::string(name) == "AZURE_OPENAI_DEPLOYMENT") return "a/b";
    return std::nullopt;
  });
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("OPENAI_BASE_URL=\"api.openai.com/v1\" is not an http:// or https:// URL"),
            std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("AZURE_OPENAI_DEPLOYMENT=\"a/b\" is not a name"), std::string::npos);
}

TEST_F(SelectionTest, OpenAiFromConfigEndToEnd) {
  FakeImageServer server;
  server.Script({FakeImageServer::B64Images({testing::TestPng(32, 32)})});
  auto gen = CreateGeneratorFromConfig(
      Config({{"SD_MODEL_PATH", Corrupt()}, {"OPENAI_API_KEY", "sk-e2e"}, {"OPENAI_BASE_URL", server.Url("/v1/")},
              {"OPENAI_IMAGE_MODEL", "dall-e-2"}, {"SD_MAX_CONCURRENT", "3"}, {"SD_TIMEOUT_SECONDS", "15"}}));
  ASSERT_TRUE(gen.ok()) << gen.status().ToString();
  EXPECT_EQ((*gen)->provider_name(), "openai");
  EXPECT_EQ((*gen)->options().max_concurrent, 3);
  EXPECT_EQ((*gen)->options().timeout_s, 15);
  EXPECT_EQ((*gen)->selection_reasons().size(), 3u);
  ImageRequest req;
  req.prompt = "a lighthouse";
  req.width = req.height = 256;
  req.steps = 30;  // an engine setting: ignored by the cloud
  auto r = (*gen)->Generate(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->images.at(0).width, 32);
  EXPECT_EQ(server.Received().at(0).path, "/v1/images/generations");
}

TEST_F(SelectionTest, LocalProviderGeneratesThroughTheGenerator) {
  auto vars = Local();
  vars["SD_IMAGE_SIZE"] = "64";
  vars["SD_INFERENCE_STEPS"] = "2";
  vars["SD_SAMPLER"] = "euler";
  auto gen = CreateGeneratorFromConfig(Config(vars));
  ASSERT_TRUE(gen.ok()) << gen.status().ToString();
  ASSERT_EQ((*gen)->provider_name(), "local");
  EXPECT_TRUE((*gen)->Ready().ok());
  const ProviderCapabilities& caps = (*gen)->capabilities();
  EXPECT_EQ(caps.default_size, (std::pair<int, int>{64, 64}));
  EXPECT_EQ(caps.max_n, 64);
  EXPECT_NE(std::find(caps.samplers.begin(), caps.samplers.end(), "euler_a"), caps.samplers.end());
  ImageRequest req;
  req.prompt = "a red house on a hill";
  req.n = 2;
  req.seed = 42;
  req.steps = 3;  // overrides SD_INFERENCE_STEPS
  int steps_seen = 0;
  auto r = (*gen)->Generate(req, [&](const ImageProgress& p) {
    EXPECT_EQ(p.total_steps, 3);
    // The sampler's latent, as a view for previews: [4, 64 / 8, 64 / 8].
    EXPECT_EQ(p.latent.channels, 4);
    EXPECT_EQ(p.latent.height, 8);
    EXPECT_EQ(p.latent.width, 8);
    EXPECT_EQ(p.latent.data.size(), 4u * 8 * 8);
    ++steps_seen;
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(steps_seen, 6);
  ASSERT_EQ(r->images.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const GeneratedPng& img = r->images[i];
    EXPECT_EQ(img.seed, 42 + static_cast<int64_t>(i));
    auto size = DecodePngSize(img.png);
    ASSERT_TRUE(size.ok()) << size.status().ToString();
    EXPECT_EQ(size->width, 64);
    EXPECT_EQ(img.width, 64);
    EXPECT_EQ(img.height, 64);
    EXPECT_NE(img.infotext.find("Steps: 3, Sampler: Euler, "), std::string::npos) << img.infotext;
    EXPECT_NE(img.infotext.find("Seed: " + std::to_string(42 + i)), std::string::npos) << img.infotext;
    EXPECT_NE(img.png.find("parameters"), std::string::npos);
  }
  EXPECT_EQ(r->provider, "local");
  EXPECT_EQ(r->model, "tiny-sd1");
  // Invalid engine settings are refused before any work; a cancel token stops a generation.
  ImageRequest bad = req;
  bad.steps = 5000;
  EXPECT_EQ(ClassifyError((*gen)->Generate(bad).status()), ErrorCode::kInvalidParams);
  CancelToken cancel;
  cancel.Cancel();
  EXPECT_EQ(ClassifyError((*gen)->Generate(req, {}, &cancel).status()), ErrorCode::kCancelled);
  auto stop = (*gen)->Generate(req, [](const ImageProgress&) { return false; });
  EXPECT_EQ(ClassifyError(stop.status()), ErrorCode::kCancelled);
}

}  // namespace
}  // namespace sdr
