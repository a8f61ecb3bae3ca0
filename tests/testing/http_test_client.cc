#include "testing/http_test_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace sdr::testing {
namespace {

using Clock = std::chrono::steady_clock;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t AddHeader(char* data, size_t size, size_t n, void* user) {
  const std::string line(data, size * n);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    const size_t b = value.find_first_not_of(" \t"), e = value.find_last_not_of(" \t\r\n");
    (*static_cast<std::map<std::string, std::string>*>(user))[name] =
        b == std::string::npos ? "" : value.substr(b, e - b + 1);
  }
  return size * n;
}

// Sets up `curl` for one request; the returned list is freed by the caller.
curl_slist* Prepare(CURL* curl, const std::string& method, const std::string& url, const std::string& body,
                    const std::vector<std::string>& headers, double timeout_s) {
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_s * 1000));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_slist* list = nullptr;
  bool has_type = false;
  for (const std::string& h : headers) {
    list = curl_slist_append(list, h.c_str());
    std::string lower = h.substr(0, 13);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    has_type = has_type || lower == "content-type:";
  }
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  if (!body.empty() && !has_type) list = curl_slist_append(list, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  if (method == "GET" && body.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    if (method != "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "POST" || !body.empty()) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
  }
  return list;
}

}  // namespace

nlohmann::json HttpReply::Json() const {
  return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
}

HttpReply HttpCall(const std::string& method, const std::string& url, const std::string& body,
                   const std::vector<std::string>& headers, double timeout_s) {
  GlobalInit();
  HttpReply reply;
  CURL* curl = curl_easy_init();
  curl_slist* list = Prepare(curl, method, url, body, headers, timeout_s);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, AddHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  const auto start = Clock::now();
  const CURLcode rc = curl_easy_perform(curl);
  reply.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (rc == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    reply.status = static_cast<int>(status);
  } else {
    reply.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return reply;
}

namespace {

struct SseState {
  SseReply* reply;
  std::string pending;  // bytes not yet ending in a blank line
  SseEvent current;
  const std::function<bool(const SseEvent&)>* on_event;
  bool stop = false;
};

// Consumes complete lines of `st.pending`; false when the callback asked to stop.
void ParseLines(SseState& st) {
  size_t pos;
  while ((pos = st.pending.find('\n')) != std::string::npos) {
    std::string line = st.pending.substr(0, pos);
    st.pending.erase(0, pos + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      if (!st.current.data.empty() || !st.current.event.empty()) {
        if (st.current.event.empty()) st.current.event = "message";
        if (!st.current.data.empty() && st.current.data.back() == '\n') st.current.data.pop_back();
        st.current.received = Clock::now();
        st.reply->events.push_back(st.current);
        if (*st.on_event && !(*st.on_event)(st.current)) st.stop = true;
      }
      st.current = SseEvent{};
      continue;
    }
    if (line[0] == ':') continue;  // a comment (heartbeat)
    const size_t colon = line.find(':');
    const std::string field = line.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    if (field == "event") st.current.event = value;
    if (field == "data") st.current.data += value + "\n";
    if (field == "id") st.current.id = value;
  }
}

size_t SseWrite(char* data, size_t size, size_t n, void* user) {
  auto& st = *static_cast<SseState*>(user);
  st.reply->body.append(data, size * n);
  st.pending.append(data, size * n);
  ParseLines(st);
  return st.stop ? 0 : size * n;  // 0 aborts the transfer: the client hangs up
}

}  // namespace

SseReply ReadSse(const std::string& url, const std::string& post_body, const std::vector<std::string>& headers,
                 double timeout_s, const std::function<bool(const SseEvent&)>& on_event) {
  GlobalInit();
  SseReply reply;
  SseState st{&reply, "", {}, &on_event};
  CURL* curl = curl_easy_init();
  std::vector<std::string> h = headers;
  h.push_back("Accept: text/event-stream");
  curl_slist* list = Prepare(curl, post_body.empty() ? "GET" : "POST", url, post_body, h, timeout_s);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, SseWrite);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &st);
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  reply.status = static_cast<int>(status);
  if (rc != CURLE_OK && !st.stop) reply.error = curl_easy_strerror(rc);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return reply;
}

}  // namespace sdr::testing
