// When and how long to wait before retrying a cloud request: the policy of the OpenAI SDKs
// (REFERENCE.md "More API facts"). Retried: 408, 409, 429 (except insufficient_quota) and >= 500
// statuses and connection errors, at most max_retries times; `x-should-retry: true|false`
// overrides. The wait is the server's (`retry-after-ms`, or `retry-after` in seconds or as an HTTP
// date) when it gives one, else min(initial * 2^attempt, max) times a jitter in [0.75, 1]. A server
// delay longer than max_server_delay_s is not waited for: the error is returned instead. No
// request is retried past the caller's deadline.
//
// Thread-safety: plain functions; the jitter uses a thread-local generator.
#pragma once

#include <chrono>
#include <optional>

#include "imagegen/http_client.h"

namespace sdr {

struct RetryPolicy {
  int max_retries = 2;             // after the first attempt (an image POST is not idempotent: keep small)
  double initial_delay_s = 0.5;    // backoff before retry 1; doubles per retry
  double max_delay_s = 8;          // backoff cap
  double max_server_delay_s = 60;  // longest Retry-After honoured; longer: give up with the error
};

// The server's requested delay in seconds (retry-after-ms, then retry-after as seconds or an
// HTTP date relative to `now`), or nullopt when absent or unparsable. Negative dates give 0.
std::optional<double> ServerRetryDelay(const HttpResponse& response,
                                       std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// Whether a status is worth retrying (x-should-retry overrides; `quota` marks a 429 that says
// insufficient_quota).
bool RetryableStatus(const HttpResponse& response, bool quota);

// The backoff before retry number `retry` (0-based): min(initial * 2^retry, max) * U[0.75, 1].
double BackoffDelay(const RetryPolicy& policy, int retry);

}  // namespace sdr
