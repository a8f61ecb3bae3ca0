// GroupNorm, nearest upsampling and transposes over [C, H*W] feature maps.
#include <algorithm>
#include <cmath>

#include "backends/cpu/fast_math.h"
#include "backends/cpu/ops.h"
#include "backends/cpu/transpose8.h"

namespace sdr::cpu {

void GroupNorm(const float* x, const float* gamma, const float* beta, float* y, int64_t c, int64_t hw, int64_t groups,
               float eps, bool silu) {
  GroupNormRange(x, gamma, beta, y, c, hw, groups, 0, groups, eps, silu);
}

SDR_VECTOR_CLONES void GroupNormRange(const float* x, const float* gamma, const float* beta, float* y, int64_t c,
                                      int64_t hw, int64_t groups, int64_t g0, int64_t g1, float eps, bool silu) {
  const int64_t cg = c / groups;
  const int64_t n = cg * hw;
  for (int64_t g = g0; g < g1; ++g) {
    const float* xg = x + g * n;
    // Two passes in eight double lanes each: mean, then squared deviations.
    const double mean = SumLanes<double>(xg, n) / static_cast<double>(n);
    double sq_lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int k = 0; k < 8; ++k) {
        const double d = xg[i + k] - mean;
        sq_lanes[k] += d * d;
      }
    double sq = 0;
    for (; i < n; ++i) sq += (xg[i] - mean) * (xg[i] - mean);
    for (double l : sq_lanes) sq += l;
    const float inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(n) + eps));
    const float m = static_cast<float>(mean);
    for (int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) {
      const float a = inv * gamma[ch];
      const float b = beta[ch] - m * a;
      const float* xc = x + ch * hw;
      float* yc = y + ch * hw;
      if (silu) {
        for (int64_t i = 0; i < hw; i += kSigmoidBlock) {
          const int64_t len = std::min(kSigmoidBlock, hw - i);
          for (int64_t j = 0; j < len; ++j) yc[i + j] = xc[i + j] * a + b;
          SigmoidTimes(yc + i, 1.0f, yc + i, len);
        }
      } else {
        for (int64_t i = 0; i < hw; ++i) yc[i] = xc[i] * a + b;
      }
    }
  }
}

void UpsampleNearest2x(const float* x, int64_t c, int64_t h, int64_t w, float* y) {
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t r = 0; r < h; ++r) {
      const float* src = x + (ch * h + r) * w;
      float* d0 = y + (ch * 2 * h + 2 * r) * 2 * w;
      float* d1 = d0 + 2 * w;
      for (int64_t i = 0; i < w; ++i) d0[2 * i] = d0[2 * i + 1] = src[i];
      for (int64_t i = 0; i < 2 * w; ++i) d1[i] = d0[i];
    }
  }
}

void ResizeNearest(const float* x, int64_t c, int64_t h, int64_t w, int64_t ho, int64_t wo, float* y) {
  if (ho == 2 * h && wo == 2 * w) {
    UpsampleNearest2x(x, c, h, w, y);
    return;
  }
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t r = 0; r < ho; ++r) {
      const float* src = x + (ch * h + r * h / ho) * w;
      float* d = y + (ch * ho + r) * wo;
      for (int64_t i = 0; i < wo; ++i) d[i] = src[i * w / wo];
    }
  }
}

namespace {

// Rows [r0, r1) of x: whole 8x8 blocks by AVX2 transposes, the edges one value at a time.
__attribute__((target("avx2"))) void TransposeRowsAvx2(const float* x, int64_t rows, int64_t cols, int64_t r0,
                                                       int64_t r1, float* y) {
  int64_t r = r0;
  for (; r + 8 <= r1; r += 8) {
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8) Transpose8(x + r * cols + c, cols, y + c * rows + r, rows);
    for (; c < cols; ++c)
      for (int64_t i = r; i < r + 8; ++i) y[c * rows + i] = x[i * cols + c];
  }
  for (; r < r1; ++r)
    for (int64_t c = 0; c < cols; ++c) y[c * rows + r] = x[r * cols + c];
}

}  // namespace

void TransposeRows(const float* x, int64_t rows, int64_t cols, int64_t r0, int64_t r1, float* y) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) {
    TransposeRowsAvx2(x, rows, cols, r0, r1, y);
    return;
  }
  constexpr int64_t kB = 32;
  for (int64_t rb = r0; rb < r1; rb += kB) {
    for (int64_t c0 = 0; c0 < cols; c0 += kB) {
      const int64_t re = std::min(r1, rb + kB), c1 = std::min(cols, c0 + kB);
      for (int64_t r = rb; r < re; ++r)
        for (int64_t c = c0; c < c1; ++c) y[c * rows + r] = x[r * cols + c];
    }
  }
}

void Transpose(const float* x, int64_t rows, int64_t cols, float* y) { TransposeRows(x, rows, cols, 0, rows, y); }

}  // namespace sdr::cpu
