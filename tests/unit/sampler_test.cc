// The eight samplers on toy denoisers with known answers (a point mass; a Gaussian, whose
// probability-flow ODE has a closed form), their bookkeeping (model calls, noise draws,
// callbacks, errors), and replays of the reference engine's dumped denoiser calls.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "formats/npy.h"
#include "sampling/rng.h"
#include "sampling/sampler.h"
#include "sampling/schedule.h"

namespace sdr {
namespace {

const std::string kGolden = std::string(SDR_SHARED_DIR) + "/golden/sd15-rand";

std::string Name(SamplerKind kind) { return std::string(ToString(kind)); }

// Standard normal noise from a seeded mt19937 (the test's own generator); counts draws.
struct TestNoise {
  explicit TestNoise(uint32_t seed) : gen(seed) {}
  NoiseSource Source() {
    return [this](std::span<float> out) {
      ++draws;
      for (float& v : out) v = static_cast<float>(dist(gen));
    };
  }
  std::mt19937 gen;
  std::normal_distribution<double> dist;
  int draws = 0;
};

std::vector<float> RandomNormal(size_t n, uint32_t seed, double scale) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> dist;
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(dist(gen) * scale);
  return v;
}

// Karras rho-7 sigmas between smax and smin, then 0.
std::vector<float> KarrasSigmas(double smax, double smin, int steps) {
  std::vector<float> s;
  const double a = std::pow(smax, 1.0 / 7), b = std::pow(smin, 1.0 / 7);
  for (int k = 0; k < steps; ++k) {
    s.push_back(static_cast<float>(std::pow(a + (b - a) * k / (steps - 1), 7.0)));
  }
  s.push_back(0.0f);
  return s;
}

// Log-uniform sigmas (equal steps h in t = -log sigma), then 0.
std::vector<float> ExponentialSigmas(double smax, double smin, int steps) {
  std::vector<float> s;
  for (int k = 0; k < steps; ++k) {
    s.push_back(static_cast<float>(std::exp(std::log(smax) + (std::log(smin) - std::log(smax)) * k / (steps - 1))));
  }
  s.push_back(0.0f);
  return s;
}

// The data distribution N(mu, sd^2) per element. Its exact denoiser is
// D(x, sigma) = mu + sd^2 / (sd^2 + sigma^2) (x - mu); records the sigmas it is called with.
struct Gaussian {
  double mu = 0.3;
  double sd = 1.0;
  std::vector<float> sigmas_seen;
  Denoiser AsDenoiser() {
    return [this](std::span<const float> x, float sigma, std::span<float> out) {
      sigmas_seen.push_back(sigma);
      const double k = sd * sd / (sd * sd + static_cast<double>(sigma) * sigma);
      for (size_t j = 0; j < x.size(); ++j) out[j] = static_cast<float>(mu + k * (x[j] - mu));
      return Status::Ok();
    };
  }
  // The probability-flow ODE's solution from (x_T, sigma_T) at sigma.
  double Flow(double x_t, double sigma_t, double sigma) const {
    return mu + (x_t - mu) * std::sqrt(sd * sd + sigma * sigma) / std::sqrt(sd * sd + sigma_t * sigma_t);
  }
};

// Max |x0 - exact ODE solution at sigma 0| over the elements, for a deterministic sampler.
double OdeError(SamplerKind kind, const std::vector<float>& sigmas, const std::vector<float>& x_t) {
  Gaussian g;
  std::vector<float> x = x_t;
  Status s = Sample(kind, g.AsDenoiser(), sigmas, x, nullptr);
  EXPECT_TRUE(s.ok()) << s.ToString();
  double err = 0.0;
  for (size_t j = 0; j < x.size(); ++j) err = std::max(err, std::abs(x[j] - g.Flow(x_t[j], sigmas[0], 0.0)));
  return err;
}

double RelL2(std::span<const float> a, std::span<const float> b) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

// Steps of each sampler that make a second model call: all but the one into sigma 0.
int ExpectedModelCalls(SamplerKind kind, int steps) {
  switch (kind) {
    case SamplerKind::kHeun:
    case SamplerKind::kDpm2:
    case SamplerKind::kDpmpp2sA:
      return 2 * steps - 1;
    default:
      return steps;
  }
}

// ---- names ----------------------------------------------------------------------------------

TEST(SamplerNamesTest, OneTableForNamesAndA1111Names) {
  ASSERT_EQ(AllSamplerKinds().size(), 8u);
  const char* names[] = {"euler_a", "euler", "heun", "dpm2", "dpm++2s_a", "dpm++2m", "dpm++2mv2", "lcm"};
  const char* a1111[] = {"Euler a", "Euler", "Heun", "DPM2", "DPM++ 2S a", "DPM++ 2M", "DPM++ 2M v2", "LCM"};
  for (size_t i = 0; i < 8; ++i) {
    const SamplerKind kind = AllSamplerKinds()[i];
    EXPECT_EQ(ToString(kind), names[i]);
    EXPECT_EQ(A1111Name(kind), a1111[i]);
    EXPECT_EQ(ParseSamplerKind(names[i]), kind);
    EXPECT_EQ(ParseSamplerKind(a1111[i]), kind);
  }
  EXPECT_EQ(ParseSamplerKind("EULER_A"), SamplerKind::kEulerA);
  EXPECT_EQ(ParseSamplerKind("dpm++ 2m"), SamplerKind::kDpmpp2m);
  EXPECT_FALSE(ParseSamplerKind("ddim").has_value());
  EXPECT_FALSE(ParseSamplerKind("").has_value());
  EXPECT_TRUE(IsStochastic(SamplerKind::kEulerA));
  EXPECT_TRUE(IsStochastic(SamplerKind::kDpmpp2sA));
  EXPECT_TRUE(IsStochastic(SamplerKind::kLcm));
  EXPECT_FALSE(IsStochastic(SamplerKind::kDpmpp2m));
}

// ---- toy denoisers with known answers ---------------------------------------------------------

// Data = a single point mu: D(x, sigma) = mu. Every sampler ends exactly on mu.
TEST(SamplerTest, PointMassLandsOnTheDataPoint) {
  const NoiseSchedule sch;
  const std::vector<float> mu = {0.25f, -1.5f, 3.0f, 0.0f, -0.125f, 7.5f};
  const Denoiser model = [&](std::span<const float>, float, std::span<float> out) {
    std::copy(mu.begin(), mu.end(), out.begin());
    return Status::Ok();
  };
  for (SamplerKind kind : AllSamplerKinds()) {
    for (Scheduler sc : AllSchedulers()) {
      for (int steps : {1, 2, 3, 10, 30}) {
        SCOPED_TRACE(Name(kind) + " " + std::string(ToString(sc)) + " steps " + std::to_string(steps));
        const std::vector<float> sigmas = MakeSigmas(sch, sc, steps);
        std::vector<float> x = RandomNormal(mu.size(), 3, sigmas[0]);
        TestNoise noise(11);
        ASSERT_TRUE(Sample(kind, model, sigmas, x, noise.Source()).ok());
        for (size_t j = 0; j < mu.size(); ++j) EXPECT_NEAR(x[j], mu[j], 1e-5) << j;
      }
    }
  }
}

// One step = one denoise at sigma_max, for every sampler: x0 = D(x_T, sigma_max).
TEST(SamplerTest, OneStepIsOneDenoise) {
  const NoiseSchedule sch;
  for (SamplerKind kind : AllSamplerKinds()) {
    SCOPED_TRACE(Name(kind));
    const std::vector<float> sigmas = MakeSigmas(sch, Scheduler::kKarras, 1);
    const std::vector<float> x_t = RandomNormal(32, 4, sigmas[0]);
    std::vector<float> x = x_t;
    Gaussian g;
    TestNoise noise(1);
    ASSERT_TRUE(Sample(kind, g.AsDenoiser(), sigmas, x, noise.Source()).ok());
    ASSERT_EQ(g.sigmas_seen.size(), 1u);
    EXPECT_EQ(g.sigmas_seen[0], sigmas[0]);
    EXPECT_EQ(noise.draws, 0);
    const double k = 1.0 / (1.0 + static_cast<double>(sigmas[0]) * sigmas[0]);
    for (size_t j = 0; j < x.size(); ++j) EXPECT_NEAR(x[j], g.mu + k * (x_t[j] - g.mu), 1e-5);
  }
}

TEST(SamplerTest, ModelCallsNoiseDrawsAndSigmasPerSampler) {
  const NoiseSchedule sch;
  for (SamplerKind kind : AllSamplerKinds()) {
    for (int steps : {1, 2, 4, 10}) {
      SCOPED_TRACE(Name(kind) + " steps " + std::to_string(steps));
      const std::vector<float> sigmas = MakeSigmas(sch, Scheduler::kDiscrete, steps);
      std::vector<float> x = RandomNormal(16, 2, sigmas[0]);
      Gaussian g;
      TestNoise noise(5);
      ASSERT_TRUE(Sample(kind, g.AsDenoiser(), sigmas, x, noise.Source()).ok());
      ASSERT_EQ(static_cast<int>(g.sigmas_seen.size()), ExpectedModelCalls(kind, steps));
      EXPECT_EQ(DenoiserCalls(kind, steps), ExpectedModelCalls(kind, steps)) << ToString(kind);
      EXPECT_EQ(noise.draws, IsStochastic(kind) ? steps - 1 : 0);
      // Each step's first call is at sigmas[i]; the second-call sigmas follow each method.
      size_t c = 0;
      for (int i = 0; i < steps; ++i) {
        const double s0 = sigmas[i], s1 = sigmas[i + 1];
        ASSERT_EQ(g.sigmas_seen[c++], sigmas[i]) << "step " << i;
        if (ExpectedModelCalls(kind, steps) == steps || s1 == 0.0) continue;
        double second = 0.0;
        if (kind == SamplerKind::kHeun) second = s1;
        if (kind == SamplerKind::kDpm2) second = std::sqrt(s0 * s1);
        if (kind == SamplerKind::kDpmpp2sA) {
          // sigma_down of the eta-1 ancestral step, then the geometric midpoint.
          const double up = std::min(s1, std::sqrt(s1 * s1 * (s0 * s0 - s1 * s1) / (s0 * s0)));
          second = std::sqrt(s0 * std::sqrt(s1 * s1 - up * up));
        }
        EXPECT_NEAR(g.sigmas_seen[c++], second, 1e-6 * second) << "step " << i;
      }
    }
  }
}

// The deterministic samplers integrate the probability-flow ODE: on a Gaussian they converge to
// its closed form, Euler at first order, the others at second order.
TEST(SamplerTest, OdeSamplersConvergeToTheClosedForm) {
  const std::vector<float> x_t = RandomNormal(64, 1, 14.6);
  // sigma_min 1e-3: the last step (a first-order jump to 0) leaves only ~5e-7 of error.
  auto err = [&](SamplerKind kind, int steps) { return OdeError(kind, KarrasSigmas(14.6, 1e-3, steps), x_t); };
  const double euler40 = err(SamplerKind::kEuler, 40), euler80 = err(SamplerKind::kEuler, 80);
  EXPECT_LT(euler80, 0.1);
  EXPECT_NEAR(euler40 / euler80, 2.0, 0.25) << "first order";
  for (SamplerKind kind : {SamplerKind::kHeun, SamplerKind::kDpm2, SamplerKind::kDpmpp2m}) {
    SCOPED_TRACE(Name(kind));
    const double e40 = err(kind, 40), e80 = err(kind, 80);
    EXPECT_LT(e80, 5e-3);
    EXPECT_GT(e40 / e80, 3.5) << "second order";
    EXPECT_LT(e40, 0.15 * euler40) << "clearly better than Euler at equal steps";
  }
  // The same on the SD Karras schedule (its sigma_min 0.029 leaves an error floor ~1e-3).
  const NoiseSchedule sch;
  const double euler_sd = OdeError(SamplerKind::kEuler, MakeSigmas(sch, Scheduler::kKarras, 20), x_t);
  for (SamplerKind kind : {SamplerKind::kHeun, SamplerKind::kDpm2, SamplerKind::kDpmpp2m}) {
    EXPECT_LT(OdeError(kind, MakeSigmas(sch, Scheduler::kKarras, 20), x_t), 0.2 * euler_sd) << Name(kind);
  }
}

// dpm++2mv2 equals dpm++2m when consecutive log-sigma steps are equal (r = 1, h_d = h); on
// uneven steps it differs, and its exponential term (h_d instead of h) makes it first order.
TEST(SamplerTest, Dpmpp2mV2IsDpmpp2mOnEvenLogSteps) {
  const std::vector<float> x_t = RandomNormal(64, 6, 14.6);
  for (int steps : {5, 20}) {
    const std::vector<float> sigmas = ExponentialSigmas(14.6, 0.03, steps);
    Gaussian g1, g2;
    std::vector<float> a = x_t, b = x_t;
    ASSERT_TRUE(Sample(SamplerKind::kDpmpp2m, g1.AsDenoiser(), sigmas, a, nullptr).ok());
    ASSERT_TRUE(Sample(SamplerKind::kDpmpp2mv2, g2.AsDenoiser(), sigmas, b, nullptr).ok());
    EXPECT_LT(RelL2(b, a), 1e-6) << steps;
  }
  const std::vector<float> karras = KarrasSigmas(14.6, 1e-3, 20);
  Gaussian g1, g2;
  std::vector<float> a = x_t, b = x_t;
  ASSERT_TRUE(Sample(SamplerKind::kDpmpp2m, g1.AsDenoiser(), karras, a, nullptr).ok());
  ASSERT_TRUE(Sample(SamplerKind::kDpmpp2mv2, g2.AsDenoiser(), karras, b, nullptr).ok());
  EXPECT_GT(RelL2(b, a), 1e-3);
  // Converges as steps grow (first order on Karras spacing).
  const double e20 = OdeError(SamplerKind::kDpmpp2mv2, KarrasSigmas(14.6, 1e-3, 20), x_t);
  const double e160 = OdeError(SamplerKind::kDpmpp2mv2, KarrasSigmas(14.6, 1e-3, 160), x_t);
  EXPECT_LT(e160, e20 / 3.0);
  EXPECT_LT(OdeError(SamplerKind::kDpmpp2mv2, ExponentialSigmas(14.6, 1e-3, 80), x_t), 5e-3);
}

// Stochastic samplers: deterministic for a fixed noise stream, different for another.
TEST(SamplerTest, StochasticSamplersAreDeterministicPerNoiseStream) {
  const NoiseSchedule sch;
  const std::vector<float> sigmas = MakeSigmas(sch, Scheduler::kKarras, 8);
  const std::vector<float> x_t = RandomNormal(256, 8, sigmas[0]);
  for (SamplerKind kind : {SamplerKind::kEulerA, SamplerKind::kDpmpp2sA, SamplerKind::kLcm}) {
    SCOPED_TRACE(Name(kind));
    std::vector<float> a = x_t, b = x_t, c = x_t;
    Gaussian g;
    TestNoise na(21), nb(21), nc(22);
    ASSERT_TRUE(Sample(kind, g.AsDenoiser(), sigmas, a, na.Source()).ok());
    ASSERT_TRUE(Sample(kind, g.AsDenoiser(), sigmas, b, nb.Source()).ok());
    ASSERT_TRUE(Sample(kind, g.AsDenoiser(), sigmas, c, nc.Source()).ok());
    EXPECT_EQ(a, b);
    EXPECT_GT(RelL2(c, a), 0.05);
    EXPECT_EQ(na.draws, 7);
  }
}

struct Moments {
  double mean = 0.0;
  double sd = 0.0;
};
Moments MomentsOf(const std::vector<float>& x) {
  Moments m;
  for (float f : x) m.mean += f;
  m.mean /= static_cast<double>(x.size());
  for (float f : x) m.sd += (f - m.mean) * (f - m.mean);
  m.sd = std::sqrt(m.sd / static_cast<double>(x.size() - 1));
  return m;
}

// With many steps the ancestral samplers draw from the data distribution N(mu, sd^2): 20000
// independent elements stand for 20000 seeds (statistical error ~0.5% on the sd).
TEST(SamplerTest, AncestralSamplesMatchTheDataDistribution) {
  const NoiseSchedule sch;
  struct Case {
    SamplerKind kind;
    int steps;
    double sd_tolerance;  // relative; Euler a is a first-order SDE solver (3% low at 100 steps)
  };
  for (const Case& c : {Case{SamplerKind::kEulerA, 400, 0.025}, Case{SamplerKind::kDpmpp2sA, 100, 0.02}}) {
    SCOPED_TRACE(Name(c.kind));
    const std::vector<float> sigmas = MakeSigmas(sch, Scheduler::kKarras, c.steps);
    std::vector<float> x = RandomNormal(20000, 5, sigmas[0]);
    Gaussian g;
    g.mu = 0.3;
    g.sd = 0.5;
    TestNoise noise(9);
    ASSERT_TRUE(Sample(c.kind, g.AsDenoiser(), sigmas, x, noise.Source()).ok());
    const Moments m = MomentsOf(x);
    EXPECT_NEAR(m.mean, g.mu, 0.015);
    EXPECT_NEAR(m.sd, g.sd, c.sd_tolerance * g.sd);
  }
}

// LCM (x = D, then x += s1 * noise) on the Gaussian is a linear recursion with known moments:
// m' = mu + k (m - mu), v' = k^2 v + s1^2 with k = sd^2 / (sd^2 + s0^2), from m = 0, v = s0^2.
// (Not the data distribution: a consistency sampler with an exact denoiser loses variance.)
TEST(SamplerTest, LcmMomentsFollowItsRecursion) {
  const NoiseSchedule sch;
  for (int steps : {4, 30}) {
    SCOPED_TRACE(steps);
    const std::vector<float> sigmas = MakeSigmas(sch, Scheduler::kDiscrete, steps);
    std::vector<float> x = RandomNormal(20000, 15, sigmas[0]);
    Gaussian g;
    g.mu = 0.3;
    g.sd = 0.5;
    TestNoise noise(16);
    ASSERT_TRUE(Sample(SamplerKind::kLcm, g.AsDenoiser(), sigmas, x, noise.Source()).ok());
    double mean = 0.0, var = static_cast<double>(sigmas[0]) * sigmas[0];
    for (int i = 0; i < steps; ++i) {
      const double k = g.sd * g.sd / (g.sd * g.sd + static_cast<double>(sigmas[i]) * sigmas[i]);
      mean = g.mu + k * (mean - g.mu);
      var = k * k * var + static_cast<double>(sigmas[i + 1]) * sigmas[i + 1];
    }
    const Moments m = MomentsOf(x);
    EXPECT_NEAR(m.mean, mean, 0.01);
    EXPECT_NEAR(m.sd, std::sqrt(var), 0.02 * std::sqrt(var));
  }
}

// ---- callbacks and errors --------------------------------------------------------------------

TEST(SamplerTest, CallbackSeesEveryStepAndCanCancel) {
  const NoiseSchedule sch;
  const std::vector<float> sigmas = MakeSigmas(sch, Scheduler::kKarras, 6);
  for (SamplerKind kind : AllSamplerKinds()) {
    SCOPED_TRACE(Name(kind));
    std::vector<float> x = RandomNormal(8, 1, sigmas[0]);
    Gaussian g;
    TestNoise noise(2);
    std::vector<int> seen;
    std::vector<float> last_x;
    ASSERT_TRUE(Sample(kind, g.AsDenoiser(), sigmas, x, noise.Source(),
                       [&](int step, int total, std::span<const float> cur) {
                         EXPECT_EQ(total, 6);
                         seen.push_back(step);
                         last_x.assign(cur.begin(), cur.end());
                         return true;
                       })
                    .ok());
    EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(last_x, x);

    std::vector<float> y = RandomNormal(8, 1, sigmas[0]);
    Gaussian g2;
    TestNoise noise2(2);
    int callbacks = 0;
    const Status s = Sample(kind, g2.AsDenoiser(), sigmas, y, noise2.Source(),
                            [&](int step, int, std::span<const float>) {
                              ++callbacks;
                              return step < 2;
                            });
    EXPECT_EQ(s.code(), StatusCode::kCancelled) << s.ToString();
    EXPECT_EQ(callbacks, 2);
    EXPECT_EQ(static_cast<int>(g2.sigmas_seen.size()), ExpectedModelCalls(kind, 6) > 6 ? 4 : 2);
  }
}

TEST(SamplerTest, ModelErrorsPropagateWithTheStepNumber) {
  const NoiseSchedule sch;
  const std::vector<float> sigmas = MakeSigmas(sch, Scheduler::kDiscrete, 5);
  for (SamplerKind kind : AllSamplerKinds()) {
    SCOPED_TRACE(Name(kind));
    int calls = 0;
    const Denoiser failing = [&](std::span<const float> x, float, std::span<float> out) {
      if (++calls == 3) return IoError("unet: device lost");
      std::copy(x.begin(), x.end(), out.begin());
      return Status::Ok();
    };
    std::vector<float> x(4, 1.0f);
    TestNoise noise(3);
    const Status s = Sample(kind, failing, sigmas, x, noise.Source());
    EXPECT_EQ(s.code(), StatusCode::kIoError);
    // The third call is in step 3 for one-call samplers, in step 2 for two-call ones.
    const std::string step = ExpectedModelCalls(kind, 5) > 5 ? "step 2" : "step 3";
    EXPECT_EQ(s.message(), Name(kind) + " " + step + ": unet: device lost");
    EXPECT_EQ(calls, 3);
  }
}

TEST(SamplerTest, RejectsBadSigmasAndMissingNoise) {
  int calls = 0;
  const Denoiser model = [&](std::span<const float>, float, std::span<float>) {
    ++calls;
    return Status::Ok();
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<std::vector<float>> bad = {
      {}, {1.0f}, {1.0f, 2.0f, 0.0f}, {2.0f, 2.0f, 0.0f}, {2.0f, 0.0f, 0.0f},
      {2.0f, -1.0f}, {nan, 0.0f}, {std::numeric_limits<float>::infinity(), 1.0f, 0.0f}, {-1.0f, -2.0f},
  };
  TestNoise noise(1);
  for (SamplerKind kind : AllSamplerKinds()) {
    for (const std::vector<float>& sigmas : bad) {
      std::vector<float> x(4, 0.0f);
      EXPECT_EQ(Sample(kind, model, sigmas, x, noise.Source()).code(), StatusCode::kInvalidArgument)
          << Name(kind) << " with " << sigmas.size() << " sigmas";
    }
    std::vector<float> x(4, 0.0f);
    const Status no_noise = Sample(kind, model, {2.0f, 1.0f, 0.0f}, x, nullptr);
    EXPECT_EQ(no_noise.ok(), !IsStochastic(kind)) << Name(kind) << ": " << no_noise.ToString();
  }
  EXPECT_EQ(noise.draws, 0);
  // Only the deterministic samplers ran (3 calls each for heun/dpm2, 2 for euler/2m/2mv2).
  EXPECT_EQ(calls, 3 + 3 + 2 + 2 + 2);
  // A final sigma above 0 is allowed (img2img-style partial schedules end early).
  std::vector<float> x(4, 1.0f);
  EXPECT_TRUE(Sample(SamplerKind::kEuler, model, {2.0f, 1.0f}, x, nullptr).ok());
}

// ---- replays of the reference engine ---------------------------------------------------------

std::vector<float> ReadVector(const std::string& path) {
  Result<Tensor> t = ReadNpy(path);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (!t.ok()) return {};
  const float* p = t->data<float>();
  return std::vector<float>(p, p + t->numel());
}

// A denoiser that answers call N with the golden callN_denoised after checking that it was
// given callN_x and callN_sigma.
struct GoldenReplay {
  explicit GoldenReplay(std::string d) : dir(std::move(d)) {}
  std::string Call(int n, const char* what) const {
    return dir + "/call" + std::to_string(n) + "_" + what + ".npy";
  }
  Denoiser AsDenoiser() {
    return [this](std::span<const float> x, float sigma, std::span<float> out) -> Status {
      const std::string x_path = Call(calls, "x");
      if (!std::filesystem::exists(x_path)) return NotFound("no golden " + x_path);
      const std::vector<float> want_x = ReadVector(x_path);
      const std::vector<float> want_sigma = ReadVector(Call(calls, "sigma"));
      const std::vector<float> denoised = ReadVector(Call(calls, "denoised"));
      if (want_x.size() != x.size() || denoised.size() != x.size() || want_sigma.size() != 1) {
        return InvalidArgument("golden call " + std::to_string(calls) + " has other sizes");
      }
      const double err = RelL2(x, want_x);
      worst_x = std::max(worst_x, err);
      EXPECT_LE(err, 1e-4) << "x of call " << calls;
      EXPECT_NEAR(sigma, want_sigma[0], 2e-5 * want_sigma[0]) << "sigma of call " << calls;
      std::copy(denoised.begin(), denoised.end(), out.begin());
      ++calls;
      return Status::Ok();
    };
  }
  std::string dir;
  int calls = 0;
  double worst_x = 0.0;
};

void ReplayDeterministic(const std::string& name, SamplerKind kind, Scheduler sched, int steps) {
  const std::string dir = kGolden + "/" + name;
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no goldens at " << dir;
  const NoiseSchedule sch;
  std::vector<float> x = ReadVector(dir + "/x_T.npy");
  GoldenReplay replay(dir);
  const Status s = Sample(kind, replay.AsDenoiser(), MakeSigmas(sch, sched, steps), x, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(replay.calls, steps);
  const std::vector<float> x0 = ReadVector(dir + "/x0.npy");
  ASSERT_EQ(x0.size(), x.size());
  EXPECT_LE(RelL2(x, x0), 1e-4);
}

TEST(SamplerGoldenTest, EulerReplayEndsAtGoldenX0) {
  ReplayDeterministic("euler_128", SamplerKind::kEuler, Scheduler::kDiscrete, 4);
}

TEST(SamplerGoldenTest, Dpmpp2mKarrasReplayEndsAtGoldenX0) {
  ReplayDeterministic("dpmpp2m_karras_192x128", SamplerKind::kDpmpp2m, Scheduler::kKarras, 5);
}

// The ancestral noise is not dumped: recover each step's draw from consecutive golden latents,
// noise = (x_{i+1} - x_i - d_i (sigma_down - s0)) / sigma_up, check that it looks standard normal
// (a wrong sigma_up/sigma_down would scale or skew it), then replay with it.
TEST(SamplerGoldenTest, EulerAncestralReplayWithRecoveredNoise) {
  const std::string dir = kGolden + "/euler_a_128";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no goldens at " << dir;
  const NoiseSchedule sch;
  const std::vector<float> sigmas = MakeSigmas(sch, Scheduler::kDiscrete, 4);
  GoldenReplay replay(dir);
  int draw = 0;
  const NoiseSource recovered = [&](std::span<float> out) {
    const std::vector<float> x = ReadVector(replay.Call(draw, "x"));
    const std::vector<float> d = ReadVector(replay.Call(draw, "denoised"));
    const std::vector<float> next = ReadVector(replay.Call(draw + 1, "x"));
    ASSERT_EQ(x.size(), out.size());
    ASSERT_EQ(next.size(), out.size());
    const double s0 = sigmas[draw], s1 = sigmas[draw + 1];
    const double up = std::min(s1, std::sqrt(s1 * s1 * (s0 * s0 - s1 * s1) / (s0 * s0)));
    const double down = std::sqrt(s1 * s1 - up * up);
    std::vector<float> n(out.size());
    for (size_t j = 0; j < out.size(); ++j) {
      n[j] = static_cast<float>((next[j] - (x[j] + (x[j] - d[j]) / s0 * (down - s0))) / up);
    }
    const Moments m = MomentsOf(n);
    EXPECT_NEAR(m.mean, 0.0, 0.1) << "draw " << draw;
    EXPECT_NEAR(m.sd, 1.0, 0.1) << "draw " << draw;
    std::copy(n.begin(), n.end(), out.begin());
    ++draw;
  };
  std::vector<float> x = ReadVector(dir + "/x_T.npy");
  const Status s = Sample(SamplerKind::kEulerA, replay.AsDenoiser(), sigmas, x, recovered);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(replay.calls, 4);
  EXPECT_EQ(draw, 3);
  EXPECT_LE(RelL2(x, ReadVector(dir + "/x0.npy")), 1e-4);
}

// The production wiring: the "cuda" (Philox) generator seeded with the case's seed gives the
// initial noise (draw 0) and then one draw per ancestral step.
TEST(SamplerGoldenTest, EulerAncestralReplayWithPhiloxNoise) {
  const std::string dir = kGolden + "/euler_a_128";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no goldens at " << dir;
  const NoiseSchedule sch;
  const std::vector<float> sigmas = MakeSigmas(sch, Scheduler::kDiscrete, 4);
  std::unique_ptr<NoiseGenerator> rng = MakeNoiseGenerator(RngKind::kCuda, 7);
  const std::vector<float> golden_noise = ReadVector(dir + "/noise.npy");
  std::vector<float> noise(golden_noise.size());
  rng->Randn(noise);
  ASSERT_LE(RelL2(noise, golden_noise), 1e-5) << "initial Philox draw";
  std::vector<float> x = ReadVector(dir + "/x_T.npy");
  GoldenReplay replay(dir);
  const Status s = Sample(SamplerKind::kEulerA, replay.AsDenoiser(), sigmas, x,
                          [&](std::span<float> out) { rng->Randn(out); });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(replay.calls, 4);
  EXPECT_LE(RelL2(x, ReadVector(dir + "/x0.npy")), 1e-4);
}

}  // namespace
}  // namespace sdr
