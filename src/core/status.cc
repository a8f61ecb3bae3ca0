#include "core/status.h"

namespace sdr {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kIoError: return "io_error";
    case StatusCode::kCorruptData: return "corrupt_data";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kSecurity: return "security";
    case StatusCode::kOutOfMemory: return "out_of_memory";
    case StatusCode::kCancelled: return "cancelled";
    case StatusCode::kDeadlineExceeded: return "deadline_exceeded";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kInternal: return "internal";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(StatusCodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

Status Status::WithContext(std::string_view context) const& {
  if (ok()) return *this;
  Status s(code_, std::string(context) + ": " + message_);
  s.detail_ = detail_;
  return s;
}

Status Status::WithContext(std::string_view context) && {
  if (ok()) return std::move(*this);
  message_.insert(0, std::string(context) + ": ");
  return std::move(*this);
}

Status Status::WithDetail(int detail) const& {
  Status s = *this;
  return std::move(s).WithDetail(detail);
}

Status Status::WithDetail(int detail) && {
  if (!ok()) detail_ = detail;
  return std::move(*this);
}

}  // namespace sdr
