// Internal to src/sampling: the state of one Sample() call that the sampler implementations
// share (the model with step-numbered errors, the noise buffer, the step callback), and the
// per-family entry points. Not part of the public API.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sampling/sampler.h"

namespace sdr::sampling_internal {

class SamplerRun {
 public:
  // All references must outlive the run; `sigmas` has been validated by Sample().
  SamplerRun(std::string_view name, const Denoiser& model, const std::vector<float>& sigmas,
             std::span<float> x, const NoiseSource& noise, const StepCallback& on_step);

  int steps() const { return static_cast<int>(sigmas_.size()) - 1; }
  // sigmas[i], i in [0, steps].
  double sigma(int i) const { return sigmas_[static_cast<size_t>(i)]; }
  // The latent being sampled: [n].
  std::span<float> x() { return x_; }
  size_t size() const { return x_.size(); }
  // A zero-filled scratch array of size().
  std::vector<float> NewBuffer() const { return std::vector<float>(x_.size(), 0.0f); }

  // D(in, sigma) into out during step `step` (0-based); model errors gain the context
  // "<sampler> step <step + 1>".
  Status Denoise(int step, std::span<const float> in, double sigma, std::span<float> out);
  // One draw of standard normal noise from the caller's source: [n], valid until the next draw.
  std::span<const float> DrawNoise();
  // Reports that step `step` (0-based) finished; Cancelled when the callback asks to stop.
  Status EndStep(int step);

 private:
  std::string_view name_;
  const Denoiser& model_;
  const std::vector<float>& sigmas_;
  std::span<float> x_;
  const NoiseSource& noise_;
  const StepCallback& on_step_;
  std::vector<float> noise_buffer_;  // [n], allocated on the first draw
};

// k-diffusion's get_ancestral_step with eta = 1: the deterministic target sigma_down and the
// noise sigma_up added after it (sigma_down^2 + sigma_up^2 = s1^2).
struct AncestralStep {
  double down = 0.0;
  double up = 0.0;
};
AncestralStep GetAncestralStep(double s0, double s1);

// sampler_euler.cc
Status SampleEuler(SamplerRun& run);
Status SampleEulerAncestral(SamplerRun& run);
Status SampleLcm(SamplerRun& run);
// sampler_heun_dpm2.cc
Status SampleHeun(SamplerRun& run);
Status SampleDpm2(SamplerRun& run);
// sampler_dpmpp.cc
Status SampleDpmpp2sAncestral(SamplerRun& run);
Status SampleDpmpp2m(SamplerRun& run);
Status SampleDpmpp2mV2(SamplerRun& run);

}  // namespace sdr::sampling_internal
