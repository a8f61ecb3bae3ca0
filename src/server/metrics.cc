#include "server/metrics.h"

#include <fmt/format.h>

namespace sdr {
namespace {

// A label value with Prometheus' escapes (\\, \", \n).
std::string Label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

const std::vector<double>& Metrics::GenerationBuckets() {
  static const std::vector<double> buckets = {0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600};
  return buckets;
}

Metrics::Metrics() : buckets_(GenerationBuckets().size(), 0) {}

void Metrics::CountRequest(const std::string& method, const std::string& route, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{method, route, status}];
}

void Metrics::CountError(ErrorCode code) {
  std::lock_guard<std::mutex> lock(mu_);
  ++errors_[std::string(ErrorCodeName(code))];
}

void Metrics::CountJob(ErrorCode outcome, double run_seconds, int steps) {
  std::lock_guard<std::mutex> lock(mu_);
  ++jobs_[std::string(ErrorCodeName(outcome))];
  if (steps > 0) steps_total_ += static_cast<uint64_t>(steps);
  if (outcome != ErrorCode::kOk) return;
  ++generation_count_;
  generation_sum_ += run_seconds;
  const auto& bounds = GenerationBuckets();
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (run_seconds <= bounds[i]) {
      ++buckets_[i];
      break;
    }
  }
  if (run_seconds > 0 && steps > 0) last_steps_per_second_ = steps / run_seconds;
}

std::string Metrics::Render(const MetricsGauges& g) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out += "# HELP sdr_http_requests_total HTTP requests answered, by method, route pattern and status.\n";
  out += "# TYPE sdr_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    const auto& [method, route, status] = key;
    out += fmt::format("sdr_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}\n", Label(method),
                       Label(route), status, n);
  }
  out += "# HELP sdr_http_errors_total Error answers, by error code.\n";
  out += "# TYPE sdr_http_errors_total counter\n";
  for (const auto& [code, n] : errors_) out += fmt::format("sdr_http_errors_total{{code=\"{}\"}} {}\n", code, n);
  out += "# HELP sdr_jobs_total Finished jobs, by outcome (an error code, or ok).\n";
  out += "# TYPE sdr_jobs_total counter\n";
  for (const auto& [outcome, n] : jobs_) out += fmt::format("sdr_jobs_total{{outcome=\"{}\"}} {}\n", outcome, n);
  out += "# HELP sdr_generation_seconds Run time of the jobs that succeeded.\n";
  out += "# TYPE sdr_generation_seconds histogram\n";
  uint64_t cumulative = 0;
  const auto& bounds = GenerationBuckets();
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += buckets_[i];
    out += fmt::format("sdr_generation_seconds_bucket{{le=\"{:g}\"}} {}\n", bounds[i], cumulative);
  }
  out += fmt::format("sdr_generation_seconds_bucket{{le=\"+Inf\"}} {}\n", generation_count_);
  out += fmt::format("sdr_generation_seconds_sum {:.6f}\n", generation_sum_);
  out += fmt::format("sdr_generation_seconds_count {}\n", generation_count_);
  out += "# HELP sdr_sampling_steps_total Sampler steps run by finished jobs.\n";
  out += "# TYPE sdr_sampling_steps_total counter\n";
  out += fmt::format("sdr_sampling_steps_total {}\n", steps_total_);
  out += "# HELP sdr_steps_per_second Sampler steps per second of the last job that succeeded.\n";
  out += "# TYPE sdr_steps_per_second gauge\n";
  out += fmt::format("sdr_steps_per_second {:.4f}\n", last_steps_per_second_);
  const auto gauge = [&out](const char* name, const char* help, int v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, v);
  };
  gauge("sdr_queue_depth", "Jobs waiting for a slot.", g.queue_depth);
  gauge("sdr_jobs_running", "Jobs running now (in flight).", g.running);
  gauge("sdr_queue_capacity", "Jobs that may wait (SD_MAX_QUEUE).", g.queue_capacity);
  gauge("sdr_pool_size", "Generations that may run at once (SD_MAX_CONCURRENT).", g.pool_size);
  return out;
}

}  // namespace sdr
