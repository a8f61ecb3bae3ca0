#include "testing/reference_ops.h"

#include <cmath>
#include <random>

namespace sdr::ref {

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

double RelL2(const float* a, const float* b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(a[i]) * a[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

std::vector<float> RandomVector(int64_t n, uint32_t seed, float scale) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(gen);
  return v;
}

}  // namespace sdr::ref
