// Conv2d as im2col + GEMM in tiles of output rows.
#include <algorithm>
#include <cstring>
#include <vector>

#include "backends/cpu/ops.h"

namespace sdr::cpu {
namespace {

constexpr int64_t kColBudgetFloats = 8 << 20;  // 32 MB of im2col scratch per tile

// col: [cin*kh*kw, rows*wo] for output rows [r0, r0+rows).
void Im2Col(const float* x, int64_t cin, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t stride, int64_t pad,
            int64_t wo, int64_t r0, int64_t rows, float* col) {
  const int64_t n = rows * wo;
  for (int64_t c = 0; c < cin; ++c) {
    const float* xc = x + c * h * w;
    for (int64_t ky = 0; ky < kh; ++ky) {
      for (int64_t kx = 0; kx < kw; ++kx) {
        float* dst = col + ((c * kh + ky) * kw + kx) * n;
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t iy = (r0 + r) * stride - pad + ky;
          float* d = dst + r * wo;
          if (iy < 0 || iy >= h) {
            std::memset(d, 0, static_cast<size_t>(wo) * sizeof(float));
            continue;
          }
          const float* src = xc + iy * w;
          if (stride == 1) {
            // ix = ox - pad + kx: valid ox in [pad - kx, w + pad - kx)
            const int64_t lo = std::clamp<int64_t>(pad - kx, 0, wo), hi = std::clamp<int64_t>(w + pad - kx, 0, wo);
            for (int64_t ox = 0; ox < lo; ++ox) d[ox] = 0.0f;
            if (hi > lo) std::memcpy(d + lo, src + lo - pad + kx, static_cast<size_t>(hi - lo) * sizeof(float));
            for (int64_t ox = std::max(hi, lo); ox < wo; ++ox) d[ox] = 0.0f;
          } else {
            for (int64_t ox = 0; ox < wo; ++ox) {
              const int64_t ix = ox * stride - pad + kx;
              d[ox] = (ix >= 0 && ix < w) ? src[ix] : 0.0f;
            }
          }
        }
      }
    }
  }
}

bool IsPointwise(int64_t kh, int64_t kw, int64_t stride, int64_t pad) {
  return kh == 1 && kw == 1 && stride == 1 && pad == 0;
}

int64_t RowsPerTile(int64_t cin, int64_t kh, int64_t kw, int64_t ho, int64_t wo) {
  return std::max<int64_t>(1, std::min(ho, kColBudgetFloats / std::max<int64_t>(1, cin * kh * kw * wo)));
}

}  // namespace

int64_t Conv2dScratchFloats(int64_t cin, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t stride, int64_t pad) {
  if (IsPointwise(kh, kw, stride, pad)) return 0;
  const int64_t ho = ConvOutSize(h, kh, stride, pad), wo = ConvOutSize(w, kw, stride, pad);
  return cin * kh * kw * RowsPerTile(cin, kh, kw, ho, wo) * wo;
}

void Conv2d(const float* x, int64_t cin, int64_t h, int64_t w, const float* weight, const float* bias, int64_t cout,
            int64_t kh, int64_t kw, int64_t stride, int64_t pad, float* y, float* col) {
  const int64_t ho = ConvOutSize(h, kh, stride, pad), wo = ConvOutSize(w, kw, stride, pad);
  const int64_t hw = ho * wo;
  const int64_t k = cin * kh * kw;
  if (IsPointwise(kh, kw, stride, pad)) {
    Gemm(false, false, cout, hw, cin, 1.0f, weight, cin, x, hw, 0.0f, y, hw);
  } else {
    const int64_t rows_per_tile = RowsPerTile(cin, kh, kw, ho, wo);
    std::vector<float> own;
    if (col == nullptr) {
      own.resize(static_cast<size_t>(Conv2dScratchFloats(cin, h, w, kh, kw, stride, pad)));
      col = own.data();
    }
    for (int64_t r0 = 0; r0 < ho; r0 += rows_per_tile) {
      const int64_t rows = std::min(rows_per_tile, ho - r0);
      Im2Col(x, cin, h, w, kh, kw, stride, pad, wo, r0, rows, col);
      Gemm(false, false, cout, rows * wo, k, 1.0f, weight, k, col, rows * wo, 0.0f, y + r0 * wo, hw);
    }
  }
  if (bias != nullptr) {
    for (int64_t c = 0; c < cout; ++c) {
      float* yc = y + c * hw;
      const float b = bias[c];
      for (int64_t i = 0; i < hw; ++i) yc[i] += b;
    }
  }
}

}  // namespace sdr::cpu
