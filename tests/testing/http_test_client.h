// A real HTTP client for the server's end-to-end tests: libcurl (the library the cloud providers
// use), one easy handle per call, nothing shared, so tests may call it from many threads.
//
//   HttpReply r = HttpCall("POST", base + "/v1/jobs", R"({"prompt":"a cat"})");
//   EXPECT_EQ(r.status, 202);  r.Json()["id"]
//   auto events = ReadSse(base + "/v1/jobs/" + id + "/events", {}, 30);  // until the stream ends
//
// Thread-safety: every function may be called from any thread (curl_global_init runs once).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sdr::testing {

struct HttpReply {
  int status = 0;                                // 0: no answer (connection refused, reset, timed out)
  std::string error;                             // curl's message when status is 0
  std::map<std::string, std::string> headers;    // names lower-cased
  std::string body;
  double seconds = 0;                            // the whole exchange
  nlohmann::json Json() const;                   // the body parsed; null when it is not JSON
};

// One request. `headers` are "Name: value" lines; a body is sent as application/json unless a
// Content-Type is among them. `timeout_s` bounds the whole exchange.
HttpReply HttpCall(const std::string& method, const std::string& url, const std::string& body = "",
                   const std::vector<std::string>& headers = {}, double timeout_s = 60);

struct SseEvent {
  std::string event;  // "message" when the stream named none
  std::string data;   // data lines joined with '\n'
  std::string id;
  std::chrono::steady_clock::time_point received;
};

struct SseReply {
  int status = 0;
  std::string error;
  std::string body;  // the raw bytes (for an error answer, the error body)
  std::vector<SseEvent> events;
};

// A GET (or a POST when `post_body` is not empty) read as server-sent events until the server ends
// the stream, `timeout_s` passes, or `on_event` returns false (the client then hangs up).
SseReply ReadSse(const std::string& url, const std::string& post_body = "",
                 const std::vector<std::string>& headers = {}, double timeout_s = 60,
                 const std::function<bool(const SseEvent&)>& on_event = nullptr);

}  // namespace sdr::testing
