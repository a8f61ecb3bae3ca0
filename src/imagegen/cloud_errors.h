// Cloud provider failures -> the one error vocabulary (runtime/errors.h), decided at the source
// from the HTTP status and the error body's kind, never from message text:
//
//   401, 403                                              auth_failed
//   400 code content_policy_violation / moderation_blocked,
//       Azure code contentFilter or inner code ResponsibleAIPolicyViolation   content_policy
//   429 code or type insufficient_quota                   quota_exhausted (never retried)
//   429 otherwise                                          rate_limited (after the retries)
//   408, 409, >= 500                                       unavailable (after the retries)
//   anything else (400 bad size, 404 unknown model, ...)   provider_error
//
// Messages carry the provider's name, the HTTP status, its message, type and code, and the
// request id (x-request-id / apim-request-id) for support; never a key.
//
// Thread-safety: plain functions.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "imagegen/http_client.h"
#include "runtime/errors.h"

namespace sdr {

// OpenAI's {"error": {"message", "type", "param", "code"}} and Azure's additions
// ("inner_error"/"innererror": {"code"}); fields absent from the body are "".
struct CloudErrorBody {
  std::string message, type, code, param, inner_code;
};
CloudErrorBody ParseCloudErrorBody(std::string_view body);

// True for a 429 that means the quota is used up (insufficient_quota).
bool IsQuotaError(const CloudErrorBody& e);

// The code for a non-2xx answer.
ErrorCode ClassifyHttpFailure(long status, const CloudErrorBody& e);

// The support id of a response: x-request-id (OpenAI) or apim-request-id (Azure); "" if none.
std::string RequestId(const HttpResponse& response);

// The tagged Status for a non-2xx answer. `attempts` > 1 is mentioned ("after 3 attempts").
Status HttpFailureStatus(std::string_view provider, const HttpResponse& response, int attempts);

// A tagged Status with `provider` + request id context, e.g. for a malformed success body.
Status CloudError(ErrorCode code, std::string_view provider, const std::string& message,
                  const std::string& request_id = "");

}  // namespace sdr
