// Reading a request body's JSON fields with their types and ranges checked, each error naming
// the field (a 400 with `param` set). Absent and null fields are "not given": the caller's value
// is kept. Unknown fields are ignored (clients send many we do not use).
//
//   auto body = ParseJsonObject(req.body);            // malformed JSON, not an object: 400
//   JsonFields f(*body);
//   if (auto e = f.Int("steps", 1, 150, &steps)) return *e;   // "steps must be an integer in [1, 150], got 151"
//
// Thread-safety: JsonFields only reads the object it is given.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "server/api_error.h"

namespace sdr {

// The body as a JSON object, or a 400: "request body is not valid JSON: ..." (the parser's
// position and reason), "request body must be a JSON object, got array".
std::variant<nlohmann::json, ApiError> ParseJsonObject(std::string_view body);

// "string", "integer", "number", "boolean", "object", "array", "null".
std::string_view JsonTypeName(const nlohmann::json& value);

class JsonFields {
 public:
  explicit JsonFields(const nlohmann::json& object) : object_(object) {}

  // Present and not null.
  bool Has(std::string_view name) const;

  // A string of at most max_bytes UTF-8 bytes.
  MaybeError String(std::string_view name, size_t max_bytes, std::string* out) const;
  // An integer in [lo, hi] (a float with an integral value, e.g. 20.0, counts).
  MaybeError Int(std::string_view name, int64_t lo, int64_t hi, int64_t* out) const;
  MaybeError Int(std::string_view name, int lo, int hi, int* out) const;
  // A finite number in [lo, hi].
  MaybeError Number(std::string_view name, double lo, double hi, double* out) const;
  MaybeError Bool(std::string_view name, bool* out) const;
  // An object (nested settings, e.g. A1111's override_settings); nullptr when absent or null.
  MaybeError Object(std::string_view name, const nlohmann::json** out) const;
  // An array (A1111's init_images); nullptr when absent or null.
  MaybeError Array(std::string_view name, const nlohmann::json** out) const;

 private:
  const nlohmann::json* Find(std::string_view name) const;  // null when absent or null
  const nlohmann::json& object_;
};

}  // namespace sdr
