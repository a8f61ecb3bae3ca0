#include "sampling/sampler.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <string>

#include "core/check.h"
#include "sampling/sampler_run.h"

namespace sdr {
namespace {

using sampling_internal::SamplerRun;

struct SamplerInfo {
  SamplerKind kind;
  std::string_view name;
  std::string_view a1111_name;
  bool stochastic;
  int calls_per_step;  // model calls of every step but the last (which is one call into sigma 0)
  Status (*run)(SamplerRun&);
};

constexpr std::array<SamplerInfo, 8> kSamplers = {{
    {SamplerKind::kEulerA, "euler_a", "Euler a", true, 1, &sampling_internal::SampleEulerAncestral},
    {SamplerKind::kEuler, "euler", "Euler", false, 1, &sampling_internal::SampleEuler},
    {SamplerKind::kHeun, "heun", "Heun", false, 2, &sampling_internal::SampleHeun},
    {SamplerKind::kDpm2, "dpm2", "DPM2", false, 2, &sampling_internal::SampleDpm2},
    {SamplerKind::kDpmpp2sA, "dpm++2s_a", "DPM++ 2S a", true, 2,
     &sampling_internal::SampleDpmpp2sAncestral},
    {SamplerKind::kDpmpp2m, "dpm++2m", "DPM++ 2M", false, 1, &sampling_internal::SampleDpmpp2m},
    {SamplerKind::kDpmpp2mv2, "dpm++2mv2", "DPM++ 2M v2", false, 1,
     &sampling_internal::SampleDpmpp2mV2},
    {SamplerKind::kLcm, "lcm", "LCM", true, 1, &sampling_internal::SampleLcm},
}};

constexpr std::array<SamplerKind, kSamplers.size()> kAllKinds = {
    SamplerKind::kEulerA, SamplerKind::kEuler,   SamplerKind::kHeun,      SamplerKind::kDpm2,
    SamplerKind::kDpmpp2sA, SamplerKind::kDpmpp2m, SamplerKind::kDpmpp2mv2, SamplerKind::kLcm,
};

const SamplerInfo& Info(SamplerKind kind) {
  for (const SamplerInfo& info : kSamplers) {
    if (info.kind == kind) return info;
  }
  SDR_CHECK(false && "unknown SamplerKind");
  return kSamplers[0];
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

Status ValidateSigmas(const std::vector<float>& sigmas) {
  if (sigmas.size() < 2) {
    return InvalidArgument("sampler needs at least 2 sigmas (1 step), got " +
                           std::to_string(sigmas.size()));
  }
  for (size_t i = 0; i < sigmas.size(); ++i) {
    const float s = sigmas[i];
    const bool last = i + 1 == sigmas.size();
    if (!std::isfinite(s) || s < 0.0f || (!last && s == 0.0f)) {
      return InvalidArgument("sigmas[" + std::to_string(i) + "] = " + std::to_string(s) +
                             ": must be finite and > 0 (only the last may be 0)");
    }
    if (i > 0 && !(s < sigmas[i - 1])) {
      return InvalidArgument("sigmas must decrease strictly: sigmas[" + std::to_string(i) +
                             "] = " + std::to_string(s) + " >= sigmas[" + std::to_string(i - 1) +
                             "] = " + std::to_string(sigmas[i - 1]));
    }
  }
  return Status::Ok();
}

}  // namespace

std::string_view ToString(SamplerKind kind) { return Info(kind).name; }
std::string_view A1111Name(SamplerKind kind) { return Info(kind).a1111_name; }
bool IsStochastic(SamplerKind kind) { return Info(kind).stochastic; }
int DenoiserCalls(SamplerKind kind, int steps) {
  return steps < 1 ? 0 : Info(kind).calls_per_step * (steps - 1) + 1;
}
std::span<const SamplerKind> AllSamplerKinds() { return kAllKinds; }

std::optional<SamplerKind> ParseSamplerKind(std::string_view name) {
  for (const SamplerInfo& info : kSamplers) {
    if (EqualsIgnoreCase(name, info.name) || EqualsIgnoreCase(name, info.a1111_name)) {
      return info.kind;
    }
  }
  return std::nullopt;
}

Status Sample(SamplerKind kind, const Denoiser& model, const std::vector<float>& sigmas,
              std::span<float> x, const NoiseSource& noise, const StepCallback& on_step) {
  const SamplerInfo& info = Info(kind);
  SDR_RETURN_IF_ERROR(ValidateSigmas(sigmas).WithContext(info.name));
  if (!model) return InvalidArgument(std::string(info.name) + ": no denoiser given");
  if (info.stochastic && !noise) {
    return InvalidArgument(std::string(info.name) + " draws noise but no noise source was given");
  }
  SamplerRun run(info.name, model, sigmas, x, noise, on_step);
  return info.run(run);
}

namespace sampling_internal {

SamplerRun::SamplerRun(std::string_view name, const Denoiser& model,
                       const std::vector<float>& sigmas, std::span<float> x,
                       const NoiseSource& noise, const StepCallback& on_step)
    : name_(name), model_(model), sigmas_(sigmas), x_(x), noise_(noise), on_step_(on_step) {}

Status SamplerRun::Denoise(int step, std::span<const float> in, double sigma,
                           std::span<float> out) {
  SDR_CHECK(in.size() == x_.size() && out.size() == x_.size());
  Status s = model_(in, static_cast<float>(sigma), out);
  if (!s.ok()) return std::move(s).WithContext(std::string(name_) + " step " + std::to_string(step + 1));
  return Status::Ok();
}

std::span<const float> SamplerRun::DrawNoise() {
  SDR_CHECK(static_cast<bool>(noise_));
  if (noise_buffer_.size() != x_.size()) noise_buffer_.assign(x_.size(), 0.0f);
  noise_(noise_buffer_);
  return noise_buffer_;
}

Status SamplerRun::EndStep(int step) {
  if (on_step_ && !on_step_(step + 1, steps(), x_)) {
    return Cancelled(std::string(name_) + " cancelled after step " + std::to_string(step + 1) +
                     " of " + std::to_string(steps()));
  }
  return Status::Ok();
}

AncestralStep GetAncestralStep(double s0, double s1) {
  if (!(s1 > 0.0)) return {};
  const double up = std::min(s1, std::sqrt(s1 * s1 * (s0 * s0 - s1 * s1) / (s0 * s0)));
  const double down = std::sqrt(std::max(0.0, s1 * s1 - up * up));
  return {down, up};
}

}  // namespace sampling_internal
}  // namespace sdr
