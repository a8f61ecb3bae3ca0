// Branch-free float exp and erf written so that loops over arrays vectorise (no libm calls).
// ExpF: Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, then a degree-6 polynomial
// for e^r and a 2^n exponent insert; max relative error ~2e-7 over [-87, 88].
// ErfF: Abramowitz & Stegun 7.1.28-style rational form 7.1.26 (max abs error 1.5e-7).
#pragma once

#include <cstdint>
#include <cstring>

// Hot loops get an AVX2 clone chosen at load time (ifunc, by __builtin_cpu_supports("avx2")); the
// default clone runs anywhere. Not "arch=haswell": that clone is chosen by CPU model, so AMD CPUs
// never ran it. No FMA in the clone: it computes exactly what the default clone does (no
// contraction of a * b + c), so results do not depend on which CPU ran them.
// Sanitizers cannot run ifunc resolvers (they run before the sanitizer starts), so sanitizer
// builds use the default clone only.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SDR_VECTOR_CLONES
#else
#define SDR_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#endif

namespace sdr::cpu {

__attribute__((always_inline)) inline float ExpF(float x) {
  // Two unconditional clamps: a compare nested in a branch could raise an FP exception the
  // scalar code would not (-ftrapping-math), which stops GCC from if-converting the loop.
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  float r = x - n * 0.693145751953125f;  // ln2 hi
  r = r - n * 1.42860682030941723e-6f;    // ln2 lo
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

__attribute__((always_inline)) inline float ErfF(float x) {
  const float s = x < 0.0f ? -1.0f : 1.0f;
  const float a = x < 0.0f ? -x : x;
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  float y = 1.061405429f;
  y = y * t - 1.453152027f;
  y = y * t + 1.421413741f;
  y = y * t - 0.284496736f;
  y = y * t + 0.254829592f;
  y = y * t;
  return s * (1.0f - y * ExpF(-a * a));
}

// Sum of x[0, n) as Acc: eight partial sums (one vector loop; a single running sum is a chain of
// dependent adds), then the tail, then the partial sums in order.
template <typename Acc>
__attribute__((always_inline)) inline Acc SumLanes(const float* x, int64_t n) {
  Acc lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) lanes[k] += x[i + k];
  Acc sum = 0;
  for (; i < n; ++i) sum += x[i];
  for (Acc l : lanes) sum += l;
  return sum;
}

// y[i] = x[i] / (1 + e^(-k x[i])) for i < n <= kSigmoidBlock (SiLU: k = 1; QuickGELU: 1.702), as the
// one-line loop computes it, in two loops: written as one, GCC splits the quotient by the range
// ExpF's clamps give its argument and computes (and blends) a division for each range: two
// divisions per vector where one is needed, and the division is what these loops wait on.
constexpr int64_t kSigmoidBlock = 64;
__attribute__((always_inline)) inline void SigmoidTimes(const float* x, float k, float* y, int64_t n) {
  float d[kSigmoidBlock];
  for (int64_t i = 0; i < n; ++i) d[i] = 1.0f + ExpF(-k * x[i]);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] / d[i];
}

}  // namespace sdr::cpu
