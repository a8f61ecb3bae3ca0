#include "server/limits.h"

#include <cctype>
#include <cstdint>
#include <limits>
#include <tuple>

#include <fmt/format.h>

#include "core/enum_names.h"
#include "runtime/generate_params.h"

namespace sdr {
namespace {

bool EndsWithIgnoreCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    const char a = s[s.size() - suffix.size() + i], b = suffix[i];
    if (std::tolower(static_cast<unsigned char>(a)) != std::tolower(static_cast<unsigned char>(b))) return false;
  }
  return true;
}

std::string SamplerNames() {
  std::string s;
  for (SamplerKind k : AllSamplerKinds()) s += (s.empty() ? "" : ", ") + std::string(ToString(k)) + " (\"" + std::string(A1111Name(k)) + "\")";
  return s;
}

std::string SchedulerNames() {
  std::string s;
  for (Scheduler k : AllSchedulers()) s += (s.empty() ? "" : ", ") + std::string(ToString(k)) + " (\"" + std::string(A1111ScheduleName(k)) + "\")";
  return s;
}

}  // namespace

MaybeError ReadPrompt(const JsonFields& f, std::string_view name, const RequestLimits& limits, std::string* out) {
  if (auto e = f.String(name, limits.max_prompt_bytes, out)) return e;
  if (!f.Has(name)) return FieldError(std::string(name), std::string(name) + " is required");
  if (out->empty()) return FieldError(std::string(name), std::string(name) + " must not be empty");
  return std::nullopt;
}

MaybeError ReadEngineSettings(const JsonFields& f, const RequestLimits& limits, std::string_view sampler_field,
                              ImageRequest* r) {
  if (auto e = f.String("negative_prompt", limits.max_prompt_bytes, &r->negative_prompt)) return e;
  if (auto e = f.Int("steps", 1, limits.max_steps, &r->steps)) return e;
  double cfg = r->cfg_scale;
  if (auto e = f.Number("cfg_scale", 0, GenerateParams::kMaxCfg, &cfg)) return e;
  r->cfg_scale = static_cast<float>(cfg);
  if (auto e = f.Int("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), &r->seed)) {
    return e;
  }
  if (r->seed < 0) r->seed = -1;
  if (auto e = f.Int("clip_skip", 1, GenerateParams::kMaxClipSkip, &r->clip_skip)) return e;
  std::string scheduler;
  if (auto e = f.String("scheduler", 64, &scheduler)) return e;
  if (!scheduler.empty()) {
    const auto s = ParseScheduler(scheduler);
    if (!s) return FieldError("scheduler", "scheduler \"" + scheduler + "\" is not one of " + SchedulerNames());
    r->scheduler = *s;
  }
  std::string sampler;
  if (auto e = f.String(sampler_field, 64, &sampler)) return e;
  if (!sampler.empty()) {
    if (auto e = ParseSamplerName(sampler_field, sampler, !scheduler.empty(), r)) return e;
  }
  return std::nullopt;
}

MaybeError CheckSide(std::string_view field, int64_t v, const RequestLimits& limits) {
  if (v < limits.min_side || v > limits.max_side || v % 8 != 0) {
    return FieldError(std::string(field), fmt::format("{} {} must be a multiple of 8 in [{}, {}]", field, v,
                                                      limits.min_side, limits.max_side));
  }
  return std::nullopt;
}

MaybeError ParseSizeText(std::string_view field, std::string_view text, const RequestLimits& limits, int* width,
                         int* height) {
  if (text == "auto") {
    *width = *height = 0;
    return std::nullopt;
  }
  const auto bad = [&] {
    return FieldError(std::string(field), fmt::format("{} \"{}\" must be WIDTHxHEIGHT (e.g. 512x512) or auto", field,
                                                      text.substr(0, 40)));
  };
  const size_t x = text.find('x');
  if (x == std::string_view::npos || x == 0 || x + 1 == text.size() || x > 5 || text.size() - x - 1 > 5) return bad();
  int64_t sides[2] = {0, 0};
  const std::string_view parts[2] = {text.substr(0, x), text.substr(x + 1)};
  for (int i = 0; i < 2; ++i) {
    for (char c : parts[i]) {
      if (c < '0' || c > '9') return bad();
      sides[i] = sides[i] * 10 + (c - '0');
    }
  }
  for (int64_t side : sides) {
    if (auto e = CheckSide(field, side, limits)) {
      e->message = fmt::format("{} {}: each side must be a multiple of 8 in [{}, {}]", field, text, limits.min_side,
                               limits.max_side);
      return e;
    }
  }
  *width = static_cast<int>(sides[0]);
  *height = static_cast<int>(sides[1]);
  return std::nullopt;
}

MaybeError ParseSamplerName(std::string_view field, std::string_view name, bool scheduler_given, ImageRequest* r) {
  if (const auto k = ParseSamplerKind(name)) {
    r->sampler = *k;
    return std::nullopt;
  }
  // A1111's old spelling: the schedule as a suffix of the sampler's name.
  for (Scheduler s : AllSchedulers()) {
    for (std::string_view suffix : {A1111ScheduleName(s), ToString(s)}) {
      const std::string with_space = " " + std::string(suffix);
      if (!EndsWithIgnoreCase(name, with_space)) continue;
      if (const auto k = ParseSamplerKind(name.substr(0, name.size() - with_space.size()))) {
        r->sampler = *k;
        if (!scheduler_given) r->scheduler = s;
        return std::nullopt;
      }
    }
  }
  return FieldError(std::string(field), fmt::format("{} \"{}\" is not one of {}", field, name.substr(0, 64), SamplerNames()));
}

MaybeError CheckAgainstProvider(const ImageRequest& r, const ProviderCapabilities& caps) {
  const Status s = ValidateImageRequest(r, caps);
  if (s.ok()) return std::nullopt;
  return ApiError{ErrorCode::kInvalidParams, s.message(), ""};
}

void ResolveDefaults(const ProviderCapabilities& caps, const GenerateParams& defaults, ImageRequest* r) {
  if (r->width == 0 && r->height == 0) std::tie(r->width, r->height) = RequestedSize(*r, caps);
  if (!caps.engine_settings) return;
  if (r->steps == 0) r->steps = defaults.steps;
  if (r->cfg_scale == 0) r->cfg_scale = defaults.cfg_scale;
  if (!r->sampler) r->sampler = defaults.sampler;
  if (!r->scheduler) r->scheduler = defaults.scheduler;
  if (r->clip_skip == 0) r->clip_skip = defaults.clip_skip;
  if (r->negative_prompt.empty()) r->negative_prompt = defaults.negative_prompt;
}

}  // namespace sdr
