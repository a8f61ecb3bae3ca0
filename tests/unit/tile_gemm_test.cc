// TileGemm against the reference GEMM: every operand kind and stored dtype, odd sizes that leave
// partial register tiles and blocks, depths past one packed block, and the fused epilogue.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backends/cpu/ops.h"
#include "backends/cpu/tile_gemm.h"
#include "core/half.h"
#include "core/quant.h"
#include "core/thread_pool.h"
#include "testing/reference_ops.h"

namespace sdr::cpu {
namespace {

// Reference C = A B with A [m, k] and B [k, n] dense row-major (float).
std::vector<float> RefGemm(const std::vector<float>& a, const std::vector<float>& b, int64_t m, int64_t n, int64_t k) {
  std::vector<float> c(static_cast<size_t>(m * n));
  ref::Gemm(false, false, m, n, k, 1.0f, a.data(), b.data(), 0.0f, c.data());
  return c;
}

std::vector<float> Transposed(const std::vector<float>& x, int64_t rows, int64_t cols) {
  std::vector<float> t(x.size());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) t[static_cast<size_t>(j * rows + i)] = x[static_cast<size_t>(i * cols + j)];
  return t;
}

TEST(TileGemmTest, MatchesTheReferenceForEveryShapeAndOperandKind) {
  if (!TileGemmAvailable()) GTEST_SKIP() << "no AVX2/FMA/F16C";
  struct Size {
    int64_t m, n, k;
  };
  for (const Size& s : {Size{1, 1, 1}, Size{6, 16, 8}, Size{7, 17, 9}, Size{5, 3, 300}, Size{77, 64, 768},
                        Size{150, 1100, 513}, Size{64, 40, 77}, Size{13, 2050, 31}, Size{9, 20, 384}, Size{8, 33, 385}}) {
    const auto a = ref::RandomVector(s.m * s.k, 1);
    const auto b = ref::RandomVector(s.k * s.n, 2);
    const auto want = RefGemm(a, b, s.m, s.n, s.k);
    // B as rows [k, n], and as columns (the transpose of an [n, k] matrix).
    const auto bt = Transposed(b, s.k, s.n);
    for (int kind = 0; kind < 2; ++kind) {
      std::vector<float> c(static_cast<size_t>(s.m * s.n), -7.0f);
      const GemmOperand bo = kind == 0 ? GemmOperand::Rows(b.data(), DType::kF32, s.n)
                                       : GemmOperand::Columns(bt.data(), DType::kF32, s.k);
      TileGemm(s.m, s.n, s.k, GemmOperand::Rows(a.data(), DType::kF32, s.k), bo, c.data(), s.n, {});
      EXPECT_LT(ref::RelL2(want.data(), c.data(), s.m * s.n), 1e-5) << s.m << "x" << s.n << "x" << s.k << " kind " << kind;
    }
  }
}

// A tall GEMM (many rows, as a Linear over 64x64 tokens) packs B once into panels the threads
// share and hands out blocks of rows as threads come free; a wide one (many columns) does the
// same with A and blocks of columns: the same values, bit for bit, as the whole GEMM on one
// thread (inside a pool task), for f32 and f16 Linear weights, with the epilogue, ragged M and N
// and a K of several depth blocks.
TEST(TileGemmTest, TallAndWideGemmsOnSharedPanelsEqualOneThreadBitForBit) {
  if (!TileGemmAvailable()) GTEST_SKIP() << "no AVX2/FMA/F16C";
  if (ThreadPool::Shared().num_threads() < 2) GTEST_SKIP() << "one thread: nothing is shared";
  struct Size {
    int64_t m, n, k;
  };
  for (const Size& s : {Size{1301, 40, 320}, Size{2000, 3, 513}, Size{1500, 1500, 64}, Size{40, 2100, 320},
                        Size{7, 2500, 513}}) {
    const auto a = ref::RandomVector(s.m * s.k, 1);
    const auto w = ref::RandomVector(s.n * s.k, 2, 0.05f);
    std::vector<uint16_t> w16(w.size());
    for (size_t i = 0; i < w.size(); ++i) w16[i] = F32ToF16(w[i]);
    const auto bias = ref::RandomVector(s.n, 3), res = ref::RandomVector(s.m * s.n, 4);
    const GemmEpilogue e{nullptr, bias.data(), Activation::kGelu, res.data(), s.n};
    for (int kind = 0; kind < 2; ++kind) {
      const GemmOperand bo = kind == 0 ? GemmOperand::Columns(w.data(), DType::kF32, s.k)
                                       : GemmOperand::Columns(w16.data(), DType::kF16, s.k);
      const GemmOperand ao = GemmOperand::Rows(a.data(), DType::kF32, s.k);
      std::vector<float> shared(static_cast<size_t>(s.m * s.n)), alone(shared.size());
      TileGemm(s.m, s.n, s.k, ao, bo, shared.data(), s.n, e);
      ThreadPool pool(2);
      pool.ParallelFor(2, [&](int64_t b0, int64_t) {
        if (b0 == 0) TileGemm(s.m, s.n, s.k, ao, bo, alone.data(), s.n, e);  // InTask: one slice
      });
      EXPECT_EQ(shared, alone) << s.m << "x" << s.n << "x" << s.k << " kind " << kind;
    }
  }
}

TEST(TileGemmTest, ReadsF16Bf16AndQuantizedWeightsInPlace) {
  if (!TileGemmAvailable()) GTEST_SKIP() << "no AVX2/FMA/F16C";
  // k: whole q8_0 (32) and K-quant (256) blocks; 608 = 19 q8_0 blocks, in depth blocks that start
  // past 256-multiples (224 + 224 + 160), 640 the same for f16; 77 (f16, bf16: no blocks) ends in
  // taps past the last whole eight.
  for (const int64_t k : {512, 608, 640, 77}) {
    const int64_t m = 37, n = 45;
    const auto x = ref::RandomVector(m * k, 3);
    auto w = ref::RandomVector(n * k, 4, 0.05f);  // a Linear weight [n, k]
    // Round the weight to each storage type, then compare against f32 math on the rounded values.
    for (DType dt : {DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_K}) {
      if (k % 256 != 0 && dt == DType::kQ4_K) continue;  // a K-quant row is whole 256-blocks
      if (k % 32 != 0 && dt == DType::kQ8_0) continue;   // a q8_0 row is whole 32-blocks
      std::vector<uint8_t> stored(*DTypeBytes(dt, static_cast<uint64_t>(n * k)));
      std::vector<float> rounded(w.size());
      if (dt == DType::kF16 || dt == DType::kBF16) {
        auto* h = reinterpret_cast<uint16_t*>(stored.data());
        for (size_t i = 0; i < w.size(); ++i) {
          h[i] = dt == DType::kF16 ? F32ToF16(w[i]) : F32ToBF16(w[i]);
          rounded[i] = dt == DType::kF16 ? F16ToF32(h[i]) : BF16ToF32(h[i]);
        }
      } else {
        ASSERT_TRUE(Quantize(dt, w.data(), n * k, stored.data()).ok());
        ASSERT_TRUE(Dequantize(dt, stored.data(), n * k, rounded.data()).ok());
      }
      const auto want = RefGemm(x, Transposed(rounded, n, k), m, n, k);
      std::vector<float> c(static_cast<size_t>(m * n));
      // As B (Linear: y = x W^T) and as A (conv: y = W col).
      TileGemm(m, n, k, GemmOperand::Rows(x.data(), DType::kF32, k), GemmOperand::Columns(stored.data(), dt, k),
               c.data(), n, {});
      EXPECT_LT(ref::RelL2(want.data(), c.data(), m * n), 1e-5) << DTypeName(dt) << " as B, k " << k;
      const auto xt = Transposed(x, m, k);  // [k, m]
      std::vector<float> ct(static_cast<size_t>(n * m));
      TileGemm(n, m, k, GemmOperand::Rows(stored.data(), dt, k), GemmOperand::Rows(xt.data(), DType::kF32, m),
               ct.data(), m, {});
      EXPECT_LT(ref::RelL2(Transposed(want, m, n).data(), ct.data(), m * n), 1e-5) << DTypeName(dt) << " as A, k " << k;
    }
  }
}

TEST(TileGemmTest, Im2colOperandIsTheConvolution) {
  if (!TileGemmAvailable()) GTEST_SKIP() << "no AVX2/FMA/F16C";
  struct Conv {
    int64_t cin, h, w, cout, k, stride, pad;
  };
  for (const Conv& c : {Conv{3, 9, 7, 5, 3, 1, 1}, Conv{32, 17, 19, 20, 3, 2, 1}, Conv{8, 6, 6, 4, 1, 1, 0},
                        Conv{40, 33, 8, 24, 3, 1, 1}}) {
    const int64_t ho = (c.h + 2 * c.pad - c.k) / c.stride + 1, wo = (c.w + 2 * c.pad - c.k) / c.stride + 1;
    const auto x = ref::RandomVector(c.cin * c.h * c.w, 5);
    const auto wt = ref::RandomVector(c.cout * c.cin * c.k * c.k, 6);
    std::vector<float> want(static_cast<size_t>(c.cout * ho * wo)), got(want.size());
    ref::Conv2d(x.data(), c.cin, c.h, c.w, wt.data(), nullptr, c.cout, c.k, c.k, c.stride, c.pad, want.data());
    GemmOperand b;
    b.kind = GemmOperand::Kind::kIm2col;
    b.data = x.data();
    b.c = c.cin, b.h = c.h, b.w = c.w, b.kh = c.k, b.kw = c.k, b.stride = c.stride, b.pad = c.pad, b.ho = ho, b.wo = wo;
    TileGemm(c.cout, ho * wo, c.cin * c.k * c.k, GemmOperand::Rows(wt.data(), DType::kF32, c.cin * c.k * c.k), b,
             got.data(), ho * wo, {});
    EXPECT_LT(ref::RelL2(want.data(), got.data(), static_cast<int64_t>(want.size())), 1e-5) << c.cin << "x" << c.h;
  }
}

TEST(TileGemmTest, EpilogueAddsBiasesThenActivationThenResidual) {
  if (!TileGemmAvailable()) GTEST_SKIP() << "no AVX2/FMA/F16C";
  const int64_t m = 13, n = 150, k = 300;  // n: pairs of column panels (6 x 32 tiles with AVX-512), a partial one
  const auto a = ref::RandomVector(m * k, 7), b = ref::RandomVector(k * n, 8, 0.1f);
  const auto rb = ref::RandomVector(m, 9), cb = ref::RandomVector(n, 10), res = ref::RandomVector(m * n, 11);
  for (Activation act : {Activation::kNone, Activation::kSilu, Activation::kGelu, Activation::kQuickGelu}) {
    auto want = RefGemm(a, b, m, n, k);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        float v = want[static_cast<size_t>(i * n + j)] + rb[static_cast<size_t>(i)] + cb[static_cast<size_t>(j)];
        switch (act) {
          case Activation::kNone: break;
          case Activation::kSilu: v = ref::Silu(v); break;
          case Activation::kGelu: v = ref::Gelu(v); break;
          case Activation::kQuickGelu: v = ref::QuickGelu(v); break;
        }
        want[static_cast<size_t>(i * n + j)] = v + res[static_cast<size_t>(i * n + j)];
      }
    std::vector<float> c(static_cast<size_t>(m * n));
    GemmEpilogue e{rb.data(), cb.data(), act, res.data(), n};
    TileGemm(m, n, k, GemmOperand::Rows(a.data(), DType::kF32, k), GemmOperand::Rows(b.data(), DType::kF32, n), c.data(),
             n, e);
    EXPECT_LT(ref::RelL2(want.data(), c.data(), m * n), 1e-5) << static_cast<int>(act);
  }
  // Without an activation: every combination of the row bias, column bias and residual (a
  // convolution has a row bias only, a Linear a column bias, some with a residual).
  for (int parts = 1; parts < 8; ++parts) {
    const bool with_rb = (parts & 1) != 0, with_cb = (parts & 2) != 0, with_res = (parts & 4) != 0;
    auto want = RefGemm(a, b, m, n, k);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        float& v = want[static_cast<size_t>(i * n + j)];
        v += (with_rb ? rb[static_cast<size_t>(i)] : 0.0f) + (with_cb ? cb[static_cast<size_t>(j)] : 0.0f);
        if (with_res) v += res[static_cast<size_t>(i * n + j)];
      }
    std::vector<float> c(static_cast<size_t>(m * n));
    GemmEpilogue e{with_rb ? rb.data() : nullptr, with_cb ? cb.data() : nullptr, Activation::kNone,
                   with_res ? res.data() : nullptr, n};
    TileGemm(m, n, k, GemmOperand::Rows(a.data(), DType::kF32, k), GemmOperand::Rows(b.data(), DType::kF32, n), c.data(),
             n, e);
    EXPECT_LT(ref::RelL2(want.data(), c.data(), m * n), 1e-5) << "row bias " << with_rb << ", column bias " << with_cb
                                                              << ", residual " << with_res;
  }
}

}  // namespace
}  // namespace sdr::cpu
