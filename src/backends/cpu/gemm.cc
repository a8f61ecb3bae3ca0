// GEMM through the BLAS provider (OpenBLAS's cblas).
#include <cblas.h>

#include <atomic>

#include "backends/cpu/ops.h"

namespace sdr::cpu {
namespace {
std::atomic<uint64_t> g_flops{0};
}  // namespace

uint64_t GemmFlops() { return g_flops.load(std::memory_order_relaxed); }
void ResetGemmFlops() { g_flops.store(0, std::memory_order_relaxed); }

void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  g_flops.fetch_add(static_cast<uint64_t>(2 * m * n * k), std::memory_order_relaxed);
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

void Linear(const float* x, const float* w, const float* bias, float* y, int64_t m, int64_t n, int64_t k) {
  float beta = 0.0f;
  if (bias != nullptr) {
    for (int64_t i = 0; i < m; ++i) {
      float* row = y + i * n;
      for (int64_t j = 0; j < n; ++j) row[j] = bias[j];
    }
    beta = 1.0f;
  }
  Gemm(false, true, m, n, k, 1.0f, x, k, w, k, beta, y, n);
}

const char* BlasDescription() { return openblas_get_config(); }
int BlasThreads() { return openblas_get_num_threads(); }

void SetBlasThreads(int n) {
  if (n > 0) openblas_set_num_threads(n);
}

}  // namespace sdr::cpu
