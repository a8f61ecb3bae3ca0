// The server's counters, rendered as Prometheus text (GET /metrics, text format 0.0.4):
//
//   sdr_http_requests_total{method, route, status}   every answered request (route = its pattern,
//                                                    e.g. /v1/jobs/{id}; "unmatched" for none)
//   sdr_http_errors_total{code}                      error answers by error code (invalid_params, ...)
//   sdr_jobs_total{outcome}                          finished jobs by outcome (ok, cancelled, ...)
//   sdr_generation_seconds (histogram)               run time of the jobs that succeeded
//   sdr_sampling_steps_total                         sampler steps run by finished jobs
//   sdr_steps_per_second                             steps / run time of the last successful job
//   sdr_queue_depth, sdr_jobs_running, sdr_queue_capacity, sdr_pool_size   gauges, read when rendered
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/errors.h"

namespace sdr {

struct MetricsGauges {
  int queue_depth = 0;
  int running = 0;
  int queue_capacity = 0;
  int pool_size = 0;
};

class Metrics {
 public:
  Metrics();

  void CountRequest(const std::string& method, const std::string& route, int status);
  void CountError(ErrorCode code);
  // A finished job: its outcome, and for successes its run time and steps.
  void CountJob(ErrorCode outcome, double run_seconds, int steps);

  std::string Render(const MetricsGauges& gauges) const;

  // Upper bounds (seconds) of the generation histogram's buckets (+Inf implied).
  static const std::vector<double>& GenerationBuckets();

 private:
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;  // (method, route, status)
  std::map<std::string, uint64_t> errors_;                                  // code name
  std::map<std::string, uint64_t> jobs_;                                    // outcome name
  std::vector<uint64_t> buckets_;  // cumulative counts are computed when rendered
  uint64_t generation_count_ = 0;
  double generation_sum_ = 0;
  uint64_t steps_total_ = 0;
  double last_steps_per_second_ = 0;
};

}  // namespace sdr
