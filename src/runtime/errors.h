// The error codes applications act on, one set for the C++ API, the C API, the CLI and the
// server. Internally everything fails with a Status (core/status.h); ClassifyError says which
// ErrorCode a Status means for the operation that produced it, and the tables below map each
// code to a CLI exit code and an HTTP status.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace sdr {

enum class ErrorCode {
  kOk = 0,
  kModelLoadFailed = 1,    // the model file is unreadable, corrupt or unsupported
  kModelNotFound = 2,      // the model path does not exist
  kInvalidParams = 3,      // a generation setting is out of range
  kGenerationFailed = 4,   // anything else that went wrong while generating
  kOutOfMemory = 5,        // an allocation failed or the memory budget was exceeded
  kGenerationTimeout = 6,  // SD_TIMEOUT_SECONDS elapsed
  kAcquireTimeout = 7,     // no pooled context became free in time
  kCancelled = 8,          // the caller (or a pool close) cancelled the generation
  kPoolClosed = 9,         // the pool was closed
};

std::string_view ErrorCodeName(ErrorCode code);  // "model_load_failed", ...

enum class Operation { kLoadModel, kAcquire, kGenerate };
// By status code only. For kLoadModel a NotFound is read as ModelNotFound; callers that know the
// model path should prefer ClassifyLoadError, which asks the filesystem instead (a NotFound can
// also mean a tensor or tokenizer missing from an existing model).
ErrorCode ClassifyError(const Status& status, Operation op);

// Load failures: ModelNotFound exactly when `model_path` (or a non-empty `vae_path`) does not
// exist; OutOfMemory for allocation failures; else ModelLoadFailed.
ErrorCode ClassifyLoadError(const Status& status, const std::string& model_path, const std::string& vae_path = "");

int CliExitCode(ErrorCode code);  // 0 ok; 2 is reserved for usage errors
int HttpStatus(ErrorCode code);   // 200, 400, 404, 408, 499, 500, 503, 504, 507

// The pool's own statuses (ClassifyError maps them to kAcquireTimeout / kPoolClosed).
Status AcquireTimeoutError(std::string message);
Status PoolClosedError(std::string message);

}  // namespace sdr
