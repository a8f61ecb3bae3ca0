#include "backends/reference/reference_kernels.h"

#include <cmath>
#include <vector>

namespace sdr::reference {

void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, const float* b, float beta,
          float* c) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double av = ta ? a[p * m + i] : a[i * k + p];
        const double bv = tb ? b[j * k + p] : b[p * n + j];
        acc += av * bv;
      }
      c[i * n + j] = static_cast<float>(alpha * acc + (beta == 0.0f ? 0.0 : beta * c[i * n + j]));
    }
  }
}

void LayerNorm(const float* x, const float* g, const float* b, float* y, int64_t rows, int64_t cols, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < cols; ++c) mean += x[r * cols + c];
    mean /= static_cast<double>(cols);
    for (int64_t c = 0; c < cols; ++c) var += (x[r * cols + c] - mean) * (x[r * cols + c] - mean);
    var /= static_cast<double>(cols);
    for (int64_t c = 0; c < cols; ++c) {
      y[r * cols + c] = static_cast<float>((x[r * cols + c] - mean) / std::sqrt(var + eps) * g[c] + b[c]);
    }
  }
}

void SoftmaxRows(float* x, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    double mx = -INFINITY, sum = 0;
    for (int64_t c = 0; c < cols; ++c) mx = std::fmax(mx, x[r * cols + c]);
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(x[r * cols + c] - mx);
    for (int64_t c = 0; c < cols; ++c) x[r * cols + c] = static_cast<float>(std::exp(x[r * cols + c] - mx) / sum);
  }
}

float QuickGelu(float x) { return static_cast<float>(x / (1.0 + std::exp(-1.702 * x))); }
float Gelu(float x) { return static_cast<float>(0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)))); }
float Silu(float x) { return static_cast<float>(x / (1.0 + std::exp(-static_cast<double>(x)))); }

void Attention(const float* q, const float* k, const float* v, float* out, int64_t heads, int64_t lq, int64_t lk,
               int64_t d, float scale, bool causal) {
  const int64_t w = heads * d;
  std::vector<double> s(static_cast<size_t>(lk));
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < lq; ++i) {
      double mx = -INFINITY;
      for (int64_t j = 0; j < lk; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < d; ++p) acc += static_cast<double>(q[i * w + h * d + p]) * k[j * w + h * d + p];
        s[static_cast<size_t>(j)] = (causal && j > i) ? -INFINITY : acc * scale;
        mx = std::fmax(mx, s[static_cast<size_t>(j)]);
      }
      double sum = 0;
      for (int64_t j = 0; j < lk; ++j) sum += (s[static_cast<size_t>(j)] = std::exp(s[static_cast<size_t>(j)] - mx));
      for (int64_t p = 0; p < d; ++p) {
        double acc = 0;
        for (int64_t j = 0; j < lk; ++j) acc += s[static_cast<size_t>(j)] / sum * v[j * w + h * d + p];
        out[i * w + h * d + p] = static_cast<float>(acc);
      }
    }
  }
}

void Conv2d(const float* x, int64_t cin, int64_t h, int64_t w, const float* weight, const float* bias, int64_t cout,
            int64_t kh, int64_t kw, int64_t stride, int64_t pad, float* y) {
  const int64_t ho = (h + 2 * pad - kh) / stride + 1, wo = (w + 2 * pad - kw) / stride + 1;
  for (int64_t o = 0; o < cout; ++o)
    for (int64_t oy = 0; oy < ho; ++oy)
      for (int64_t ox = 0; ox < wo; ++ox) {
        double acc = bias ? bias[o] : 0.0;
        for (int64_t c = 0; c < cin; ++c)
          for (int64_t ky = 0; ky < kh; ++ky)
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              acc += static_cast<double>(x[(c * h + iy) * w + ix]) * weight[((o * cin + c) * kh + ky) * kw + kx];
            }
        y[(o * ho + oy) * wo + ox] = static_cast<float>(acc);
      }
}

void GroupNorm(const float* x, const float* g, const float* b, float* y, int64_t c, int64_t hw, int64_t groups,
               float eps, bool silu) {
  const int64_t cg = c / groups;
  for (int64_t gi = 0; gi < groups; ++gi) {
    double mean = 0, var = 0;
    const int64_t n = cg * hw;
    for (int64_t i = 0; i < n; ++i) mean += x[gi * n + i];
    mean /= static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) var += (x[gi * n + i] - mean) * (x[gi * n + i] - mean);
    var /= static_cast<double>(n);
    for (int64_t ch = gi * cg; ch < (gi + 1) * cg; ++ch)
      for (int64_t i = 0; i < hw; ++i) {
        double v = (x[ch * hw + i] - mean) / std::sqrt(var + eps) * g[ch] + b[ch];
        if (silu) v = v / (1.0 + std::exp(-v));
        y[ch * hw + i] = static_cast<float>(v);
      }
  }
}

}  // namespace sdr::reference
