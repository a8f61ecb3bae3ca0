// The OpenAI and Azure OpenAI providers against a real HTTP server on 127.0.0.1 that answers like
// the services do: successes (b64_json, url + download), every error kind, retries with their
// delays, timeouts, and bodies that are malformed, cut short, too large or not images. Short
// backoffs keep the suite fast; Retry-After is honoured with a real 1 s wait.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "imagegen/base64.h"
#include "imagegen/cloud_errors.h"
#include "imagegen/cloud_provider.h"
#include "imagegen/generator.h"
#include "imagegen/image_check.h"
#include "imagegen/retry.h"
#include "runtime/errors.h"
#include "testing/fake_image_server.h"

namespace sdr {
namespace {

using testing::FakeImageServer;
using Clock = std::chrono::steady_clock;

constexpr char kKey[] = "sk-test-0123456789abcdef-secret";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Fast retries for tests (the policy's shape, shorter delays).
CloudTransportOptions FastTransport() {
  CloudTransportOptions t;
  t.connect_timeout_s = 2;
  t.retry.initial_delay_s = 0.01;
  t.retry.max_delay_s = 0.05;
  t.retry.max_server_delay_s = 5;
  t.max_response_bytes = 4 << 20;
  return t;
}

class CloudProviderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Nothing may go through a proxy: the fake server is on 127.0.0.1.
    for (const char* v : {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
      unsetenv(v);
    }
  }
  std::unique_ptr<Provider> OpenAi(const std::string& model = "dall-e-3", CloudTransportOptions t = FastTransport()) {
    auto p = MakeOpenAiProvider(server_.Url("/v1"), kKey, model, t);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return std::move(p).value();
  }
  std::unique_ptr<Provider> Azure(CloudTransportOptions t = FastTransport()) {
    auto p = MakeAzureProvider(server_.Url("/"), kKey, "my-dalle3", "2024-02-01", t);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return std::move(p).value();
  }
  static ImageRequest Req(const std::string& prompt = "a red fox in the snow") {
    ImageRequest r;
    r.prompt = prompt;
    return r;
  }
  // Generates and checks the failure: code, attempts seen by the server, key never shown.
  Status Fail(Provider& p, ErrorCode want, size_t want_requests, double timeout_s = 20) {
    auto r = p.Generate(Req(), {}, nullptr, timeout_s);
    EXPECT_FALSE(r.ok());
    if (r.ok()) return Status::Ok();
    EXPECT_EQ(ClassifyError(r.status()), want) << r.status().ToString();
    EXPECT_EQ(server_.Received().size(), want_requests) << r.status().ToString();
    EXPECT_EQ(r.status().message().find(kKey), std::string::npos) << r.status().message();
    return r.status();
  }
  FakeImageServer server_;
};

TEST_F(CloudProviderTest, OpenAiB64JsonSuccess) {
  const std::string png = testing::TestPng(16, 8);
  server_.Script({FakeImageServer::B64Images({png}, "a red fox, snowy forest")});
  auto provider = OpenAi();
  int progress_calls = 0;
  auto r = provider->Generate(Req(), [&](const ImageProgress&) { return ++progress_calls > 0; }, nullptr, 20);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->images.size(), 1u);
  EXPECT_EQ(r->images[0].png, png);
  EXPECT_EQ(r->images[0].width, 16);  // the decoded size, not the requested 1024x1024
  EXPECT_EQ(r->images[0].height, 8);
  EXPECT_EQ(r->images[0].revised_prompt, "a red fox, snowy forest");
  EXPECT_EQ(r->images[0].seed, -1);
  EXPECT_EQ(r->provider, "openai");
  EXPECT_EQ(r->model, "dall-e-3");
  EXPECT_EQ(r->request_id, "req_ok_1");
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(progress_calls, 1);
  // What went over the wire: POST {base}/images/generations, Bearer auth, the documented body.
  const auto got = server_.Received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].path, "/v1/images/generations");
  EXPECT_EQ(got[0].headers.at("authorization"), std::string("Bearer ") + kKey);
  EXPECT_EQ(got[0].headers.count("api-key"), 0u);
  const auto body = nlohmann::json::parse(got[0].body);
  EXPECT_EQ(body, (nlohmann::json{{"model", "dall-e-3"},
                                  {"prompt", "a red fox in the snow"},
                                  {"n", 1},
                                  {"size", "1024x1024"},
                                  {"response_format", "b64_json"}}));
}

TEST_F(CloudProviderTest, GptImageModelsGetNoResponseFormat) {
  server_.Script({FakeImageServer::B64Images({testing::TestPng()})});
  auto provider = OpenAi("gpt-image-1");
  ImageRequest req = Req();
  req.width = 1536;
  req.height = 1024;
  req.n = 2;
  ASSERT_TRUE(provider->Generate(req, {}, nullptr, 20).ok());
  const auto body = nlohmann::json::parse(server_.Received().at(0).body);
  EXPECT_FALSE(body.contains("response_format"));
  EXPECT_EQ(body["size"], "1536x1024");
  EXPECT_EQ(body["n"], 2);
}

TEST_F(CloudProviderTest, UrlResultsAreDownloadedWithoutCredentials) {
  const std::string a = testing::TestPng(8, 8), b = testing::TestPng(24, 16);
  server_.ServeFile("/files/a.png", a);
  server_.ServeFile("/files/b.png", b);
  server_.Script({FakeImageServer::UrlImages({server_.Url("/files/a.png"), server_.Url("/files/b.png")})});
  auto provider = OpenAi("dall-e-2");
  ImageRequest req = Req();
  req.n = 2;
  req.width = req.height = 512;
  auto r = provider->Generate(req, {}, nullptr, 20);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->images.size(), 2u);
  EXPECT_EQ(r->images[0].png, a);
  EXPECT_EQ(r->images[1].png, b);
  EXPECT_EQ(r->images[1].width, 24);
  const auto got = server_.Received();
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(got[i].method, "GET");
    EXPECT_EQ(got[i].headers.count("authorization"), 0u) << "the key must not go to the image URL";
    EXPECT_EQ(got[i].headers.count("api-key"), 0u);
  }
  // A URL that fails to download is the provider's error, named.
  server_.Script({FakeImageServer::UrlImages({server_.Url("/files/missing.png")})});
  auto bad = provider->Generate(req, {}, nullptr, 20);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(ClassifyError(bad.status()), ErrorCode::kProviderError);
  EXPECT_NE(bad.status().message().find("downloading image 0"), std::string::npos) << bad.status().message();
}

TEST_F(CloudProviderTest, Unauthorized401IsAuthFailedWithoutRetryOrKey) {
  // The service echoes part of the key in its message; the provider never shows ours.
  server_.Script({FakeImageServer::Error(401, std::string("Incorrect API key provided: ") + kKey,
                                         "invalid_request_error", "invalid_api_key")});
  auto provider = OpenAi();
  const Status s = Fail(*provider, ErrorCode::kAuthFailed, 1);
  EXPECT_NE(s.message().find("HTTP 401"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("req_err_401"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("invalid_api_key"), std::string::npos) << s.message();
  EXPECT_EQ(HttpStatus(ClassifyError(s)), 401);
}

TEST_F(CloudProviderTest, ContentPolicyViolations) {
  auto provider = OpenAi();
  server_.Script({FakeImageServer::Error(400, "Your request was rejected as a result of our safety system.",
                                         "invalid_request_error", "content_policy_violation")});
  const Status s = Fail(*provider, ErrorCode::kContentPolicy, 1);
  EXPECT_NE(s.message().find("safety system"), std::string::npos) << s.message();
  server_.Script({FakeImageServer::Error(400, "Request was rejected by moderation.", "image_generation_user_error",
                                         "moderation_blocked")});
  Fail(*provider, ErrorCode::kContentPolicy, 2).IgnoreError();
  // Any other 400 is the provider's error, with its message.
  server_.Script({FakeImageServer::Error(400, "Invalid size.", "invalid_request_error", "invalid_value")});
  const Status other = Fail(*provider, ErrorCode::kProviderError, 3);
  EXPECT_NE(other.message().find("Invalid size."), std::string::npos) << other.message();
}

TEST_F(CloudProviderTest, AzureRequestShapeAndContentFilter) {
  const std::string png = testing::TestPng();
  server_.Script({FakeImageServer::B64Images({png})});
  auto provider = Azure();
  EXPECT_EQ(provider->name(), "azure");
  auto ok = provider->Generate(Req(), {}, nullptr, 20);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->model, "my-dalle3");
  const auto got = server_.Received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].path, "/openai/deployments/my-dalle3/images/generations");
  EXPECT_EQ(got[0].query_api_version, "2024-02-01");
  EXPECT_EQ(got[0].headers.at("api-key"), kKey);
  EXPECT_EQ(got[0].headers.count("authorization"), 0u);
  const auto body = nlohmann::json::parse(got[0].body);
  EXPECT_FALSE(body.contains("model"));  // the deployment is the model
  EXPECT_EQ(body["size"], "1024x1024");

  // Azure's content filter answer.
  server_.Script({FakeImageServer::Json(400, R"({"error": {"code": "contentFilter",
      "message": "Your task failed as a result of our safety system.",
      "inner_error": {"code": "ResponsibleAIPolicyViolation",
                      "content_filter_results": {"violence": {"filtered": true, "severity": "high"}}}}})",
                                        {{"apim-request-id", "apim-42"}})});
  const Status s = Fail(*provider, ErrorCode::kContentPolicy, 2);
  EXPECT_NE(s.message().find("apim-42"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("ResponsibleAIPolicyViolation"), std::string::npos) << s.message();
}

TEST_F(CloudProviderTest, RateLimitWaitsForRetryAfter) {
  server_.Script({FakeImageServer::Error(429, "Rate limit reached for images per minute.", "requests",
                                         "rate_limit_exceeded", {{"retry-after", "1"}}),
                  FakeImageServer::B64Images({testing::TestPng()})});
  auto provider = OpenAi();
  const auto start = Clock::now();
  auto r = provider->Generate(Req(), {}, nullptr, 20);
  const double took = Seconds(Clock::now() - start);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->attempts, 2);
  const auto got = server_.Received();
  ASSERT_EQ(got.size(), 2u);
  const double gap = Seconds(got[1].at - got[0].at);
  std::printf("[ measured ] Retry-After: 1 -> second attempt %.3f s after the first (call %.3f s)\n", gap, took);
  EXPECT_GE(gap, 0.95);  // the server's delay, not the 10 ms backoff
  EXPECT_LT(gap, 5.0);
}

TEST_F(CloudProviderTest, RateLimitRetryAfterMsThenGivesUp) {
  server_.Script({FakeImageServer::Error(429, "Rate limit reached.", "requests", "rate_limit_exceeded",
                                         {{"retry-after-ms", "30"}})});
  auto provider = OpenAi();
  const Status s = Fail(*provider, ErrorCode::kRateLimited, 3);  // 1 + 2 retries
  EXPECT_NE(s.message().find("after 3 attempts"), std::string::npos) << s.message();
  const auto got = server_.Received();
  EXPECT_GE(Seconds(got[2].at - got[1].at), 0.025);
  EXPECT_EQ(HttpStatus(ClassifyError(s)), 429);
}

TEST_F(CloudProviderTest, RetryAfterBeyondTheCapIsNotWaitedFor) {
  server_.Script({FakeImageServer::Error(429, "Slow down.", "requests", "rate_limit_exceeded",
                                         {{"retry-after", "600"}})});
  auto provider = OpenAi();
  const auto start = Clock::now();
  const Status s = Fail(*provider, ErrorCode::kRateLimited, 1);
  EXPECT_LT(Seconds(Clock::now() - start), 2.0);
  EXPECT_NE(s.message().find("more than the 5 s cap"), std::string::npos) << s.message();
}

TEST_F(CloudProviderTest, InsufficientQuotaIsNotRetried) {
  server_.Script({FakeImageServer::Error(429, "You exceeded your current quota, please check your plan.",
                                         "insufficient_quota", "insufficient_quota", {{"retry-after", "1"}})});
  auto provider = OpenAi();
  const Status s = Fail(*provider, ErrorCode::kQuotaExhausted, 1);
  EXPECT_NE(s.message().find("exceeded your current quota"), std::string::npos) << s.message();
}

TEST_F(CloudProviderTest, ServerErrorThenSuccessCountsTheRetry) {
  server_.Script({FakeImageServer::Error(500, "The server had an error while processing your request.", "server_error",
                                         ""),
                  FakeImageServer::B64Images({testing::TestPng()})});
  auto provider = OpenAi();
  auto r = provider->Generate(Req(), {}, nullptr, 20);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(server_.Received().size(), 2u);
}

TEST_F(CloudProviderTest, ServerErrorsAfterTheRetriesAreUnavailable) {
  server_.Script({FakeImageServer::Json(503, "<html>Service Unavailable</html>")});
  auto provider = OpenAi();
  const Status s = Fail(*provider, ErrorCode::kUnavailable, 3);
  EXPECT_NE(s.message().find("HTTP 503"), std::string::npos) << s.message();
  // x-should-retry: false wins over the status.
  server_.Script({FakeImageServer::Json(500, "{}", {{"x-should-retry", "false"}})});
  Fail(*provider, ErrorCode::kUnavailable, 4).IgnoreError();
}

TEST_F(CloudProviderTest, SlowResponseTimesOutWithinBounds) {
  FakeImageServer::Reply slow = FakeImageServer::B64Images({testing::TestPng()});
  slow.delay_s = 4;
  server_.Script({slow});
  auto provider = OpenAi();
  const auto start = Clock::now();
  const Status s = Fail(*provider, ErrorCode::kGenerationTimeout, 1, /*timeout_s=*/1.0);
  const double took = Seconds(Clock::now() - start);
  std::printf("[ measured ] 1 s timeout against a 4 s answer: failed after %.3f s\n", took);
  EXPECT_GE(took, 0.9);
  EXPECT_LT(took, 3.0);
  EXPECT_EQ(HttpStatus(ClassifyError(s)), 504);
}

TEST_F(CloudProviderTest, CancelStopsTheRequest) {
  FakeImageServer::Reply slow = FakeImageServer::B64Images({testing::TestPng()});
  slow.delay_s = 4;
  server_.Script({slow});
  auto provider = OpenAi();
  CancelToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel.Cancel();
  });
  const auto start = Clock::now();
  auto r = provider->Generate(Req(), {}, &cancel, 20);
  canceller.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ClassifyError(r.status()), ErrorCode::kCancelled) << r.status().ToString();
  EXPECT_LT(Seconds(Clock::now() - start), 3.0);
}

TEST_F(CloudProviderTest, MalformedJsonIsAProviderError) {
  server_.Script({FakeImageServer::Json(200, R"({"created": 1, "data": [{"b64_json": )")});
  auto provider = OpenAi();
  const Status s = Fail(*provider, ErrorCode::kProviderError, 1);
  EXPECT_NE(s.message().find("not JSON"), std::string::npos) << s.message();
  server_.Script({FakeImageServer::Json(200, R"({"created": 1, "data": []})")});
  Fail(*provider, ErrorCode::kProviderError, 2).IgnoreError();
  server_.Script({FakeImageServer::Json(200, R"({"data": [{"b64_json": "@@not base64@@"}]})")});
  const Status b64 = Fail(*provider, ErrorCode::kProviderError, 3);
  EXPECT_NE(b64.message().find("base64"), std::string::npos) << b64.message();
}

TEST_F(CloudProviderTest, TruncatedBodyIsAConnectionErrorRetried) {
  FakeImageServer::Reply cut = FakeImageServer::B64Images({testing::TestPng(64, 64)});
  cut.truncate_at = cut.body.size() / 2;
  server_.Script({cut, FakeImageServer::B64Images({testing::TestPng()})});
  auto provider = OpenAi();
  auto r = provider->Generate(Req(), {}, nullptr, 20);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->attempts, 2);
  // Always cut: unavailable after the retries.
  server_.Script({cut});
  const Status s = Fail(*provider, ErrorCode::kUnavailable, 5);
  EXPECT_NE(s.message().find("after 3 attempts"), std::string::npos) << s.message();
}

TEST_F(CloudProviderTest, OversizedBodyIsRefused) {
  CloudTransportOptions t = FastTransport();
  t.max_response_bytes = 64 << 10;
  auto provider = OpenAi("dall-e-3", t);
  server_.Script({FakeImageServer::B64Images({std::string(100 << 10, 'x')})});  // ~133 KB of JSON
  const Status s = Fail(*provider, ErrorCode::kProviderError, 1);
  EXPECT_NE(s.message().find("larger than the 65536-byte limit"), std::string::npos) << s.message();
}

TEST_F(CloudProviderTest, BodiesThatAreNotImagesAreRefused) {
  auto provider = OpenAi();
  server_.Script({FakeImageServer::B64Images({"hello, this is not an image"})});
  const Status s = Fail(*provider, ErrorCode::kProviderError, 1);
  EXPECT_NE(s.message().find("not an image"), std::string::npos) << s.message();
  // A PNG cut in half does not decode.
  const std::string png = testing::TestPng(64, 64);
  server_.Script({FakeImageServer::B64Images({png.substr(0, png.size() / 2)})});
  const Status half = Fail(*provider, ErrorCode::kProviderError, 2);
  EXPECT_NE(half.message().find("PNG"), std::string::npos) << half.message();
  // JPEG is refused by name (we always ask for PNG).
  server_.Script({FakeImageServer::B64Images({std::string("\xff\xd8\xff\xe0\x00\x10JFIF\x00", 11)})});
  const Status jpeg = Fail(*provider, ErrorCode::kProviderError, 3);
  EXPECT_NE(jpeg.message().find("a jpeg image: only PNG is accepted"), std::string::npos) << jpeg.message();
}

TEST_F(CloudProviderTest, ConnectionRefusedIsUnavailableAfterRetries) {
  int port = 0;
  {
    FakeImageServer gone;  // a port that was just free and is closed again
    port = gone.port();
  }
  auto p = MakeOpenAiProvider("http://127.0.0.1:" + std::to_string(port) + "/v1", kKey, "dall-e-3", FastTransport());
  ASSERT_TRUE(p.ok());
  auto r = (*p)->Generate(Req(), {}, nullptr, 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ClassifyError(r.status()), ErrorCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("after 3 attempts"), std::string::npos) << r.status().message();
}

TEST_F(CloudProviderTest, GeneratorValidatesAgainstTheModelAndLimitsConcurrency) {
  FakeImageServer::Reply slow = FakeImageServer::B64Images({testing::TestPng()});
  slow.delay_s = 1.0;
  server_.Script({slow});
  std::vector<RequestRecord> records;
  std::mutex mu;
  GeneratorOptions opts;
  opts.max_concurrent = 1;
  opts.timeout_s = 20;
  opts.acquire_timeout_s = 0.2;
  opts.on_request = [&](const RequestRecord& r) {
    std::lock_guard<std::mutex> lock(mu);
    records.push_back(r);
  };
  auto gen = Generator::Create(OpenAi(), opts);
  ASSERT_TRUE(gen.ok());
  // dall-e-3: one image, three sizes; nothing is sent for an invalid request.
  ImageRequest two = Req();
  two.n = 2;
  auto r = (*gen)->Generate(two);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ClassifyError(r.status()), ErrorCode::kInvalidParams);
  EXPECT_NE(r.status().message().find("n 2 must be in [1, 1]"), std::string::npos) << r.status().message();
  ImageRequest small = Req();
  small.width = small.height = 512;
  r = (*gen)->Generate(small);
  EXPECT_NE(r.status().message().find("size 512x512 is not supported (1024x1024, 1792x1024, 1024x1792)"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(ClassifyError((*gen)->Generate(Req("")).status()), ErrorCode::kInvalidParams);
  EXPECT_TRUE(server_.Received().empty());

  // One slot: while a slow request runs, a second one times out waiting for the slot.
  std::thread first([&] { EXPECT_TRUE((*gen)->Generate(Req()).ok()); });
  while ((*gen)->in_flight() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto second = (*gen)->Generate(Req());
  first.join();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(ClassifyError(second.status()), ErrorCode::kAcquireTimeout) << second.status().ToString();
  EXPECT_EQ(server_.Received().size(), 1u);
  // Every request was recorded (and logged) with its outcome.
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].outcome, ErrorCode::kInvalidParams);
  EXPECT_EQ(records[3].outcome, ErrorCode::kAcquireTimeout);
  EXPECT_EQ(records[4].outcome, ErrorCode::kOk);
  EXPECT_EQ(records[4].provider, "openai");
  EXPECT_EQ(records[4].width, 1024);
  EXPECT_GE(records[4].seconds, 0.9);
  const std::string line = FormatRequestRecord(records[4]);
  EXPECT_EQ(line.rfind("imagegen provider=openai size=1024x1024 n=1 steps=default seconds=", 0), 0u) << line;
  EXPECT_NE(line.find(" outcome=ok"), std::string::npos) << line;
  EXPECT_NE(FormatRequestRecord(records[3]).find("outcome=acquire_timeout error=\""), std::string::npos);
}

// ----- The pieces, without a server ------------------------------------------------------------

TEST(CloudPiecesTest, RetryAfterForms) {
  HttpResponse r;
  EXPECT_FALSE(ServerRetryDelay(r).has_value());
  r.headers["retry-after"] = "2";
  EXPECT_EQ(ServerRetryDelay(r), 2.0);
  r.headers["retry-after-ms"] = "250";  // wins over retry-after
  EXPECT_EQ(ServerRetryDelay(r), 0.25);
  r.headers.erase("retry-after-ms");
  r.headers["retry-after"] = "Wed, 21 Oct 2015 07:28:30 GMT";
  std::tm tm{};
  strptime("Wed, 21 Oct 2015 07:28:00 GMT", "%a, %d %b %Y %H:%M:%S GMT", &tm);
  const auto now = std::chrono::system_clock::from_time_t(timegm(&tm));
  EXPECT_EQ(ServerRetryDelay(r, now), 30.0);
  r.headers["retry-after"] = "soon";
  EXPECT_FALSE(ServerRetryDelay(r).has_value());
}

TEST(CloudPiecesTest, RetryableStatusesAndBackoff) {
  HttpResponse r;
  for (long s : {408L, 409L, 429L, 500L, 502L, 503L, 504L}) {
    r.status = s;
    EXPECT_TRUE(RetryableStatus(r, false)) << s;
  }
  for (long s : {400L, 401L, 403L, 404L, 422L}) {
    r.status = s;
    EXPECT_FALSE(RetryableStatus(r, false)) << s;
  }
  r.status = 429;
  EXPECT_FALSE(RetryableStatus(r, /*quota=*/true));
  r.status = 400;
  r.headers["x-should-retry"] = "true";
  EXPECT_TRUE(RetryableStatus(r, false));
  const RetryPolicy p;  // the SDKs' numbers: 0.5 s doubling, capped at 8 s, jitter [0.75, 1]
  EXPECT_EQ(p.max_retries, 2);
  for (int i = 0; i < 100; ++i) {
    const double d0 = BackoffDelay(p, 0), d5 = BackoffDelay(p, 5);
    EXPECT_GE(d0, 0.375);
    EXPECT_LE(d0, 0.5);
    EXPECT_GE(d5, 6.0);
    EXPECT_LE(d5, 8.0);
  }
}

TEST(CloudPiecesTest, ErrorKindsMapToOneVocabulary) {
  const auto code = [](long status, const char* body) { return ClassifyHttpFailure(status, ParseCloudErrorBody(body)); };
  EXPECT_EQ(code(401, "{}"), ErrorCode::kAuthFailed);
  EXPECT_EQ(code(403, R"({"error":{"message":"region","code":"unsupported_country_region_territory"}})"),
            ErrorCode::kAuthFailed);
  EXPECT_EQ(code(400, R"({"error":{"code":"content_policy_violation"}})"), ErrorCode::kContentPolicy);
  EXPECT_EQ(code(400, R"({"error":{"code":"moderation_blocked"}})"), ErrorCode::kContentPolicy);
  EXPECT_EQ(code(400, R"({"error":{"code":"contentFilter"}})"), ErrorCode::kContentPolicy);
  EXPECT_EQ(code(400, R"({"error":{"code":"x","innererror":{"code":"ResponsibleAIPolicyViolation"}}})"),
            ErrorCode::kContentPolicy);
  EXPECT_EQ(code(429, R"({"error":{"type":"insufficient_quota"}})"), ErrorCode::kQuotaExhausted);
  EXPECT_EQ(code(429, R"({"error":{"code":"rate_limit_exceeded"}})"), ErrorCode::kRateLimited);
  EXPECT_EQ(code(500, "not json"), ErrorCode::kUnavailable);
  EXPECT_EQ(code(409, "{}"), ErrorCode::kUnavailable);
  EXPECT_EQ(code(404, R"({"error":{"code":"model_not_found"}})"), ErrorCode::kProviderError);
  // The text of a message never decides.
  EXPECT_EQ(code(400, R"({"error":{"message":"content_policy_violation","code":"invalid_value"}})"),
            ErrorCode::kProviderError);
}

TEST(CloudPiecesTest, Base64AndImageSniffing) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto d = DecodeBase64(EncodeBase64(s));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(EncodeBase64("abcd"), "YWJjZA==");
  EXPECT_FALSE(DecodeBase64("YW*j").ok());
  EXPECT_FALSE(DecodeBase64("YWJjZ").ok());
  const std::string png = testing::TestPng(40, 24);
  auto size = DecodePngSize(png);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(size->width, 40);
  EXPECT_EQ(size->height, 24);
  EXPECT_EQ(SniffImageFormat(std::string_view("RIFF\x10\x00\x00\x00WEBPVP8 ", 16)), ImageFormat::kWebp);
  EXPECT_FALSE(DecodePngSize(png, /*max_side=*/32).ok());
}

TEST(CloudPiecesTest, UrlsAndCapabilities) {
  EXPECT_EQ(OpenAiImagesUrl("https://api.openai.com/v1/"), "https://api.openai.com/v1/images/generations");
  EXPECT_EQ(AzureImagesUrl("https://x.openai.azure.com/", "d3", "2024-02-01"),
            "https://x.openai.azure.com/openai/deployments/d3/images/generations?api-version=2024-02-01");
  EXPECT_EQ(CloudCapabilities("dall-e-3").max_n, 1);
  EXPECT_EQ(CloudCapabilities("dall-e-2").sizes.size(), 3u);
  EXPECT_TRUE(CloudCapabilities("my-custom-model").sizes.empty());
  EXPECT_FALSE(MakeOpenAiProvider("https://api.openai.com/v1", "", "dall-e-3").ok());
  EXPECT_FALSE(MakeOpenAiProvider("ftp://example", "k", "dall-e-3").ok());
}

}  // namespace
}  // namespace sdr
