#include "imagegen/retry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <random>

namespace sdr {
namespace {

std::optional<double> ParseNumber(const std::string& s) {
  double v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// RFC 7231 IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
std::optional<std::time_t> ParseHttpDate(const std::string& s) {
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return timegm(&tm);
}

}  // namespace

std::optional<double> ServerRetryDelay(const HttpResponse& r, std::chrono::system_clock::time_point now) {
  if (const std::string ms = r.Header("retry-after-ms"); !ms.empty()) {
    if (auto v = ParseNumber(ms); v && *v >= 0) return *v / 1000.0;
  }
  const std::string ra = r.Header("retry-after");
  if (ra.empty()) return std::nullopt;
  if (auto v = ParseNumber(ra); v) return *v >= 0 ? std::optional<double>(*v) : std::nullopt;
  if (auto t = ParseHttpDate(ra); t) {
    const double d = std::difftime(*t, std::chrono::system_clock::to_time_t(now));
    return std::max(0.0, d);
  }
  return std::nullopt;
}

bool RetryableStatus(const HttpResponse& r, bool quota) {
  const std::string should = r.Header("x-should-retry");
  if (should == "true") return true;
  if (should == "false") return false;
  if (r.status == 429) return !quota;
  return r.status == 408 || r.status == 409 || r.status >= 500;
}

double BackoffDelay(const RetryPolicy& p, int retry) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.75, 1.0);
  const double base = std::min(p.initial_delay_s * std::pow(2.0, retry), p.max_delay_s);
  return base * jitter(rng);
}

}  // namespace sdr
