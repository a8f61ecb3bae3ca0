#include "testing/reference_ops.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace sdr::ref {

double RelL2(const float* a, const float* b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(a[i]) * a[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

double Psnr(const float* a, const float* b, int64_t n) {
  double mse = 0;
  for (int64_t i = 0; i < n; ++i) mse += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
  return 10.0 * std::log10(1.0 / std::max(mse / static_cast<double>(std::max<int64_t>(n, 1)), 1e-20));
}

std::vector<float> RandomVector(int64_t n, uint32_t seed, float scale) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(gen);
  return v;
}

}  // namespace sdr::ref
