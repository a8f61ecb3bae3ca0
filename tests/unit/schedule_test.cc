// NoiseSchedule, SigmaToT/TToSigma and MakeSigmas against REFERENCE.md's numbers and the
// golden sigmas.npy of the reference engine.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "formats/npy.h"
#include "sampling/schedule.h"

namespace sdr {
namespace {

const std::string kGolden = std::string(SDR_SHARED_DIR) + "/golden/sd15-rand";

std::vector<float> ReadVector(const std::string& path) {
  Result<Tensor> t = ReadNpy(path);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (!t.ok()) return {};
  const float* p = t->data<float>();
  return std::vector<float>(p, p + t->numel());
}

// numpy.allclose(actual, expected, rtol=1e-5, atol=1e-5). The reference engine runs the
// cumulative product in float32 (sigma_max 14.614655) where we follow the original LDM code in
// double (14.614642): 1.2e-5 absolute at the top, 1.3e-5 relative at the bottom.
void ExpectClose(const std::vector<float>& actual, const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_LE(std::abs(actual[i] - expected[i]), 1e-5 + 1e-5 * std::abs(expected[i]))
        << "sigma " << i << ": " << actual[i] << " vs " << expected[i];
  }
}

TEST(NoiseScheduleTest, TableMatchesScaledLinearBetas) {
  const NoiseSchedule s;
  ASSERT_EQ(s.sigmas().size(), 1000u);
  EXPECT_NEAR(s.sigma_min(), 0.029168, 1e-6);
  EXPECT_NEAR(s.sigma_max(), 14.614642, 2e-6);
  for (size_t i = 1; i < s.sigmas().size(); ++i) ASSERT_GT(s.sigmas()[i], s.sigmas()[i - 1]) << i;
  // A mid-table entry computed independently: abar_499 = prod (1 - beta_j), j <= 499.
  double acp = 1.0;
  for (int i = 0; i <= 499; ++i) {
    const double b = std::sqrt(0.00085) + (std::sqrt(0.012) - std::sqrt(0.00085)) * i / 999.0;
    acp *= 1.0 - b * b;
  }
  EXPECT_NEAR(s.sigmas()[499], std::sqrt((1.0 - acp) / acp), 1e-6);
}

TEST(NoiseScheduleTest, SigmaToTHitsTableEntriesAndClampsOutside) {
  const NoiseSchedule s;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_NEAR(s.SigmaToT(s.sigmas()[i]), static_cast<float>(i), 1e-3) << i;
  }
  EXPECT_EQ(s.SigmaToT(s.sigma_min()), 0.0f);
  EXPECT_EQ(s.SigmaToT(s.sigma_max()), 999.0f);
  EXPECT_EQ(s.SigmaToT(0.01f), 0.0f);
  EXPECT_EQ(s.SigmaToT(100.0f), 999.0f);
  EXPECT_EQ(s.SigmaToT(0.0f), 0.0f);
  EXPECT_EQ(s.SigmaToT(-1.0f), 0.0f);
  EXPECT_EQ(s.SigmaToT(std::numeric_limits<float>::quiet_NaN()), 0.0f);
  EXPECT_EQ(s.SigmaToT(std::numeric_limits<float>::infinity()), 999.0f);
  // Between two entries the log-sigma interpolation puts the geometric mean at the midpoint.
  const float mid = std::sqrt(s.sigmas()[100] * s.sigmas()[101]);
  EXPECT_NEAR(s.SigmaToT(mid), 100.5f, 1e-3);
}

TEST(NoiseScheduleTest, TToSigmaInterpolatesLogSigmaAndRoundTrips) {
  const NoiseSchedule s;
  EXPECT_EQ(s.TToSigma(0.0f), s.sigma_min());
  EXPECT_EQ(s.TToSigma(999.0f), s.sigma_max());
  EXPECT_EQ(s.TToSigma(-5.0f), s.sigma_min());
  EXPECT_EQ(s.TToSigma(5000.0f), s.sigma_max());
  EXPECT_EQ(s.TToSigma(std::numeric_limits<float>::quiet_NaN()), s.sigma_min());
  EXPECT_NEAR(s.TToSigma(250.5f), std::sqrt(s.sigmas()[250] * s.sigmas()[251]), 1e-6);
  for (float t = 0.0f; t <= 999.0f; t += 7.25f) {
    ASSERT_NEAR(s.SigmaToT(s.TToSigma(t)), t, 2e-3) << t;
  }
  for (double sigma = 0.03; sigma < 14.6; sigma *= 1.37) {
    const float f = static_cast<float>(sigma);
    ASSERT_NEAR(s.TToSigma(s.SigmaToT(f)), f, 2e-5 * f) << sigma;
  }
}

TEST(MakeSigmasTest, DiscreteMatchesReference) {
  const NoiseSchedule s;
  const std::vector<float> sig = MakeSigmas(s, Scheduler::kDiscrete, 20);
  ASSERT_EQ(sig.size(), 21u);
  const float head[] = {14.6147f, 10.7468f, 8.0815f, 6.2049f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(sig[i], head[i], 6e-5) << i;
  EXPECT_NEAR(sig[18], 0.2322f, 6e-5);
  EXPECT_NEAR(sig[19], 0.0292f, 6e-5);
  EXPECT_EQ(sig[20], 0.0f);
  EXPECT_EQ(sig[0], s.sigma_max());
  EXPECT_EQ(sig[19], s.sigma_min());
  // t_k = 999 - k * 999/19: k = 1 is t = 946.42..., between table entries 946 and 947.
  EXPECT_NEAR(sig[1], s.TToSigma(999.0f - 999.0f / 19.0f), 1e-6 * sig[1]);
}

TEST(MakeSigmasTest, KarrasMatchesReference) {
  const NoiseSchedule s;
  const std::vector<float> sig = MakeSigmas(s, Scheduler::kKarras, 20);
  ASSERT_EQ(sig.size(), 21u);
  const float head[] = {14.6147f, 11.7254f, 9.3402f};
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(sig[i], head[i], 6e-5) << i;
  EXPECT_NEAR(sig[18], 0.0485f, 6e-5);
  EXPECT_NEAR(sig[19], 0.0292f, 6e-5);
  EXPECT_EQ(sig[20], 0.0f);
  EXPECT_NEAR(sig[0], s.sigma_max(), 1e-5);
  EXPECT_NEAR(sig[19], s.sigma_min(), 1e-7);
  // rho = 7: the 7th roots are evenly spaced.
  const double step = std::pow(sig[1], 1.0 / 7) - std::pow(sig[0], 1.0 / 7);
  for (int i = 1; i < 19; ++i) {
    EXPECT_NEAR(std::pow(sig[i + 1], 1.0 / 7) - std::pow(sig[i], 1.0 / 7), step, 1e-6) << i;
  }
}

TEST(MakeSigmasTest, MatchesGoldenSigmas) {
  if (!std::filesystem::exists(kGolden)) GTEST_SKIP() << "no goldens at " << kGolden;
  const NoiseSchedule s;
  {
    SCOPED_TRACE("euler_128: discrete, 4 steps");
    ExpectClose(MakeSigmas(s, Scheduler::kDiscrete, 4), ReadVector(kGolden + "/euler_128/sigmas.npy"));
  }
  {
    SCOPED_TRACE("euler_a_128: discrete, 4 steps");
    ExpectClose(MakeSigmas(s, Scheduler::kDiscrete, 4), ReadVector(kGolden + "/euler_a_128/sigmas.npy"));
  }
  {
    SCOPED_TRACE("dpmpp2m_karras_192x128: karras, 5 steps");
    ExpectClose(MakeSigmas(s, Scheduler::kKarras, 5),
                ReadVector(kGolden + "/dpmpp2m_karras_192x128/sigmas.npy"));
  }
}

TEST(MakeSigmasTest, EdgeStepCounts) {
  const NoiseSchedule s;
  for (Scheduler sched : AllSchedulers()) {
    SCOPED_TRACE(std::string(ToString(sched)));
    EXPECT_TRUE(MakeSigmas(s, sched, 0).empty());
    EXPECT_TRUE(MakeSigmas(s, sched, -3).empty());
    const std::vector<float> one = MakeSigmas(s, sched, 1);
    ASSERT_EQ(one.size(), 2u);
    EXPECT_NEAR(one[0], s.sigma_max(), 1e-5);
    EXPECT_EQ(one[1], 0.0f);
    const std::vector<float> two = MakeSigmas(s, sched, 2);
    ASSERT_EQ(two.size(), 3u);
    EXPECT_NEAR(two[0], s.sigma_max(), 1e-5);
    EXPECT_NEAR(two[1], s.sigma_min(), 1e-7);
    for (int steps : {3, 10, 50, 1000}) {
      const std::vector<float> v = MakeSigmas(s, sched, steps);
      ASSERT_EQ(v.size(), static_cast<size_t>(steps) + 1);
      EXPECT_EQ(v.back(), 0.0f);
      for (size_t i = 1; i < v.size(); ++i) ASSERT_LT(v[i], v[i - 1]) << steps << " " << i;
    }
  }
  // 1000 discrete steps visit every table entry.
  const std::vector<float> all = MakeSigmas(s, Scheduler::kDiscrete, 1000);
  for (int k = 0; k < 1000; ++k) ASSERT_NEAR(all[k], s.sigmas()[999 - k], 2e-6 * all[k]) << k;
}

TEST(SchedulerTest, NamesRoundTrip) {
  EXPECT_EQ(AllSchedulers().size(), 2u);
  for (Scheduler sched : AllSchedulers()) {
    EXPECT_EQ(ParseScheduler(ToString(sched)), sched);
  }
  EXPECT_EQ(ToString(Scheduler::kDiscrete), "discrete");
  EXPECT_EQ(ToString(Scheduler::kKarras), "karras");
  EXPECT_EQ(ParseScheduler("Karras"), Scheduler::kKarras);
  EXPECT_FALSE(ParseScheduler("exponential").has_value());
  EXPECT_FALSE(ParseScheduler("").has_value());
}

}  // namespace
}  // namespace sdr
