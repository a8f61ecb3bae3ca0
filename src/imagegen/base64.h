// Standard base64 (RFC 4648, '+' '/', '=' padding) as the OpenAI images API's b64_json uses.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace sdr {

// CorruptData naming the offset of the first invalid character; line breaks are skipped.
Result<std::string> DecodeBase64(std::string_view text);
std::string EncodeBase64(std::string_view bytes);

}  // namespace sdr
