// The eight classic k-diffusion samplers over a denoiser D(x, sigma).
//
// A sampler integrates from x_T (noise * sigmas[0]) down the noise levels `sigmas` (see
// schedule.h MakeSigmas) to a clean latent x0. It knows nothing of tensors or models: the
// latent is a flat float span and the model is a callback returning the denoised estimate.
// With d = (x - D(x, sigma)) / sigma (the probability-flow ODE's dx/dsigma), s0 = sigmas[i],
// s1 = sigmas[i + 1] and t = -log(sigma), step i does:
//
//   euler      x += d * (s1 - s0)                                            1 model call
//   euler_a    (eta 1) sigma_up = min(s1, sqrt(s1^2 (s0^2 - s1^2) / s0^2)),
//              sigma_down = sqrt(s1^2 - sigma_up^2); x += d * (sigma_down - s0);
//              if s1 > 0: x += noise * sigma_up                              1 call, 1 draw
//   heun       Euler predictor to s1, then the trapezoid with d(x_pred, s1);
//              a plain Euler step when s1 == 0                               2 calls (1 last)
//   dpm2       midpoint in log-sigma: sigma_mid = sqrt(s0 s1); x += d(x_mid, sigma_mid) (s1 - s0)
//              with x_mid = x + d (sigma_mid - s0); Euler when s1 == 0        2 calls (1 last)
//   dpm++2s_a  DPM-Solver++(2S) from s0 to sigma_down with its midpoint (r = 1/2) in t, then
//              noise * sigma_up as euler_a; Euler when sigma_down == 0        2 calls (1 last), 1 draw
//   dpm++2m    DPM-Solver++(2M): x = (s1/s0) x - expm1(-h) D_d, h = t1 - t0,
//              D_d = (1 + 1/(2r)) D - 1/(2r) D_prev, r = h_prev / h; first order (D_d = D)
//              on the first step; x = D when s1 == 0                          1 call
//   dpm++2mv2  the A1111 discussion #8457 variant of 2M: r = h_max / h_min and the exponential
//              term uses h_d = (h_max + h_min) / 2, with h_min/h_max = min/max(h_prev, h)  1 call
//   lcm        x = D; if s1 > 0: x += noise * s1                              1 call, 1 draw
//
// Per-step scalars are computed in double, element arithmetic in double on float storage.
//
// Thread-safety: Sample() is reentrant; it calls `model`, `noise` and `on_step` on the calling
// thread only, in step order.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sdr {

enum class SamplerKind {
  kEulerA,     // "euler_a"     A1111 "Euler a"
  kEuler,      // "euler"       "Euler"
  kHeun,       // "heun"        "Heun"
  kDpm2,       // "dpm2"        "DPM2"
  kDpmpp2sA,   // "dpm++2s_a"   "DPM++ 2S a"
  kDpmpp2m,    // "dpm++2m"     "DPM++ 2M"
  kDpmpp2mv2,  // "dpm++2mv2"   "DPM++ 2M v2"
  kLcm,        // "lcm"         "LCM"
};

// Stable lower-case name ("euler_a", "dpm++2m", ...), as stable-diffusion.cpp spells them.
std::string_view ToString(SamplerKind kind);
// The display name A1111 writes in PNG infotext ("Euler a", "DPM++ 2M", ...).
std::string_view A1111Name(SamplerKind kind);
// By ToString name or A1111 name, case-insensitive; nullopt for an unknown name.
std::optional<SamplerKind> ParseSamplerKind(std::string_view name);
// Every sampler, in declaration order.
std::span<const SamplerKind> AllSamplerKinds();
// True for the samplers that draw noise during sampling (euler_a, dpm++2s_a, lcm).
bool IsStochastic(SamplerKind kind);
// Denoiser calls Sample makes for `steps` steps of a schedule ending in sigma 0 (the calls column
// above): steps, or 2 * steps - 1 for heun, dpm2 and dpm++2s_a.
int DenoiserCalls(SamplerKind kind, int steps);

// Writes the denoised estimate D(x, sigma) into `denoised` (same length as x). `x` is valid
// only during the call.
using Denoiser =
    std::function<Status(std::span<const float> x, float sigma, std::span<float> denoised)>;
// Fills `out` with standard normal noise from the caller's generator: one draw per call.
using NoiseSource = std::function<void(std::span<float> out)>;
// Called after each step with step = 1..total_steps and the current latent; return false to
// stop (Sample then returns Cancelled).
using StepCallback = std::function<bool(int step, int total_steps, std::span<const float> x)>;

// Runs sampler `kind` over `sigmas` (steps + 1 values: strictly decreasing, finite, positive
// except the last, which may be 0). `x`: in = x_T (already noise * sigmas[0]), out = x0.
// `noise` may be empty for the deterministic samplers. Errors:
//   InvalidArgument  bad sigmas, or a stochastic sampler without a noise source
//   Cancelled        on_step returned false (x holds the latent after that step)
//   any error of `model`, with context "<sampler> step N" (N = 1..steps); x is then
//   left mid-step (unspecified)
Status Sample(SamplerKind kind, const Denoiser& model, const std::vector<float>& sigmas,
              std::span<float> x, const NoiseSource& noise, const StepCallback& on_step = nullptr);

}  // namespace sdr
