// Status: the outcome of an operation that can fail because of its input, files, memory,
// the device or cancellation. A default Status is OK. Messages name the object that failed
// (path, tensor name, expected vs actual) and gain context on the way up via WithContext().
//
// Thread-safety: a Status is a value; distinct objects may be used from distinct threads.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace sdr {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // a caller-supplied value is out of range or malformed
  kNotFound,          // a file, tensor or key does not exist
  kIoError,           // the OS refused a read/write/mmap
  kCorruptData,       // a file's bytes contradict its own format
  kUnsupported,       // well-formed but not something we implement (dtype, version, ...)
  kSecurity,          // the input asked for something we refuse to do (pickle globals, ...)
  kOutOfMemory,       // an allocation failed or a memory budget was exceeded
  kCancelled,         // the caller asked to stop
  kDeadlineExceeded,  // a timeout elapsed
  kUnavailable,       // a resource (pool slot, device) is not available now
  kInternal,          // a bug: an invariant did not hold
};

// Stable lower-case name of a code ("invalid_argument", ...).
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "corrupt_data: tensor 'x': offsets out of range" style, for logs and CLI output.
  std::string ToString() const;

  // Prefixes the message with "context: " (no-op on OK). Use on the way up. Keeps detail().
  Status WithContext(std::string_view context) const&;
  Status WithContext(std::string_view context) &&;

  // An application-level code that refines code() (0 = none), set by the layer that knows what
  // the failure means to a caller (runtime/errors.h: "model not found", "pool closed", ...), so
  // that nobody above has to guess it from the message text. No-op on OK.
  int detail() const { return detail_; }
  Status WithDetail(int detail) const&;
  Status WithDetail(int detail) &&;

  // Discards a status explicitly (for best-effort cleanup paths).
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  int detail_ = 0;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status CorruptData(std::string m) { return {StatusCode::kCorruptData, std::move(m)}; }
inline Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
inline Status SecurityError(std::string m) { return {StatusCode::kSecurity, std::move(m)}; }
inline Status OutOfMemory(std::string m) { return {StatusCode::kOutOfMemory, std::move(m)}; }
inline Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

}  // namespace sdr

#define SDR_STATUS_CONCAT_INNER(a, b) a##b
#define SDR_STATUS_CONCAT(a, b) SDR_STATUS_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function if it is not OK.
#define SDR_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    ::sdr::Status sdr_status_tmp_ = (expr);        \
    if (!sdr_status_tmp_.ok()) return sdr_status_tmp_; \
  } while (0)
