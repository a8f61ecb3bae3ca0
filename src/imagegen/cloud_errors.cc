#include "imagegen/cloud_errors.h"

#include <nlohmann/json.hpp>

namespace sdr {
namespace {

std::string Field(const nlohmann::json& j, const char* name) {
  if (!j.is_object()) return "";
  const auto it = j.find(name);
  if (it == j.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return "";
}

// The StatusCode under each tag (the tag decides what callers see; the code reads well in logs).
StatusCode UnderlyingCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kAuthFailed: return StatusCode::kSecurity;
    case ErrorCode::kContentPolicy: return StatusCode::kInvalidArgument;
    case ErrorCode::kInvalidParams: return StatusCode::kInvalidArgument;
    case ErrorCode::kGenerationTimeout: return StatusCode::kDeadlineExceeded;
    case ErrorCode::kCancelled: return StatusCode::kCancelled;
    case ErrorCode::kProviderError: return StatusCode::kCorruptData;
    default: return StatusCode::kUnavailable;
  }
}

}  // namespace

CloudErrorBody ParseCloudErrorBody(std::string_view body) {
  CloudErrorBody e;
  const auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return e;
  const auto it = j.find("error");
  if (it == j.end()) return e;
  if (it->is_string()) {  // some gateways answer {"error": "text"}
    e.message = it->get<std::string>();
    return e;
  }
  e.message = Field(*it, "message");
  e.type = Field(*it, "type");
  e.code = Field(*it, "code");
  e.param = Field(*it, "param");
  for (const char* inner : {"inner_error", "innererror"}) {
    if (it->is_object() && it->contains(inner)) e.inner_code = Field((*it)[inner], "code");
  }
  return e;
}

bool IsQuotaError(const CloudErrorBody& e) { return e.code == "insufficient_quota" || e.type == "insufficient_quota"; }

ErrorCode ClassifyHttpFailure(long status, const CloudErrorBody& e) {
  if (status == 401 || status == 403) return ErrorCode::kAuthFailed;
  const bool policy = e.code == "content_policy_violation" || e.code == "moderation_blocked" ||
                      e.code == "contentFilter" || e.code == "content_filter" ||
                      e.inner_code == "ResponsibleAIPolicyViolation";
  if (status == 400 && policy) return ErrorCode::kContentPolicy;
  if (status == 429) return IsQuotaError(e) ? ErrorCode::kQuotaExhausted : ErrorCode::kRateLimited;
  if (status == 408 || status == 409 || status >= 500) return ErrorCode::kUnavailable;
  return ErrorCode::kProviderError;
}

std::string RequestId(const HttpResponse& r) {
  std::string id = r.Header("x-request-id");
  return id.empty() ? r.Header("apim-request-id") : id;
}

Status CloudError(ErrorCode code, std::string_view provider, const std::string& message, const std::string& request_id) {
  std::string m = std::string(provider) + ": " + message;
  if (!request_id.empty()) m += " (request id " + request_id + ")";
  return WithErrorCode(Status(UnderlyingCode(code), std::move(m)), code);
}

Status HttpFailureStatus(std::string_view provider, const HttpResponse& r, int attempts) {
  const CloudErrorBody e = ParseCloudErrorBody(r.body);
  std::string m = "HTTP " + std::to_string(r.status);
  if (!e.message.empty()) {
    m += ": " + e.message;
  } else if (!r.body.empty()) {
    m += ": " + r.body.substr(0, 200);  // not the provider's JSON: show the start of the body
  }
  std::string kinds;
  if (!e.type.empty()) kinds += "type " + e.type;
  if (!e.code.empty()) kinds += std::string(kinds.empty() ? "" : ", ") + "code " + e.code;
  if (!e.inner_code.empty()) kinds += std::string(kinds.empty() ? "" : ", ") + "inner code " + e.inner_code;
  if (!kinds.empty()) m += " [" + kinds + "]";
  if (attempts > 1) m += " after " + std::to_string(attempts) + " attempts";
  return CloudError(ClassifyHttpFailure(r.status, e), provider, m, RequestId(r));
}

}  // namespace sdr
