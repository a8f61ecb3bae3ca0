#include "server/auth.h"

#include <cctype>

#include "core/sha256.h"

namespace sdr {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  Sha256 h;
  h.Update(a);
  const Sha256Digest da = h.Finish();
  h.Update(b);
  const Sha256Digest db = h.Finish();
  unsigned diff = 0;
  for (size_t i = 0; i < da.size(); ++i) diff |= static_cast<unsigned>(da[i] ^ db[i]);
  return diff == 0;
}

MaybeError CheckBearer(std::string_view authorization, const std::string& api_key) {
  if (api_key.empty()) return std::nullopt;
  const auto unauthorized = [](std::string message) {
    return ApiError{ErrorCode::kUnauthorized, std::move(message), ""};
  };
  if (authorization.empty()) {
    return unauthorized("this server needs an API key: send Authorization: Bearer <key> (SD_API_KEY)");
  }
  constexpr std::string_view kScheme = "bearer ";
  bool bearer = authorization.size() > kScheme.size();
  for (size_t i = 0; bearer && i < kScheme.size(); ++i) {
    bearer = std::tolower(static_cast<unsigned char>(authorization[i])) == kScheme[i];
  }
  if (!bearer) return unauthorized("the Authorization header must be: Bearer <key>");
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (!ConstantTimeEquals(token, api_key)) return unauthorized("incorrect API key");
  return std::nullopt;
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  return host.substr(0, 4) == "127.";
}

}  // namespace sdr
