// sdr config [--json]: the effective configuration from the SD_* (and OPENAI_* / AZURE_OPENAI_*)
// environment variables and where each value came from, then which image provider `sdr generate`
// without -m (and every Generator) would choose and why. API keys show as "<set: N characters>".
// Invalid values fail with InvalidArgument (exit code 3), listing every bad variable.
//
//   SD_INFERENCE_STEPS  = 20         (default)  sampler steps, 1..1000
//   ...
//   image provider: openai
//     local skipped: SD_MODEL_PATH is not set
//     ...
//
// --json prints one object keyed by variable:
//   {"SD_INFERENCE_STEPS": {"field": "steps", "value": 20, "source": "default",
//                           "default": "20", "help": "..."}, ...}
// with numbers and booleans as JSON numbers and booleans, everything else as strings, plus
//   "provider": {"kind": "openai", "reasons": ["local skipped: ...", ...]}
// (the plan does not load the model: a local model that exists is chosen if it loads).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <string>

#include "apps/cli/commands.h"
#include "imagegen/selection.h"
#include "runtime/config.h"

namespace sdr::cli {
namespace {

struct ConfigOptions {
  bool json = false;
};

bool IsJsonLiteral(ConfigKind kind) {
  return kind == ConfigKind::kInt || kind == ConfigKind::kFloat || kind == ConfigKind::kBool;
}

nlohmann::ordered_json JsonValue(const ConfigEntry& e) {
  if (IsJsonLiteral(e.field->kind)) {
    // The formatter writes these as JSON literals ("20", "7.5", "true"); fall back to text.
    auto v = nlohmann::ordered_json::parse(e.value, nullptr, /*allow_exceptions=*/false);
    if (!v.is_discarded()) return v;
  }
  return e.value;
}

// Text and paths quoted so that "" and blanks show; control characters escaped.
std::string DisplayValue(const ConfigEntry& e) {
  if (e.field->kind != ConfigKind::kString && e.field->kind != ConfigKind::kPath && e.field->kind != ConfigKind::kUrl) {
    return e.value;
  }
  return nlohmann::json(e.value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status RunConfig(const ConfigOptions& o) {
  const EnvLookup env = ProcessEnv();
  SDR_ASSIGN_OR_RETURN(RuntimeConfig config, LoadConfigFromEnv(env));
  const std::vector<ConfigEntry> entries = DescribeConfig(config, env);
  const ProviderPlan plan = PlanProvider(config);
  if (o.json) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const ConfigEntry& e : entries) {
      j[std::string(e.field->env_var)] = {{"field", std::string(e.field->name)},
                                          {"value", JsonValue(e)},
                                          {"source", e.source},
                                          {"default", std::string(e.field->default_text)},
                                          {"help", std::string(e.field->help)}};
    }
    j["provider"] = {{"kind", std::string(ToString(plan.kind))}, {"reasons", plan.reasons}};
    std::printf("%s\n", j.dump(1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
    return Status::Ok();
  }
  constexpr size_t kMaxValueWidth = 40;  // long paths overflow their column rather than widen it
  size_t var_w = 0, value_w = 0, source_w = 0;
  std::vector<std::string> values;
  for (const ConfigEntry& e : entries) {
    values.push_back(DisplayValue(e));
    var_w = std::max(var_w, e.field->env_var.size());
    value_w = std::max(value_w, std::min(values.back().size(), kMaxValueWidth));
    source_w = std::max(source_w, e.source.size() + 2);
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    const ConfigEntry& e = entries[i];
    const std::string source = "(" + e.source + ")";
    std::printf("%-*s = %-*s  %-*s  %s\n", static_cast<int>(var_w), std::string(e.field->env_var).c_str(),
                static_cast<int>(value_w), values[i].c_str(), static_cast<int>(source_w), source.c_str(),
                std::string(e.field->help).c_str());
  }
  std::printf("image provider: %s\n", std::string(ToString(plan.kind)).c_str());
  for (const std::string& r : plan.reasons) std::printf("  %s\n", r.c_str());
  return Status::Ok();
}

}  // namespace

Command RegisterConfig(CLI::App& app) {
  auto opts = std::make_shared<ConfigOptions>();
  CLI::App* sub = app.add_subcommand(
      "config", "Show the effective configuration (SD_*, OPENAI_*, AZURE_OPENAI_* variables) and the image provider");
  sub->add_flag("--json", opts->json, "print one JSON object keyed by variable");
  return {sub, [opts] { return RunConfig(*opts); }};
}

}  // namespace sdr::cli
