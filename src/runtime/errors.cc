#include "runtime/errors.h"

#include <array>
#include <filesystem>

namespace sdr {
namespace {

struct CodeRow {
  ErrorCode code;
  std::string_view name;
  int exit_code;
  int http;
};

// One table: name, CLI exit code, HTTP status.
constexpr std::array<CodeRow, 10> kCodes = {{
    {ErrorCode::kOk, "ok", 0, 200},
    {ErrorCode::kModelLoadFailed, "model_load_failed", 10, 500},
    {ErrorCode::kModelNotFound, "model_not_found", 11, 404},
    {ErrorCode::kInvalidParams, "invalid_params", 3, 400},
    {ErrorCode::kGenerationFailed, "generation_failed", 12, 500},
    {ErrorCode::kOutOfMemory, "out_of_memory", 13, 507},
    {ErrorCode::kGenerationTimeout, "generation_timeout", 14, 504},
    {ErrorCode::kAcquireTimeout, "acquire_timeout", 15, 503},
    {ErrorCode::kCancelled, "cancelled", 16, 499},
    {ErrorCode::kPoolClosed, "pool_closed", 17, 503},
}};

const CodeRow& Row(ErrorCode code) { return kCodes[static_cast<size_t>(code)]; }

constexpr std::string_view kPoolClosedTag = "pool closed: ";

}  // namespace

std::string_view ErrorCodeName(ErrorCode code) { return Row(code).name; }
int CliExitCode(ErrorCode code) { return Row(code).exit_code; }
int HttpStatus(ErrorCode code) { return Row(code).http; }

Status AcquireTimeoutError(std::string message) { return DeadlineExceeded(std::move(message)); }
Status PoolClosedError(std::string message) { return Unavailable(std::string(kPoolClosedTag) + message); }

ErrorCode ClassifyLoadError(const Status& s, const std::string& model_path, const std::string& vae_path) {
  if (s.ok()) return ErrorCode::kOk;
  if (s.code() == StatusCode::kOutOfMemory) return ErrorCode::kOutOfMemory;
  std::error_code ec;
  const bool missing = !std::filesystem::exists(model_path, ec) ||
                       (!vae_path.empty() && !std::filesystem::exists(vae_path, ec));
  return missing ? ErrorCode::kModelNotFound : ErrorCode::kModelLoadFailed;
}

ErrorCode ClassifyError(const Status& s, Operation op) {
  if (s.ok()) return ErrorCode::kOk;
  if (s.code() == StatusCode::kOutOfMemory) return ErrorCode::kOutOfMemory;
  switch (op) {
    case Operation::kLoadModel:
      return s.code() == StatusCode::kNotFound ? ErrorCode::kModelNotFound : ErrorCode::kModelLoadFailed;
    case Operation::kAcquire:
      if (s.code() == StatusCode::kDeadlineExceeded) return ErrorCode::kAcquireTimeout;
      return ErrorCode::kPoolClosed;
    case Operation::kGenerate:
      switch (s.code()) {
        case StatusCode::kInvalidArgument: return ErrorCode::kInvalidParams;
        case StatusCode::kDeadlineExceeded: return ErrorCode::kGenerationTimeout;
        case StatusCode::kCancelled: return ErrorCode::kCancelled;
        case StatusCode::kUnavailable:
          if (s.message().find(kPoolClosedTag) != std::string::npos) return ErrorCode::kPoolClosed;
          return ErrorCode::kGenerationFailed;
        default: return ErrorCode::kGenerationFailed;
      }
  }
  return ErrorCode::kGenerationFailed;
}

}  // namespace sdr
