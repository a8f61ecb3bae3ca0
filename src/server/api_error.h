// An error as the server answers it: an ErrorCode (whose HTTP status comes from the one table,
// runtime/errors.h), a message for people, and the request field it concerns. Written in the
// shape each API family's clients parse:
//
//   OpenAI (/v1/...):  {"error": {"message", "type", "param", "code"}}
//   A1111 (/sdapi/...): {"error", "detail", "body", "errors"}
//
// `type` (OpenAI) follows the HTTP status: 401 authentication_error, 429 rate_limit_error, 499
// cancelled, >= 500 server_error, other 4xx invalid_request_error; `code` is our code's name
// ("invalid_params", "queue_full", ...); `param` the field, or null.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "core/status.h"
#include "runtime/errors.h"

namespace sdr {

struct ApiError {
  ErrorCode code = ErrorCode::kGenerationFailed;
  std::string message;
  std::string param;  // the request field named in `message`; "" = none

  int http_status() const { return HttpStatus(code); }
  // The code ClassifyError gives `status`, and its message.
  static ApiError FromStatus(const Status& status, std::string param = "");
};

// An invalid_params error about `field`.
ApiError FieldError(std::string field, std::string message);

// nullopt, or the error: what validators return.
using MaybeError = std::optional<ApiError>;

std::string_view OpenAiErrorType(int http_status);
nlohmann::json OpenAiErrorBody(const ApiError& error);
nlohmann::json A1111ErrorBody(const ApiError& error);

// json.dump that never throws: invalid UTF-8 (which parsed JSON never holds) is replaced.
std::string DumpJson(const nlohmann::json& value);

}  // namespace sdr
