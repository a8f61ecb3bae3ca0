// The register tiles: R rows x 16 columns, 2R accumulators (two 8-float vectors a row), each step
// one broadcast of A per row and two loads of B, 2R FMAs. R = 6 is the GEMMs' tile (12
// accumulators); R = 4 takes panels whose last rows are padding (8 accumulators, still enough
// FMAs in flight to keep both pipes busy). The row loops unroll fully, so the accumulators stay
// in registers: the same instructions as the tile written out by hand.
#include <immintrin.h>

#include "backends/cpu/tile_gemm_kernel.h"

namespace sdr::cpu::tile {
namespace {

// c[R][16] (row stride ldc) = (accumulate ? c : 0) + sum_k a[k][0..R) x b[k][0..16), a read from
// six-row panels (kMr floats a step).
template <int R>
__attribute__((target("avx2,fma"), always_inline)) inline void Tile(int64_t kc, const float* a, const float* b,
                                                                    float* c, int64_t ldc, bool accumulate) {
  static_assert(R >= 1 && R <= kMr);
  __m256 acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
    a += kMr;
    b += kNr;
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    float* row = c + r * ldc;
    if (accumulate) {
      _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), acc[r][0]));
      _mm256_storeu_ps(row + 8, _mm256_add_ps(_mm256_loadu_ps(row + 8), acc[r][1]));
    } else {
      _mm256_storeu_ps(row, acc[r][0]);
      _mm256_storeu_ps(row + 8, acc[r][1]);
    }
  }
}

}  // namespace

__attribute__((target("avx2,fma"))) void MicroKernel(int64_t kc, const float* a, const float* b, float* c,
                                                      int64_t ldc, bool accumulate) {
  Tile<kMr>(kc, a, b, c, ldc, accumulate);
}

__attribute__((target("avx2,fma"))) void MicroKernel4(int64_t kc, const float* a, const float* b, float* c,
                                                       int64_t ldc, bool accumulate) {
  Tile<4>(kc, a, b, c, ldc, accumulate);
}

void MicroKernelRows(int64_t rows, int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                     bool accumulate) {
  if (rows <= 4) {
    MicroKernel4(kc, a, b, c, ldc, accumulate);
  } else {
    MicroKernel(kc, a, b, c, ldc, accumulate);
  }
}

}  // namespace sdr::cpu::tile
