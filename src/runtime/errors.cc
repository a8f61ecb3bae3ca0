#include "runtime/errors.h"

#include <array>
#include <filesystem>

#include "backends/cuda_module.h"
#include "core/check.h"

namespace sdr {
namespace {

// The one table: code, name, CLI exit code, HTTP status, meaning.
constexpr std::array<ErrorCodeInfo, 23> kCodes = {{
    {ErrorCode::kOk, "ok", 0, 200, "success"},
    {ErrorCode::kModelLoadFailed, "model_load_failed", 6, 500, "the model file is unreadable, corrupt or unsupported"},
    {ErrorCode::kModelNotFound, "model_not_found", 4, 404, "the model path does not exist"},
    {ErrorCode::kInvalidParams, "invalid_params", 3, 400, "a setting or request field is missing or out of range"},
    {ErrorCode::kGenerationFailed, "generation_failed", 7, 500, "generation failed for another reason"},
    {ErrorCode::kOutOfMemory, "out_of_memory", 8, 507, "host memory ran out or the memory budget was exceeded"},
    {ErrorCode::kGenerationTimeout, "generation_timeout", 10, 504, "the generation timed out (or was projected to)"},
    {ErrorCode::kAcquireTimeout, "acquire_timeout", 11, 503, "no context or provider slot became free in time"},
    {ErrorCode::kCancelled, "cancelled", 12, 499, "the generation was cancelled"},
    {ErrorCode::kPoolClosed, "pool_closed", 13, 503, "the context pool is closed"},
    {ErrorCode::kOutOfVram, "out_of_vram", 9, 507, "GPU memory ran out"},
    {ErrorCode::kUnavailable, "unavailable", 14, 503, "a provider or device cannot be reached"},
    {ErrorCode::kAuthFailed, "auth_failed", 15, 401, "the provider refused the credentials"},
    {ErrorCode::kContentPolicy, "content_policy", 16, 400, "refused under the provider's content policy"},
    {ErrorCode::kRateLimited, "rate_limited", 17, 429, "too many requests: retry later"},
    {ErrorCode::kQuotaExhausted, "quota_exhausted", 18, 429, "the account's quota is used up"},
    {ErrorCode::kProviderError, "provider_error", 19, 502, "the provider reported another error"},
    {ErrorCode::kIoError, "io_error", 5, 500, "reading an input or writing an output failed"},
    {ErrorCode::kQueueFull, "queue_full", 20, 429, "the server's job queue is full: retry later"},
    {ErrorCode::kNotFound, "not_found", 21, 404, "no such job, image or route"},
    {ErrorCode::kGone, "gone", 22, 410, "the job's result has expired"},
    {ErrorCode::kUnauthorized, "unauthorized", 23, 401, "the request lacks the server's API key"},
    {ErrorCode::kPayloadTooLarge, "payload_too_large", 24, 413, "the request body is larger than the server accepts"},
}};

constexpr bool TableInValueOrder() {
  for (size_t i = 0; i < kCodes.size(); ++i) {
    if (static_cast<size_t>(kCodes[i].code) != i) return false;
  }
  return true;
}
static_assert(TableInValueOrder(), "kCodes must list every ErrorCode in value order");
static_assert(static_cast<int>(ErrorCode::kOutOfVram) == kOutOfVramDetail,
              "backends tag device-memory failures with kOutOfVramDetail (backends/cuda_module.h)");

bool IsErrorCodeValue(int v) { return v > 0 && v < static_cast<int>(kCodes.size()); }

}  // namespace

std::span<const ErrorCodeInfo> ErrorCodeTable() { return kCodes; }

const ErrorCodeInfo& ErrorCodeRow(ErrorCode code) {
  const auto i = static_cast<size_t>(code);
  SDR_CHECK(i < kCodes.size());
  return kCodes[i];
}

std::string_view ErrorCodeName(ErrorCode code) { return ErrorCodeRow(code).name; }
int CliExitCode(ErrorCode code) { return ErrorCodeRow(code).exit_code; }
int HttpStatus(ErrorCode code) { return ErrorCodeRow(code).http_status; }

Status WithErrorCode(Status status, ErrorCode code) {
  return std::move(status).WithDetail(static_cast<int>(code));
}

Status AcquireTimeoutError(std::string message) {
  return WithErrorCode(DeadlineExceeded(std::move(message)), ErrorCode::kAcquireTimeout);
}

Status PoolClosedError(std::string message) {
  return WithErrorCode(Unavailable(std::move(message)), ErrorCode::kPoolClosed);
}

ErrorCode ClassifyLoadError(const Status& s, const std::string& model_path, const std::string& vae_path) {
  if (s.ok()) return ErrorCode::kOk;
  if (s.detail() == static_cast<int>(ErrorCode::kOutOfVram)) return ErrorCode::kOutOfVram;  // weights on a GPU
  if (s.code() == StatusCode::kOutOfMemory) return ErrorCode::kOutOfMemory;
  std::error_code ec;
  const bool missing = !std::filesystem::exists(model_path, ec) ||
                       (!vae_path.empty() && !std::filesystem::exists(vae_path, ec));
  return missing ? ErrorCode::kModelNotFound : ErrorCode::kModelLoadFailed;
}

Status TagLoadError(Status status, const std::string& model_path, const std::string& vae_path) {
  const ErrorCode code = ClassifyLoadError(status, model_path, vae_path);
  return WithErrorCode(std::move(status), code);
}

ErrorCode ClassifyError(const Status& s, Operation op) {
  if (s.ok()) return ErrorCode::kOk;
  if (IsErrorCodeValue(s.detail())) return static_cast<ErrorCode>(s.detail());
  switch (s.code()) {
    case StatusCode::kOutOfMemory: return ErrorCode::kOutOfMemory;
    case StatusCode::kCancelled: return ErrorCode::kCancelled;
    case StatusCode::kUnavailable: return ErrorCode::kUnavailable;
    default: break;
  }
  switch (op) {
    case Operation::kLoadModel:
      return s.code() == StatusCode::kNotFound ? ErrorCode::kModelNotFound : ErrorCode::kModelLoadFailed;
    case Operation::kAcquire:
      return s.code() == StatusCode::kDeadlineExceeded ? ErrorCode::kAcquireTimeout : ErrorCode::kGenerationFailed;
    case Operation::kGenerate:
      switch (s.code()) {
        case StatusCode::kInvalidArgument: return ErrorCode::kInvalidParams;
        case StatusCode::kDeadlineExceeded: return ErrorCode::kGenerationTimeout;
        case StatusCode::kIoError: return ErrorCode::kIoError;
        default: return ErrorCode::kGenerationFailed;
      }
  }
  return ErrorCode::kGenerationFailed;
}

}  // namespace sdr
