// The error codes applications act on: one vocabulary for the local engine and the cloud
// providers, for the C++ API, the C API (sdr_error_code), the Go binding, the CLI (exit codes)
// and the server (HTTP statuses). Internally everything fails with a Status (core/status.h);
// the layer that knows what a failure means to a caller tags it with WithErrorCode (stored in
// Status::detail()), and ClassifyError reads the tag, or derives the code from the StatusCode and
// the operation when there is none. Nothing here ever looks at message text.
//
// ErrorCodeTable() is the one table: code, name, CLI exit code, HTTP status, meaning. The
// README's exit-code table and sdr.h's enum are checked against it by tests.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sdr {

// The values are the C API's sdr_error_code values: append only, never renumber.
enum class ErrorCode {
  kOk = 0,
  kModelLoadFailed = 1,    // the model file is unreadable, corrupt or unsupported
  kModelNotFound = 2,      // the model path does not exist
  kInvalidParams = 3,      // a setting or request field is missing, malformed or out of range
  kGenerationFailed = 4,   // anything else that went wrong while generating
  kOutOfMemory = 5,        // host memory: an allocation failed or the memory budget was exceeded
  kGenerationTimeout = 6,  // the per-generation timeout elapsed (or would: projected)
  kAcquireTimeout = 7,     // no pooled context (or provider slot) became free in time
  kCancelled = 8,          // the caller (or a pool close) cancelled the generation
  kPoolClosed = 9,         // the pool was closed
  kOutOfVram = 10,         // device memory of a GPU backend (the message names the device)
  kUnavailable = 11,       // a provider or device cannot be reached (network, 5xx after retries)
  kAuthFailed = 12,        // the provider refused the credentials (401 / 403)
  kContentPolicy = 13,     // the provider refused the prompt or image under its content policy
  kRateLimited = 14,       // too many requests now: retry later (429 rate limit)
  kQuotaExhausted = 15,    // the account's quota or credit is used up: do not retry (429 quota)
  kProviderError = 16,     // any other provider failure (its message and request id)
  kIoError = 17,           // reading an input or writing an output other than the model failed
  // The HTTP server's own conditions (src/server); the library never returns them.
  kQueueFull = 18,         // the server's job queue is full: retry later (Retry-After)
  kNotFound = 19,          // no such job, image or route
  kGone = 20,              // the job or image existed but its result has expired
  kUnauthorized = 21,      // the request lacks the server's API key (Authorization: Bearer)
  kPayloadTooLarge = 22,   // the request body exceeds the server's limit
};

struct ErrorCodeInfo {
  ErrorCode code;
  std::string_view name;     // stable lower-case name, e.g. "model_not_found"
  int exit_code;             // process exit code of `sdr` (0 for ok)
  int http_status;           // HTTP status the server answers with
  std::string_view meaning;  // one line, for docs and `sdr` help
};

// Every code, in value order (ErrorCodeTable()[i].code == ErrorCode(i)).
std::span<const ErrorCodeInfo> ErrorCodeTable();
const ErrorCodeInfo& ErrorCodeRow(ErrorCode code);

std::string_view ErrorCodeName(ErrorCode code);  // "model_load_failed", ...
int CliExitCode(ErrorCode code);
int HttpStatus(ErrorCode code);
// The exit code of a command-line usage error (unknown flag, missing argument). Not an
// ErrorCode: the C API and the server never see one.
inline constexpr int kUsageExitCode = 2;

// `status` tagged with `code` (kept through WithContext); no-op on OK.
Status WithErrorCode(Status status, ErrorCode code);

enum class Operation { kLoadModel, kAcquire, kGenerate };
// The tag when there is one; else by status code and operation (e.g. DeadlineExceeded is an
// acquire timeout for kAcquire and a generation timeout for kGenerate). For kLoadModel an untagged
// NotFound is read as ModelNotFound; callers that know the model path should prefer
// ClassifyLoadError, which asks the filesystem instead.
ErrorCode ClassifyError(const Status& status, Operation op = Operation::kGenerate);

// Load failures: ModelNotFound exactly when `model_path` (or a non-empty `vae_path`) does not
// exist; OutOfVram when a GPU backend tagged it so (weights that do not fit); OutOfMemory for
// other allocation failures; else ModelLoadFailed.
ErrorCode ClassifyLoadError(const Status& status, const std::string& model_path, const std::string& vae_path = "");
// `status` tagged with ClassifyLoadError's code (for every place that opens a model file).
Status TagLoadError(Status status, const std::string& model_path, const std::string& vae_path = "");

// The pool's own statuses, tagged kAcquireTimeout / kPoolClosed.
Status AcquireTimeoutError(std::string message);
Status PoolClosedError(std::string message);

}  // namespace sdr
