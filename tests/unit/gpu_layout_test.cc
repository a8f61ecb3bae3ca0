// The GPU backends' host-side layouts (backends/gpu_layout.h): NHWC activations with f16/bf16
// rounding, and conv kernels packed in the im2col column order, checked by running a convolution
// the way the cuda backend does (NHWC im2col rows, packed kernel, GEMM) against the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backends/gpu_layout.h"
#include "backends/reference/reference_kernels.h"
#include "core/half.h"
#include "testing/reference_ops.h"

namespace sdr {
namespace {

TEST(GpuLayoutTest, FeatureMapsAreNhwcAndRoundTrip) {
  const Shape s = {2, 3, 4, 5};  // [B, C, H, W]
  std::vector<float> x(120);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  std::vector<float> packed(120);
  PackActivation(x.data(), s, DType::kF32, packed.data());
  // element (b=1, c=2, h=3, w=4) sits at ((b * H + h) * W + w) * C + c
  EXPECT_EQ(packed[((1 * 4 + 3) * 5 + 4) * 3 + 2], x[((1 * 3 + 2) * 4 + 3) * 5 + 4]);
  std::vector<float> back(120);
  UnpackActivation(packed.data(), s, DType::kF32, back.data());
  EXPECT_EQ(back, x);
  // Other ranks keep their row-major layout.
  PackActivation(x.data(), {6, 20}, DType::kF32, packed.data());
  EXPECT_EQ(packed, x);
}

TEST(GpuLayoutTest, HalfPrecisionsRoundToNearestEven) {
  const std::vector<float> x = ref::RandomVector(1000, 7, 30.0f);
  for (DType d : {DType::kF16, DType::kBF16}) {
    std::vector<uint16_t> h(x.size());
    PackActivation(x.data(), {10, 100}, d, h.data());
    std::vector<float> back(x.size());
    UnpackActivation(h.data(), {10, 100}, d, back.data());
    for (size_t i = 0; i < x.size(); ++i) {
      const uint16_t want = d == DType::kF16 ? F32ToF16(x[i]) : F32ToBF16(x[i]);
      ASSERT_EQ(h[i], want) << i;
      EXPECT_NEAR(back[i], x[i], std::fabs(x[i]) * (d == DType::kF16 ? 1e-3 : 8e-3)) << i;
    }
  }
}

TEST(GpuLayoutTest, PackedKernelsPadToEightColumnsExceptPointwise) {
  EXPECT_EQ(ConvKernelColumns(320, 1), 320);
  EXPECT_EQ(ConvKernelColumns(3, 1), 3);
  EXPECT_EQ(ConvKernelColumns(320, 3), 2880);
  EXPECT_EQ(ConvKernelColumns(4, 3), 40);  // 36 -> 40
}

// The cuda backend's convolution on the host: im2col over NHWC (as Im2colNhwc writes it) times
// the packed kernel, against the reference's direct convolution.
TEST(GpuLayoutTest, Im2colTimesPackedKernelIsTheConvolution) {
  struct C {
    int64_t cin, h, w, cout, k, stride, pad;
  };
  for (const C& c : {C{3, 7, 9, 5, 3, 1, 1}, C{4, 8, 8, 6, 3, 2, 1}, C{5, 6, 5, 4, 1, 1, 0}}) {
    const int64_t ho = (c.h + 2 * c.pad - c.k) / c.stride + 1, wo = (c.w + 2 * c.pad - c.k) / c.stride + 1;
    const std::vector<float> x = ref::RandomVector(c.cin * c.h * c.w, 1);
    const std::vector<float> wt = ref::RandomVector(c.cout * c.cin * c.k * c.k, 2);
    std::vector<float> want(c.cout * ho * wo);
    reference::Conv2d(x.data(), c.cin, c.h, c.w, wt.data(), nullptr, c.cout, c.k, c.k, c.stride, c.pad, want.data());

    std::vector<float> xn(x.size());
    PackActivation(x.data(), {1, c.cin, c.h, c.w}, DType::kF32, xn.data());
    const int64_t kp = ConvKernelColumns(c.cin, c.k);
    std::vector<float> packed(c.cout * kp);
    PackConvKernel(wt.data(), c.cout, c.cin, c.k, DType::kF32, packed.data());
    std::vector<float> got(c.cout * ho * wo);  // NHWC: [ho * wo, cout]
    for (int64_t r = 0; r < ho * wo; ++r) {
      std::vector<float> col(kp, 0.0f);
      for (int64_t j = 0; j < c.k * c.k * c.cin; ++j) {  // Im2colNhwc's index arithmetic
        const int64_t ch = j % c.cin, tap = j / c.cin, kx = tap % c.k, ky = tap / c.k;
        const int64_t ox = r % wo, oy = r / wo;
        const int64_t iy = oy * c.stride - c.pad + ky, ix = ox * c.stride - c.pad + kx;
        if (iy >= 0 && iy < c.h && ix >= 0 && ix < c.w) col[j] = xn[(iy * c.w + ix) * c.cin + ch];
      }
      for (int64_t o = 0; o < c.cout; ++o) {
        double acc = 0;
        for (int64_t j = 0; j < kp; ++j) acc += static_cast<double>(col[j]) * packed[o * kp + j];
        got[r * c.cout + o] = static_cast<float>(acc);
      }
    }
    std::vector<float> got_nchw(got.size());
    UnpackActivation(got.data(), {1, c.cout, ho, wo}, DType::kF32, got_nchw.data());
    EXPECT_LT(ref::RelL2(want.data(), got_nchw.data(), static_cast<int64_t>(want.size())), 1e-6);
  }
}

}  // namespace
}  // namespace sdr
