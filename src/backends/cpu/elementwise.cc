// Norms, softmax and activations.
#include <algorithm>
#include <cmath>

#include "backends/cpu/fast_math.h"
#include "backends/cpu/ops.h"

namespace sdr::cpu {

void LayerNorm(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t cols,
               float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    double sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += xr[c];
    const double mean = sum / static_cast<double>(cols);
    double var = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const double d = xr[c] - mean;
      var += d * d;
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(var / static_cast<double>(cols) + eps));
    const float m = static_cast<float>(mean);
    for (int64_t c = 0; c < cols; ++c) yr[c] = (xr[c] - m) * inv * gamma[c] + beta[c];
  }
}

SDR_VECTOR_CLONES void SoftmaxRows(float* x, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * cols;
    float mx = -INFINITY;
    for (int64_t c = 0; c < cols; ++c) mx = xr[c] > mx ? xr[c] : mx;
    if (mx == -INFINITY) {  // fully masked row: define as zeros
      for (int64_t c = 0; c < cols; ++c) xr[c] = 0.0f;
      continue;
    }
    // masked -inf entries clamp to exp(-87) ~ 1e-38: zero in effect
    for (int64_t c = 0; c < cols; ++c) xr[c] = ExpF(xr[c] - mx);
    const float inv = 1.0f / SumLanes<float>(xr, cols);
    for (int64_t c = 0; c < cols; ++c) xr[c] *= inv;
  }
}

SDR_VECTOR_CLONES void QuickGelu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; i += kSigmoidBlock) SigmoidTimes(x + i, 1.702f, x + i, std::min(kSigmoidBlock, n - i));
}

SDR_VECTOR_CLONES void Gelu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + ErfF(x[i] * 0.70710678118654752f));
}

SDR_VECTOR_CLONES void Silu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; i += kSigmoidBlock) SigmoidTimes(x + i, 1.0f, x + i, std::min(kSigmoidBlock, n - i));
}

SDR_VECTOR_CLONES void AddRowBiasResidual(const float* t, float bias, const float* residual, int64_t n, float* y) {
  if (residual != nullptr) {
    for (int64_t i = 0; i < n; ++i) y[i] = (t[i] + bias) + residual[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = t[i] + bias;
  }
}

SDR_VECTOR_CLONES void AddInPlace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void TimestepEmbedding(float t, int64_t dim, float* out) {
  const int64_t half = dim / 2;
  for (int64_t j = 0; j < half; ++j) {
    const float freq = std::exp(-std::log(10000.0f) * static_cast<float>(j) / static_cast<float>(half));
    const float a = t * freq;
    out[j] = std::cos(a);
    out[half + j] = std::sin(a);
  }
  if (dim % 2 != 0) out[dim - 1] = 0.0f;
}

}  // namespace sdr::cpu
