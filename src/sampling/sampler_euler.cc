// First-order samplers: euler, euler_a (ancestral), lcm. One model call per step.
#include <algorithm>
#include <cstddef>

#include "sampling/sampler_run.h"

namespace sdr::sampling_internal {

Status SampleEuler(SamplerRun& run) {
  std::span<float> x = run.x();                 // [n]
  std::vector<float> denoised = run.NewBuffer();  // [n]
  for (int i = 0; i < run.steps(); ++i) {
    const double s0 = run.sigma(i);
    const double s1 = run.sigma(i + 1);
    SDR_RETURN_IF_ERROR(run.Denoise(i, x, s0, denoised));
    const double scale = (s1 - s0) / s0;  // x += d * (s1 - s0), d = (x - D) / s0
    for (size_t j = 0; j < x.size(); ++j) {
      const double xj = x[j];
      x[j] = static_cast<float>(xj + (xj - denoised[j]) * scale);
    }
    SDR_RETURN_IF_ERROR(run.EndStep(i));
  }
  return Status::Ok();
}

Status SampleEulerAncestral(SamplerRun& run) {
  std::span<float> x = run.x();
  std::vector<float> denoised = run.NewBuffer();
  for (int i = 0; i < run.steps(); ++i) {
    const double s0 = run.sigma(i);
    const double s1 = run.sigma(i + 1);
    SDR_RETURN_IF_ERROR(run.Denoise(i, x, s0, denoised));
    const AncestralStep a = GetAncestralStep(s0, s1);
    const double scale = (a.down - s0) / s0;
    for (size_t j = 0; j < x.size(); ++j) {
      const double xj = x[j];
      x[j] = static_cast<float>(xj + (xj - denoised[j]) * scale);
    }
    if (s1 > 0.0) {
      std::span<const float> noise = run.DrawNoise();
      for (size_t j = 0; j < x.size(); ++j) {
        x[j] = static_cast<float>(x[j] + static_cast<double>(noise[j]) * a.up);
      }
    }
    SDR_RETURN_IF_ERROR(run.EndStep(i));
  }
  return Status::Ok();
}

Status SampleLcm(SamplerRun& run) {
  std::span<float> x = run.x();
  std::vector<float> denoised = run.NewBuffer();
  for (int i = 0; i < run.steps(); ++i) {
    const double s1 = run.sigma(i + 1);
    SDR_RETURN_IF_ERROR(run.Denoise(i, x, run.sigma(i), denoised));
    if (s1 > 0.0) {
      std::span<const float> noise = run.DrawNoise();
      for (size_t j = 0; j < x.size(); ++j) {
        x[j] = static_cast<float>(denoised[j] + static_cast<double>(noise[j]) * s1);
      }
    } else {
      std::copy(denoised.begin(), denoised.end(), x.begin());
    }
    SDR_RETURN_IF_ERROR(run.EndStep(i));
  }
  return Status::Ok();
}

}  // namespace sdr::sampling_internal
