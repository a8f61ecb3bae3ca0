// "cpu" noise: torch.randn on the CPU after torch.manual_seed(seed) (torch 1.13 - 2.x).
//
// Engine: mt19937 seeded with (seed & 0xffffffff) by the standard init_genrand recurrence, so
// std::mt19937 produces the same 32-bit stream as torch's at::mt19937. A 64-bit draw is two 32-bit
// outputs, the first one the high half.
// Uniforms: float  = (next32 & (2^24-1)) * 2^-24            in [0, 1)
//           double = (next64 & (2^53-1)) * 2^-53            in [0, 1)
// Normals, draws of n >= 16 float values (torch's vectorised fill):
//   1. fill all n slots with float uniforms, in order;
//   2. for each whole block of 16 slots: for j < 8, u1 = 1 - s[j], u2 = s[j+8],
//        r = sqrt(-2 ln u1), theta = 2pi * u2 (float), s[j] = r cos theta, s[j+8] = r sin theta;
//   3. if n % 16 != 0: refill the LAST 16 slots with 16 fresh uniforms and transform them as one
//      block (overwriting values already produced by step 2).
// Normals, draws of n < 16 values (torch's scalar path, per element, in double):
//   use the cached value if one is held; else u1, u2 = two double uniforms,
//   r = sqrt(-2 ln(1 - u2)), theta = 2pi * u1, cache r sin theta, return r cos theta;
//   each value is rounded to float. The cache survives between draws and is cleared by Seed().
// Step 2 follows torch's AVX2 kernel (theta multiplied in float32), which is what x86 machines
// run; torch's generic kernel rounds theta from double, which can differ by ~1 ulp.
#include <cmath>
#include <cstdint>
#include <numbers>
#include <optional>
#include <random>

#include "sampling/rng.h"

namespace sdr {
namespace {

constexpr size_t kBlock = 16;  // torch's vectorised Box-Muller block: 8 cos + 8 sin values

class Mt19937Generator final : public NoiseGenerator {
 public:
  explicit Mt19937Generator(uint64_t seed) { Seed(seed); }

  void Seed(uint64_t seed) override {
    engine_.seed(static_cast<std::mt19937::result_type>(seed & 0xffffffffu));
    cached_normal_.reset();
  }

  void Randn(std::span<float> out) override {
    const size_t n = out.size();
    if (n < kBlock) {
      for (float& x : out) x = static_cast<float>(NormalDouble());
      return;
    }
    for (float& x : out) x = UniformFloat();
    for (size_t i = 0; i + kBlock <= n; i += kBlock) BoxMuller16(out.data() + i);
    if (n % kBlock != 0) {
      float* tail = out.data() + (n - kBlock);
      for (size_t j = 0; j < kBlock; ++j) tail[j] = UniformFloat();
      BoxMuller16(tail);
    }
  }

  RngKind kind() const override { return RngKind::kCpu; }

 private:
  uint32_t Next32() { return static_cast<uint32_t>(engine_()); }
  uint64_t Next64() {
    const uint64_t hi = Next32();
    const uint64_t lo = Next32();
    return (hi << 32) | lo;
  }
  float UniformFloat() { return static_cast<float>(Next32() & 0xffffffu) * 0x1p-24f; }
  double UniformDouble() {
    return static_cast<double>(Next64() & ((uint64_t{1} << 53) - 1)) * 0x1p-53;
  }

  double NormalDouble() {
    if (cached_normal_) {
      const double z = *cached_normal_;
      cached_normal_.reset();
      return z;
    }
    const double u1 = UniformDouble();
    const double u2 = UniformDouble();
    const double r = std::sqrt(-2.0 * std::log(1.0 - u2));
    const double theta = 2.0 * std::numbers::pi * u1;
    cached_normal_ = r * std::sin(theta);
    return r * std::cos(theta);
  }

  // s: 16 uniforms in [0, 1) -> 16 standard normals (s[0..8) cos half, s[8..16) sin half).
  static void BoxMuller16(float* s) {
    constexpr float kTwoPi = static_cast<float>(2.0 * std::numbers::pi);
    for (size_t j = 0; j < kBlock / 2; ++j) {
      const float u1 = 1.0f - s[j];  // (0, 1]: log is finite
      const float u2 = s[j + kBlock / 2];
      const float radius = std::sqrt(-2.0f * std::log(u1));
      const float theta = kTwoPi * u2;
      s[j] = radius * std::cos(theta);
      s[j + kBlock / 2] = radius * std::sin(theta);
    }
  }

  std::mt19937 engine_;
  std::optional<double> cached_normal_;  // second value of the last scalar Box-Muller pair
};

}  // namespace

std::unique_ptr<NoiseGenerator> MakeMt19937Generator(uint64_t seed) {
  return std::make_unique<Mt19937Generator>(seed);
}

}  // namespace sdr
