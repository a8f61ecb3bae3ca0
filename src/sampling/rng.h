// Seed-exact noise generators: the same seed gives the same latent noise as the reference UIs.
//
//   auto rng = MakeNoiseGenerator(RngKind::kCuda, /*seed=*/42);
//   std::vector<float> noise(1 * 4 * 64 * 64);   // latent [1,4,H/8,W/8], row-major
//   rng->Randn(noise);                            // = torch.randn(1,4,64,64) on the chosen device
//   rng->Randn(step_noise);                       // the next draw (ancestral samplers: one per step)
//
// Kinds:
//   kCuda ("cuda"): torch.randn on a CUDA device after torch.manual_seed(seed), as A1111 ("GPU"
//     RNG source) and stable-diffusion.cpp emulate it on any hardware: Philox4x32-10 keyed by the
//     64-bit seed, one Philox counter offset per draw, Box-Muller on the first two output words.
//     Matches the reference to ~1 ulp (the transcendental functions of a GPU round differently).
//   kCpu ("cpu"): torch.randn on the CPU after torch.manual_seed(seed) (ComfyUI; A1111 "CPU"):
//     mt19937 seeded with the low 32 bits of the seed; torch's vectorised Box-Muller for draws of
//     16 or more values and its scalar (double, cached second value) path for smaller draws.
//
// A draw is one Randn call: torch.randn of out.size() elements. Splitting one draw into two
// calls gives different numbers than one call of the combined size (as in torch).
//
// Thread-safety: a generator is mutable state; use one per thread (or lock around it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

namespace sdr {

enum class RngKind { kCuda, kCpu };

std::string_view ToString(RngKind kind);                     // "cuda", "cpu"
std::optional<RngKind> ParseRngKind(std::string_view name);  // inverse of ToString, case-insensitive
std::span<const RngKind> AllRngKinds();                      // in declaration order

class NoiseGenerator {
 public:
  virtual ~NoiseGenerator();

  // Restarts the stream as torch.manual_seed(seed) does (drops all state from earlier draws).
  virtual void Seed(uint64_t seed) = 0;

  // Fills `out` with standard normal floats: one draw (torch.randn of out.size() elements).
  virtual void Randn(std::span<float> out) = 0;

  virtual RngKind kind() const = 0;
};

// A generator of `kind`, already seeded with `seed`. Never null.
std::unique_ptr<NoiseGenerator> MakeNoiseGenerator(RngKind kind, uint64_t seed);

// The concrete generators (rng_philox.cc, rng_mt19937.cc); prefer MakeNoiseGenerator.
std::unique_ptr<NoiseGenerator> MakePhiloxGenerator(uint64_t seed);
std::unique_ptr<NoiseGenerator> MakeMt19937Generator(uint64_t seed);

}  // namespace sdr
