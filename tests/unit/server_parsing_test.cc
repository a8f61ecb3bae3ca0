// The server's pure parts: reading request bodies (types, ranges, nulls, malformed JSON, each
// error naming its field), the OpenAI and A1111 request shapes, auth, SSE and access-log
// formatting, metrics text, latent previews, and reading infotext back from a PNG.
#include <gtest/gtest.h>

#include <cmath>
#include <variant>
#include <vector>

#include "imagegen/base64.h"
#include "imagegen/image_check.h"
#include "runtime/infotext.h"
#include "runtime/png_text_reader.h"
#include "runtime/png_writer.h"
#include "server/a1111_api.h"
#include "server/access_log.h"
#include "server/auth.h"
#include "server/json_fields.h"
#include "server/latent_preview.h"
#include "server/metrics.h"
#include "server/openai_api.h"
#include "server/sse.h"

namespace sdr {
namespace {

using nlohmann::json;

ProviderCapabilities LocalCaps() {
  ProviderCapabilities c;
  c.default_size = {512, 512};
  c.max_n = 64;
  c.engine_settings = true;
  c.max_steps = 1000;
  return c;
}

// The error of parsing `body` as an OpenAI request ("" param and message when it parses).
ApiError OpenAiError(const std::string& body, OpenAiImageRequest* out = nullptr) {
  OpenAiImageRequest r;
  auto e = ParseOpenAiImageRequest(body, RequestLimits{}, LocalCaps(), GenerateParams{}, false, &r);
  if (out != nullptr) *out = r;
  return e.value_or(ApiError{ErrorCode::kOk, "", ""});
}

TEST(ServerParsingTest, MalformedBodiesAreNamed400s) {
  for (const std::string& body : std::vector<std::string>{"", "{", "{\"prompt\": \"a\",}", "NaN", "{\"steps\": NaN}", "{\"prompt\": 'x'}",
                                 std::string("{\"prompt\": \"\xff\xfe\"}"), "{\"prompt\": \"a\"} trailing"}) {
    const ApiError e = OpenAiError(body);
    EXPECT_EQ(e.code, ErrorCode::kInvalidParams) << body;
    EXPECT_EQ(e.http_status(), 400) << body;
    EXPECT_EQ(e.message.rfind("request body is not valid JSON: ", 0), 0u) << e.message;
  }
  EXPECT_EQ(OpenAiError("[1, 2]").message, "request body must be a JSON object, got array");
  EXPECT_EQ(OpenAiError("\"prompt\"").message, "request body must be a JSON object, got string");
  EXPECT_EQ(OpenAiError("null").message, "request body must be a JSON object, got null");
  // Deep nesting is refused before it is parsed into a million values.
  const ApiError deep = OpenAiError("{\"x\": " + std::string(100000, '[') + std::string(100000, ']') + "}");
  EXPECT_EQ(deep.message, "request body nests arrays and objects more than 32 deep");
}

TEST(ServerParsingTest, EachFieldErrorNamesTheField) {
  struct Case {
    std::string body, param, message;
  };
  const std::vector<Case> cases = {
      {R"({})", "prompt", "prompt is required"},
      {R"({"prompt": null})", "prompt", "prompt is required"},
      {R"({"prompt": ""})", "prompt", "prompt must not be empty"},
      {R"({"prompt": 42})", "prompt", "prompt must be a string, got integer 42"},
      {R"({"prompt": ["a"]})", "prompt", "prompt must be a string, got array [...]"},
      {R"({"prompt": "a", "n": "2"})", "n", R"(n must be an integer in [1, 8], got string "2")"},
      {R"({"prompt": "a", "n": 9})", "n", "n must be an integer in [1, 8], got 9"},
      {R"({"prompt": "a", "n": -1})", "n", "n must be an integer in [1, 8], got -1"},
      {R"({"prompt": "a", "n": 1.5})", "n", "n must be an integer in [1, 8], got 1.5"},
      {R"({"prompt": "a", "n": 1e300})", "n", "n must be an integer in [1, 8], got 1e+300"},
      {R"({"prompt": "a", "n": 18446744073709551616})", "n", "n must be an integer in [1, 8], got 1.8446744073709552e+19"},
      {R"({"prompt": "a", "n": true})", "n", "n must be an integer in [1, 8], got boolean true"},
      {R"({"prompt": "a", "steps": 151})", "steps", "steps must be an integer in [1, 150], got 151"},
      {R"({"prompt": "a", "steps": 0})", "steps", "steps must be an integer in [1, 150], got 0"},
      {R"({"prompt": "a", "cfg_scale": -1})", "cfg_scale", "cfg_scale must be a finite number in [0, 100], got -1"},
      {R"({"prompt": "a", "cfg_scale": 1e999})", "", ""},  // JSON overflow: not valid JSON (checked below)
      {R"({"prompt": "a", "size": "512"})", "size", R"(size "512" must be WIDTHxHEIGHT (e.g. 512x512) or auto)"},
      {R"({"prompt": "a", "size": "500x512"})", "size", "size 500x512: each side must be a multiple of 8 in [64, 2048]"},
      {R"({"prompt": "a", "size": "4096x4096"})", "size",
       "size 4096x4096: each side must be a multiple of 8 in [64, 2048]"},
      {R"({"prompt": "a", "size": "-512x512"})", "size", R"(size "-512x512" must be WIDTHxHEIGHT (e.g. 512x512) or auto)"},
      {R"({"prompt": "a", "response_format": "jpeg"})", "response_format",
       R"(response_format "jpeg" must be b64_json or url)"},
      {R"({"prompt": "a", "output_format": "webp"})", "output_format",
       R"(output_format "webp" is not supported: png only)"},
      {R"({"prompt": "a", "sampler": "DDIM"})", "sampler", ""},
      {R"({"prompt": "a", "scheduler": "exponential"})", "scheduler", ""},
      {R"({"prompt": "a", "clip_skip": 13})", "clip_skip", "clip_skip must be an integer in [1, 12], got 13"},
      {R"({"prompt": "a", "stream": "yes"})", "stream", R"(stream must be true or false, got string "yes")"},
      {R"({"prompt": "a", "seed": 1e30})", "seed", ""},
  };
  for (const Case& c : cases) {
    const ApiError e = OpenAiError(c.body);
    EXPECT_EQ(e.code, ErrorCode::kInvalidParams) << c.body;
    if (c.param.empty() && c.message.empty()) {
      EXPECT_EQ(e.message.rfind("request body is not valid JSON", 0), 0u) << c.body << ": " << e.message;
      continue;
    }
    EXPECT_EQ(e.param, c.param) << c.body << ": " << e.message;
    if (!c.message.empty()) {
      EXPECT_EQ(e.message, c.message) << c.body;
    }
  }
  // The body of the answer names the field, as OpenAI's clients read it.
  const json body = OpenAiErrorBody(OpenAiError(R"({"prompt": "a", "n": 9})"));
  EXPECT_EQ(body["error"]["param"], "n");
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_EQ(body["error"]["code"], "invalid_params");
  EXPECT_TRUE(OpenAiErrorBody({ErrorCode::kQueueFull, "full", ""})["error"]["param"].is_null());
  EXPECT_EQ(OpenAiErrorBody({ErrorCode::kQueueFull, "full", ""})["error"]["type"], "rate_limit_error");
  EXPECT_EQ(A1111ErrorBody(OpenAiError(R"({"prompt": "a", "n": 9})"))["detail"],
            "n must be an integer in [1, 8], got 9");
}

TEST(ServerParsingTest, PromptLengthIsLimited) {
  const std::string long_prompt(8193, 'a');
  const ApiError e = OpenAiError(json{{"prompt", long_prompt}}.dump());
  EXPECT_EQ(e.param, "prompt");
  EXPECT_EQ(e.message, "prompt is 8193 bytes long, more than the 8192 allowed");
  EXPECT_EQ(OpenAiError(json{{"prompt", "a"}, {"negative_prompt", long_prompt}}.dump()).param, "negative_prompt");
  EXPECT_EQ(OpenAiError(json{{"prompt", std::string(8192, 'a')}}.dump()).code, ErrorCode::kOk);
}

TEST(ServerParsingTest, OpenAiRequestWithExtensionsAndUnknownFields) {
  OpenAiImageRequest r;
  const ApiError e = OpenAiError(R"({"model": "dall-e-3", "prompt": "a cat", "n": 2, "size": "768x512",
      "response_format": "url", "output_format": "png", "user": "u1", "quality": "hd", "style": "vivid",
      "something_new": {"nested": [1, 2]}, "negative_prompt": "blurry", "steps": 12, "cfg_scale": 5.5,
      "seed": 42, "sampler": "DPM++ 2M Karras", "clip_skip": 2, "stream": false, "partial_images": 2})",
                                 &r);
  ASSERT_EQ(e.code, ErrorCode::kOk) << e.message;
  EXPECT_EQ(r.image.prompt, "a cat");
  EXPECT_EQ(r.image.n, 2);
  EXPECT_EQ(r.image.width, 768);
  EXPECT_EQ(r.image.height, 512);
  EXPECT_TRUE(r.response_url);
  EXPECT_EQ(r.image.negative_prompt, "blurry");
  EXPECT_EQ(r.image.steps, 12);
  EXPECT_FLOAT_EQ(r.image.cfg_scale, 5.5f);
  EXPECT_EQ(r.image.seed, 42);
  EXPECT_EQ(r.image.sampler, SamplerKind::kDpmpp2m);
  EXPECT_EQ(r.image.scheduler, Scheduler::kKarras);  // from the name's suffix
  EXPECT_EQ(r.image.clip_skip, 2);
  EXPECT_EQ(r.partial_images, 2);
  // Defaults fill what was not given; negative seeds are random.
  ASSERT_EQ(OpenAiError(R"({"prompt": "x", "seed": -77})", &r).code, ErrorCode::kOk);
  EXPECT_EQ(r.image.width, 512);
  EXPECT_EQ(r.image.steps, GenerateParams{}.steps);
  EXPECT_EQ(r.image.sampler, GenerateParams{}.sampler);
  EXPECT_EQ(r.image.seed, -1);
  EXPECT_FALSE(r.response_url);
  // An explicit scheduler wins over a suffix.
  ASSERT_EQ(OpenAiError(R"({"prompt": "x", "sampler": "Euler a Karras", "scheduler": "discrete"})", &r).code,
            ErrorCode::kOk);
  EXPECT_EQ(r.image.sampler, SamplerKind::kEulerA);
  EXPECT_EQ(r.image.scheduler, Scheduler::kDiscrete);
}

TEST(ServerParsingTest, JobsTakeWidthAndHeightToo) {
  OpenAiImageRequest r;
  const auto parse = [&](const std::string& body) {
    r = OpenAiImageRequest{};
    return ParseOpenAiImageRequest(body, RequestLimits{}, LocalCaps(), GenerateParams{}, true, &r)
        .value_or(ApiError{ErrorCode::kOk, "", ""});
  };
  ASSERT_EQ(parse(R"({"prompt": "x", "width": 256, "height": 128})").code, ErrorCode::kOk);
  EXPECT_EQ(r.image.width, 256);
  EXPECT_EQ(r.image.height, 128);
  EXPECT_EQ(parse(R"({"prompt": "x", "width": 256})").param, "height");
  EXPECT_EQ(parse(R"({"prompt": "x", "width": 250, "height": 256})").message,
            "width 250 must be a multiple of 8 in [64, 2048]");
  EXPECT_EQ(parse(R"({"prompt": "x", "width": 4096, "height": 256})").param, "width");
  EXPECT_EQ(parse(R"({"prompt": "x", "size": "64x64", "width": 64, "height": 64})").param, "size");
}

TEST(ServerParsingTest, CloudSizesAreCheckedAgainstTheProvider) {
  ProviderCapabilities dalle3;
  dalle3.sizes = {{1024, 1024}, {1792, 1024}};
  dalle3.default_size = {1024, 1024};
  OpenAiImageRequest r;
  auto e = ParseOpenAiImageRequest(R"({"prompt": "x", "size": "512x512"})", RequestLimits{}, dalle3, GenerateParams{},
                                   false, &r);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->message, "size 512x512 is not supported (1024x1024, 1792x1024)");
  r = OpenAiImageRequest{};
  e = ParseOpenAiImageRequest(R"({"prompt": "x", "steps": 30})", RequestLimits{}, dalle3, GenerateParams{}, false, &r);
  EXPECT_FALSE(e.has_value()) << e->message;
  EXPECT_EQ(r.image.steps, 30);  // accepted, ignored by the cloud; not filled from defaults either
}

TEST(ServerParsingTest, A1111Txt2ImgShape) {
  A1111Request r;
  auto e = ParseA1111Txt2Img(R"({"prompt": "a cat", "negative_prompt": "dog", "steps": 7, "cfg_scale": 6,
      "width": 256, "height": 128, "sampler_name": "DPM++ 2M Karras", "seed": 5, "batch_size": 2, "n_iter": 3,
      "override_settings": {"CLIP_stop_at_last_layers": 2, "sd_model_checkpoint": "x"}, "save_images": true,
      "alwayson_scripts": {}, "restore_faces": false})",
                             RequestLimits{}, LocalCaps(), GenerateParams{}, &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  EXPECT_EQ(r.image.n, 6);
  EXPECT_EQ(r.image.width, 256);
  EXPECT_EQ(r.image.height, 128);
  EXPECT_EQ(r.image.sampler, SamplerKind::kDpmpp2m);
  EXPECT_EQ(r.image.scheduler, Scheduler::kKarras);
  EXPECT_EQ(r.image.clip_skip, 2);
  EXPECT_EQ(r.image.seed, 5);
  // A1111's old sampler_index, and each side defaulting on its own.
  r = A1111Request{};
  e = ParseA1111Txt2Img(R"({"prompt": "x", "sampler_index": "Euler a", "width": 256})", RequestLimits{}, LocalCaps(),
                        GenerateParams{}, &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  EXPECT_EQ(r.image.sampler, SamplerKind::kEulerA);
  EXPECT_EQ(r.image.width, 256);
  EXPECT_EQ(r.image.height, 512);
  e = ParseA1111Txt2Img(R"({"prompt": "x", "batch_size": 4, "n_iter": 3})", RequestLimits{}, LocalCaps(),
                        GenerateParams{}, &r);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "batch_size");
  EXPECT_EQ(e->message, "batch_size * n_iter = 12 images: at most 8");
  r = A1111Request{};
  e = ParseA1111Txt2Img(R"({"prompt": "x", "override_settings": {"CLIP_stop_at_last_layers": "two"}})",
                        RequestLimits{}, LocalCaps(), GenerateParams{}, &r);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "override_settings.CLIP_stop_at_last_layers");
  e = ParseA1111Txt2Img(R"({"prompt": "x", "sampler_name": "Nope"})", RequestLimits{}, LocalCaps(), GenerateParams{},
                        &r);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "sampler_name");
  EXPECT_NE(e->message.find("\"DPM++ 2M\""), std::string::npos) << e->message;
}

TEST(ServerParsingTest, A1111SamplerSpellings) {
  ImageRequest r;
  for (const auto& [name, kind, scheduler] :
       std::vector<std::tuple<std::string, SamplerKind, std::optional<Scheduler>>>{
           {"DPM++ 2M", SamplerKind::kDpmpp2m, std::nullopt},
           {"Euler a", SamplerKind::kEulerA, std::nullopt},
           {"euler_a", SamplerKind::kEulerA, std::nullopt},
           {"DPM++ 2M Karras", SamplerKind::kDpmpp2m, Scheduler::kKarras},
           {"dpm++ 2m karras", SamplerKind::kDpmpp2m, Scheduler::kKarras},
           {"DPM++ 2S a Karras", SamplerKind::kDpmpp2sA, Scheduler::kKarras},
           {"Heun", SamplerKind::kHeun, std::nullopt},
           {"LCM", SamplerKind::kLcm, std::nullopt}}) {
    r = ImageRequest{};
    EXPECT_FALSE(ParseSamplerName("sampler_name", name, false, &r).has_value()) << name;
    EXPECT_EQ(r.sampler, kind) << name;
    EXPECT_EQ(r.scheduler, scheduler) << name;
  }
  EXPECT_TRUE(ParseSamplerName("sampler_name", "Karras", false, &r).has_value());
  EXPECT_TRUE(ParseSamplerName("sampler_name", "DDIM Karras", false, &r).has_value());
}

TEST(ServerParsingTest, BearerAuthInConstantTime) {
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
  EXPECT_FALSE(CheckBearer("", "").has_value());  // no key configured: open
  EXPECT_FALSE(CheckBearer("Bearer k1", "k1").has_value());
  EXPECT_FALSE(CheckBearer("bearer  k1 ", "k1").has_value());
  for (const char* header : {"", "k1", "Basic azE=", "Bearer", "Bearer k2", "Bearer k1x"}) {
    auto e = CheckBearer(header, "k1");
    ASSERT_TRUE(e.has_value()) << header;
    EXPECT_EQ(e->code, ErrorCode::kUnauthorized);
    EXPECT_EQ(e->http_status(), 401);
    EXPECT_EQ(e->message.find("k1"), std::string::npos) << "never echo the key";
  }
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("192.168.1.2"));
}

TEST(ServerParsingTest, SseAndAccessLogFormats) {
  EXPECT_EQ(SseEvent("step", R"({"a":1})", 7), "id: 7\nevent: step\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(SseEvent("x", "l1\nl2"), "event: x\ndata: l1\ndata: l2\n\n");
  EXPECT_EQ(SseComment("ping"), ": ping\n\n");
  AccessEntry e;
  e.method = "POST";
  e.route = "/v1/jobs/{id}";
  e.path = "/v1/jobs/a b\n\"c";
  e.status = 404;
  e.ms = 1.25;
  e.remote = "127.0.0.1";
  e.error = ErrorCode::kNotFound;
  EXPECT_EQ(FormatAccessLine(e),
            "access method=POST route=/v1/jobs/{id} path=/v1/jobs/a\\x20b\\x0a\\x22c status=404 ms=1.2 job=- "
            "remote=127.0.0.1 error=not_found");
  e.path = std::string(500, 'p');
  EXPECT_NE(FormatAccessLine(e).find(std::string(200, 'p') + "... "), std::string::npos);
}

TEST(ServerParsingTest, MetricsText) {
  Metrics m;
  m.CountRequest("POST", "/v1/jobs", 202);
  m.CountRequest("POST", "/v1/jobs", 202);
  m.CountRequest("POST", "/v1/jobs", 429);
  m.CountError(ErrorCode::kQueueFull);
  m.CountJob(ErrorCode::kOk, 2.0, 40);
  m.CountJob(ErrorCode::kCancelled, 0.5, 3);
  const std::string text = m.Render({3, 2, 16, 2});
  for (const char* line : {"sdr_http_requests_total{method=\"POST\",route=\"/v1/jobs\",status=\"202\"} 2\n",
                           "sdr_http_requests_total{method=\"POST\",route=\"/v1/jobs\",status=\"429\"} 1\n",
                           "sdr_http_errors_total{code=\"queue_full\"} 1\n", "sdr_jobs_total{outcome=\"ok\"} 1\n",
                           "sdr_jobs_total{outcome=\"cancelled\"} 1\n", "sdr_generation_seconds_bucket{le=\"1\"} 0\n",
                           "sdr_generation_seconds_bucket{le=\"2.5\"} 1\n",
                           "sdr_generation_seconds_bucket{le=\"+Inf\"} 1\n", "sdr_generation_seconds_count 1\n",
                           "sdr_sampling_steps_total 43\n", "sdr_steps_per_second 20.0000\n", "sdr_queue_depth 3\n",
                           "sdr_jobs_running 2\n", "sdr_queue_capacity 16\n", "sdr_pool_size 2\n",
                           "# TYPE sdr_generation_seconds histogram\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

TEST(ServerParsingTest, LatentPreviewIsTheLinearProjection) {
  // 4 x 1 x 2 latent: pixel 0 all zeros (mid grey), pixel 1 only channel 0 = 1.
  const std::vector<float> data = {0, 1, 0, 0, 0, 0, 0, 0};
  const LatentView view{data, 4, 1, 2};
  auto png = LatentPreviewPng(view);
  ASSERT_TRUE(png.ok()) << png.status().ToString();
  auto size = DecodePngSize(*png);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(size->width, 2);
  EXPECT_EQ(size->height, 1);
  auto uri = LatentPreviewDataUri(view);
  ASSERT_TRUE(uri.ok());
  EXPECT_EQ(uri->rfind("data:image/png;base64,", 0), 0u);
  EXPECT_EQ(*DecodeBase64(uri->substr(22)), *png);
  EXPECT_FALSE(LatentPreviewPng({data, 2, 2, 2}).ok());
  EXPECT_FALSE(LatentPreviewPng({std::span<const float>(data).first(4), 4, 1, 2}).ok());
}

TEST(ServerParsingTest, InfotextReadBackFromThePng) {
  GenerationInfo info;
  info.prompt = "a cat, (masterpiece:1.2)\nsecond line";
  info.negative_prompt = "blurry";
  info.steps = 7;
  info.sampler = "DPM++ 2M";
  info.schedule = "Karras";
  info.cfg_scale = 6.5;
  info.seed = 1234;
  info.width = 256;
  info.height = 128;
  info.model_name = "tiny: model";  // quoted (has ':')
  const std::string text = FormatInfotext(info);
  const std::vector<uint8_t> rgb(4 * 2 * 3, 100);
  auto png = EncodePng(rgb.data(), 4, 2, {{"parameters", text}, {"Comment", "caf\xc3\xa9"}, {"Title", "日本"}});
  ASSERT_TRUE(png.ok());
  auto chunks = ReadPngTextChunks(*png);
  ASSERT_TRUE(chunks.ok()) << chunks.status().ToString();
  ASSERT_EQ(chunks->size(), 3u);
  EXPECT_EQ((*chunks)[0], (std::pair<std::string, std::string>{"parameters", text}));
  EXPECT_EQ((*chunks)[1].second, "caf\xc3\xa9");  // tEXt (Latin-1) back to UTF-8
  EXPECT_EQ((*chunks)[2].second, "日本");          // iTXt
  const ParsedInfotext p = ParseInfotext(text);
  EXPECT_EQ(p.prompt, info.prompt);
  EXPECT_EQ(p.negative_prompt, "blurry");
  const std::vector<std::pair<std::string, std::string>> want = {
      {"Steps", "7"},       {"Sampler", "DPM++ 2M"}, {"Schedule type", "Karras"}, {"CFG scale", "6.5"},
      {"Seed", "1234"},     {"Size", "256x128"},     {"Model", "tiny: model"}};
  EXPECT_EQ(p.params, want);
  // Not an infotext: all prompt. Not a PNG: refused.
  EXPECT_EQ(ParseInfotext("just words, here").prompt, "just words, here");
  EXPECT_TRUE(ParseInfotext("just words, here").params.empty());
  EXPECT_FALSE(ReadPngTextChunks("GIF89a...").ok());
  EXPECT_FALSE(ReadPngTextChunks(png->substr(0, 40)).ok());
  auto plain = EncodePng(rgb.data(), 4, 2);
  ASSERT_TRUE(ReadPngTextChunks(*plain).ok());
  EXPECT_TRUE(ReadPngTextChunks(*plain)->empty());
}

TEST(ServerParsingTest, A1111PngInfoAnswer) {
  const std::vector<uint8_t> rgb(2 * 2 * 3, 7);
  auto png = EncodePng(rgb.data(), 2, 2,
                       {{"parameters", "a dog\nNegative prompt: cat\nSteps: 5, Sampler: Euler, Size: 64x32"},
                        {"extra", "v"}});
  ASSERT_TRUE(png.ok());
  json out;
  auto e = A1111PngInfo(json{{"image", "data:image/png;base64," + EncodeBase64(*png)}}.dump(), RequestLimits{}, &out);
  ASSERT_FALSE(e.has_value()) << e->message;
  EXPECT_EQ(out["info"], "a dog\nNegative prompt: cat\nSteps: 5, Sampler: Euler, Size: 64x32");
  EXPECT_EQ(out["items"], (json{{"extra", "v"}}));
  EXPECT_EQ(out["parameters"]["Prompt"], "a dog");
  EXPECT_EQ(out["parameters"]["Negative prompt"], "cat");
  EXPECT_EQ(out["parameters"]["Steps"], "5");
  EXPECT_EQ(out["parameters"]["Size-1"], "64");
  EXPECT_EQ(out["parameters"]["Size-2"], "32");
  for (const std::string body : {R"({})", R"({"image": 5})", R"({"image": "!!!"})", R"({"image": "aGVsbG8="})",
                                 R"({"image": "data:image/png,abc"})"}) {
    e = A1111PngInfo(body, RequestLimits{}, &out);
    ASSERT_TRUE(e.has_value()) << body;
    EXPECT_EQ(e->param, "image") << body;
    EXPECT_EQ(e->http_status(), 400);
  }
}

}  // namespace
}  // namespace sdr
