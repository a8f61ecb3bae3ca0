#include "server/api_error.h"

namespace sdr {

ApiError ApiError::FromStatus(const Status& status, std::string param) {
  return {ClassifyError(status), status.message(), std::move(param)};
}

ApiError FieldError(std::string field, std::string message) {
  return {ErrorCode::kInvalidParams, std::move(message), std::move(field)};
}

std::string_view OpenAiErrorType(int http_status) {
  if (http_status == 401) return "authentication_error";
  if (http_status == 429) return "rate_limit_error";
  if (http_status == 499) return "cancelled";
  if (http_status >= 500) return "server_error";
  return "invalid_request_error";
}

nlohmann::json OpenAiErrorBody(const ApiError& e) {
  nlohmann::json error = {
      {"message", e.message},
      {"type", OpenAiErrorType(e.http_status())},
      {"param", e.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.param)},
      {"code", ErrorCodeName(e.code)},
  };
  return {{"error", std::move(error)}};
}

nlohmann::json A1111ErrorBody(const ApiError& e) {
  // A1111 puts the exception's class in "error" and its text in "detail" / "errors".
  return {{"error", ErrorCodeName(e.code)}, {"detail", e.message}, {"body", e.param}, {"errors", e.message}};
}

std::string DumpJson(const nlohmann::json& value) {
  try {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (...) {
    return "null";  // unreachable with the replace handler; never let a dump end a request
  }
}

}  // namespace sdr
