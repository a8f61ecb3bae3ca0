// The register tiles on every instruction set this CPU has (AVX2 always, AVX-512 where present;
// with AVX-512 and a 48 KB L1 TileGemm and attention hand them two B panels at once):
// each output element is one FMA chain in k order (checked against std::fma, bit for bit), so
// TileGemm, the Winograd convolution, flash attention and a whole generation give the same bits
// whichever ISA runs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <vector>

#include "backends/cpu/flash_attention.h"
#include "backends/cpu/tile_gemm.h"
#include "backends/cpu/tile_gemm_kernel.h"
#include "backends/cpu/winograd.h"
#include "core/half.h"
#include "runtime/txt2img.h"
#include "testing/reference_ops.h"
#include "testing/tiny_model.h"

namespace sdr::cpu {
namespace {

using tile::KernelIsa;
using tile::kMr;
using tile::kNr;
using tile::ScopedKernelIsa;

std::vector<KernelIsa> Isas() {
  std::vector<KernelIsa> isas{KernelIsa::kAvx2};
  if (tile::BestKernelIsa() == KernelIsa::kAvx512) isas.push_back(KernelIsa::kAvx512);
  return isas;
}

// 64-byte aligned floats (the panels' alignment), freed with std::free.
struct Aligned {
  explicit Aligned(size_t n) : p(static_cast<float*>(std::aligned_alloc(64, (n * 4 + 63) / 64 * 64))) {}
  ~Aligned() { std::free(p); }
  float* p;
};

TEST(KernelIsaTest, EveryElementIsOneFmaChainInKOrderOnEveryIsa) {
  if (!TileGemmAvailable()) GTEST_SKIP() << "no AVX2/FMA/F16C";
  const int64_t ldc = 19;  // C rows wider than the tile: columns past 16 must stay untouched
  for (KernelIsa isa : Isas()) {
    ScopedKernelIsa scope(isa);
    for (int64_t kc : {1, 7, 40, 256}) {
      const int64_t a_step = kc * kMr + 8;  // each panel not right after the one before
      Aligned a(static_cast<size_t>(3 * a_step)), b(static_cast<size_t>(kc * kNr));
      const auto av = ref::RandomVector(3 * a_step, 1), bv = ref::RandomVector(kc * kNr, 2);
      std::copy(av.begin(), av.end(), a.p);
      std::copy(bv.begin(), bv.end(), b.p);
      for (int64_t rows = 1; rows <= 20; ++rows) {
        for (bool accumulate : {false, true}) {
          const auto c0 = ref::RandomVector(3 * kMr * ldc, 3);
          std::vector<float> c = c0;
          const int64_t stepped = tile::MicroKernelPanels(rows, kc, a.p, a_step, b.p, c.data(), ldc, accumulate);
          // One panel, two, three (13-16 rows), two again past 16.
          EXPECT_EQ(stepped, rows <= kMr ? kMr : rows <= 2 * kMr || rows > 16 ? 2 * kMr : 3 * kMr) << rows;
          for (int64_t r = 0; r < std::min(rows, stepped); ++r) {
            const float* ar = a.p + r / kMr * a_step + r % kMr;
            for (int64_t j = 0; j < ldc; ++j) {
              const float got = c[static_cast<size_t>(r * ldc + j)], before = c0[static_cast<size_t>(r * ldc + j)];
              if (j >= kNr) {
                ASSERT_EQ(got, before) << "column " << j << " written";
                continue;
              }
              float acc = 0.0f;
              for (int64_t k = 0; k < kc; ++k) acc = std::fma(ar[k * kMr], b.p[k * kNr + j], acc);
              const float want = accumulate ? before + acc : acc;
              ASSERT_EQ(got, want) << "isa " << static_cast<int>(isa) << " kc " << kc << " rows " << rows << " r " << r
                                   << " j " << j << " accumulate " << accumulate;
            }
          }
        }
      }
    }
  }
}

// One A panel against two B panels (apart by b_step, their C columns by c_step): the same FMA chains.
TEST(KernelIsaTest, ColumnPanelPairsAreTheSameFmaChainsOnEveryIsa) {
  if (!TileGemmAvailable()) GTEST_SKIP() << "no AVX2/FMA/F16C";
  const int64_t ldc = 40, c_step = 20;  // the second half's columns 20-35 of each row; 16-19, 36-39 untouched
  for (KernelIsa isa : Isas()) {
    ScopedKernelIsa scope(isa);
    for (int64_t kc : {1, 9, 40, 256}) {
      const int64_t b_step = kc * kNr + 48;  // the second B panel not right after the first
      Aligned a(static_cast<size_t>(kc * kMr)), b(static_cast<size_t>(b_step + kc * kNr));
      const auto av = ref::RandomVector(kc * kMr, 1), bv = ref::RandomVector(b_step + kc * kNr, 2);
      std::copy(av.begin(), av.end(), a.p);
      std::copy(bv.begin(), bv.end(), b.p);
      for (int64_t rows = 1; rows <= kMr; ++rows) {
        for (bool accumulate : {false, true}) {
          const auto c0 = ref::RandomVector(kMr * ldc, 3);
          std::vector<float> c = c0;
          tile::MicroKernelColumnPanels(rows, kc, a.p, b.p, b_step, c.data(), c_step, ldc, accumulate);
          for (int64_t r = 0; r < rows; ++r) {
            for (int64_t j = 0; j < ldc; ++j) {
              const float got = c[static_cast<size_t>(r * ldc + j)], before = c0[static_cast<size_t>(r * ldc + j)];
              const int64_t half = j < kNr ? 0 : (j >= c_step && j < c_step + kNr) ? 1 : -1;
              if (half < 0) {
                ASSERT_EQ(got, before) << "column " << j << " written";
                continue;
              }
              const float* bp = b.p + half * b_step + (j - half * c_step);
              float acc = 0.0f;
              for (int64_t k = 0; k < kc; ++k) acc = std::fma(a.p[k * kMr + r], bp[k * kNr], acc);
              ASSERT_EQ(got, accumulate ? before + acc : acc)
                  << "isa " << static_cast<int>(isa) << " kc " << kc << " rows " << rows << " r " << r << " j " << j;
            }
          }
        }
      }
    }
  }
}

// The same GEMMs, convolutions and attention on each ISA: equal bit for bit.
template <typename Run>
void ExpectSameBitsOnEveryIsa(const Run& run, const char* what) {
  const std::vector<KernelIsa> isas = Isas();
  if (isas.size() < 2) GTEST_SKIP() << "one ISA here (no AVX-512): nothing to compare";
  std::vector<float> want;
  {
    ScopedKernelIsa scope(KernelIsa::kAvx2);
    want = run();
  }
  ScopedKernelIsa scope(KernelIsa::kAvx512);
  EXPECT_EQ(run(), want) << what;
}

TEST(KernelIsaTest, TileGemmGivesTheSameBitsOnEveryIsa) {
  if (!TileGemmAvailable()) GTEST_SKIP() << "no AVX2/FMA/F16C";
  struct Size {
    int64_t m, n, k;
  };
  // Ragged rows (pairs of panels, a last single one, partial tiles), depth blocks, f16 weights,
  // the epilogue with and without an activation, tall (shared B) and wide (shared A) shapes.
  for (const Size& s : {Size{7, 17, 9}, Size{77, 64, 768}, Size{150, 1100, 513}, Size{1301, 40, 320},
                        Size{40, 2100, 320}}) {
    const auto a = ref::RandomVector(s.m * s.k, 1), w = ref::RandomVector(s.n * s.k, 2, 0.05f);
    std::vector<uint16_t> w16(w.size());
    for (size_t i = 0; i < w.size(); ++i) w16[i] = F32ToF16(w[i]);
    const auto bias = ref::RandomVector(s.n, 3), res = ref::RandomVector(s.m * s.n, 4);
    for (Activation act : {Activation::kNone, Activation::kGelu}) {
      const GemmEpilogue e{nullptr, bias.data(), act, res.data(), s.n};
      ExpectSameBitsOnEveryIsa(
          [&] {
            std::vector<float> c(static_cast<size_t>(s.m * s.n));
            TileGemm(s.m, s.n, s.k, GemmOperand::Rows(a.data(), DType::kF32, s.k),
                     GemmOperand::Columns(w16.data(), DType::kF16, s.k), c.data(), s.n, e);
            return c;
          },
          "TileGemm");
    }
  }
}

TEST(KernelIsaTest, WinogradConvolutionGivesTheSameBitsOnEveryIsa) {
  if (!TileGemmAvailable()) GTEST_SKIP() << "no AVX2/FMA/F16C";
  // Two images of 5 x 3 tiles (F(4x4)): 15 rows each, padded to 18: pairs of panels, a last
  // single one of three rows; F(2x2) and F(6x6) give other row counts.
  const int64_t b = 2, cin = 24, h = 20, w = 12, cout = 40;
  const auto x = ref::RandomVector(b * cin * h * w, 1), wt = ref::RandomVector(cout * cin * 9, 2, 0.2f);
  const auto bias = ref::RandomVector(cout, 3);
  for (WinogradU mode : {WinogradU::kStreamed, WinogradU::kFused}) {
    for (int64_t tile : {6, 4, 2}) {
      ExpectSameBitsOnEveryIsa(
          [&] {
            std::vector<float> y(static_cast<size_t>(b * cout * h * w));
            WinogradConv c;
            c.x = x.data();
            c.b = b, c.cin = cin, c.h = h, c.w = w, c.cout = cout;
            c.weight = wt.data();
            c.bias = bias.data();
            c.y = y.data();
            c.tile = tile;
            c.u_mode = mode;
            WinogradConv3x3(c);
            return y;
          },
          "Winograd");
    }
  }
}

TEST(KernelIsaTest, FlashAttentionGivesTheSameBitsOnEveryIsa) {
  if (!TileGemmAvailable()) GTEST_SKIP() << "no AVX2/FMA/F16C";
  // d = 40 (six panels and one of four dims) and 64; 77 text keys and 300 image keys (over one
  // chunk), causal and not.
  for (int64_t d : {40, 64}) {
    for (int64_t lk : {77, 300}) {
      for (bool causal : {false, true}) {
        const int64_t heads = 2, lq = causal ? lk : 100, width = heads * d;
        const auto q = ref::RandomVector(lq * width, 4), k = ref::RandomVector(lk * width, 5);
        const auto v = ref::RandomVector(lk * width, 6);
        ExpectSameBitsOnEveryIsa(
            [&] {
              std::vector<float> y(static_cast<size_t>(lq * width));
              FlashAttention(q.data(), width, k.data(), v.data(), width, y.data(), heads, lq, lk, d,
                             1.0f / std::sqrt(static_cast<float>(d)), causal);
              return y;
            },
            "FlashAttention");
      }
    }
  }
}

// A whole guided generation of the tiny model (text encoder, batch-2 UNet, VAE) on each ISA.
TEST(KernelIsaTest, GenerationGivesTheSameImageOnEveryIsa) {
  if (!TileGemmAvailable()) GTEST_SKIP() << "no AVX2/FMA/F16C";
  auto model = testing::TinySdModel();
  GenerateParams p;
  p.prompt = "a lighthouse at dusk";
  p.negative_prompt = "blurry";
  p.width = 96;
  p.height = 64;
  p.steps = 3;
  p.seed = 5;
  ExpectSameBitsOnEveryIsa(
      [&] {
        auto r = Generate(*model, p);
        EXPECT_TRUE(r.ok()) << r.status().ToString();
        if (!r.ok()) return std::vector<float>{};
        const Tensor& img = r->images.at(0).image;
        return std::vector<float>(img.data<float>(), img.data<float>() + img.numel());
      },
      "generation");
}

}  // namespace
}  // namespace sdr::cpu
