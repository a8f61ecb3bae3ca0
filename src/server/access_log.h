// The access log: one line per answered request, key=value pairs, written when the response is
// done (for streams, when the stream ends):
//
//   access method=POST route=/v1/images/generations path=/v1/images/generations status=200 ms=812.4 job=job_5f... remote=127.0.0.1
//
// `route` is the pattern (metrics use it too); `job` is "-" when the request made or named no job;
// `error` (the error code's name) is added to failed requests. The path is cut at 200
// characters and control characters are escaped, so a line is always one line.
//
// The per-request state lives in a thread-local record of the thread serving the request.
//
// Thread-safety: FormatAccessLine is pure; the record is per thread.
#pragma once

#include <chrono>
#include <string>

#include "runtime/errors.h"

namespace sdr {

struct RequestRecordState {
  bool started = false;
  std::chrono::steady_clock::time_point start;
  std::string job_id;
  ErrorCode error = ErrorCode::kOk;
};

// The calling thread's record (reset after each request's line is written).
RequestRecordState& CurrentRequestRecord();

struct AccessEntry {
  std::string method, route, path, remote, job_id;
  int status = 0;
  double ms = 0;
  ErrorCode error = ErrorCode::kOk;
};

std::string FormatAccessLine(const AccessEntry& e);

}  // namespace sdr
