// Two-evaluation ODE samplers: heun (trapezoid) and dpm2 (log-sigma midpoint). Both take a plain
// Euler step, with one model call, when the next sigma is 0.
#include <cmath>
#include <cstddef>

#include "sampling/sampler_run.h"

namespace sdr::sampling_internal {
namespace {

// out = x + d * (s_to - s0) with d = (x - D) / s0: an Euler step from s0 to s_to. `out` may be
// `x` (the last step of heun and dpm2) or a separate buffer (their predictors).
void EulerTo(std::span<const float> x, std::span<const float> denoised, double s0, double s_to,
             std::span<float> out) {
  const double scale = (s_to - s0) / s0;
  for (size_t j = 0; j < x.size(); ++j) {
    const double xj = x[j];
    out[j] = static_cast<float>(xj + (xj - denoised[j]) * scale);
  }
}

}  // namespace

Status SampleHeun(SamplerRun& run) {
  std::span<float> x = run.x();                    // [n]
  std::vector<float> denoised = run.NewBuffer();   // [n] D(x, s0)
  std::vector<float> x_pred = run.NewBuffer();     // [n] Euler predictor at s1
  std::vector<float> denoised2 = run.NewBuffer();  // [n] D(x_pred, s1)
  for (int i = 0; i < run.steps(); ++i) {
    const double s0 = run.sigma(i);
    const double s1 = run.sigma(i + 1);
    SDR_RETURN_IF_ERROR(run.Denoise(i, x, s0, denoised));
    if (s1 == 0.0) {
      EulerTo(x, denoised, s0, s1, x);
    } else {
      const double dt = s1 - s0;
      EulerTo(x, denoised, s0, s1, x_pred);
      SDR_RETURN_IF_ERROR(run.Denoise(i, x_pred, s1, denoised2));
      for (size_t j = 0; j < x.size(); ++j) {
        const double d1 = (static_cast<double>(x[j]) - denoised[j]) / s0;
        const double d2 = (static_cast<double>(x_pred[j]) - denoised2[j]) / s1;
        x[j] = static_cast<float>(x[j] + (d1 + d2) * 0.5 * dt);
      }
    }
    SDR_RETURN_IF_ERROR(run.EndStep(i));
  }
  return Status::Ok();
}

Status SampleDpm2(SamplerRun& run) {
  std::span<float> x = run.x();                    // [n]
  std::vector<float> denoised = run.NewBuffer();   // [n] D(x, s0)
  std::vector<float> x_mid = run.NewBuffer();      // [n] Euler to sigma_mid
  std::vector<float> denoised2 = run.NewBuffer();  // [n] D(x_mid, sigma_mid)
  for (int i = 0; i < run.steps(); ++i) {
    const double s0 = run.sigma(i);
    const double s1 = run.sigma(i + 1);
    SDR_RETURN_IF_ERROR(run.Denoise(i, x, s0, denoised));
    if (s1 == 0.0) {
      EulerTo(x, denoised, s0, s1, x);
    } else {
      const double s_mid = std::exp(0.5 * (std::log(s0) + std::log(s1)));
      const double dt = s1 - s0;
      EulerTo(x, denoised, s0, s_mid, x_mid);
      SDR_RETURN_IF_ERROR(run.Denoise(i, x_mid, s_mid, denoised2));
      for (size_t j = 0; j < x.size(); ++j) {
        const double d_mid = (static_cast<double>(x_mid[j]) - denoised2[j]) / s_mid;
        x[j] = static_cast<float>(x[j] + d_mid * dt);
      }
    }
    SDR_RETURN_IF_ERROR(run.EndStep(i));
  }
  return Status::Ok();
}

}  // namespace sdr::sampling_internal
