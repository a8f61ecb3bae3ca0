#include "sampling/schedule.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <string>

#include "core/check.h"

namespace sdr {
namespace {

constexpr double kBetaStart = 0.00085;
constexpr double kBetaEnd = 0.012;
constexpr double kKarrasRho = 7.0;

struct SchedulerInfo {
  Scheduler scheduler;
  std::string_view name;
  std::string_view a1111_name;  // A1111's "Schedule type"
};

constexpr std::array<SchedulerInfo, 2> kSchedulers = {{
    {Scheduler::kDiscrete, "discrete", "Automatic"},
    {Scheduler::kKarras, "karras", "Karras"},
}};

constexpr std::array<Scheduler, kSchedulers.size()> kAllSchedulers = {Scheduler::kDiscrete,
                                                                     Scheduler::kKarras};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

NoiseSchedule::NoiseSchedule() : sigmas_(kNumTimesteps), log_sigmas_(kNumTimesteps) {
  const double start = std::sqrt(kBetaStart);
  const double end = std::sqrt(kBetaEnd);
  double alphas_cumprod = 1.0;
  for (int i = 0; i < kNumTimesteps; ++i) {
    const double root = start + (end - start) * i / (kNumTimesteps - 1);
    alphas_cumprod *= 1.0 - root * root;
    sigmas_[i] = static_cast<float>(std::sqrt((1.0 - alphas_cumprod) / alphas_cumprod));
    log_sigmas_[i] = std::log(static_cast<double>(sigmas_[i]));
  }
}

float NoiseSchedule::SigmaToT(float sigma) const {
  if (!(sigma > 0.0f)) return 0.0f;  // also NaN
  const double log_sigma = std::log(static_cast<double>(sigma));
  // low = the last entry with log_sigmas_[low] <= log_sigma, kept in [0, 998] so that
  // high = low + 1 exists; the weight is clamped, so values outside the table clamp to the ends.
  const auto it = std::upper_bound(log_sigmas_.begin(), log_sigmas_.end(), log_sigma);
  const int above = static_cast<int>(it - log_sigmas_.begin());  // entries <= log_sigma
  const int low = std::clamp(above - 1, 0, kNumTimesteps - 2);
  const int high = low + 1;
  double w = (log_sigmas_[low] - log_sigma) / (log_sigmas_[low] - log_sigmas_[high]);
  w = std::clamp(w, 0.0, 1.0);
  return static_cast<float>((1.0 - w) * low + w * high);
}

float NoiseSchedule::TToSigma(float t) const {
  double tt = std::isnan(t) ? 0.0 : std::clamp(static_cast<double>(t), 0.0,
                                                static_cast<double>(kNumTimesteps - 1));
  const int low = static_cast<int>(std::floor(tt));
  const int high = static_cast<int>(std::ceil(tt));
  const double w = tt - low;
  return static_cast<float>(std::exp((1.0 - w) * log_sigmas_[low] + w * log_sigmas_[high]));
}

std::string_view ToString(Scheduler scheduler) {
  for (const SchedulerInfo& info : kSchedulers) {
    if (info.scheduler == scheduler) return info.name;
  }
  SDR_CHECK(false && "unknown Scheduler");
  return {};
}

std::string_view A1111ScheduleName(Scheduler scheduler) {
  for (const SchedulerInfo& info : kSchedulers) {
    if (info.scheduler == scheduler) return info.a1111_name;
  }
  SDR_CHECK(false && "unknown Scheduler");
  return {};
}

std::optional<Scheduler> ParseScheduler(std::string_view name) {
  const std::string lower = Lower(name);
  for (const SchedulerInfo& info : kSchedulers) {
    if (info.name == lower || Lower(info.a1111_name) == lower) return info.scheduler;
  }
  return std::nullopt;
}

std::span<const Scheduler> AllSchedulers() { return kAllSchedulers; }

std::vector<float> MakeSigmas(const NoiseSchedule& schedule, Scheduler scheduler, int steps) {
  if (steps < 1) return {};
  std::vector<float> sigmas;
  sigmas.reserve(static_cast<size_t>(steps) + 1);
  const double last_t = NoiseSchedule::kNumTimesteps - 1;
  switch (scheduler) {
    case Scheduler::kDiscrete:
      for (int k = 0; k < steps; ++k) {
        const double t = steps == 1 ? last_t : last_t - k * last_t / (steps - 1);
        sigmas.push_back(schedule.TToSigma(static_cast<float>(t)));
      }
      break;
    case Scheduler::kKarras: {
      const double max_root = std::pow(static_cast<double>(schedule.sigma_max()), 1.0 / kKarrasRho);
      const double min_root = std::pow(static_cast<double>(schedule.sigma_min()), 1.0 / kKarrasRho);
      for (int k = 0; k < steps; ++k) {
        const double ramp = steps == 1 ? 0.0 : static_cast<double>(k) / (steps - 1);
        sigmas.push_back(
            static_cast<float>(std::pow(max_root + ramp * (min_root - max_root), kKarrasRho)));
      }
      break;
    }
  }
  sigmas.push_back(0.0f);
  return sigmas;
}

std::vector<float> Img2ImgSigmas(const std::vector<float>& sigmas, float strength) {
  if (strength >= 1.0f || sigmas.size() < 2) return sigmas;
  const size_t steps = sigmas.size() - 1;
  size_t t_enc = static_cast<size_t>(static_cast<float>(steps) * std::max(strength, 0.0f));
  if (t_enc >= steps) t_enc = steps - 1;
  return std::vector<float>(sigmas.begin() + static_cast<std::ptrdiff_t>(steps - t_enc - 1), sigmas.end());
}

}  // namespace sdr
