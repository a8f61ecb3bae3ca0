// DPM-Solver++ family (Lu et al. 2022) in k-diffusion's data-prediction form, with
// t = -log(sigma) and h = t_next - t:
//   first order:  x' = (s1 / s0) x - expm1(-h) D        (= x when h = 0, = D when s1 = 0)
// dpm++2s_a adds the single-step midpoint and ancestral noise; dpm++2m and its A1111 variant
// extrapolate D with the previous step's D.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "sampling/sampler_run.h"

namespace sdr::sampling_internal {
namespace {

// x = a * x - b * denoised, elementwise.
void Combine(std::span<float> out, std::span<const float> x, std::span<const float> denoised,
             double a, double b) {
  for (size_t j = 0; j < out.size(); ++j) {
    out[j] = static_cast<float>(a * x[j] - b * denoised[j]);
  }
}

// d_d = (1 + 1/(2r)) D - (1/(2r)) D_prev; x = a * x - b * d_d.
void CombineMultistep(std::span<float> x, std::span<const float> denoised,
                      std::span<const float> old_denoised, double r, double a, double b) {
  const double w_old = 1.0 / (2.0 * r);
  const double w_new = 1.0 + w_old;
  for (size_t j = 0; j < x.size(); ++j) {
    const double d = w_new * denoised[j] - w_old * old_denoised[j];
    x[j] = static_cast<float>(a * x[j] - b * d);
  }
}

enum class MultistepVariant { kKDiffusion, kA1111V2 };

Status SampleDpmpp2mImpl(SamplerRun& run, MultistepVariant variant) {
  std::span<float> x = run.x();                       // [n]
  std::vector<float> denoised = run.NewBuffer();      // [n] D(x, s0)
  std::vector<float> old_denoised = run.NewBuffer();  // [n] the previous step's D
  for (int i = 0; i < run.steps(); ++i) {
    const double s0 = run.sigma(i);
    const double s1 = run.sigma(i + 1);
    SDR_RETURN_IF_ERROR(run.Denoise(i, x, s0, denoised));
    if (s1 == 0.0) {
      std::copy(denoised.begin(), denoised.end(), x.begin());
    } else {
      const double h = std::log(s0) - std::log(s1);  // t1 - t0 with t = -log(sigma)
      const double a = s1 / s0;
      if (i == 0) {
        Combine(x, x, denoised, a, std::expm1(-h));
      } else {
        const double h_last = std::log(run.sigma(i - 1)) - std::log(s0);
        if (variant == MultistepVariant::kKDiffusion) {
          CombineMultistep(x, denoised, old_denoised, h_last / h, a, std::expm1(-h));
        } else {
          const double h_min = std::min(h_last, h);
          const double h_max = std::max(h_last, h);
          const double h_d = 0.5 * (h_max + h_min);
          CombineMultistep(x, denoised, old_denoised, h_max / h_min, a, std::expm1(-h_d));
        }
      }
    }
    std::swap(denoised, old_denoised);
    SDR_RETURN_IF_ERROR(run.EndStep(i));
  }
  return Status::Ok();
}

}  // namespace

Status SampleDpmpp2sAncestral(SamplerRun& run) {
  std::span<float> x = run.x();                    // [n]
  std::vector<float> denoised = run.NewBuffer();   // [n] D(x, s0)
  std::vector<float> x_mid = run.NewBuffer();      // [n] first-order step to the midpoint
  std::vector<float> denoised2 = run.NewBuffer();  // [n] D(x_mid, sigma_mid)
  for (int i = 0; i < run.steps(); ++i) {
    const double s0 = run.sigma(i);
    const double s1 = run.sigma(i + 1);
    SDR_RETURN_IF_ERROR(run.Denoise(i, x, s0, denoised));
    const AncestralStep anc = GetAncestralStep(s0, s1);
    if (anc.down == 0.0) {
      // Euler to sigma_down = 0: x + d * (0 - s0) = D.
      std::copy(denoised.begin(), denoised.end(), x.begin());
    } else {
      const double h = std::log(s0) - std::log(anc.down);
      const double s_mid = std::exp(-(-std::log(s0) + 0.5 * h));  // sqrt(s0 * sigma_down)
      Combine(x_mid, x, denoised, s_mid / s0, std::expm1(-0.5 * h));
      SDR_RETURN_IF_ERROR(run.Denoise(i, x_mid, s_mid, denoised2));
      Combine(x, x, denoised2, anc.down / s0, std::expm1(-h));
    }
    if (s1 > 0.0) {
      std::span<const float> noise = run.DrawNoise();
      for (size_t j = 0; j < x.size(); ++j) {
        x[j] = static_cast<float>(x[j] + static_cast<double>(noise[j]) * anc.up);
      }
    }
    SDR_RETURN_IF_ERROR(run.EndStep(i));
  }
  return Status::Ok();
}

Status SampleDpmpp2m(SamplerRun& run) { return SampleDpmpp2mImpl(run, MultistepVariant::kKDiffusion); }

Status SampleDpmpp2mV2(SamplerRun& run) { return SampleDpmpp2mImpl(run, MultistepVariant::kA1111V2); }

}  // namespace sdr::sampling_internal
