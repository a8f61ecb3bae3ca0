// Fuzz entry: an SD_* environment through LoadConfigFromEnv (see fuzz_targets.h).
#include <map>
#include <optional>
#include <string>

#include "core/check.h"
#include "fuzz/fuzz_targets.h"
#include "runtime/config.h"

namespace sdr::fuzz {

Status FuzzConfig(std::string_view input) {
  // NUL-separated NAME=VALUE entries; an entry without '=' sets nothing.
  std::map<std::string, std::string, std::less<>> vars;
  while (!input.empty()) {
    const size_t end = input.find('\0');
    const std::string_view entry = input.substr(0, end);
    input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
    const size_t eq = entry.find('=');
    if (eq != std::string_view::npos) vars[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  const EnvLookup env = [&vars](const char* name) -> std::optional<std::string> {
    auto it = vars.find(std::string_view(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };

  auto config = LoadConfigFromEnv(env);
  if (!config.ok()) {
    SDR_CHECK(config.status().code() == StatusCode::kInvalidArgument);
    return config.status();
  }
  // A loaded configuration re-validates, and each field's text parses back to itself.
  SDR_CHECK(ValidateConfig(*config).ok());
  for (const ConfigEntry& e : DescribeConfig(*config, env)) {
    if (e.value.empty()) continue;  // unset text or path
    RuntimeConfig again;
    SDR_CHECK(e.field->parse(e.field->env_var, e.value, again).ok());
    SDR_CHECK(e.field->format(again) == e.value);
  }
  return Status::Ok();
}

}  // namespace sdr::fuzz
