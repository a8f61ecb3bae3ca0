// Winograd F(6x6, 3x3), F(4x4, 3x3) and F(2x2, 3x3), U streamed and fused, against the direct
// convolution: sizes that are not multiples of 4 or 8, several chunks of tiles, output channels
// and (fused) input channels, the fused biases and residual, f16 and q8_0 weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "backends/cpu/tile_gemm.h"
#include "backends/cpu/winograd.h"
#include "core/half.h"
#include "core/quant.h"
#include "testing/reference_ops.h"

namespace sdr::cpu {
namespace {

TEST(WinogradTest, MatchesTheDirectConvolution) {
  if (!TileGemmAvailable()) GTEST_SKIP() << "no AVX2/FMA/F16C";
  struct Case {
    int64_t b, cin, h, w, cout;
    bool extras;
    DType wdt;  // the stored weights' dtype
    WinogradBudget budget = {};
  };
  // Budgets small enough to reach every path at small sizes, in floats: for 24 channels (F4: 864
  // per tile, F2: 384), bands of three tile rows of 29 columns, the last one ragged, and blocks of
  // 16 (F4) or 32 (F2) of the 40 output channels, the last one partial; for 16 channels, each
  // image of two alone in its pass (F4) or in two bands (F2).
  // Fused: F4 in pieces of 16 of the 24 input channels (16 + 8), F6 of 8, F2 in one; of the 16
  // channels F4 and F6 in pieces of 8.
  const WinogradBudget bands_and_blocks{36 * 24 * 24, 36 * 24 * 16, 0, 36 * 16 * 16};
  const WinogradBudget image_by_image{36 * 16 * 25, 16 << 20, 16 << 20, 36 * 16 * 8};
  const DType f32 = DType::kF32, f16 = DType::kF16, q8 = DType::kQ8_0;
  for (const Case& t : {Case{1, 8, 16, 16, 16, false, f32}, Case{2, 13, 17, 23, 21, true, f32},
                        Case{1, 64, 33, 31, 40, true, f16}, Case{2, 320, 16, 16, 320, true, f32},
                        Case{1, 3, 20, 18, 17, false, f16},
                        // q8_0 kernels quantized by [cout, cin*9] rows (blocks span kernel rows)
                        Case{1, 64, 33, 31, 40, true, q8}, Case{2, 32, 20, 24, 24, false, q8},
                        Case{2, 24, 37, 29, 40, true, f16, bands_and_blocks},
                        Case{2, 16, 20, 20, 24, true, f32, image_by_image}}) {
    const int64_t hw = t.h * t.w;
    const auto x = ref::RandomVector(t.b * t.cin * hw, 1);
    auto wt = ref::RandomVector(t.cout * t.cin * 9, 2, 0.2f);
    // The stored weights, and wt = their values as f32 for the direct convolution.
    std::vector<uint16_t> w16(wt.size());
    std::vector<uint8_t> wq;
    if (t.wdt == f16) {
      for (size_t i = 0; i < wt.size(); ++i) {
        w16[i] = F32ToF16(wt[i]);
        wt[i] = F16ToF32(w16[i]);
      }
    } else if (t.wdt == q8) {
      wq.resize(*DTypeBytes(q8, wt.size()));
      ASSERT_TRUE(Quantize(q8, wt.data(), static_cast<int64_t>(wt.size()), wq.data()).ok());
      ASSERT_TRUE(Dequantize(q8, wq.data(), static_cast<int64_t>(wt.size()), wt.data()).ok());
    }
    const auto bias = ref::RandomVector(t.cout, 3), cb = ref::RandomVector(t.b * t.cout, 4);
    const auto res = ref::RandomVector(t.b * t.cout * hw, 5);
    std::vector<float> want(static_cast<size_t>(t.b * t.cout * hw)), got(want.size());
    for (int64_t i = 0; i < t.b; ++i) {
      float* y = want.data() + i * t.cout * hw;
      ref::Conv2d(x.data() + i * t.cin * hw, t.cin, t.h, t.w, wt.data(), bias.data(), t.cout, 3, 3, 1, 1, y);
      if (t.extras) {
        for (int64_t c = 0; c < t.cout; ++c)
          for (int64_t q = 0; q < hw; ++q) y[c * hw + q] += cb[static_cast<size_t>(i * t.cout + c)] + res[static_cast<size_t>((i * t.cout + c) * hw + q)];
      }
    }
    WinogradConv c;
    c.x = x.data();
    c.b = t.b, c.cin = t.cin, c.h = t.h, c.w = t.w, c.cout = t.cout;
    c.weight = t.wdt == f16 ? static_cast<const void*>(w16.data())
               : t.wdt == q8 ? static_cast<const void*>(wq.data())
                             : static_cast<const void*>(wt.data());
    c.weight_dtype = t.wdt;
    c.bias = bias.data();
    c.channel_bias = t.extras ? cb.data() : nullptr;
    c.residual = t.extras ? res.data() : nullptr;
    c.y = got.data();
    c.budget = t.budget;
    for (WinogradU mode : {WinogradU::kStreamed, WinogradU::kFused}) {
      for (int64_t tile : {6, 4, 2}) {
        c.tile = tile;
        c.u_mode = mode;
        std::fill(got.begin(), got.end(), 0.0f);
        WinogradConv3x3(c);
        EXPECT_LT(ref::RelL2(want.data(), got.data(), static_cast<int64_t>(want.size())), 2e-5)
            << "F(" << tile << "x" << tile << ") " << (mode == WinogradU::kFused ? "fused " : "streamed ") << t.b
            << "x" << t.cin << "x" << t.h << "x" << t.w << "->" << t.cout << " " << DTypeName(t.wdt);
      }
    }
  }
}

}  // namespace
}  // namespace sdr::cpu
