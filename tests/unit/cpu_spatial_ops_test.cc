// Convolution, GroupNorm, upsampling and transpose kernels against their references.
#include <gtest/gtest.h>

#include "backends/cpu/ops.h"
#include "testing/reference_ops.h"

namespace sdr {
namespace {

struct ConvCase {
  int64_t cin, h, w, cout, k, stride, pad;
};

TEST(CpuSpatialOpsTest, Conv2dMatchesDirectConvolution) {
  const ConvCase cases[] = {
      {4, 16, 16, 8, 3, 1, 1},  {5, 9, 7, 6, 3, 2, 1},   {8, 10, 10, 4, 1, 1, 0},
      {3, 12, 13, 5, 3, 1, 0},  {2, 1, 1, 3, 3, 1, 1},   {16, 64, 64, 4, 3, 1, 1},
  };
  for (const ConvCase& c : cases) {
    const int64_t ho = cpu::ConvOutSize(c.h, c.k, c.stride, c.pad), wo = cpu::ConvOutSize(c.w, c.k, c.stride, c.pad);
    auto x = ref::RandomVector(c.cin * c.h * c.w, 1);
    auto wt = ref::RandomVector(c.cout * c.cin * c.k * c.k, 2);
    auto b = ref::RandomVector(c.cout, 3);
    std::vector<float> y(static_cast<size_t>(c.cout * ho * wo)), y_ref(y.size());
    cpu::Conv2d(x.data(), c.cin, c.h, c.w, wt.data(), b.data(), c.cout, c.k, c.k, c.stride, c.pad, y.data());
    ref::Conv2d(x.data(), c.cin, c.h, c.w, wt.data(), b.data(), c.cout, c.k, c.k, c.stride, c.pad, y_ref.data());
    EXPECT_LT(ref::RelL2(y_ref.data(), y.data(), static_cast<int64_t>(y.size())), 1e-5)
        << c.cin << "x" << c.h << "x" << c.w << " k" << c.k << " s" << c.stride << " p" << c.pad;
  }
}

TEST(CpuSpatialOpsTest, Conv2dTilesLargeImagesCorrectly) {
  // 256 channels x 160 x 160: im2col needs 2304 x 25600 floats (> one 32 MB tile).
  const int64_t cin = 256, h = 160, w = 160, cout = 3;
  auto x = ref::RandomVector(cin * h * w, 4);
  auto wt = ref::RandomVector(cout * cin * 9, 5, 0.05f);
  std::vector<float> y(static_cast<size_t>(cout * h * w)), y_ref(y.size());
  cpu::Conv2d(x.data(), cin, h, w, wt.data(), nullptr, cout, 3, 3, 1, 1, y.data());
  ref::Conv2d(x.data(), cin, h, w, wt.data(), nullptr, cout, 3, 3, 1, 1, y_ref.data());
  EXPECT_LT(ref::RelL2(y_ref.data(), y.data(), static_cast<int64_t>(y.size())), 1e-5);
}

TEST(CpuSpatialOpsTest, GroupNormWithAndWithoutSilu) {
  const int64_t c = 64, hw = 50;
  auto x = ref::RandomVector(c * hw, 6, 2.0f);
  for (float& v : x) v += 3.0f;
  auto g = ref::RandomVector(c, 7);
  auto b = ref::RandomVector(c, 8);
  for (bool silu : {false, true}) {
    std::vector<float> y(x.size()), y_ref(x.size());
    cpu::GroupNorm(x.data(), g.data(), b.data(), y.data(), c, hw, 32, 1e-6f, silu);
    ref::GroupNorm(x.data(), g.data(), b.data(), y_ref.data(), c, hw, 32, 1e-6f, silu);
    EXPECT_LT(ref::RelL2(y_ref.data(), y.data(), c * hw), 1e-6) << silu;
  }
}

// A mean far larger than the spread (and an outlier) must not cancel the variance away, as
// E[x^2] - E[x]^2 in float would.
TEST(CpuSpatialOpsTest, GroupNormKeepsTheVarianceOfLargeMeansAndOutliers) {
  const int64_t c = 8, hw = 37;  // groups of 74 values: whole 8-lane blocks and a tail
  auto x = ref::RandomVector(c * hw, 10, 1.0f);
  for (float& v : x) v += 3000.0f;
  x[0] = 3000.0f + 40.0f;  // 40 standard deviations off the mean
  auto g = ref::RandomVector(c, 11);
  auto b = ref::RandomVector(c, 12);
  std::vector<float> y(x.size()), y_ref(x.size());
  cpu::GroupNorm(x.data(), g.data(), b.data(), y.data(), c, hw, 4, 1e-6f, false);
  ref::GroupNorm(x.data(), g.data(), b.data(), y_ref.data(), c, hw, 4, 1e-6f, false);
  EXPECT_LT(ref::RelL2(y_ref.data(), y.data(), c * hw), 1e-4);
}

TEST(CpuSpatialOpsTest, UpsampleAndTranspose) {
  const float x[2 * 2 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::vector<float> y(2 * 4 * 6);
  cpu::UpsampleNearest2x(x, 2, 2, 3, y.data());
  for (int c = 0; c < 2; ++c)
    for (int r = 0; r < 4; ++r)
      for (int q = 0; q < 6; ++q) EXPECT_EQ(y[static_cast<size_t>((c * 4 + r) * 6 + q)], x[(c * 2 + r / 2) * 3 + q / 2]);
  auto m = ref::RandomVector(37 * 70, 9);
  std::vector<float> t(m.size()), back(m.size());
  cpu::Transpose(m.data(), 37, 70, t.data());  // 8x8 blocks and ragged edges both ways
  for (int r = 0; r < 37; ++r)
    for (int c = 0; c < 70; ++c) ASSERT_EQ(t[static_cast<size_t>(c * 37 + r)], m[static_cast<size_t>(r * 70 + c)]);
  cpu::Transpose(t.data(), 70, 37, back.data());
  EXPECT_EQ(back, m);
  // Two threads' shares of the rows make the same matrix.
  std::vector<float> parts(m.size(), -1.0f);
  cpu::TransposeRows(m.data(), 37, 70, 0, 19, parts.data());
  cpu::TransposeRows(m.data(), 37, 70, 19, 37, parts.data());
  EXPECT_EQ(parts, t);
}

}  // namespace
}  // namespace sdr
