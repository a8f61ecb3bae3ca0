#include "server/sse.h"

namespace sdr {

std::string SseEvent(std::string_view name, std::string_view data, uint64_t id) {
  std::string out;
  out.reserve(data.size() + name.size() + 32);
  if (id > 0) out += "id: " + std::to_string(id) + "\n";
  out += "event: ";
  out += name;
  out += "\n";
  size_t start = 0;
  for (;;) {
    const size_t nl = data.find('\n', start);
    out += "data: ";
    out += data.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    out += "\n";
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out += "\n";
  return out;
}

std::string SseComment(std::string_view text) { return ": " + std::string(text) + "\n\n"; }

std::string SseHeartbeat::Ping(double interval_s) {
  if (std::chrono::steady_clock::now() - last_write_ <= std::chrono::duration<double>(interval_s)) return "";
  Wrote();
  return SseComment("ping");
}

}  // namespace sdr
