// Every CPU kernel against its plain reference (tests/testing/reference_ops.h).
#include <gtest/gtest.h>

#include <cmath>

#include "backends/cpu/ops.h"
#include "testing/reference_ops.h"

namespace sdr {
namespace {

TEST(CpuOpsTest, GemmMatchesReferenceForEveryTransposeCombination) {
  const int64_t m = 37, n = 29, k = 53;
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      auto a = ref::RandomVector(m * k, 1);
      auto b = ref::RandomVector(k * n, 2);
      auto c = ref::RandomVector(m * n, 3);
      auto c_ref = c;
      cpu::Gemm(ta, tb, m, n, k, 0.5f, a.data(), ta ? m : k, b.data(), tb ? k : n, 2.0f, c.data(), n);
      ref::Gemm(ta, tb, m, n, k, 0.5f, a.data(), b.data(), 2.0f, c_ref.data());
      EXPECT_LT(ref::RelL2(c_ref.data(), c.data(), m * n), 1e-6) << ta << tb;
    }
  }
}

TEST(CpuOpsTest, LinearAddsBiasToXTimesWTransposed) {
  const int64_t m = 5, n = 7, k = 11;
  auto x = ref::RandomVector(m * k, 4);
  auto w = ref::RandomVector(n * k, 5);
  auto bias = ref::RandomVector(n, 6);
  std::vector<float> y(static_cast<size_t>(m * n)), y_ref(static_cast<size_t>(m * n));
  cpu::Linear(x.data(), w.data(), bias.data(), y.data(), m, n, k);
  ref::Gemm(false, true, m, n, k, 1.0f, x.data(), w.data(), 0.0f, y_ref.data());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) y_ref[static_cast<size_t>(i * n + j)] += bias[static_cast<size_t>(j)];
  EXPECT_LT(ref::RelL2(y_ref.data(), y.data(), m * n), 1e-6);
  cpu::Linear(x.data(), w.data(), nullptr, y.data(), m, n, k);
  ref::Gemm(false, true, m, n, k, 1.0f, x.data(), w.data(), 0.0f, y_ref.data());
  EXPECT_LT(ref::RelL2(y_ref.data(), y.data(), m * n), 1e-6);
}

TEST(CpuOpsTest, LayerNormSoftmaxAndActivationsMatchReference) {
  const int64_t rows = 9, cols = 768;
  auto x = ref::RandomVector(rows * cols, 7, 3.0f);
  for (float& v : x) v += 5.0f;  // a large mean: catches naive variance formulas
  auto g = ref::RandomVector(cols, 8);
  auto b = ref::RandomVector(cols, 9);
  std::vector<float> y(x.size()), y_ref(x.size());
  cpu::LayerNorm(x.data(), g.data(), b.data(), y.data(), rows, cols, 1e-5f);
  ref::LayerNorm(x.data(), g.data(), b.data(), y_ref.data(), rows, cols, 1e-5f);
  EXPECT_LT(ref::RelL2(y_ref.data(), y.data(), rows * cols), 1e-6);

  auto s = ref::RandomVector(rows * cols, 10, 4.0f);
  auto s_ref = s;
  cpu::SoftmaxRows(s.data(), rows, cols);
  ref::SoftmaxRows(s_ref.data(), rows, cols);
  EXPECT_LT(ref::RelL2(s_ref.data(), s.data(), rows * cols), 1e-5);  // f32 sums over 768

  auto a = ref::RandomVector(4096, 11, 4.0f);
  auto q = a, gl = a, si = a;
  cpu::QuickGelu(q.data(), 4096);
  cpu::Gelu(gl.data(), 4096);
  cpu::Silu(si.data(), 4096);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(q[i], ref::QuickGelu(a[i]), 1e-5f * (1 + std::fabs(a[i])));
    EXPECT_NEAR(gl[i], ref::Gelu(a[i]), 1e-5f * (1 + std::fabs(a[i])));
    EXPECT_NEAR(si[i], ref::Silu(a[i]), 1e-5f * (1 + std::fabs(a[i])));
  }
}

TEST(CpuOpsTest, AttentionMatchesReferenceCausalAndNotAcrossBlocks) {
  for (bool causal : {false, true}) {
    const int64_t heads = 3, d = 16, lq = 300, lk = causal ? 300 : 77;  // lq > one 256-row block
    const int64_t w = heads * d;
    auto q = ref::RandomVector(lq * w, 12);
    auto k = ref::RandomVector(lk * w, 13);
    auto v = ref::RandomVector(lk * w, 14);
    std::vector<float> out(static_cast<size_t>(lq * w)), out_ref(out.size());
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    cpu::Attention(q.data(), w, k.data(), v.data(), w, out.data(), heads, lq, lk, d, scale, causal);
    ref::Attention(q.data(), k.data(), v.data(), out_ref.data(), heads, lq, lk, d, scale, causal);
    EXPECT_LT(ref::RelL2(out_ref.data(), out.data(), lq * w), 1e-5) << "causal " << causal;
  }
}

}  // namespace
}  // namespace sdr
