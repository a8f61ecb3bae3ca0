// The register tiles: R rows x 16 columns, 2R accumulators (two 8-float vectors a row), each step
// one broadcast of A per row and two loads of B, 2R FMAs. R = 6 is the GEMMs' tile (12
// accumulators); R = 4 takes panels whose last rows are padding (8 accumulators, still enough
// FMAs in flight to keep both pipes busy). The row loops unroll fully, so the accumulators stay
// in registers: the same instructions as the tile written out by hand.
// With AVX-512 (a 16-float vector a row) the tile is R x 16 with R accumulators, R up to 16:
// two or three six-row panels at once, so twelve or more FMAs are in flight again. Each element is one FMA chain
// in k order, then one add or store, on every path: the results do not depend on the ISA.
#include <immintrin.h>

#include <unistd.h>

#include <atomic>

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

// The AVX-512 tile: c[R][16] = (accumulate ? c : 0) + sum_k a[k][0..R) x b[k][0..16), row r
// from panel r / 6 (at a + (r / 6) * a_step), C's rows one after another.
template <int R>
__attribute__((target("avx512f"), always_inline)) inline void TileZ(int64_t kc, const float* a, int64_t a_step,
                                                                   const float* b, float* c, int64_t ldc,
                                                                   bool accumulate) {
  static_assert(R >= 1 && R <= 3 * kMr);
  __m512 acc[R];
#pragma GCC unroll 18
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 bv = _mm512_loadu_ps(b);
#pragma GCC unroll 18
    for (int r = 0; r < R; ++r) {
      acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r / kMr * a_step + r % kMr]), bv, acc[r]);
    }
    a += kMr;
    b += kNr;
  }
#pragma GCC unroll 18
  for (int r = 0; r < R; ++r) {
    float* row = c + r * ldc;
    _mm512_storeu_ps(row, accumulate ? _mm512_add_ps(_mm512_loadu_ps(row), acc[r]) : acc[r]);
  }
}

// The AVX-512 tile over two B panels: c[R][0..16) from the panel at b, c[R][0..16) at c + c_step
// from the panel at b + b_step, R <= 6 rows of one A panel: 2R accumulators, each step two loads of
// B and R broadcasts for 2R FMAs (the 12 x 16 tile needs 12 broadcasts for 12: 6 x 32 runs at
// 95-99 % of the FMA rate where 12 x 16 runs at 75-87 %, one thread, panels in L1/L2).
template <int R>
__attribute__((target("avx512f"), always_inline)) inline void TileZ2(int64_t kc, const float* a, const float* b,
                                                                    int64_t b_step, float* c, int64_t c_step,
                                                                    int64_t ldc, bool accumulate) {
  static_assert(R >= 1 && R <= kMr);
  __m512 acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const float* b1 = b + b_step;
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 bv0 = _mm512_loadu_ps(b), bv1 = _mm512_loadu_ps(b1);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a[r]);
      acc[r][0] = _mm512_fmadd_ps(av, bv0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, bv1, acc[r][1]);
    }
    a += kMr;
    b += kNr;
    b1 += kNr;
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    for (int h = 0; h < 2; ++h) {
      float* row = c + h * c_step + r * ldc;
      _mm512_storeu_ps(row, accumulate ? _mm512_add_ps(_mm512_loadu_ps(row), acc[r][h]) : acc[r][h]);
    }
  }
}

template <int R>
__attribute__((target("avx512f"))) void TileZColumns2(int64_t kc, const float* a, const float* b, int64_t b_step,
                                                      float* c, int64_t c_step, int64_t ldc, bool accumulate) {
  TileZ2<R>(kc, a, b, b_step, c, c_step, ldc, accumulate);
}

// The tiles MicroKernelPanels uses: one panel (4 or 6 rows), two (10 or 12), three (16).
template <int R>
__attribute__((target("avx512f"))) void TileZPanels(int64_t kc, const float* a, int64_t a_step, const float* b,
                                                    float* c, int64_t ldc, bool accumulate) {
  TileZ<R>(kc, a, a_step, b, c, ldc, accumulate);
}

__attribute__((target("avx2,fma"))) void Tile6(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                                               bool accumulate) {
  Tile<kMr>(kc, a, b, c, ldc, accumulate);
}
__attribute__((target("avx2,fma"))) void Tile4(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                                               bool accumulate) {
  Tile<4>(kc, a, b, c, ldc, accumulate);
}

// AVX-512F is enough (the tiles use no other extension); __builtin_cpu_supports also checks that
// the OS saves the 512-bit registers.
bool CpuHasAvx512() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return has;
}

std::atomic<bool>& Avx512Flag() {
  static std::atomic<bool> flag{CpuHasAvx512()};
  return flag;
}

bool Avx512() { return Avx512Flag().load(std::memory_order_relaxed); }

}  // namespace

void MicroKernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
  if (Avx512()) {
    TileZPanels<kMr>(kc, a, 0, b, c, ldc, accumulate);
  } else {
    Tile6(kc, a, b, c, ldc, accumulate);
  }
}

void MicroKernel4(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
  if (Avx512()) {
    TileZPanels<4>(kc, a, 0, b, c, ldc, accumulate);
  } else {
    Tile4(kc, a, b, c, ldc, accumulate);
  }
}

void MicroKernelRows(int64_t rows, int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                     bool accumulate) {
  if (rows <= 4) {
    MicroKernel4(kc, a, b, c, ldc, accumulate);
  } else {
    MicroKernel(kc, a, b, c, ldc, accumulate);
  }
}

int64_t MicroKernelPanels(int64_t rows, int64_t kc, const float* a, int64_t a_step, const float* b, float* c,
                          int64_t ldc, bool accumulate) {
  // Rows of each tile (a panel's last rows padding where it says 4); 13-16 rows take three
  // panels at once (attention's d = 40 after two pairs), more than 16 a pair.
  const int tile_rows = rows <= 4 ? 4 : rows <= 6 ? 6 : rows <= 10 ? 10 : rows <= 12 || rows > 16 ? 12 : 16;
  const int64_t stepped = (tile_rows + kMr - 1) / kMr * kMr;
  if (!Avx512()) {
    for (int64_t r0 = 0; r0 < tile_rows; r0 += kMr) {
      const float* ap = a + r0 / kMr * a_step;
      if (tile_rows - r0 <= 4) {
        Tile4(kc, ap, b, c + r0 * ldc, ldc, accumulate);
      } else {
        Tile6(kc, ap, b, c + r0 * ldc, ldc, accumulate);
      }
    }
    return stepped;
  }
  switch (tile_rows) {
    case 4: TileZPanels<4>(kc, a, a_step, b, c, ldc, accumulate); break;
    case 6: TileZPanels<6>(kc, a, a_step, b, c, ldc, accumulate); break;
    case 10: TileZPanels<10>(kc, a, a_step, b, c, ldc, accumulate); break;
    case 12: TileZPanels<12>(kc, a, a_step, b, c, ldc, accumulate); break;
    default: TileZPanels<16>(kc, a, a_step, b, c, ldc, accumulate); break;
  }
  return stepped;
}

void MicroKernelColumnPanels(int64_t rows, int64_t kc, const float* a, const float* b, int64_t b_step, float* c,
                             int64_t c_step, int64_t ldc, bool accumulate) {
  if (!Avx512()) {
    MicroKernelRows(rows, kc, a, b, c, ldc, accumulate);
    MicroKernelRows(rows, kc, a, b + b_step, c + c_step, ldc, accumulate);
  } else if (rows <= 4) {
    TileZColumns2<4>(kc, a, b, b_step, c, c_step, ldc, accumulate);
  } else {
    TileZColumns2<kMr>(kc, a, b, b_step, c, c_step, ldc, accumulate);
  }
}

int64_t ColumnPanelsPerTile() {
  // Two 16 KB B panels (kKc deep) beside the A panel want a 48 KB L1 (Zen 5, Intel since Ice
  // Lake); with 32 KB (Zen 4, Skylake-X) they would push each other out.
  static const int64_t l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE);
  return Avx512() && l1 >= 48 * 1024 ? 2 : 1;
}

KernelIsa BestKernelIsa() { return CpuHasAvx512() ? KernelIsa::kAvx512 : KernelIsa::kAvx2; }

KernelIsa ActiveKernelIsa() { return Avx512() ? KernelIsa::kAvx512 : KernelIsa::kAvx2; }

const char* KernelIsaName(KernelIsa isa) { return isa == KernelIsa::kAvx512 ? "AVX-512" : "AVX2/FMA"; }

void UseKernelIsa(KernelIsa isa) {
  Avx512Flag().store(isa == KernelIsa::kAvx512 && CpuHasAvx512(), std::memory_order_relaxed);
}

}  // namespace sdr::cpu::tile
