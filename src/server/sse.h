// Server-sent events (the text/event-stream format browsers' EventSource and the OpenAI SDKs
// read): one event is "id: N\nevent: NAME\ndata: PAYLOAD\n\n"; a comment line keeps an idle
// stream open through proxies.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace sdr {

// `data` may hold line breaks (each line becomes a data: line). id 0 = no id line.
std::string SseEvent(std::string_view name, std::string_view data, uint64_t id = 0);
std::string SseComment(std::string_view text);  // ": text\n\n"

// When an idle stream needs its keep-alive comment. Wrote() after every write to the stream;
// Ping(interval_s) is the ": ping" comment once the stream has been quiet that long (and counts as
// written), else "".
class SseHeartbeat {
 public:
  void Wrote() { last_write_ = std::chrono::steady_clock::now(); }
  std::string Ping(double interval_s);

 private:
  std::chrono::steady_clock::time_point last_write_ = std::chrono::steady_clock::now();
};

}  // namespace sdr
