// Noise schedules of eps-prediction Stable Diffusion models (SD 1.x/2.x/XL share one): the
// 1000-entry table of training noise levels and the per-run sigma sequences built from it.
//
// The table (the original LDM "scaled linear" schedule):
//   beta_i   = (sqrt(0.00085) + (sqrt(0.012) - sqrt(0.00085)) * i / 999)^2,  i = 0..999
//   abar_i   = prod_{j<=i} (1 - beta_j)                         (computed in double)
//   sigma_i  = sqrt((1 - abar_i) / abar_i)                      (stored as float)
// giving sigma_min = sigma_0 ~ 0.029168 and sigma_max = sigma_999 ~ 14.614642. (Engines that run
// the cumulative product in float32, such as stable-diffusion.cpp, get 14.614655; the two agree
// to about 1e-6 relative at the top and 1.3e-5 relative at the bottom.)
//
// Thread-safety: a NoiseSchedule is immutable after construction; share it freely.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace sdr {

class NoiseSchedule {
 public:
  static constexpr int kNumTimesteps = 1000;

  // The SD scaled-linear table (beta_start 0.00085, beta_end 0.012, 1000 steps).
  NoiseSchedule();

  // sigmas()[i] is the noise level of training timestep i (increasing with i).
  std::span<const float> sigmas() const { return sigmas_; }
  float sigma_min() const { return sigmas_.front(); }
  float sigma_max() const { return sigmas_.back(); }

  // The fractional timestep of a noise level, as k-diffusion's DiscreteSchedule.sigma_to_t:
  // log(sigma) interpolated linearly between the two nearest table entries; clamped to
  // [0, 999] (sigma below sigma_min -> 0, above sigma_max -> 999; sigma <= 0 or NaN -> 0).
  // This is the `t` the UNet's time embedding receives.
  float SigmaToT(float sigma) const;

  // The inverse: log(sigma) interpolated between floor(t) and ceil(t); t is clamped to
  // [0, 999] (NaN -> 0).
  float TToSigma(float t) const;

 private:
  std::vector<float> sigmas_;       // [1000], increasing
  std::vector<double> log_sigmas_;  // [1000], log of sigmas_ (of the stored floats)
};

// How the `steps` sampling noise levels are spread over the table.
enum class Scheduler {
  kDiscrete,  // "discrete": evenly spaced timesteps 999 .. 0, sigma = TToSigma(t)
  kKarras,    // "karras": Karras et al. 2022 rho = 7 spacing between sigma_max and sigma_min
};

// Stable lower-case name ("discrete", "karras").
std::string_view ToString(Scheduler scheduler);
// A1111's "Schedule type" name, as infotext writes it ("Automatic", "Karras").
std::string_view A1111ScheduleName(Scheduler scheduler);
// By name or A1111 name, case-insensitive; nullopt for an unknown name.
std::optional<Scheduler> ParseScheduler(std::string_view name);
// Every scheduler, in declaration order (for help texts and tests).
std::span<const Scheduler> AllSchedulers();

// The sampling noise levels: steps + 1 values, decreasing, the last one 0.
//   discrete: t_k = 999 - k * 999 / (steps - 1), k = 0..steps-1 (steps == 1: t = 999);
//             sigma_k = TToSigma(t_k).
//   karras:   sigma_k = (smax^(1/7) + k / (steps - 1) * (smin^(1/7) - smax^(1/7)))^7
//             with smax/smin the table's ends (steps == 1: sigma_max).
// Returns an empty vector when steps < 1 (Sample() rejects it with InvalidArgument).
std::vector<float> MakeSigmas(const NoiseSchedule& schedule, Scheduler scheduler, int steps);

// img2img's partial schedule, as stable-diffusion.cpp (and A1111's k-diffusion path) build it
// from the full one (`sigmas`: steps + 1 values ending in 0) and the denoising strength in [0, 1]:
//   strength 1 (or more): the full schedule, unchanged;
//   else t_enc = int(steps * strength), minus 1 when it reaches steps, and the result is the
//   last t_enc + 1 noise levels plus the final 0 (sigmas[steps - t_enc - 1 ..]), so
//   strength 0 still runs one step, from the smallest noise level.
// The sampler then starts from init_latent + noise * result[0].
std::vector<float> Img2ImgSigmas(const std::vector<float>& sigmas, float strength);

}  // namespace sdr
