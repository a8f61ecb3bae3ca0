// "cuda" noise: Philox4x32-10 counter-based generator + Box-Muller, laid out the way torch's CUDA
// randn is emulated by A1111 (modules/rng_philox.py) and stable-diffusion.cpp:
//   key      = (seed & 0xffffffff, seed >> 32)
//   counter  = (offset, 0, i, 0) for element i of a draw; offset starts at 0 and grows by 1 per draw
//   u = c0 * 2^-32 + 2^-33           (in (0, 1), never 0: log is finite)
//   v = c1 * 2pi*2^-32 + pi*2^-32     (in (0, 2pi))
//   z = sqrt(-2 ln u) * sin v         (all in float32)
// where (c0, c1) are the first two words of Philox(counter, key).
#include <cmath>
#include <cstdint>

#include "sampling/rng.h"

namespace sdr {
namespace {

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;  // multiplier for counter word 0
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;  // multiplier for counter word 2
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;  // key schedule: golden ratio
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;  // key schedule: sqrt(3) - 1
constexpr int kPhiloxRounds = 10;

struct Words4 {
  uint32_t w[4];
};

// One Philox4x32 block: 10 rounds of multiply/xor, the key bumped between rounds.
inline Words4 Philox4x32(Words4 ctr, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < kPhiloxRounds; ++round) {
    if (round > 0) {
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    const uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * ctr.w[0];
    const uint64_t p1 = static_cast<uint64_t>(kPhiloxM1) * ctr.w[2];
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    ctr = Words4{{hi1 ^ ctr.w[1] ^ k0, lo1, hi0 ^ ctr.w[3] ^ k1, lo0}};
  }
  return ctr;
}

// Box-Muller on two uniform 32-bit words; float32 arithmetic throughout.
inline float BoxMullerSin(uint32_t x, uint32_t y) {
  constexpr float kTwoPow32Inv = 0x1p-32f;                // 2^-32
  constexpr float kTwoPow32Inv2Pi = 0x1.921fb6p-30f;       // 2pi * 2^-32, rounded to float
  const float u = static_cast<float>(x) * kTwoPow32Inv + kTwoPow32Inv / 2.0f;
  const float v = static_cast<float>(y) * kTwoPow32Inv2Pi + kTwoPow32Inv2Pi / 2.0f;
  const float s = std::sqrt(-2.0f * std::log(u));
  return s * std::sin(v);
}

class PhiloxGenerator final : public NoiseGenerator {
 public:
  explicit PhiloxGenerator(uint64_t seed) { Seed(seed); }

  void Seed(uint64_t seed) override {
    key0_ = static_cast<uint32_t>(seed);
    key1_ = static_cast<uint32_t>(seed >> 32);
    offset_ = 0;
  }

  void Randn(std::span<float> out) override {
    // Element index is a 32-bit counter word (as in the reference); draws of 2^32+ values wrap.
    for (size_t i = 0; i < out.size(); ++i) {
      const Words4 r = Philox4x32(Words4{{offset_, 0u, static_cast<uint32_t>(i), 0u}}, key0_, key1_);
      out[i] = BoxMullerSin(r.w[0], r.w[1]);
    }
    ++offset_;
  }

  RngKind kind() const override { return RngKind::kCuda; }

 private:
  uint32_t key0_ = 0;    // seed low 32 bits
  uint32_t key1_ = 0;    // seed high 32 bits
  uint32_t offset_ = 0;  // draws since Seed()
};

}  // namespace

std::unique_ptr<NoiseGenerator> MakePhiloxGenerator(uint64_t seed) {
  return std::make_unique<PhiloxGenerator>(seed);
}

}  // namespace sdr
