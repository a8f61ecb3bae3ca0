// One HTTP exchange over libcurl, bounded in time and size, cancellable. The cloud providers
// (cloud_provider.h) build their requests and retries on it.
//
// Transport failures come back tagged (runtime/errors.h), so that callers can decide on retries
// by code: unavailable (connection refused/reset, DNS, TLS, a body cut short, a connect timeout
// before the deadline: worth retrying), generation_timeout (the deadline passed), cancelled,
// provider_error (the response exceeded max_response_bytes). Any HTTP status is a successful
// exchange: interpreting it is the caller's job.
//
// Only http:// and https:// are spoken; redirects are followed only when asked (GET downloads);
// proxies come from the usual environment variables (libcurl's rules). Nothing is logged here.
//
// Thread-safety: HttpPerform is thread-safe (one curl handle per call).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/run_control.h"

namespace sdr {

struct HttpRequest {
  std::string method = "POST";       // "POST" or "GET"
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // POST body
  bool follow_redirects = false;     // GET downloads: up to 5 http(s) redirects
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; the last value of a repeated name
  std::string body;
  std::string Header(const std::string& lower_name) const;  // "" when absent
};

struct HttpLimits {
  double connect_timeout_s = 10;                                  // TCP + TLS handshake
  std::optional<std::chrono::steady_clock::time_point> deadline;  // the whole exchange; none = unbounded
  size_t max_response_bytes = size_t{64} << 20;                   // body cap (Content-Length and received)
};

Result<HttpResponse> HttpPerform(const HttpRequest& request, const HttpLimits& limits,
                                 const CancelToken* cancel = nullptr);

}  // namespace sdr
