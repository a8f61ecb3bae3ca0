// The register tiles. AVX2: R rows x 16 columns, 2R accumulators (two 8-float vectors a row),
// each step one broadcast of A per row and two loads of B; R = 6 is the GEMMs' tile (12
// accumulators), R = 4 takes panels whose last rows are padding (8, still enough FMAs in flight to
// keep both pipes busy). AVX-512 (a 16-float vector a row): R rows of up to three six-row panels
// against one B panel (R accumulators), or one panel against two B panels (2R). The row loops
// unroll fully, so the accumulators stay in registers. Each element is one FMA chain in k order,
// then one add or store, on every path: the results do not depend on the ISA.
#include <immintrin.h>

#include <unistd.h>

#include <atomic>

#include "backends/cpu/tile_gemm_kernel.h"

namespace sdr::cpu::tile {
namespace {

// c[R][16] (row stride ldc) = (accumulate ? c : 0) + sum_k a[k][0..R) x b[k][0..16), a read from
// one six-row panel (kMr floats a step).
template <int R>
__attribute__((target("avx2,fma"))) void Tile(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                                              bool accumulate) {
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
__attribute__((target("avx512f"))) void TileZ(int64_t kc, const float* a, int64_t a_step, const float* b, float* c,
                                              int64_t ldc, bool accumulate) {
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
__attribute__((target("avx512f"))) void TileZ2(int64_t kc, const float* a, const float* b, int64_t b_step, float* c,
                                               int64_t c_step, int64_t ldc, bool accumulate) {
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

// The AVX2 tile of one panel's first `rows` rows: 4 or 6.
void TileRows(int64_t rows, int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
  if (rows <= 4) {
    Tile<4>(kc, a, b, c, ldc, accumulate);
  } else {
    Tile<kMr>(kc, a, b, c, ldc, accumulate);
  }
}

// Rows [r0, r0 + rows) of the grid against every B panel: pairs of B panels on single A panels
// (MicroKernelColumnPanels) where ColumnPanelsPerTile() says so, else A panels in runs
// (MicroKernelPanels).
void GridRows(const TileGrid& g, int64_t r0, int64_t rows) {
  const float* a = g.a + r0 / kMr * g.a_step;
  float* c = g.c + r0 * g.ldc;
  const bool pairs = ColumnPanelsPerTile() == 2;
  for (int64_t p = 0; p < g.panels;) {
    const float* b = g.b + p * g.b_step;
    float* cp = c + p * g.c_step;
    if (pairs && p + 1 < g.panels) {
      for (int64_t ir = 0; ir < rows; ir += kMr) {
        MicroKernelColumnPanels(rows - ir, g.kc, a + ir / kMr * g.a_step, b, g.b_step, cp + ir * g.ldc, g.c_step,
                                g.ldc, g.accumulate);
      }
      p += 2;
      continue;
    }
    for (int64_t ir = 0; ir < rows;) {
      ir += MicroKernelPanels(rows - ir, g.kc, a + ir / kMr * g.a_step, g.a_step, b, cp + ir * g.ldc, g.ldc,
                              g.accumulate);
    }
    ++p;
  }
}

}  // namespace

int64_t MicroKernelPanels(int64_t rows, int64_t kc, const float* a, int64_t a_step, const float* b, float* c,
                          int64_t ldc, bool accumulate) {
  // Rows of each tile (a panel's last rows padding where it says 4); 13-16 rows take three
  // panels at once (attention's d = 40 after two pairs), more than 16 a pair.
  const int tile_rows = rows <= 4 ? 4 : rows <= 6 ? 6 : rows <= 10 ? 10 : rows <= 12 || rows > 16 ? 12 : 16;
  const int64_t stepped = (tile_rows + kMr - 1) / kMr * kMr;
  if (!Avx512()) {
    for (int64_t r0 = 0; r0 < tile_rows; r0 += kMr) {
      TileRows(tile_rows - r0, kc, a + r0 / kMr * a_step, b, c + r0 * ldc, ldc, accumulate);
    }
    return stepped;
  }
  switch (tile_rows) {
    case 4: TileZ<4>(kc, a, a_step, b, c, ldc, accumulate); break;
    case 6: TileZ<6>(kc, a, a_step, b, c, ldc, accumulate); break;
    case 10: TileZ<10>(kc, a, a_step, b, c, ldc, accumulate); break;
    case 12: TileZ<12>(kc, a, a_step, b, c, ldc, accumulate); break;
    default: TileZ<16>(kc, a, a_step, b, c, ldc, accumulate); break;
  }
  return stepped;
}

void MicroKernelColumnPanels(int64_t rows, int64_t kc, const float* a, const float* b, int64_t b_step, float* c,
                             int64_t c_step, int64_t ldc, bool accumulate) {
  if (!Avx512()) {
    TileRows(rows, kc, a, b, c, ldc, accumulate);
    TileRows(rows, kc, a, b + b_step, c + c_step, ldc, accumulate);
  } else if (rows <= 4) {
    TileZ2<4>(kc, a, b, b_step, c, c_step, ldc, accumulate);
  } else {
    TileZ2<kMr>(kc, a, b, b_step, c, c_step, ldc, accumulate);
  }
}

void MicroKernelGrid(const TileGrid& g) {
  if (g.groups > 1 && Avx512()) {
    // One run over every group, padding rows between them included.
    GridRows(g, 0, (g.groups - 1) * g.group_rows + g.rows);
    return;
  }
  for (int64_t i = 0; i < g.groups; ++i) GridRows(g, i * g.group_rows, g.rows);
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
