// Noise generators vs the references: published Philox vectors and the golden noise.npy files
// ("cuda"), and the real torch CPU randn run through /usr/bin/python3 ("cpu").
#include "sampling/rng.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "formats/npy.h"
#include "testing/ckpt_fixtures.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

using testing::TempDir;

std::vector<float> Draw(NoiseGenerator& g, size_t n) {
  std::vector<float> v(n);
  g.Randn(v);
  return v;
}

void ExpectPrefix(const std::vector<float>& got, const std::vector<float>& want, float tol,
                  const std::string& what) {
  ASSERT_GE(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], tol) << what << " element " << i;
  }
}

TEST(RngKindTest, NamesRoundTrip) {
  EXPECT_EQ(ToString(RngKind::kCuda), "cuda");
  EXPECT_EQ(ToString(RngKind::kCpu), "cpu");
  for (RngKind k : {RngKind::kCuda, RngKind::kCpu}) {
    auto parsed = ParseRngKind(ToString(k));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, k);
    EXPECT_EQ(MakeNoiseGenerator(k, 1)->kind(), k);
  }
  EXPECT_EQ(ParseRngKind("CPU"), RngKind::kCpu);
  EXPECT_FALSE(ParseRngKind("gpu").has_value());
  EXPECT_FALSE(ParseRngKind("").has_value());
}

TEST(PhiloxRngTest, MatchesPublishedVectors) {
  auto g = MakeNoiseGenerator(RngKind::kCuda, 0);
  ExpectPrefix(Draw(*g, 4), {-0.92466241f, -0.42534393f, -2.64384580f, 0.14518386f}, 1e-6f,
               "seed 0");

  g->Seed(42);
  ExpectPrefix(Draw(*g, 8),
               {0.19401887f, 2.16137385f, -0.17205061f, 0.84906006f, -1.92439914f, 0.65298545f,
                -0.64944106f, -0.81752473f},
               1e-6f, "seed 42 draw 0");
  ExpectPrefix(Draw(*g, 4), {0.13913755f, -0.10821585f, -0.71742201f, 0.75664860f}, 1e-6f,
               "seed 42 draw 1");
}

TEST(PhiloxRngTest, ElementDependsOnlyOnIndexAndDrawAndSeedResets) {
  auto g = MakeNoiseGenerator(RngKind::kCuda, 42);
  const std::vector<float> long_draw = Draw(*g, 1000);
  g->Seed(42);
  const std::vector<float> short_draw = Draw(*g, 10);
  for (size_t i = 0; i < short_draw.size(); ++i) EXPECT_EQ(short_draw[i], long_draw[i]);
  // The second draw differs from the first; re-seeding restarts at offset 0.
  const std::vector<float> second = Draw(*g, 10);
  EXPECT_NE(second[0], long_draw[0]);
  g->Seed(42);
  EXPECT_EQ(Draw(*g, 10), short_draw);
  // The high 32 bits of the seed are part of the key.
  auto hi = MakeNoiseGenerator(RngKind::kCuda, (uint64_t{1} << 32) | 42);
  EXPECT_NE(Draw(*hi, 10), short_draw);
}

TEST(PhiloxRngTest, StatisticsLookNormal) {
  auto g = MakeNoiseGenerator(RngKind::kCuda, 7);
  const std::vector<float> v = Draw(*g, 1 << 16);
  double sum = 0, sum2 = 0;
  for (float x : v) {
    ASSERT_TRUE(std::isfinite(x));
    sum += x;
    sum2 += double(x) * x;
  }
  const double mean = sum / v.size(), var = sum2 / v.size() - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(var, 1.0, 0.02);
}

// The first draw of each golden case (latent [1,4,H/8,W/8] at the case's seed).
TEST(PhiloxRngTest, MatchesGoldenNoise) {
  struct Case {
    const char* dir;
    uint64_t seed;
  };
  const Case cases[] = {{"euler_128", 42}, {"dpmpp2m_karras_192x128", 1234}, {"euler_a_128", 7}};
  for (const Case& c : cases) {
    const std::string path = std::string(SDR_SHARED_DIR) + "/golden/sd15-rand/" + c.dir + "/noise.npy";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing " << path;
    auto want = ReadNpy(path);
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    ASSERT_EQ(want->shape().size(), 4u) << path;
    auto g = MakeNoiseGenerator(RngKind::kCuda, c.seed);
    const std::vector<float> got = Draw(*g, static_cast<size_t>(want->numel()));
    const float* w = want->data<float>();
    float max_diff = 0;
    for (size_t i = 0; i < got.size(); ++i) max_diff = std::max(max_diff, std::fabs(got[i] - w[i]));
    EXPECT_LE(max_diff, 1e-5f) << path;
  }
}

TEST(Mt19937RngTest, MatchesPublishedVector) {
  auto g = MakeNoiseGenerator(RngKind::kCpu, 42);
  ExpectPrefix(Draw(*g, 8), {0.33669037f, 0.12880941f, 0.23446237f, 0.23033303f}, 1e-6f,
               "cpu seed 42");
}

TEST(Mt19937RngTest, SeedUsesLow32BitsAndResetsCache) {
  auto a = MakeNoiseGenerator(RngKind::kCpu, 42);
  auto b = MakeNoiseGenerator(RngKind::kCpu, (uint64_t{5} << 32) | 42);
  EXPECT_EQ(Draw(*a, 20), Draw(*b, 20));
  // A size-1 draw leaves the pair's second value cached; Seed() must drop it.
  a->Seed(42);
  const std::vector<float> first = Draw(*a, 1);
  a->Seed(42);
  EXPECT_EQ(Draw(*a, 1), first);
  EXPECT_NE(Draw(*a, 1), first);  // the cached second value of the pair
}

// The real torch.randn on the CPU, for every path: scalar (n < 16, with its cached second
// value across draws), whole blocks of 16, and the recomputed tail.
TEST(Mt19937RngTest, MatchesTorchCpuRandn) {
  if (!testing::HaveTorch()) GTEST_SKIP() << "/usr/bin/python3 with torch not available";
  struct Sequence {
    uint64_t seed;
    std::vector<size_t> draws;
  };
  std::vector<Sequence> seqs;
  for (uint64_t seed : {0ull, 42ull, 1234ull}) {
    for (size_t n : {1, 7, 8, 15, 16, 17, 100, 1024}) seqs.push_back({seed, {n, n}});
  }
  seqs.push_back({5, {3, 20, 1, 1, 33, 2, 16}});
  seqs.push_back({4294967295ull, {1, 4096}});

  TempDir dir;
  const std::string out = dir.File("torch.f32");
  std::string script = "import torch, struct\nf = open('" + out + "', 'wb')\n";
  for (const Sequence& s : seqs) {
    script += "torch.manual_seed(" + std::to_string(s.seed) + ")\n";
    for (size_t n : s.draws) {
      script += "f.write(torch.randn(" + std::to_string(n) + ", dtype=torch.float32).numpy().tobytes())\n";
    }
  }
  script += "f.close()\n";
  std::string log;
  ASSERT_EQ(testing::RunPython(script, &log), 0) << log;
  const std::string bytes = testing::ReadFileBytes(out);

  size_t pos = 0;
  int mismatches = 0;
  for (const Sequence& s : seqs) {
    auto g = MakeNoiseGenerator(RngKind::kCpu, s.seed);
    for (size_t d = 0; d < s.draws.size(); ++d) {
      const size_t n = s.draws[d];
      ASSERT_LE(pos + n * 4, bytes.size());
      std::vector<float> want(n);
      std::memcpy(want.data(), bytes.data() + pos, n * 4);
      pos += n * 4;
      const std::vector<float> got = Draw(*g, n);
      for (size_t i = 0; i < n; ++i) {
        // 1e-6 absolute, relative for the rare |z| > 1 (1-ulp differences in sin/cos/log).
        const float tol = 1e-6f * std::max(1.0f, std::fabs(want[i]));
        if (std::fabs(got[i] - want[i]) > tol && ++mismatches < 10) {
          ADD_FAILURE() << "seed " << s.seed << " draw " << d << " (n=" << n << ") element " << i
                        << ": got " << got[i] << " want " << want[i];
        }
      }
    }
  }
  EXPECT_EQ(pos, bytes.size());
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace sdr
