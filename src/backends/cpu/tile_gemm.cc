// TileGemm's driver: the classic loop nest over packed blocks (columns of B in blocks of kNc,
// depth in blocks of DepthBlock(K), rows of A in blocks of kMc, then register tiles), with the work split
// between threads along the larger of M and N, and the epilogue fused into the last depth block.
#include "backends/cpu/tile_gemm.h"

#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/fast_math.h"
#include "backends/cpu/ops.h"
#include "backends/cpu/tile_gemm_kernel.h"
#include "core/thread_pool.h"

namespace sdr::cpu {
namespace {

using namespace tile;

// Per thread: one packed A block and one packed B block.
int64_t ThreadScratchFloats() { return kMc * kKc + kKc * kNc + 16; }

// Tall GEMMs (M >= N: a Linear over many tokens, a convolution over few pixels) pack all of B
// once into panels shared by the threads (up to kSharedFloats), then the threads take blocks of
// kRowsPerTake rows of C in order as each is done: no thread packs B for itself, and a thread
// the machine slows computes fewer rows instead of holding the other up at the end.
// Wide GEMMs (N > M: a Linear to many features over few tokens, a batched 1x1 convolution) do
// the same with A and blocks of kColsPerTake columns.
constexpr int64_t kSharedFloats = 4 << 20;  // 16 MB
constexpr int64_t kRowsPerTake = kMc;
constexpr int64_t kColsPerTake = 128;

int64_t PanelFloats(int64_t rows, int64_t width, int64_t k) { return (rows + width - 1) / width * width * k; }

bool SharesB(int64_t m, int64_t n, int64_t k, int threads) {
  return threads > 1 && m >= n && m >= 4 * threads * kRowsPerTake && PanelFloats(n, kNr, k) <= kSharedFloats;
}

bool SharesA(int64_t m, int64_t n, int64_t k, int threads) {
  return threads > 1 && n > m && n >= 4 * threads * kColsPerTake && PanelFloats(m, kMr, k) <= kSharedFloats;
}

// The epilogue on a finished tile of C: rows [i0, i0 + rows), columns [j0, j0 + cols). One loop
// per part (biases, activation, residual) so that each vectorises; same values as one pass.
SDR_VECTOR_CLONES void Finish(const GemmEpilogue& e, float* c, int64_t ldc, int64_t i0, int64_t rows, int64_t j0,
                              int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = c + (i0 + r) * ldc + j0;
    const float rb = e.row_bias != nullptr ? e.row_bias[i0 + r] : 0.0f;
    if (e.col_bias != nullptr) {
      const float* cb = e.col_bias + j0;
      for (int64_t j = 0; j < cols; ++j) row[j] = row[j] + rb + cb[j];
    } else if (e.row_bias != nullptr) {
      for (int64_t j = 0; j < cols; ++j) row[j] += rb;
    }
    switch (e.act) {
      case Activation::kNone: break;
      case Activation::kSilu: Silu(row, cols); break;
      case Activation::kGelu: Gelu(row, cols); break;
      case Activation::kQuickGelu: QuickGelu(row, cols); break;
    }
    if (e.residual != nullptr) {
      const float* res = e.residual + (i0 + r) * e.ldr + j0;
      for (int64_t j = 0; j < cols; ++j) row[j] += res[j];
    }
  }
}

// Finish on a whole register tile (kMr x kNr) without an activation, in registers: the same
// additions in the same order, without a call through the clone resolver and loops of sixteen per
// row (the epilogue of most Linear layers: bias and residual).
__attribute__((target("avx2"))) void FinishTile(const GemmEpilogue& e, float* c, int64_t ldc, int64_t i0,
                                                int64_t j0) {
  const bool col = e.col_bias != nullptr;
  const __m256 cb0 = col ? _mm256_loadu_ps(e.col_bias + j0) : _mm256_setzero_ps();
  const __m256 cb1 = col ? _mm256_loadu_ps(e.col_bias + j0 + 8) : _mm256_setzero_ps();
  for (int64_t r = 0; r < kMr; ++r) {
    float* row = c + (i0 + r) * ldc + j0;
    __m256 x0 = _mm256_loadu_ps(row), x1 = _mm256_loadu_ps(row + 8);
    const __m256 rb = _mm256_set1_ps(e.row_bias != nullptr ? e.row_bias[i0 + r] : 0.0f);
    if (col) {
      x0 = _mm256_add_ps(_mm256_add_ps(x0, rb), cb0);
      x1 = _mm256_add_ps(_mm256_add_ps(x1, rb), cb1);
    } else if (e.row_bias != nullptr) {
      x0 = _mm256_add_ps(x0, rb);
      x1 = _mm256_add_ps(x1, rb);
    }
    if (e.residual != nullptr) {
      const float* res = e.residual + (i0 + r) * e.ldr + j0;
      x0 = _mm256_add_ps(x0, _mm256_loadu_ps(res));
      x1 = _mm256_add_ps(x1, _mm256_loadu_ps(res + 8));
    }
    _mm256_storeu_ps(row, x0);
    _mm256_storeu_ps(row + 8, x1);
  }
}

bool HasEpilogue(const GemmEpilogue& e) {
  return e.row_bias != nullptr || e.col_bias != nullptr || e.act != Activation::kNone || e.residual != nullptr;
}

// C rows [m0, m1) x columns [n0, n1) on one thread.
void Block(int64_t m, int64_t n, int64_t k, const GemmOperand& a, const GemmOperand& b, float* c, int64_t ldc,
           const GemmEpilogue& e, int64_t m0, int64_t m1, int64_t n0, int64_t n1, float* scratch) {
  // Panels on cache lines (ThreadScratchFloats leaves room for it).
  float* pa = AlignPanels(scratch);
  float* pb = AlignPanels(pa + kMc * kKc);
  alignas(32) float edge[kMr * kNr];
  const bool epilogue = HasEpilogue(e);
  // B packed in place needs no kNc blocks (they bound the packed B block): one pass over the
  // columns packs each A block once.
  const int64_t nc_max = b.kind == GemmOperand::Kind::kPanels ? n1 - n0 : kNc;
  // A read in place needs no packing buffer either: its blocks may be taller (fewer passes over B).
  const int64_t mc_max = a.kind == GemmOperand::Kind::kPanels ? kMcInPlace : kMc;
  for (int64_t jc = n0; jc < n1; jc += nc_max) {
    const int64_t nc = std::min(nc_max, n1 - jc);
    for (int64_t pc = 0; pc < k; pc += DepthBlock(k)) {
      const int64_t kc = std::min(DepthBlock(k), k - pc);
      const bool first = pc == 0, last = pc + kc == k;
      // The B panel of columns [jc + jr, jc + jr + 16) over this depth block.
      const bool packed = b.kind == GemmOperand::Kind::kPanels;
      if (!packed) PackB(b, n, pc, kc, jc, nc, pb);
      auto panel = [&](int64_t jr) {
        return packed ? static_cast<const float*>(b.data) + ((jc + jr) / kNr * b.ld + pc) * kNr : pb + jr * kc;
      };
      for (int64_t ic = m0; ic < m1; ic += mc_max) {
        const int64_t mc = std::min(mc_max, m1 - ic);
        // The A panels of rows [ic, ic + mc) over this depth block, packed here or read in place:
        // row ir's panel at ap + ir * a_step.
        const bool a_packed = a.kind == GemmOperand::Kind::kPanels;
        const float* ap = a_packed ? static_cast<const float*>(a.data) + (ic / kMr * a.ld + pc) * kMr : pa;
        const int64_t a_step = a_packed ? a.ld : kc;
        if (!a_packed) PackA(a, m, ic, mc, pc, kc, pa);
        // The epilogue of the tile at rows [ic + i, + rows) x columns [jc + j, + cols), after the
        // last depth block.
        auto finish = [&](int64_t i, int64_t rows, int64_t j, int64_t cols) {
          if (!last || !epilogue) return;
          if (rows == kMr && cols == kNr && e.act == Activation::kNone) {
            FinishTile(e, c, ldc, ic + i, jc + j);
          } else {
            Finish(e, c, ldc, ic + i, rows, jc + j, cols);
          }
        };
        // Column panel jr from row ir0 down: whole A panels two at a time (one 12 x 16 tile where
        // the ISA has one, MicroKernelPanels), a partial tile through a full-size scratch tile.
        auto column = [&](int64_t jr, int64_t ir0) {
          const int64_t nr = std::min(kNr, nc - jr);
          for (int64_t ir = ir0; ir < mc;) {
            float* ct = c + (ic + ir) * ldc + jc + jr;
            if (nr == kNr && mc - ir >= kMr) {
              const int64_t rows = std::min(2 * kMr, (mc - ir) / kMr * kMr);
              MicroKernelPanels(rows, kc, ap + ir * a_step, kMr * a_step, panel(jr), ct, ldc, !first);
              for (int64_t i = ir; i < ir + rows; i += kMr) finish(i, kMr, jr, kNr);
              ir += rows;
              continue;
            }
            const int64_t mr = std::min(kMr, mc - ir);
            for (int64_t r = 0; r < mr; ++r) {
              for (int64_t j = 0; j < kNr; ++j) edge[r * kNr + j] = (!first && j < nr) ? ct[r * ldc + j] : 0.0f;
            }
            MicroKernelPanels(mr, kc, ap + ir * a_step, 0, panel(jr), edge, kNr, !first);
            for (int64_t r = 0; r < mr; ++r) {
              for (int64_t j = 0; j < nr; ++j) ct[r * ldc + j] = edge[r * kNr + j];
            }
            finish(ir, mr, jr, nr);
            ir += kMr;
          }
        };
        // Two whole column panels at a time where the tile takes them (ColumnPanelsPerTile: one
        // 6 x 32 tile per A panel), else one; the same sums either way.
        const bool column_pairs = ColumnPanelsPerTile() == 2;
        for (int64_t jr = 0; jr < nc;) {
          if (!column_pairs || nc - jr < 2 * kNr) {
            column(jr, 0);
            jr += kNr;
            continue;
          }
          int64_t ir = 0;
          for (; ir + kMr <= mc; ir += kMr) {
            MicroKernelColumnPanels(kMr, kc, ap + ir * a_step, panel(jr), panel(jr + kNr) - panel(jr),
                                    c + (ic + ir) * ldc + jc + jr, kNr, ldc, !first);
            finish(ir, kMr, jr, kNr);
            finish(ir, kMr, jr + kNr, kNr);
          }
          if (ir < mc) {  // the last rows, a partial A panel
            column(jr, ir);
            column(jr + kNr, ir);
          }
          jr += 2 * kNr;
        }
      }
    }
  }
}

// All of operand `op` (A: `extent` = M rows; B: N columns) packed into its register tile's panels
// at `out` (GemmOperand::Panels), panels spread over the threads.
GemmOperand PackPanels(ThreadPool& pool, const GemmOperand& op, bool is_b, int64_t extent, int64_t k, float* out) {
  const int64_t width = is_b ? kNr : kMr;
  pool.ParallelFor(
      (extent + width - 1) / width,
      [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
          for (int64_t pc = 0; pc < k; pc += DepthBlock(k)) {
            const int64_t kc = std::min(DepthBlock(k), k - pc), count = std::min(width, extent - p * width);
            float* panel = out + (p * k + pc) * width;
            if (is_b) {
              PackB(op, extent, pc, kc, p * width, count, panel);
            } else {
              PackA(op, extent, p * width, count, pc, kc, panel);
            }
          }
        }
      },
      4);
  return GemmOperand::Panels(out, k);
}

// body(take, the thread's scratch) for takes [0, takes), each thread taking the next when done.
template <typename Body>
void TakeInOrder(ThreadPool& pool, int64_t takes, float* scratch, Body body) {
  pool.ForEachInOrder(takes, [&](int64_t t, int64_t take) { body(take, scratch + t * ThreadScratchFloats()); });
}

}  // namespace

bool TileGemmAvailable() {
  // F16C from CPUID leaf 1 (ECX bit 29): clang's __builtin_cpu_supports does not know "f16c".
  static const bool ok = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
  }();
  return ok;
}

bool TileGemmReads(DType dtype) {
  switch (dtype) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kQ4_0:
    case DType::kQ4_1:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kQ8_0:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K: return true;
    default: return false;
  }
}

int64_t TileGemmScratchFloats(int64_t m, int64_t n, int64_t k) {
  const int threads = ThreadPool::Shared().num_threads();
  const int64_t shared = SharesB(m, n, k, threads)   ? PanelFloats(n, kNr, k)
                         : SharesA(m, n, k, threads) ? PanelFloats(m, kMr, k)
                                                     : 0;
  return threads * ThreadScratchFloats() + (shared > 0 ? shared + 16 : 0);
}

int64_t TileGemmTaskScratchFloats() { return ThreadScratchFloats(); }

void TileGemm(int64_t m, int64_t n, int64_t k, const GemmOperand& a, const GemmOperand& b, float* c, int64_t ldc,
              const GemmEpilogue& e, float* scratch) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int64_t i = 0; i < m; ++i) std::fill_n(c + i * ldc, n, 0.0f);
    if (HasEpilogue(e)) Finish(e, c, ldc, 0, m, 0, n);
    return;
  }
  ThreadPool& pool = ThreadPool::Shared();
  std::vector<float> own;
  if (scratch == nullptr) {
    own.resize(static_cast<size_t>(TileGemmScratchFloats(m, n, k)));
    scratch = own.data();
  }
  const int threads = ThreadPool::InTask() ? 1 : pool.num_threads();
  float* shared = AlignPanels(scratch + threads * ThreadScratchFloats());
  if (SharesB(m, n, k, threads)) {
    const GemmOperand panels =
        b.kind == GemmOperand::Kind::kPanels ? b : PackPanels(pool, b, /*is_b=*/true, n, k, shared);
    TakeInOrder(pool, (m + kRowsPerTake - 1) / kRowsPerTake, scratch, [&](int64_t t, float* mine) {
      Block(m, n, k, a, panels, c, ldc, e, t * kRowsPerTake, std::min(m, (t + 1) * kRowsPerTake), 0, n, mine);
    });
    return;
  }
  if (SharesA(m, n, k, threads)) {
    const GemmOperand panels =
        a.kind == GemmOperand::Kind::kPanels ? a : PackPanels(pool, a, /*is_b=*/false, m, k, shared);
    TakeInOrder(pool, (n + kColsPerTake - 1) / kColsPerTake, scratch, [&](int64_t t, float* mine) {
      Block(m, n, k, panels, b, c, ldc, e, 0, m, t * kColsPerTake, std::min(n, (t + 1) * kColsPerTake), mine);
    });
    return;
  }
  // Split along the larger dimension into one slice per thread (whole register tiles each); one
  // slice inside a pool task, where the slices would run one after another anyway.
  const bool split_m = m >= n;
  const int64_t extent = split_m ? m : n, unit = split_m ? kMr : kNr;
  const int64_t units = (extent + unit - 1) / unit;
  const int64_t slices = std::min<int64_t>(threads, units);
  pool.ParallelFor(
      slices,
      [&](int64_t s0, int64_t s1) {
        for (int64_t s = s0; s < s1; ++s) {
          const int64_t lo = std::min(extent, units * s / slices * unit);
          const int64_t hi = std::min(extent, units * (s + 1) / slices * unit);
          if (lo >= hi) continue;
          float* mine = scratch + s * ThreadScratchFloats();
          if (split_m) {
            Block(m, n, k, a, b, c, ldc, e, lo, hi, 0, n, mine);
          } else {
            Block(m, n, k, a, b, c, ldc, e, 0, m, lo, hi, mine);
          }
        }
      },
      1);
}

}  // namespace sdr::cpu
