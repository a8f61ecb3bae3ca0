#include "server/json_fields.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace sdr {
namespace {

constexpr int kMaxDepth = 32;  // nesting of arrays and objects in a request body

// A value echoed in an error: short, on one line; never a whole container (no recursion over
// what a client nested).
std::string Shown(const nlohmann::json& v) {
  if (v.is_array()) return "[...]";
  if (v.is_object()) return "{...}";
  std::string s = DumpJson(v);
  if (s.size() > 40) s = s.substr(0, 40) + "...";
  return s;
}

// The deepest nesting of [ and { outside strings (before parsing: a body of a million '[' would
// otherwise become a million nested values).
int NestingDepth(std::string_view body) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

}  // namespace

std::variant<nlohmann::json, ApiError> ParseJsonObject(std::string_view body) {
  if (NestingDepth(body) > kMaxDepth) {
    return ApiError{ErrorCode::kInvalidParams,
                    "request body nests arrays and objects more than " + std::to_string(kMaxDepth) + " deep", ""};
  }
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(body.begin(), body.end());
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 9: ...".
    std::string what = e.what();
    const size_t at = what.find("] ");
    if (at != std::string::npos) what = what.substr(at + 2);
    return ApiError{ErrorCode::kInvalidParams, "request body is not valid JSON: " + what, ""};
  } catch (const std::exception& e) {
    return ApiError{ErrorCode::kInvalidParams, std::string("request body is not valid JSON: ") + e.what(), ""};
  }
  if (!value.is_object()) {
    return ApiError{ErrorCode::kInvalidParams,
                    "request body must be a JSON object, got " + std::string(JsonTypeName(value)), ""};
  }
  return value;
}

std::string_view JsonTypeName(const nlohmann::json& v) {
  if (v.is_string()) return "string";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_boolean()) return "boolean";
  if (v.is_object()) return "object";
  if (v.is_array()) return "array";
  if (v.is_null()) return "null";
  return "value";
}

const nlohmann::json* JsonFields::Find(std::string_view name) const {
  const auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonFields::Has(std::string_view name) const { return Find(name) != nullptr; }

MaybeError JsonFields::String(std::string_view name, size_t max_bytes, std::string* out) const {
  const nlohmann::json* v = Find(name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    return FieldError(std::string(name), fmt::format("{} must be a string, got {} {}", name, JsonTypeName(*v), Shown(*v)));
  }
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    return FieldError(std::string(name), fmt::format("{} is {} bytes long, more than the {} allowed", name, s.size(), max_bytes));
  }
  *out = s;
  return std::nullopt;
}

MaybeError JsonFields::Int(std::string_view name, int64_t lo, int64_t hi, int64_t* out) const {
  const nlohmann::json* v = Find(name);
  if (v == nullptr) return std::nullopt;
  const auto bad = [&] {
    return FieldError(std::string(name),
                      fmt::format("{} must be an integer in [{}, {}], got {}", name, lo, hi, Shown(*v)));
  };
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (hi < 0 || u > static_cast<uint64_t>(hi) || static_cast<int64_t>(u) < lo) return bad();
    *out = static_cast<int64_t>(u);
    return std::nullopt;
  }
  if (v->is_number_integer()) {
    const int64_t i = v->get<int64_t>();
    if (i < lo || i > hi) return bad();
    *out = i;
    return std::nullopt;
  }
  if (v->is_number_float()) {
    const double d = v->get<double>();
    // In range as a double first (so that the cast below is defined), then integral.
    if (!std::isfinite(d) || d < static_cast<double>(lo) || d > static_cast<double>(hi) || d != std::floor(d)) {
      return bad();
    }
    *out = static_cast<int64_t>(d);
    if (*out < lo || *out > hi) return bad();
    return std::nullopt;
  }
  return FieldError(std::string(name), fmt::format("{} must be an integer in [{}, {}], got {} {}", name, lo, hi,
                                                   JsonTypeName(*v), Shown(*v)));
}

MaybeError JsonFields::Int(std::string_view name, int lo, int hi, int* out) const {
  int64_t v = *out;
  if (auto e = Int(name, static_cast<int64_t>(lo), static_cast<int64_t>(hi), &v)) return e;
  *out = static_cast<int>(v);
  return std::nullopt;
}

MaybeError JsonFields::Number(std::string_view name, double lo, double hi, double* out) const {
  const nlohmann::json* v = Find(name);
  if (v == nullptr) return std::nullopt;
  const auto bad = [&](std::string_view what) {
    return FieldError(std::string(name), fmt::format("{} must be a finite number in [{:g}, {:g}], got {}{}", name, lo,
                                                     hi, what, Shown(*v)));
  };
  if (!v->is_number()) return bad(std::string(JsonTypeName(*v)) + " ");
  const double d = v->get<double>();
  if (!std::isfinite(d) || d < lo || d > hi) return bad("");
  *out = d;
  return std::nullopt;
}

MaybeError JsonFields::Bool(std::string_view name, bool* out) const {
  const nlohmann::json* v = Find(name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) {
    return FieldError(std::string(name), fmt::format("{} must be true or false, got {} {}", name, JsonTypeName(*v), Shown(*v)));
  }
  *out = v->get<bool>();
  return std::nullopt;
}

MaybeError JsonFields::Object(std::string_view name, const nlohmann::json** out) const {
  const nlohmann::json* v = Find(name);
  *out = nullptr;
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) {
    return FieldError(std::string(name), fmt::format("{} must be an object, got {} {}", name, JsonTypeName(*v), Shown(*v)));
  }
  *out = v;
  return std::nullopt;
}

MaybeError JsonFields::Array(std::string_view name, const nlohmann::json** out) const {
  const nlohmann::json* v = Find(name);
  *out = nullptr;
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) {
    return FieldError(std::string(name), fmt::format("{} must be an array, got {} {}", name, JsonTypeName(*v), Shown(*v)));
  }
  *out = v;
  return std::nullopt;
}

}  // namespace sdr
