// End-to-end tests of `sdr serve`: the real program on 127.0.0.1 (a free port) over the tiny
// random-weight model, driven with a real HTTP client (libcurl): every endpoint, server-sent
// events arriving during a generation, cancelling queued and running jobs, the bounded queue,
// bad input of every kind (each a 4xx naming the problem, the server healthy after), auth, a
// client that disconnects, slow clients, and SIGTERM.
//
// The server computes on one thread (SD_THREADS=1): the tiny model's steps take a few
// milliseconds to tens of milliseconds, so a 150-step job runs long enough to be watched and
// cancelled, and a 2-step one is quick.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "imagegen/base64.h"
#include "imagegen/image_check.h"
#include "testing/http_test_client.h"
#include "testing/server_process.h"
#include "testing/tiny_model.h"

namespace sdr {
namespace {

using nlohmann::json;
using sdr::testing::HttpCall;
using sdr::testing::HttpReply;
using sdr::testing::ReadSse;
using sdr::testing::ServerProcess;
using sdr::testing::SseEvent;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const std::map<std::string, std::string> kEnv = {{"SD_THREADS", "1"}, {"SDR_LOG_LEVEL", "warn"}};

// The PNG in base64 `b64` decodes to width x height.
void ExpectPng(const std::string& b64, int width, int height) {
  auto bytes = DecodeBase64(b64);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto size = DecodePngSize(*bytes);
  ASSERT_TRUE(size.ok()) << size.status().message();
  EXPECT_EQ(size->width, width);
  EXPECT_EQ(size->height, height);
}

// The value of the first metrics line starting with `series` (-1 when absent).
double Metric(const std::string& text, const std::string& series) {
  size_t at = 0;
  while ((at = text.find(series, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      const size_t sp = text.find(' ', at + series.size());
      if (sp == at + series.size()) return std::stod(text.substr(sp + 1, text.find('\n', sp) - sp - 1));
    }
    at += series.size();
  }
  return -1;
}

void ExpectHealthy(const ServerProcess& server) {
  const HttpReply r = HttpCall("GET", server.Url("/health"), "", {}, 10);
  EXPECT_EQ(r.status, 200) << r.error;
}

// Waits until `pred` holds (polling every 20 ms) or `timeout` passes.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

std::string JobState(const ServerProcess& server, const std::string& id) {
  return HttpCall("GET", server.Url("/v1/jobs/" + id)).Json().value("status", "");
}

// One server for the tests that need no special settings: one slot, a queue of four.
class ServerE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess({"-m", sdr::testing::TinyModelPath(), "--max-concurrent", "1", "--max-queue", "4",
                                 "--steps", "2"},
                                kEnv);
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      EXPECT_EQ(server_->Stop(SIGTERM), 0);
    }
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(server_->ok()) << server_->error(); }
  void TearDown() override { ExpectHealthy(*server_); }
  static std::string Url(const std::string& path) { return server_->Url(path); }
  static ServerProcess* server_;
};
ServerProcess* ServerE2eTest::server_ = nullptr;

TEST_F(ServerE2eTest, SystemAndDiscoveryEndpoints) {
  EXPECT_EQ(HttpCall("GET", Url("/health")).Json()["status"], "ok");
  const json ready = HttpCall("GET", Url("/ready")).Json();
  EXPECT_EQ(ready["status"], "ready");
  EXPECT_EQ(ready["provider"], "local");
  const json models = HttpCall("GET", Url("/v1/models")).Json();
  EXPECT_EQ(models["object"], "list");
  ASSERT_EQ(models["data"].size(), 1u);
  EXPECT_EQ(models["data"][0]["object"], "model");
  const std::string model = models["data"][0]["id"];
  EXPECT_FALSE(model.empty());

  const json samplers = HttpCall("GET", Url("/sdapi/v1/samplers")).Json();
  ASSERT_TRUE(samplers.is_array());
  std::set<std::string> names;
  for (const json& s : samplers) names.insert(s["name"].get<std::string>());
  EXPECT_TRUE(names.count("DPM++ 2M") && names.count("Euler a")) << samplers.dump();
  const json schedulers = HttpCall("GET", Url("/sdapi/v1/schedulers")).Json();
  ASSERT_TRUE(schedulers.is_array());
  EXPECT_GE(schedulers.size(), 2u);
  const json sd_models = HttpCall("GET", Url("/sdapi/v1/sd-models")).Json();
  ASSERT_EQ(sd_models.size(), 1u);
  EXPECT_EQ(sd_models[0]["model_name"], model);
  const json options = HttpCall("GET", Url("/sdapi/v1/options")).Json();
  EXPECT_TRUE(options.contains("sd_model_checkpoint")) << options.dump();
  const json idle = HttpCall("GET", Url("/sdapi/v1/progress")).Json();
  EXPECT_EQ(idle["progress"], 0);

  const HttpReply metrics = HttpCall("GET", Url("/metrics"));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.headers.at("content-type").rfind("text/plain", 0), 0u);
  EXPECT_GE(Metric(metrics.body, "sdr_http_requests_total{method=\"GET\",route=\"/v1/models\",status=\"200\"}"), 1);
  EXPECT_EQ(Metric(metrics.body, "sdr_pool_size"), 1);
  EXPECT_EQ(Metric(metrics.body, "sdr_queue_capacity"), 4);
  // Every request gets one access-log line: method, route, status, ms, job.
  ASSERT_TRUE(WaitFor([&] {
    for (const std::string& l : server_->AccessLog()) {
      if (l.find("method=GET route=/v1/models path=/v1/models status=200 ms=") != std::string::npos) return true;
    }
    return false;
  }, 5s));
}

TEST_F(ServerE2eTest, OpenAiImagesGenerationsB64AndUrl) {
  const HttpReply r = HttpCall("POST", Url("/v1/images/generations"),
                               R"({"model": "whatever", "prompt": "a red cube", "n": 2, "size": "64x64", "seed": 7,
                                   "response_format": "b64_json", "output_format": "png", "user": "u1",
                                   "quality": "hd", "some_future_field": {"x": [1, 2]}})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.Json();
  EXPECT_GT(j["created"].get<int64_t>(), 1600000000);
  ASSERT_EQ(j["data"].size(), 2u);
  for (const json& d : j["data"]) ExpectPng(d["b64_json"], 64, 64);
  EXPECT_NE(j["data"][0]["b64_json"], j["data"][1]["b64_json"]);  // seeds 7 and 8

  const HttpReply u = HttpCall("POST", Url("/v1/images/generations"),
                               R"({"prompt": "a blue cube", "size": "64x72", "response_format": "url"})");
  ASSERT_EQ(u.status, 200) << u.body;
  const std::string url = u.Json()["data"][0]["url"];
  ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << url;
  const HttpReply png = HttpCall("GET", url);
  ASSERT_EQ(png.status, 200);
  EXPECT_EQ(png.headers.at("content-type"), "image/png");
  ExpectPng(EncodeBase64(png.body), 64, 72);
}

TEST_F(ServerE2eTest, OpenAiStreamSendsPartialImagesDuringTheGeneration) {
  const testing::SseReply s = ReadSse(
      Url("/v1/images/generations"),
      R"({"prompt": "a green cube", "size": "64x64", "stream": true, "partial_images": 2, "steps": 40})");
  ASSERT_EQ(s.status, 200) << s.body;
  ASSERT_GE(s.events.size(), 2u) << s.body;
  EXPECT_EQ(s.events.front().event, "image_generation.partial_image") << s.body.substr(0, 500);
  EXPECT_EQ(s.events.back().event, "image_generation.completed");
  const json done = json::parse(s.events.back().data);
  EXPECT_EQ(done["type"], "image_generation.completed");
  ExpectPng(done["b64_json"], 64, 64);
  const json partial = json::parse(s.events.front().data);
  EXPECT_EQ(partial["partial_image_index"], 0);
  ExpectPng(partial["b64_json"], 8, 8);  // the latent-sized preview
  // The partial image arrived while the generation was still running.
  EXPECT_GT(s.events.back().received - s.events.front().received, 50ms);
}

TEST_F(ServerE2eTest, A1111Txt2ImgAndPngInfo) {
  const HttpReply r = HttpCall("POST", Url("/sdapi/v1/txt2img"),
                               R"({"prompt": "a yellow cube", "negative_prompt": "blur", "steps": 3, "cfg_scale": 5,
                                   "width": 64, "height": 64, "sampler_name": "DPM++ 2M Karras", "seed": 42,
                                   "batch_size": 2, "n_iter": 1, "styles": [], "send_images": true,
                                   "override_settings": {"CLIP_stop_at_last_layers": 2}})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.Json();
  ASSERT_EQ(j["images"].size(), 2u);
  for (const json& img : j["images"]) ExpectPng(img, 64, 64);
  EXPECT_EQ(j["parameters"]["prompt"], "a yellow cube");
  const json info = json::parse(j["info"].get<std::string>());
  EXPECT_EQ(info["all_seeds"], json({42, 43}));
  ASSERT_EQ(info["infotexts"].size(), 2u);
  const std::string infotext = info["infotexts"][0];
  EXPECT_NE(infotext.find("Sampler: DPM++ 2M"), std::string::npos) << infotext;
  EXPECT_NE(infotext.find("Schedule type: Karras"), std::string::npos) << infotext;
  EXPECT_NE(infotext.find("Clip skip: 2"), std::string::npos) << infotext;

  // png-info reads the infotext back from the image (a data URI, as A1111's UI sends it).
  const HttpReply p = HttpCall("POST", Url("/sdapi/v1/png-info"),
                               json({{"image", "data:image/png;base64," + j["images"][0].get<std::string>()}}).dump());
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(p.Json()["info"], infotext);
  EXPECT_EQ(p.Json()["parameters"]["Seed"], "42");
  // A1111's error shape on the sdapi routes.
  const HttpReply bad = HttpCall("POST", Url("/sdapi/v1/txt2img"), R"({"prompt": "x", "width": 63})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json()["error"], "invalid_params") << bad.body;
  EXPECT_NE(bad.Json()["detail"].get<std::string>().find("width"), std::string::npos) << bad.body;
}

TEST_F(ServerE2eTest, A1111ProgressAndInterrupt) {
  auto running = std::async(std::launch::async, [] {
    return HttpCall("POST", Url("/sdapi/v1/txt2img"), R"({"prompt": "slow", "steps": 150, "width": 64, "height": 64})");
  });
  json progress;
  ASSERT_TRUE(WaitFor([&] {
    progress = HttpCall("GET", Url("/sdapi/v1/progress")).Json();
    return progress["progress"].get<double>() > 0;
  }, 30s)) << progress.dump();
  EXPECT_GT(progress["state"]["sampling_steps"], 0);
  EXPECT_TRUE(progress["state"]["job"].is_string());
  EXPECT_TRUE(progress.contains("eta_relative"));
  const auto t0 = Clock::now();
  EXPECT_EQ(HttpCall("POST", Url("/sdapi/v1/interrupt")).status, 200);
  const HttpReply r = running.get();
  EXPECT_LT(Clock::now() - t0, 10s);
  EXPECT_EQ(r.status, 499) << r.body;
  EXPECT_EQ(r.Json()["error"], "cancelled");
}

TEST_F(ServerE2eTest, JobEventsArriveDuringTheGeneration) {
  const HttpReply created = HttpCall("POST", Url("/v1/jobs"),
                                     R"({"prompt": "a jobs cube", "width": 64, "height": 64, "steps": 30})");
  ASSERT_EQ(created.status, 202) << created.body;
  const std::string id = created.Json()["id"];
  EXPECT_EQ(created.Json()["status"].get<std::string>() == "queued" ||
                created.Json()["status"].get<std::string>() == "running",
            true);
  EXPECT_TRUE(created.Json()["queue_position"].is_number());
  const testing::SseReply s = ReadSse(Url("/v1/jobs/" + id + "/events"));
  ASSERT_EQ(s.status, 200) << s.error;
  std::vector<std::string> names;
  const SseEvent* first_step = nullptr;
  const SseEvent* preview_step = nullptr;
  for (const SseEvent& e : s.events) {
    names.push_back(e.event);
    if (e.event == "step" && first_step == nullptr) first_step = &e;
    if (e.event == "step" && preview_step == nullptr && json::parse(e.data).contains("preview")) preview_step = &e;
  }
  ASSERT_GE(names.size(), 3u);
  EXPECT_EQ(names.back(), "completed") << ::testing::PrintToString(names);
  EXPECT_NE(std::find(names.begin(), names.end(), "started"), names.end());
  ASSERT_NE(first_step, nullptr) << ::testing::PrintToString(names);
  const json step = json::parse(first_step->data);
  EXPECT_EQ(step["total_steps"], 30);
  EXPECT_TRUE(step["elapsed_s"].is_number());
  EXPECT_TRUE(step["eta_s"].is_number());
  // Steps arrive while sampling runs, not in one burst at the end.
  EXPECT_GT(s.events.back().received - first_step->received, 50ms);
  // The cheap latent-to-RGB preview: a PNG data URI at latent size.
  ASSERT_NE(preview_step, nullptr);
  const std::string uri = json::parse(preview_step->data)["preview"];
  ASSERT_EQ(uri.rfind("data:image/png;base64,", 0), 0u);
  ExpectPng(uri.substr(22), 8, 8);
  const json done = json::parse(s.events.back().data);
  EXPECT_EQ(done["status"], "succeeded");
  ExpectPng(done["images"][0]["b64_json"], 64, 64);
  // The job's status, and its image by URL.
  const json status = HttpCall("GET", Url("/v1/jobs/" + id)).Json();
  EXPECT_EQ(status["status"], "succeeded");
  const HttpReply png = HttpCall("GET", Url("/v1/jobs/" + id + "/images/0"));
  EXPECT_EQ(png.status, 200);
  ExpectPng(EncodeBase64(png.body), 64, 64);
  // Replaying from Last-Event-ID sends only what came after.
  const testing::SseReply replay = ReadSse(Url("/v1/jobs/" + id + "/events"), "",
                                           {"Last-Event-ID: " + s.events[s.events.size() - 2].id});
  ASSERT_EQ(replay.events.size(), 1u);
  EXPECT_EQ(replay.events[0].event, "completed");
  // Unknown jobs: 404 in OpenAI's error shape.
  const HttpReply missing = HttpCall("GET", Url("/v1/jobs/job_000000000000000000000000"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.Json()["error"]["code"], "not_found");
}

TEST_F(ServerE2eTest, CancelQueuedAndRunningJobs) {
  const std::string body = R"({"prompt": "long", "width": 64, "height": 64, "steps": 150})";
  const std::string running = HttpCall("POST", Url("/v1/jobs"), body).Json()["id"];
  // The first job leaves the queue when a worker takes it: only then is the second one first in line.
  ASSERT_TRUE(WaitFor([&] { return JobState(*server_, running) == "running"; }, 30s));
  const HttpReply second = HttpCall("POST", Url("/v1/jobs"), body);
  ASSERT_EQ(second.status, 202);
  const std::string queued = second.Json()["id"];
  EXPECT_EQ(second.Json()["status"], "queued");
  EXPECT_EQ(second.Json()["queue_position"], 1);

  // Watch the running job's events while cancelling: they end with "cancelled".
  auto events = std::async(std::launch::async, [&] { return ReadSse(Url("/v1/jobs/" + running + "/events")); });
  const HttpReply dq = HttpCall("DELETE", Url("/v1/jobs/" + queued));
  EXPECT_EQ(dq.status, 200);
  EXPECT_EQ(dq.Json()["status"], "cancelled");  // a queued job ends at once
  std::this_thread::sleep_for(200ms);
  const auto t0 = Clock::now();
  EXPECT_EQ(HttpCall("DELETE", Url("/v1/jobs/" + running)).status, 200);
  ASSERT_TRUE(WaitFor([&] { return JobState(*server_, running) == "cancelled"; }, 10s));
  EXPECT_LT(Clock::now() - t0, 10s);
  const testing::SseReply s = events.get();
  ASSERT_FALSE(s.events.empty());
  EXPECT_EQ(s.events.back().event, "cancelled");
  EXPECT_EQ(json::parse(s.events.back().data)["error"]["code"], "cancelled");
  const json status = HttpCall("GET", Url("/v1/jobs/" + running)).Json();
  EXPECT_EQ(status["error"]["code"], "cancelled");
  // The slot is free again: a new job runs at once.
  const HttpReply next = HttpCall("POST", Url("/v1/images/generations"), R"({"prompt": "after", "size": "64x64"})");
  EXPECT_EQ(next.status, 200) << next.body;
}

TEST_F(ServerE2eTest, FullQueueAnswers429WithRetryAfter) {
  const std::string body = R"({"prompt": "long", "width": 64, "height": 64, "steps": 150})";
  std::vector<std::string> ids;
  HttpReply refused;
  for (int i = 0; i < 8 && refused.status == 0; ++i) {
    HttpReply r = HttpCall("POST", Url("/v1/jobs"), body);
    if (r.status == 202) {
      ids.push_back(r.Json()["id"]);
    } else {
      refused = r;
    }
  }
  EXPECT_EQ(ids.size(), 5u);  // one running + a queue of four
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.Json()["error"]["code"], "queue_full");
  ASSERT_TRUE(refused.headers.count("retry-after"));
  EXPECT_GE(std::stoi(refused.headers.at("retry-after")), 1);
  const std::string metrics = HttpCall("GET", Url("/metrics")).body;
  EXPECT_EQ(Metric(metrics, "sdr_queue_depth"), 4);
  EXPECT_EQ(Metric(metrics, "sdr_jobs_running"), 1);
  for (const std::string& id : ids) EXPECT_EQ(HttpCall("DELETE", Url("/v1/jobs/" + id)).status, 200);
  ASSERT_TRUE(WaitFor([&] { return Metric(HttpCall("GET", Url("/metrics")).body, "sdr_jobs_running") == 0; }, 10s));
}

TEST_F(ServerE2eTest, ClientThatDisconnectsCancelsItsGeneration) {
  const double cancelled_before =
      std::max(0.0, Metric(HttpCall("GET", Url("/metrics")).body, "sdr_jobs_total{outcome=\"cancelled\"}"));
  // The client gives up after a second; the 150-step job would run for many more.
  const HttpReply r = HttpCall("POST", Url("/v1/images/generations"),
                               R"({"prompt": "abandoned", "size": "64x64", "steps": 150})", {}, 1.0);
  EXPECT_EQ(r.status, 0);  // timed out: no answer
  ASSERT_TRUE(WaitFor([&] {
    const std::string m = HttpCall("GET", Url("/metrics")).body;
    return Metric(m, "sdr_jobs_total{outcome=\"cancelled\"}") == cancelled_before + 1 &&
           Metric(m, "sdr_jobs_running") == 0;
  }, 10s));
}

TEST_F(ServerE2eTest, BadInputIsA4xxNamingTheProblem) {
  struct Case {
    std::string what, body;
    int status;
    std::string mentions;  // in the error message (or param)
  };
  const std::string huge_prompt(9000, 'a');
  const std::vector<Case> cases = {
      {"malformed JSON", R"({"prompt": "a",)", 400, "not valid JSON"},
      {"not an object", R"(["prompt"])", 400, "JSON object"},
      {"empty body", "", 400, "JSON"},
      {"prompt of the wrong type", R"({"prompt": 5})", 400, "prompt"},
      {"null prompt", R"({"prompt": null})", 400, "prompt"},
      {"missing prompt", R"({"size": "64x64"})", 400, "prompt"},
      {"invalid UTF-8", "{\"prompt\": \"a\xff\xfe b\"}", 400, "UTF-8"},
      {"steps as a string", R"({"prompt": "a", "steps": "20"})", 400, "steps"},
      {"huge steps", R"({"prompt": "a", "steps": 1e300})", 400, "steps"},
      {"too many steps", R"({"prompt": "a", "steps": 151})", 400, "steps"},
      {"negative n", R"({"prompt": "a", "n": -1})", 400, "n"},
      {"too many images", R"({"prompt": "a", "n": 9})", 400, "n"},
      {"huge integer", R"({"prompt": "a", "n": 123456789012345678901234567890})", 400, "n"},
      {"NaN", R"({"prompt": "a", "cfg_scale": NaN})", 400, "JSON"},
      {"infinite cfg", R"({"prompt": "a", "cfg_scale": 1e999})", 400, "number overflow"},
      {"size not a multiple of 8", R"({"prompt": "a", "size": "64x65"})", 400, "size"},
      {"size too large", R"({"prompt": "a", "size": "4096x64"})", 400, "size"},
      {"size negative", R"({"prompt": "a", "size": "-64x64"})", 400, "size"},
      {"unknown sampler", R"({"prompt": "a", "sampler": "nope"})", 400, "sampler"},
      {"prompt too long", R"({"prompt": ")" + huge_prompt + R"("})", 400, "prompt"},
      {"response_format", R"({"prompt": "a", "response_format": "jpeg"})", 400, "response_format"},
  };
  for (const Case& c : cases) {
    const HttpReply r = HttpCall("POST", Url("/v1/images/generations"), c.body);
    EXPECT_EQ(r.status, c.status) << c.what << ": " << r.body;
    const json j = r.Json();
    ASSERT_TRUE(j.contains("error")) << c.what << ": " << r.body;
    const json& param = j["error"]["param"];
    const std::string text = j["error"]["message"].get<std::string>() + " " + (param.is_string() ? param.get<std::string>() : "");
    EXPECT_NE(text.find(c.mentions), std::string::npos) << c.what << ": " << r.body;
    EXPECT_EQ(j["error"]["type"], "invalid_request_error") << c.what;
  }
  // An oversize body: 413, refused before it is read.
  const HttpReply big = HttpCall("POST", Url("/v1/images/generations"),
                                 R"({"prompt": "a", "pad": ")" + std::string(2 << 20, 'x') + R"("})");
  EXPECT_EQ(big.status, 413) << big.error;
  EXPECT_EQ(big.Json()["error"]["code"], "payload_too_large");
  // No such route, a wrong method.
  EXPECT_EQ(HttpCall("GET", Url("/v1/nope")).status, 404);
  EXPECT_EQ(HttpCall("GET", Url("/v1/nope")).Json()["error"]["code"], "not_found");
  EXPECT_GE(HttpCall("PUT", Url("/v1/jobs"), "{}").status, 400);
  // Bad input to the jobs API and A1111's too.
  EXPECT_EQ(HttpCall("POST", Url("/v1/jobs"), R"({"prompt": "a", "width": 64, "height": "tall"})").Json()["error"]["param"],
            "height");
  EXPECT_EQ(HttpCall("POST", Url("/sdapi/v1/png-info"), R"({"image": "not base64 !!"})").status, 400);
  EXPECT_EQ(HttpCall("POST", Url("/sdapi/v1/txt2img"), R"({"prompt": "a", "batch_size": 0})").status, 400);
  const std::string metrics = HttpCall("GET", Url("/metrics")).body;
  EXPECT_GE(Metric(metrics, "sdr_http_errors_total{code=\"invalid_params\"}"), double(cases.size()));
  EXPECT_EQ(Metric(metrics, "sdr_http_requests_total{method=\"POST\",route=\"/v1/images/generations\",status=\"500\"}"),
            -1);
}

// A client that sends part of a request and then dribbles: the connection is closed at the
// header deadline, and the server keeps serving others meanwhile.
TEST_F(ServerE2eTest, SlowLorisIsCutOff) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string start = "POST /v1/images/generations HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(send(fd, start.data(), start.size(), MSG_NOSIGNAL), static_cast<ssize_t>(start.size()));
  const auto t0 = Clock::now();
  bool closed = false;
  std::string answer;
  while (Clock::now() - t0 < 20s && !closed) {
    send(fd, "X", 1, MSG_NOSIGNAL);  // one byte of a header line a second, never finishing it
    ExpectHealthy(*server_);
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1000) > 0) {
      char buf[4096];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) answer.append(buf, static_cast<size_t>(n));
      closed = true;  // an answer (if any), then the end: the server closed the connection
    }
  }
  close(fd);
  EXPECT_TRUE(closed);
  EXPECT_LT(Clock::now() - t0, 15s);  // the header deadline (10 s), not the client's patience
  EXPECT_NE(answer.find("not received in time"), std::string::npos) << answer;
}

// Auth: Bearer KEY on everything but /health.
TEST(ServerAuthE2eTest, BearerKeyRequiredExceptForHealth) {
  ServerProcess server({"-m", sdr::testing::TinyModelPath(), "--api-key", "s3cret-key", "--steps", "2"}, kEnv);
  ASSERT_TRUE(server.ok()) << server.error();
  EXPECT_EQ(HttpCall("GET", server.Url("/health")).status, 200);
  EXPECT_EQ(HttpCall("GET", server.Url("/health")).Json()["api_key_required"], true);
  const HttpReply none = HttpCall("GET", server.Url("/v1/models"));
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.Json()["error"]["code"], "unauthorized");
  EXPECT_EQ(HttpCall("GET", server.Url("/v1/models"), "", {"Authorization: Bearer wrong-key!"}).status, 401);
  EXPECT_EQ(HttpCall("GET", server.Url("/v1/models"), "", {"Authorization: Bearer s3cret-ke"}).status, 401);
  EXPECT_EQ(HttpCall("GET", server.Url("/v1/models"), "", {"Authorization: Basic czNjcmV0LWtleQ=="}).status, 401);
  EXPECT_EQ(HttpCall("GET", server.Url("/sdapi/v1/samplers")).status, 401);
  EXPECT_EQ(HttpCall("GET", server.Url("/metrics")).status, 401);
  EXPECT_EQ(HttpCall("POST", server.Url("/v1/images/generations"), R"({"prompt": "a", "size": "64x64"})").status, 401);
  EXPECT_EQ(HttpCall("GET", server.Url("/v1/models"), "", {"Authorization: Bearer s3cret-key"}).status, 200);
  const HttpReply ok = HttpCall("POST", server.Url("/v1/images/generations"), R"({"prompt": "a", "size": "64x64"})",
                                {"Authorization: Bearer s3cret-key"});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(HttpCall("GET", server.Url("/health")).status, 200);
  EXPECT_EQ(server.Stop(SIGINT), 0);
}

// The web page: its own files come without the key (the page asks for it, then calls the API with
// it), each with its content type; the API it calls still needs the key.
TEST(ServerWebE2eTest, WebPageServedWithoutKeyApiStillNeedsIt) {
  ServerProcess server({"-m", sdr::testing::TinyModelPath(), "--api-key", "s3cret-key", "--steps", "2"}, kEnv);
  ASSERT_TRUE(server.ok()) << server.error();
  const struct {
    const char* path;
    const char* type;
    const char* contains;
  } kAssets[] = {{"/", "text/html; charset=utf-8", "<script src=\"/app.js\""},
                 {"/app.js", "text/javascript; charset=utf-8", "/v1/jobs"},
                 {"/style.css", "text/css; charset=utf-8", ".layout"}};
  for (const auto& a : kAssets) {
    const HttpReply r = HttpCall("GET", server.Url(a.path));
    EXPECT_EQ(r.status, 200) << a.path;
    EXPECT_EQ(r.headers.count("content-type") ? r.headers.at("content-type") : "", a.type) << a.path;
    EXPECT_EQ(r.headers.count("x-content-type-options") ? r.headers.at("x-content-type-options") : "", "nosniff")
        << a.path;
    EXPECT_NE(r.body.find(a.contains), std::string::npos) << a.path;
  }
  const HttpReply page = HttpCall("GET", server.Url("/"));
  ASSERT_EQ(page.headers.count("content-security-policy"), 1u);
  EXPECT_NE(page.headers.at("content-security-policy").find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(HttpCall("GET", server.Url("/index.htm")).status, 401);  // only the page's own files are open
  EXPECT_EQ(HttpCall("GET", server.Url("/v1/capabilities")).status, 401);
  EXPECT_EQ(HttpCall("GET", server.Url("/v1/capabilities"), "", {"Authorization: Bearer s3cret-key"}).status, 200);
  EXPECT_EQ(server.Stop(SIGINT), 0);
}

// SIGTERM: the running job finishes (its stream ends "completed"), the queued one is cancelled,
// new work is refused, and the process exits 0.
TEST(ServerShutdownE2eTest, SigtermFinishesRunningWorkAndExitsZero) {
  ServerProcess server({"-m", sdr::testing::TinyModelPath(), "--max-concurrent", "1"}, kEnv);
  ASSERT_TRUE(server.ok()) << server.error();
  const std::string running =
      HttpCall("POST", server.Url("/v1/jobs"), R"({"prompt": "a", "width": 64, "height": 64, "steps": 25})").Json()["id"];
  const std::string queued =
      HttpCall("POST", server.Url("/v1/jobs"), R"({"prompt": "b", "width": 64, "height": 64, "steps": 25})").Json()["id"];
  ASSERT_TRUE(WaitFor([&] { return JobState(server, running) == "running"; }, 30s));
  std::atomic<bool> saw_step{false};
  auto running_events = std::async(std::launch::async, [&] {
    return ReadSse(server.Url("/v1/jobs/" + running + "/events"), "", {}, 60, [&](const SseEvent& e) {
      if (e.event == "step") saw_step = true;
      return true;
    });
  });
  auto queued_events = std::async(std::launch::async, [&] { return ReadSse(server.Url("/v1/jobs/" + queued + "/events")); });
  ASSERT_TRUE(WaitFor([&] { return saw_step.load(); }, 30s));
  kill(server.pid(), SIGTERM);
  const testing::SseReply q = queued_events.get();
  ASSERT_FALSE(q.events.empty());
  EXPECT_EQ(q.events.back().event, "cancelled");
  const testing::SseReply r = running_events.get();
  ASSERT_FALSE(r.events.empty());
  EXPECT_EQ(r.events.back().event, "completed");
  EXPECT_EQ(server.Stop(SIGTERM, 60), 0);
  // Nothing listens any more.
  EXPECT_EQ(HttpCall("GET", server.Url("/health"), "", {}, 2).status, 0);
}

}  // namespace
}  // namespace sdr
