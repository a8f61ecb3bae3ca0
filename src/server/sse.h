// Server-sent events (the text/event-stream format browsers' EventSource and the OpenAI SDKs
// read): one event is "id: N\nevent: NAME\ndata: PAYLOAD\n\n"; a comment line keeps an idle
// stream open through proxies.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sdr {

// `data` may hold line breaks (each line becomes a data: line). id 0 = no id line.
std::string SseEvent(std::string_view name, std::string_view data, uint64_t id = 0);
std::string SseComment(std::string_view text);  // ": text\n\n"

}  // namespace sdr
