// Configuration from SD_* environment variables: defaults, every field parsed, every kind of
// invalid value named with its variable, all errors reported at once, DescribeConfig's
// sources, and `sdr config` end to end.
#include "runtime/config.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <limits>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "core/thread_pool.h"
#include "testing/model_cache.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

using Env = std::map<std::string, std::string>;

EnvLookup FakeEnv(Env vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// The error message LoadConfigFromEnv gives for `vars` (empty when it succeeds).
std::string ErrorFor(Env vars) {
  auto c = LoadConfigFromEnv(FakeEnv(std::move(vars)));
  if (c.ok()) return "";
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  return c.status().message();
}

TEST(ConfigTest, DefaultsWhenNothingIsSet) {
  for (const EnvLookup& env : {FakeEnv({}), EnvLookup()}) {
    auto c = LoadConfigFromEnv(env);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->model_path, "");
    EXPECT_EQ(c->vae_path, "");
    EXPECT_EQ(c->tokenizer_path, "");
    EXPECT_EQ(c->width, 512);
    EXPECT_EQ(c->height, 512);
    EXPECT_EQ(c->steps, 20);
    EXPECT_EQ(c->guidance_scale, 7.5f);
    EXPECT_EQ(c->negative_prompt, "");
    EXPECT_EQ(c->sampler, SamplerKind::kDpmpp2m);
    EXPECT_EQ(c->scheduler, Scheduler::kDiscrete);
    EXPECT_EQ(c->timeout_seconds, 120.0);
    EXPECT_EQ(c->max_concurrent, 2);
    EXPECT_FALSE(c->vae_tiling);
    EXPECT_FALSE(c->free_params);
    EXPECT_EQ(c->threads, ThreadPool::DefaultThreadCount());
    EXPECT_EQ(c->host, "127.0.0.1");
    EXPECT_EQ(c->port, 7860);
    EXPECT_EQ(c->api_key, "");
    EXPECT_EQ(c->max_queue, 16);
  }
}

TEST(ConfigTest, EmptyStringMeansUnset) {
  Env vars;
  for (const ConfigField& f : ConfigFields()) vars[std::string(f.env_var)] = "";
  auto c = LoadConfigFromEnv(FakeEnv(vars));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->steps, 20);
  EXPECT_EQ(c->model_path, "");
  for (const ConfigEntry& e : DescribeConfig(*c, FakeEnv(vars))) EXPECT_EQ(e.source, "default") << e.field->env_var;
}

TEST(ConfigTest, TableMatchesTheStructDefaults) {
  const RuntimeConfig defaults;
  std::set<std::string_view> names, vars;
  for (const ConfigField& f : ConfigFields()) {
    EXPECT_TRUE(names.insert(f.name).second) << f.name;
    EXPECT_TRUE(vars.insert(f.env_var).second) << f.env_var;
    // Ours are SD_*; the cloud providers' are the names their SDKs read.
    const std::string_view prefix = f.env_var.substr(0, f.env_var.find('_') + 1);
    EXPECT_TRUE(prefix == "SD_" || prefix == "OPENAI_" || prefix == "AZURE_") << f.env_var;
    EXPECT_FALSE(f.help.empty()) << f.name;
    if (f.name == "threads") {
      EXPECT_EQ(f.default_text, "physical cores");
      EXPECT_EQ(f.format(defaults), std::to_string(ThreadPool::DefaultThreadCount()));
    } else {
      EXPECT_EQ(f.format(defaults), f.default_text) << f.name;
    }
    EXPECT_EQ(FindConfigField(f.name), &f);
    EXPECT_EQ(FindConfigField(f.env_var), &f);
  }
  EXPECT_EQ(ConfigFields().size(), 30u);
  EXPECT_EQ(FindConfigField("SD_NOPE"), nullptr);
  // The help lists every sampler and scheduler the parsers accept.
  for (SamplerKind k : AllSamplerKinds()) EXPECT_NE(FindConfigField("sampler")->help.find(ToString(k)), std::string_view::npos);
  for (Scheduler s : AllSchedulers()) EXPECT_NE(FindConfigField("scheduler")->help.find(ToString(s)), std::string_view::npos);
}

TEST(ConfigTest, EveryFieldParsedFromTheEnvironment) {
  testing::TempDir dir;
  testing::WriteFileBytes(dir.File("model.safetensors"), "x");
  testing::WriteFileBytes(dir.File("vae.safetensors"), "x");
  const Env vars = {
      {"SD_MODEL_PATH", dir.File("model.safetensors")},
      {"SD_VAE_PATH", dir.File("vae.safetensors")},
      {"SD_TOKENIZER_PATH", dir.path().string()},  // a folder is fine
      {"SD_LORA_DIR", dir.path().string()},
      {"SD_TAESD_PATH", dir.File("vae.safetensors")},
      {"SD_PREVIEW_EVERY", "3"},
      {"SD_IMAGE_SIZE", "768x512"},
      {"SD_INFERENCE_STEPS", " 7 "},
      {"SD_GUIDANCE_SCALE", "3.25"},
      {"SD_NEGATIVE_PROMPT", " blurry, (ugly:1.2) "},
      {"SD_SAMPLER", "Euler a"},  // A1111 names work too
      {"SD_SCHEDULER", "KARRAS"},
      {"SD_TIMEOUT_SECONDS", "2.5"},
      {"SD_MAX_CONCURRENT", "64"},
      {"SD_VAE_TILING", "Yes"},
      {"SD_FREE_PARAMS", "on"},
      {"SD_THREADS", "3"},
      {"SD_DEVICE", " cpu "},
      {"SD_CUDA_PRECISION", "F32"},
      {"SD_HOST", " 0.0.0.0 "},
      {"SD_PORT", "0"},
      {"SD_API_KEY", "server-secret"},
      {"SD_MAX_QUEUE", "0"},
      {"AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com/"},
      {"AZURE_OPENAI_API_KEY", "az-secret"},
      {"AZURE_OPENAI_DEPLOYMENT", " dalle3-prod "},
      {"AZURE_OPENAI_API_VERSION", "2024-10-21"},
      {"OPENAI_API_KEY", "sk-secret"},
      {"OPENAI_BASE_URL", "http://127.0.0.1:8080/v1"},
      {"OPENAI_IMAGE_MODEL", "gpt-image-1"},
  };
  ASSERT_EQ(vars.size(), ConfigFields().size());
  auto c = LoadConfigFromEnv(FakeEnv(vars));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->model_path, dir.File("model.safetensors"));
  EXPECT_EQ(c->preview_every, 3);
  EXPECT_EQ(c->vae_path, dir.File("vae.safetensors"));
  EXPECT_EQ(c->lora_dir, dir.path().string());
  EXPECT_EQ(ParamsFromConfig(*c).lora_dir, dir.path().string());
  EXPECT_EQ(c->tokenizer_path, dir.path().string());
  EXPECT_EQ(c->width, 768);
  EXPECT_EQ(c->height, 512);
  EXPECT_EQ(c->steps, 7);
  EXPECT_EQ(c->guidance_scale, 3.25f);
  EXPECT_EQ(c->device, "cpu");
  EXPECT_EQ(c->cuda_precision, "f32");
  EXPECT_EQ(c->negative_prompt, " blurry, (ugly:1.2) ");  // text is taken verbatim
  EXPECT_EQ(c->sampler, SamplerKind::kEulerA);
  EXPECT_EQ(c->scheduler, Scheduler::kKarras);
  EXPECT_EQ(c->timeout_seconds, 2.5);
  EXPECT_EQ(c->max_concurrent, 64);
  EXPECT_TRUE(c->vae_tiling);
  EXPECT_TRUE(c->free_params);
  EXPECT_EQ(c->threads, 3);
  EXPECT_EQ(c->azure_endpoint, "https://res.openai.azure.com/");
  EXPECT_EQ(c->azure_api_key, "az-secret");
  EXPECT_EQ(c->azure_deployment, "dalle3-prod");  // names are trimmed
  EXPECT_EQ(c->azure_api_version, "2024-10-21");
  EXPECT_EQ(c->openai_api_key, "sk-secret");
  EXPECT_EQ(c->openai_base_url, "http://127.0.0.1:8080/v1");
  EXPECT_EQ(c->openai_image_model, "gpt-image-1");
  EXPECT_EQ(c->host, "0.0.0.0");
  EXPECT_EQ(c->port, 0);
  EXPECT_EQ(c->api_key, "server-secret");
  EXPECT_EQ(c->max_queue, 0);
  EXPECT_TRUE(ValidateConfig(*c).ok());
  // Keys are never shown.
  for (const ConfigEntry& e : DescribeConfig(*c, FakeEnv(vars))) {
    EXPECT_EQ(e.value.find("secret"), std::string::npos) << e.field->env_var;
    if (e.field->kind == ConfigKind::kSecret) EXPECT_EQ(e.value.rfind("<set: ", 0), 0u) << e.value;
  }

  // Formatting and parsing back gives the same configuration.
  Env round;
  for (const ConfigField& f : ConfigFields()) round[std::string(f.env_var)] = f.format(*c);
  EXPECT_EQ(round["SD_IMAGE_SIZE"], "768x512");
  EXPECT_EQ(round["SD_SAMPLER"], "euler_a");
  EXPECT_EQ(round["SD_GUIDANCE_SCALE"], "3.25");
  auto c2 = LoadConfigFromEnv(FakeEnv(round));
  ASSERT_TRUE(c2.ok()) << c2.status().ToString();
  for (const ConfigField& f : ConfigFields()) EXPECT_EQ(f.format(*c2), f.format(*c)) << f.name;
}

TEST(ConfigTest, BooleanSpellings) {
  for (const char* t : {"true", "TRUE", "1", "yes", "On", " on "}) {
    auto c = LoadConfigFromEnv(FakeEnv({{"SD_VAE_TILING", t}}));
    ASSERT_TRUE(c.ok()) << t;
    EXPECT_TRUE(c->vae_tiling) << t;
  }
  for (const char* t : {"false", "False", "0", "no", "OFF"}) {
    auto c = LoadConfigFromEnv(FakeEnv({{"SD_FREE_PARAMS", t}}));
    ASSERT_TRUE(c.ok()) << t;
    EXPECT_FALSE(c->free_params) << t;
  }
  EXPECT_EQ(ErrorFor({{"SD_VAE_TILING", "2"}}),
            "SD_VAE_TILING=\"2\" is not a boolean (true/false, 1/0, yes/no, on/off)");
  EXPECT_EQ(ErrorFor({{"SD_FREE_PARAMS", "enabled"}}),
            "SD_FREE_PARAMS=\"enabled\" is not a boolean (true/false, 1/0, yes/no, on/off)");
}

TEST(ConfigTest, ImageSizeForms) {
  struct Case {
    const char* text;
    int w, h;
  };
  for (const Case& k : {Case{"512", 512, 512}, Case{"64", 64, 64}, Case{"2048", 2048, 2048},
                        Case{"768x512", 768, 512}, Case{"512X768", 512, 768}, Case{" 640x64 ", 640, 64}}) {
    auto c = LoadConfigFromEnv(FakeEnv({{"SD_IMAGE_SIZE", k.text}}));
    ASSERT_TRUE(c.ok()) << k.text << ": " << c.status().ToString();
    EXPECT_EQ(c->width, k.w) << k.text;
    EXPECT_EQ(c->height, k.h) << k.text;
  }
  const std::string bad_form = " is not a size: N (square) or WxH, e.g. 512 or 768x512";
  for (const char* t : {"abc", "512x", "x512", "512x512x512", "512*512", "5 12", "512.0", "8x8x"}) {
    EXPECT_EQ(ErrorFor({{"SD_IMAGE_SIZE", t}}), "SD_IMAGE_SIZE=\"" + std::string(t) + "\"" + bad_form);
  }
  EXPECT_EQ(ErrorFor({{"SD_IMAGE_SIZE", "100"}}), "SD_IMAGE_SIZE=100: must be a multiple of 8 in [64, 2048]");
  EXPECT_EQ(ErrorFor({{"SD_IMAGE_SIZE", "2056"}}), "SD_IMAGE_SIZE=2056: must be a multiple of 8 in [64, 2048]");
  EXPECT_EQ(ErrorFor({{"SD_IMAGE_SIZE", "56"}}), "SD_IMAGE_SIZE=56: must be a multiple of 8 in [64, 2048]");
  EXPECT_EQ(ErrorFor({{"SD_IMAGE_SIZE", "-512"}}), "SD_IMAGE_SIZE=-512: must be a multiple of 8 in [64, 2048]");
  EXPECT_EQ(ErrorFor({{"SD_IMAGE_SIZE", "99999999999999999999"}}),
            "SD_IMAGE_SIZE=99999999999999999999: must be a multiple of 8 in [64, 2048]");
  EXPECT_EQ(ErrorFor({{"SD_IMAGE_SIZE", "513x512"}}),
            "SD_IMAGE_SIZE=513x512: width must be a multiple of 8 in [64, 2048]");
  EXPECT_EQ(ErrorFor({{"SD_IMAGE_SIZE", "0x200"}}),
            "SD_IMAGE_SIZE=0x200: width must be a multiple of 8 in [64, 2048]");
  EXPECT_EQ(ErrorFor({{"SD_IMAGE_SIZE", "512x4096"}}),
            "SD_IMAGE_SIZE=512x4096: height must be a multiple of 8 in [64, 2048]");
}

TEST(ConfigTest, NumbersOutOfRangeOrMalformed) {
  const std::map<std::string, std::string> cases = {
      {"SD_INFERENCE_STEPS=abc", "SD_INFERENCE_STEPS=\"abc\" is not an integer"},
      {"SD_INFERENCE_STEPS=7.5", "SD_INFERENCE_STEPS=\"7.5\" is not an integer"},
      {"SD_INFERENCE_STEPS=0", "SD_INFERENCE_STEPS=0: must be in [1, 1000]"},
      {"SD_INFERENCE_STEPS=1001", "SD_INFERENCE_STEPS=1001: must be in [1, 1000]"},
      {"SD_INFERENCE_STEPS=-3", "SD_INFERENCE_STEPS=-3: must be in [1, 1000]"},
      {"SD_INFERENCE_STEPS=123456789012345678901234",
       "SD_INFERENCE_STEPS=123456789012345678901234: must be in [1, 1000]"},
      {"SD_GUIDANCE_SCALE=high", "SD_GUIDANCE_SCALE=\"high\" is not a number"},
      {"SD_GUIDANCE_SCALE=-0.5", "SD_GUIDANCE_SCALE=-0.5: must be a finite number in [0, 100]"},
      {"SD_GUIDANCE_SCALE=100.5", "SD_GUIDANCE_SCALE=100.5: must be a finite number in [0, 100]"},
      {"SD_GUIDANCE_SCALE=nan", "SD_GUIDANCE_SCALE=nan: must be a finite number in [0, 100]"},
      {"SD_GUIDANCE_SCALE=inf", "SD_GUIDANCE_SCALE=inf: must be a finite number in [0, 100]"},
      {"SD_GUIDANCE_SCALE=1e999", "SD_GUIDANCE_SCALE=1e999: must be a finite number in [0, 100]"},
      {"SD_TIMEOUT_SECONDS=soon", "SD_TIMEOUT_SECONDS=\"soon\" is not a number"},
      {"SD_TIMEOUT_SECONDS=0", "SD_TIMEOUT_SECONDS=0: must be a number of seconds in (0, 86400]"},
      {"SD_TIMEOUT_SECONDS=86401", "SD_TIMEOUT_SECONDS=86401: must be a number of seconds in (0, 86400]"},
      {"SD_MAX_CONCURRENT=0", "SD_MAX_CONCURRENT=0: must be in [1, 64]"},
      {"SD_MAX_CONCURRENT=65", "SD_MAX_CONCURRENT=65: must be in [1, 64]"},
      {"SD_MAX_CONCURRENT=two", "SD_MAX_CONCURRENT=\"two\" is not an integer"},
      {"SD_THREADS=0", "SD_THREADS=0: must be in [1, 256]"},
      {"SD_THREADS=257", "SD_THREADS=257: must be in [1, 256]"},
      {"SD_THREADS=4 cores", "SD_THREADS=\"4 cores\" is not an integer"},
      {"SD_PORT=65536", "SD_PORT=65536: must be in [0, 65535]"},
      {"SD_PORT=-1", "SD_PORT=-1: must be in [0, 65535]"},
      {"SD_MAX_QUEUE=1025", "SD_MAX_QUEUE=1025: must be in [0, 1024]"},
      {"SD_PREVIEW_EVERY=0", "SD_PREVIEW_EVERY=0: must be in [1, 1000]"},
      {"SD_HOST=a b", "SD_HOST=\"a b\" is not a name (no blanks, '/', '?', '#' or '&')"},
  };
  for (const auto& [assignment, want] : cases) {
    const size_t eq = assignment.find('=');
    EXPECT_EQ(ErrorFor({{assignment.substr(0, eq), assignment.substr(eq + 1)}}), want);
  }
  // The range ends themselves are accepted.
  auto c = LoadConfigFromEnv(FakeEnv({{"SD_INFERENCE_STEPS", "1000"},
                                      {"SD_GUIDANCE_SCALE", "0"},
                                      {"SD_TIMEOUT_SECONDS", "86400"},
                                      {"SD_MAX_CONCURRENT", "1"},
                                      {"SD_THREADS", "256"}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->steps, 1000);
  EXPECT_EQ(c->guidance_scale, 0.0f);
  EXPECT_EQ(c->timeout_seconds, 86400.0);
  EXPECT_EQ(c->threads, 256);
}

TEST(ConfigTest, UnknownSamplerAndSchedulerNames) {
  EXPECT_EQ(ErrorFor({{"SD_SAMPLER", "ddim"}}),
            "SD_SAMPLER=\"ddim\" is not a sampler (euler_a, euler, heun, dpm2, dpm++2s_a, dpm++2m, dpm++2mv2, lcm)");
  EXPECT_EQ(ErrorFor({{"SD_SCHEDULER", "exponential"}}),
            "SD_SCHEDULER=\"exponential\" is not a scheduler (discrete, karras)");
  for (SamplerKind k : AllSamplerKinds()) {
    auto c = LoadConfigFromEnv(FakeEnv({{"SD_SAMPLER", std::string(ToString(k))}}));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->sampler, k);
  }
}

TEST(ConfigTest, MissingPathsAreNamed) {
  testing::TempDir dir;
  const std::string missing = dir.File("no such model.safetensors");
  EXPECT_EQ(ErrorFor({{"SD_TOKENIZER_PATH", missing}}), "SD_TOKENIZER_PATH=\"" + missing + "\" does not exist");
  // The model and VAE are checked when they load (ModelNotFound), so that a missing model can
  // fall back to a cloud provider.
  auto m = LoadConfigFromEnv(FakeEnv({{"SD_MODEL_PATH", missing}, {"SD_VAE_PATH", missing}}));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->model_path, missing);
  EXPECT_EQ(m->vae_path, missing);
  testing::WriteFileBytes(dir.File("merges.txt"), "#version: 0.2\n");
  auto c = LoadConfigFromEnv(FakeEnv({{"SD_TOKENIZER_PATH", dir.File("merges.txt")}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->tokenizer_path, dir.File("merges.txt"));
}

TEST(ConfigTest, BadValuesAreQuotedSafely) {
  const std::string msg = ErrorFor({{"SD_INFERENCE_STEPS", "1\n\"2\"\x01"}});
  EXPECT_EQ(msg, "SD_INFERENCE_STEPS=\"1\\n\\\"2\\\"\\x01\" is not an integer");
  EXPECT_EQ(msg.find('\n'), std::string::npos);
  const std::string huge(100000, '7');
  const std::string long_msg = ErrorFor({{"SD_SAMPLER", huge}});
  EXPECT_LT(long_msg.size(), 400u);
  EXPECT_NE(long_msg.find("SD_SAMPLER=\"777"), std::string::npos);
  EXPECT_NE(long_msg.find("\"..."), std::string::npos);
}

TEST(ConfigTest, AllErrorsReportedTogether) {
  testing::TempDir dir;
  const std::string msg = ErrorFor({
      {"SD_INFERENCE_STEPS", "abc"},
      {"SD_IMAGE_SIZE", "100"},
      {"SD_TOKENIZER_PATH", dir.File("gone.txt")},
      {"SD_VAE_TILING", "perhaps"},
      {"SD_THREADS", "8"},  // valid ones do not appear
  });
  EXPECT_EQ(msg, "4 invalid environment variables:\n"
                 "  SD_TOKENIZER_PATH=\"" + dir.File("gone.txt") + "\" does not exist\n"
                 "  SD_IMAGE_SIZE=100: must be a multiple of 8 in [64, 2048]\n"
                 "  SD_INFERENCE_STEPS=\"abc\" is not an integer\n"
                 "  SD_VAE_TILING=\"perhaps\" is not a boolean (true/false, 1/0, yes/no, on/off)");
}

TEST(ConfigTest, ValidateConfigUsesTheSameRules) {
  RuntimeConfig c;
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.steps = 0;
  c.width = 100;
  c.guidance_scale = std::numeric_limits<float>::quiet_NaN();
  c.tokenizer_path = "/definitely/not/here.txt";
  const Status s = ValidateConfig(c);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "4 invalid settings:\n"
                         "  tokenizer_path=\"/definitely/not/here.txt\" does not exist\n"
                         "  image_size=100x512: width must be a multiple of 8 in [64, 2048]\n"
                         "  steps=0: must be in [1, 1000]\n"
                         "  guidance_scale=nan: must be a finite number in [0, 100]");
}

TEST(ConfigTest, DescribeConfigSources) {
  const Env vars = {{"SD_INFERENCE_STEPS", "9"}, {"SD_SAMPLER", "euler"}, {"SD_NEGATIVE_PROMPT", ""}};
  auto c = LoadConfigFromEnv(FakeEnv(vars));
  ASSERT_TRUE(c.ok());
  const auto entries = DescribeConfig(*c, FakeEnv(vars));
  ASSERT_EQ(entries.size(), ConfigFields().size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const ConfigEntry& e = entries[i];
    EXPECT_EQ(e.field, &ConfigFields()[i]);
    EXPECT_EQ(e.value, e.field->format(*c));
    if (e.field->env_var == "SD_INFERENCE_STEPS") {
      EXPECT_EQ(e.value, "9");
      EXPECT_EQ(e.source, "env SD_INFERENCE_STEPS");
    } else if (e.field->env_var == "SD_SAMPLER") {
      EXPECT_EQ(e.value, "euler");
      EXPECT_EQ(e.source, "env SD_SAMPLER");
    } else {
      EXPECT_EQ(e.source, "default") << e.field->env_var;  // including the empty SD_NEGATIVE_PROMPT
    }
  }
}

// `sdr config` end to end, with the variables set on the command line. Every SD_* variable of
// the table is unset first, so that the caller's environment does not leak in.
std::string Sdr(const std::string& assignments) {
  std::string cmd = "env";
  for (const ConfigField& f : ConfigFields()) cmd += " -u " + std::string(f.env_var);
  return cmd + " " + assignments + " " + std::string(SDR_BIN_DIR) + "/sdr";
}

TEST(ConfigCliTest, JsonShowsValuesAndSources) {
  std::string out;
  ASSERT_EQ(testing::RunCommand(Sdr("SD_INFERENCE_STEPS=7 SD_IMAGE_SIZE=768x512 SD_VAE_TILING=on") + " config --json",
                                &out),
            0)
      << out;
  auto j = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << out;
  ASSERT_EQ(j.size(), ConfigFields().size() + 1);  // + "provider"
  EXPECT_EQ(j["provider"]["kind"], "none");
  EXPECT_EQ(j["provider"]["reasons"][0], "local skipped: SD_MODEL_PATH is not set");
  EXPECT_EQ(j["SD_INFERENCE_STEPS"]["value"], 7);
  EXPECT_EQ(j["SD_INFERENCE_STEPS"]["source"], "env SD_INFERENCE_STEPS");
  EXPECT_EQ(j["SD_INFERENCE_STEPS"]["field"], "steps");
  EXPECT_EQ(j["SD_INFERENCE_STEPS"]["default"], "20");
  EXPECT_EQ(j["SD_IMAGE_SIZE"]["value"], "768x512");
  EXPECT_EQ(j["SD_VAE_TILING"]["value"], true);
  EXPECT_EQ(j["SD_GUIDANCE_SCALE"]["value"], 7.5);
  EXPECT_EQ(j["SD_GUIDANCE_SCALE"]["source"], "default");
  EXPECT_EQ(j["SD_SAMPLER"]["value"], "dpm++2m");
}

TEST(ConfigCliTest, TextHasOneLinePerField) {
  std::string out;
  ASSERT_EQ(testing::RunCommand(Sdr("SD_INFERENCE_STEPS= SD_MAX_CONCURRENT=4") + " config", &out), 0) << out;
  size_t lines = 0;
  for (char ch : out.substr(0, out.find("image provider:"))) lines += ch == '\n';
  EXPECT_EQ(lines, ConfigFields().size()) << out;
  EXPECT_NE(out.find("image provider: none\n  local skipped: SD_MODEL_PATH is not set\n"), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("\nSD_INFERENCE_STEPS +=  ?20 "))) << out;
  EXPECT_NE(out.find("(default)"), std::string::npos) << out;
  EXPECT_NE(out.find("(env SD_MAX_CONCURRENT)"), std::string::npos) << out;
  EXPECT_NE(out.find("sampler steps, 1..1000"), std::string::npos) << out;
}

TEST(ConfigCliTest, ShowsTheProviderAndNeverTheKey) {
  std::string out;
  ASSERT_EQ(testing::RunCommand(Sdr("SD_MODEL_PATH=/nonexistent/m.safetensors OPENAI_API_KEY=sk-very-secret-key") +
                                    " config",
                                &out),
            0)
      << out;
  EXPECT_EQ(out.find("sk-very-secret-key"), std::string::npos) << out;
  EXPECT_NE(out.find("OPENAI_API_KEY"), std::string::npos) << out;
  EXPECT_NE(out.find("<set: 18 characters>"), std::string::npos) << out;
  EXPECT_NE(out.find("image provider: openai\n"), std::string::npos) << out;
  EXPECT_NE(out.find("local skipped: SD_MODEL_PATH /nonexistent/m.safetensors does not exist"), std::string::npos) << out;
  EXPECT_NE(out.find("openai: OPENAI_API_KEY is set (model dall-e-3"), std::string::npos) << out;
  out.clear();
  ASSERT_EQ(testing::RunCommand(Sdr("OPENAI_API_KEY=sk-very-secret-key") + " config --json", &out), 0) << out;
  EXPECT_EQ(out.find("sk-very-secret-key"), std::string::npos) << out;
  auto j = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["OPENAI_API_KEY"]["value"], "<set: 18 characters>");
  EXPECT_EQ(j["provider"]["kind"], "openai");
}

TEST(ConfigCliTest, InvalidValuesExitWithCode3) {
  std::string out;
  EXPECT_EQ(testing::RunCommand(Sdr("SD_INFERENCE_STEPS=abc SD_THREADS=0") + " config --json", &out,
                                /*merge_stderr=*/true),
            3)
      << out;
  EXPECT_NE(out.find("SD_INFERENCE_STEPS=\"abc\" is not an integer"), std::string::npos) << out;
  EXPECT_NE(out.find("SD_THREADS=0: must be in [1, 256]"), std::string::npos) << out;
}

TEST(ConfigTest, DeviceNamesAreCheckedWhenParsed) {
  for (const char* ok : {"auto", "cpu", "reference", "cuda", "cuda:0", "cuda:3"}) {
    auto c = LoadConfigFromEnv(FakeEnv({{"SD_DEVICE", ok}}));
    ASSERT_TRUE(c.ok()) << ok << ": " << c.status().ToString();
    EXPECT_EQ(c->device, ok);
  }
  for (const char* bad : {"gpu", "cuda:", "cuda:-1", "cuda:x", "CPU0", "metal"}) {
    EXPECT_NE(ErrorFor({{"SD_DEVICE", bad}}).find("is not a device (auto, cpu, cpu-blas, reference, cuda, cuda:N)"),
              std::string::npos)
        << bad;
  }
}

TEST(ConfigTest, CudaPrecisionIsOneOfThree) {
  EXPECT_EQ(LoadConfigFromEnv(FakeEnv({}))->cuda_precision, "f16");
  for (const char* ok : {"f16", "bf16", "f32", " BF16 "}) {
    auto c = LoadConfigFromEnv(FakeEnv({{"SD_CUDA_PRECISION", ok}}));
    ASSERT_TRUE(c.ok()) << ok << ": " << c.status().ToString();
  }
  for (const char* bad : {"fp16", "f64", "tf32", "half"}) {
    EXPECT_NE(ErrorFor({{"SD_CUDA_PRECISION", bad}}).find("is not a GPU precision (f16, bf16, f32)"), std::string::npos)
        << bad;
  }
}

TEST(ConfigTest, InteractiveCommandsApplyATimeoutOnlyWhenAskedFor) {
  const RuntimeConfig defaults;
  EXPECT_EQ(defaults.timeout_seconds, kDefaultTimeoutSeconds);
  // Nothing set: no timeout for `sdr generate` (pools keep the default).
  EXPECT_EQ(InteractiveTimeoutSeconds(defaults, FakeEnv({}), /*flag_given=*/false), 0);
  EXPECT_EQ(InteractiveTimeoutSeconds(defaults, FakeEnv({{"SD_TIMEOUT_SECONDS", ""}}), false), 0);
  // Set in the environment or by the flag: applied.
  auto c = LoadConfigFromEnv(FakeEnv({{"SD_TIMEOUT_SECONDS", "30"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(InteractiveTimeoutSeconds(*c, FakeEnv({{"SD_TIMEOUT_SECONDS", "30"}}), false), 30);
  RuntimeConfig flagged;
  flagged.timeout_seconds = 5;
  EXPECT_EQ(InteractiveTimeoutSeconds(flagged, FakeEnv({}), /*flag_given=*/true), 5);
}

}  // namespace
}  // namespace sdr
