// The server's API key (SD_API_KEY): when set, every endpoint but /health wants
// `Authorization: Bearer KEY` (the header the OpenAI SDKs send from their api_key), compared in
// constant time so that response timing says nothing about how much of a guess was right.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "server/api_error.h"

namespace sdr {

// a == b, in time that depends on neither content (both are hashed, then the digests compared
// without an early exit), so not even the key's length leaks.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// nullopt when `api_key` is empty or `authorization` is "Bearer <api_key>" (the scheme in any
// case); else unauthorized, saying what is missing (never the key).
MaybeError CheckBearer(std::string_view authorization, const std::string& api_key);

// True for the addresses only this machine reaches: localhost, 127.0.0.0/8, ::1.
bool IsLoopbackHost(std::string_view host);

}  // namespace sdr
