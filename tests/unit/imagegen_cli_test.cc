// `sdr generate` without -m goes through the Generator: the same command line serves the local
// model (SD_MODEL_PATH) or, with only OPENAI_* / AZURE_OPENAI_* set, a cloud provider (here the
// fake one on 127.0.0.1); the PNG is written either way and failures exit with the table's codes.
#include <gtest/gtest.h>

#include "imagegen/image_check.h"
#include "runtime/config.h"
#include "testing/fake_image_server.h"
#include "testing/model_cache.h"
#include "testing/temp_dir.h"
#include "testing/tiny_model.h"

namespace sdr {
namespace {

using testing::FakeImageServer;

// The sdr program with every configuration variable unset, then `assignments`.
std::string Sdr(const std::string& assignments) {
  std::string cmd = "env";
  for (const ConfigField& f : ConfigFields()) cmd += " -u " + std::string(f.env_var);
  for (const char* p : {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
    cmd += " -u " + std::string(p);
  }
  return cmd + " " + assignments + " " + std::string(SDR_BIN_DIR) + "/sdr";
}

TEST(ImagegenCliTest, NothingConfiguredIsAClearError) {
  testing::TempDir dir;
  std::string out;
  EXPECT_EQ(testing::RunCommand(Sdr("") + " generate -p cat -o " + dir.File("x.png"), &out, true), 3) << out;
  EXPECT_NE(out.find("no image provider configured"), std::string::npos) << out;
  EXPECT_NE(out.find("OPENAI_API_KEY"), std::string::npos) << out;
}

TEST(ImagegenCliTest, LocalModelFromTheEnvironment) {
  testing::TempDir dir;
  std::string out;
  const std::string png = dir.File("local.png");
  ASSERT_EQ(testing::RunCommand(Sdr("SD_MODEL_PATH=" + testing::TinyModelPath() + " SD_TOKENIZER_PATH=" +
                                    testing::ClipMergesPath()) +
                                    " generate -p 'a cat' -W 64 -H 64 --steps 2 --seed 7 -o " + png,
                                &out, true),
            0)
      << out;
  EXPECT_NE(out.find("provider selection: local: SD_MODEL_PATH"), std::string::npos) << out;
  EXPECT_NE(out.find("wrote " + png + " (local tiny-sd1, 64x64, seed 7)"), std::string::npos) << out;
  auto size = DecodePngSize(testing::ReadFileBytes(png));
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  EXPECT_EQ(size->width, 64);
}

TEST(ImagegenCliTest, OpenAiOnlyWritesTheProvidersPng) {
  FakeImageServer server;
  const std::string cloud_png = testing::TestPng(48, 32);
  server.Script({FakeImageServer::B64Images({cloud_png}, "a cat, studio light")});
  testing::TempDir dir;
  const std::string png = dir.File("cloud.png");
  std::string out;
  ASSERT_EQ(testing::RunCommand(Sdr("OPENAI_API_KEY=sk-cli-test OPENAI_BASE_URL=" + server.Url("/v1")) +
                                    " generate -p 'a cat' --steps 5 -o " + png,
                                &out, true),
            0)
      << out;
  EXPECT_EQ(testing::ReadFileBytes(png), cloud_png);
  EXPECT_NE(out.find("provider selection: openai: OPENAI_API_KEY is set"), std::string::npos) << out;
  EXPECT_NE(out.find("(openai dall-e-3, 48x32)"), std::string::npos) << out;
  EXPECT_NE(out.find("revised prompt: a cat, studio light"), std::string::npos) << out;
  EXPECT_EQ(out.find("sk-cli-test"), std::string::npos) << out;
  const auto got = server.Received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].body.find("\"size\":\"1024x1024\""), std::string::npos) << got[0].body;  // the model's default

  // The provider's refusal exits with the table's code (auth_failed: 15).
  server.Script({FakeImageServer::Error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")});
  out.clear();
  EXPECT_EQ(testing::RunCommand(Sdr("OPENAI_API_KEY=sk-cli-test OPENAI_BASE_URL=" + server.Url("/v1")) +
                                    " generate -p 'a cat' -o " + dir.File("no.png"),
                                &out, true),
            15)
      << out;
  EXPECT_NE(out.find("HTTP 401"), std::string::npos) << out;
}

TEST(ImagegenCliTest, BrokenModelWithoutCloudExitsWithTheLoadError) {
  testing::TempDir dir;
  testing::WriteFileBytes(dir.File("junk.safetensors"), std::string(2000, 'x'));
  std::string out;
  EXPECT_EQ(testing::RunCommand(Sdr("SD_MODEL_PATH=" + dir.File("junk.safetensors")) + " generate -p cat -o " +
                                    dir.File("a.png"),
                                &out, true),
            6)  // model_load_failed
      << out;
  out.clear();
  EXPECT_EQ(testing::RunCommand(Sdr("SD_MODEL_PATH=" + dir.File("none.safetensors")) + " generate -p cat -o " +
                                    dir.File("a.png"),
                                &out, true),
            4)  // model_not_found
      << out;
}

}  // namespace
}  // namespace sdr
