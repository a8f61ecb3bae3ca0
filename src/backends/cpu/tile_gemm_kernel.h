// The pieces of TileGemm (tile_gemm.h): the register tile and the packers. Internal to the cpu
// backend.
#pragma once

#include <cstdint>

#include "backends/cpu/tile_gemm.h"

namespace sdr::cpu::tile {

constexpr int64_t kMr = 6;    // rows of the register tile
constexpr int64_t kNr = 16;   // columns of the register tile (two 8-float vectors, or one of 16)
constexpr int64_t kKc = 256;  // depth of a packed block at most: a 16-column B panel of 16 KB,
                              // half of L1, beside the A panel streaming through

// The depth of TileGemm's packed blocks for this K: K in near-equal blocks of at most kKc, each a
// multiple of 32 (K = 320: 160 + 160, not 320 nor 256 + 64; sdr_bench_linear), so quantized rows
// are read in whole blocks (q8_0 ... 32; a K-quant's K is a multiple of 256, its blocks 256).
constexpr int64_t DepthBlock(int64_t k) {
  const int64_t blocks = (k + kKc - 1) / kKc;
  return blocks <= 1 ? k : ((k + blocks - 1) / blocks + 31) / 32 * 32;
}
constexpr int64_t kMc = 72;   // rows of a packed A block (a multiple of kMr)
constexpr int64_t kMcInPlace = 192;  // rows of an A block read in place (kPanels): 192 x kKc floats fit L2
constexpr int64_t kNc = 1024; // columns of a packed B block (a multiple of kNr)

// p rounded up to 64 bytes (a cache line): where packed panels start. Needs up to 15 floats of
// slack in the buffer.
inline float* AlignPanels(float* p) {
  return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63});
}

// The register tiles compute c[rows][16] (row stride ldc) = (accumulate ? c : 0) +
// sum_k a[k][0..rows) x b[k][0..16) from packed panels: A panels of kc x 6 floats, B panels of
// kc x 16 floats (AlignPanels: each 16-float step one cache line, so the AVX-512 tiles' loads never
// straddle two). A panel whose last rows are padding takes a four-row tile (an image's last
// Winograd tiles, attention's d = 40 as 42 rows): two thirds of the work.

// Up to three A panels against one B panel (one panel where rows <= 6; a_step is then not read):
// c[rows][16], row r from panel r / 6 at
// a + (r / 6) * a_step (C's rows one after another). Takes the tile that fits `rows` (the rows
// that count from a: 4, 6, 10, 12 or 16; more than 16 take 12) and returns the rows it stepped
// over, 6, 12 or 18 (the caller's next panel is that far on); rows past `rows` within them may or
// may not be written. With AVX-512 the panels are one register tile (one 16-float accumulator a
// row); with AVX2 a 6 x 16 or 4 x 16 tile each. Every element is the same chain of FMAs in the
// same k order on either path, so results are bit-identical whichever runs.
int64_t MicroKernelPanels(int64_t rows, int64_t kc, const float* a, int64_t a_step, const float* b, float* c,
                          int64_t ldc, bool accumulate);

// One A panel against two B panels: c[rows][0..16) from the B panel at b and, at c + c_step,
// c[rows][0..16) from the one at b + b_step (rows <= 6; rows past `rows` may or may not be
// written). With AVX-512 one 6 x 32 register tile (two loads of B and six broadcasts per twelve
// FMAs: the fastest tile where both panels stay in L1); with AVX2 two 6 x 16 tiles. The same FMA
// chains as MicroKernelPanels: bit-identical results.
void MicroKernelColumnPanels(int64_t rows, int64_t kc, const float* a, const float* b, int64_t b_step, float* c,
                             int64_t c_step, int64_t ldc, bool accumulate);

// A grid of tiles: rows [0, rows) of each of `groups` groups (whose first rows are group_rows
// apart, a multiple of 6) x B panels [0, panels). A panel p at a + p * a_step, B panel j at
// b + j * b_step, C row r at c + r * ldc, C's columns of B panel j at c + j * c_step.
struct TileGrid {
  int64_t rows = 0;
  int64_t groups = 1;      // > 1: the rows between groups are padding, zero in A and free in C
  int64_t group_rows = 0;
  int64_t panels = 1;
  int64_t kc = 0;
  const float* a = nullptr;
  int64_t a_step = 0;
  const float* b = nullptr;
  int64_t b_step = 0;
  float* c = nullptr;
  int64_t ldc = 0;
  int64_t c_step = 0;
  bool accumulate = false;
};

// Every tile of the grid, with the tiles that suit the ISA: B panels in pairs where
// ColumnPanelsPerTile() says so, else runs of A panels (MicroKernelPanels); with AVX-512 the
// groups as one run (padding rows computed: cheaper than a short tile per group, e.g. the CFG
// pair's two four-tile Winograd panels at 8 x 8 as one 10-row tile), with AVX2 group by group.
// Rows past `rows` within a group's last panel may be written.
void MicroKernelGrid(const TileGrid& g);

// How many B panels a caller should hand the register tile at once: 2 (MicroKernelColumnPanels)
// with AVX-512 tiles and an L1 of at least 48 KB, else 1 (MicroKernelPanels, A panels in pairs).
// Only the order of the tiles depends on it, never a value.
int64_t ColumnPanelsPerTile();

// The instruction set the register tiles use: AVX-512 where the CPU (and OS) has it, else AVX2.
enum class KernelIsa { kAvx2, kAvx512 };
KernelIsa BestKernelIsa();
KernelIsa ActiveKernelIsa();
const char* KernelIsaName(KernelIsa isa);  // "AVX2/FMA", "AVX-512"

// For tests and benchmarks (not thread-safe against running GEMMs): kAvx2 forces the AVX2 tiles;
// kAvx512 restores BestKernelIsa().
void UseKernelIsa(KernelIsa isa);

// UseKernelIsa(isa) for a scope, then back to the ISA that was active.
class ScopedKernelIsa {
 public:
  explicit ScopedKernelIsa(KernelIsa isa) : saved_(ActiveKernelIsa()) { UseKernelIsa(isa); }
  ~ScopedKernelIsa() { UseKernelIsa(saved_); }
  ScopedKernelIsa(const ScopedKernelIsa&) = delete;
  ScopedKernelIsa& operator=(const ScopedKernelIsa&) = delete;

 private:
  KernelIsa saved_;
};

// Packs rows [i0, i0 + mc) x depth [k0, k0 + kc) of A into panels of kMr rows: panel p holds
// kc x kMr floats (rows past M zero). out: ceil(mc / kMr) * kMr * kc floats.
void PackA(const GemmOperand& a, int64_t m, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float* out);

// Packs depth [k0, k0 + kc) x columns [j0, j0 + nc) of B into panels of kNr columns: panel p
// holds kc x kNr floats (columns past N zero). out: ceil(nc / kNr) * kNr * kc floats.
void PackB(const GemmOperand& b, int64_t n, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* out);

// dst[k * stride + i] = row i [k] for i < min(8, stride), k < kc: stored rows of f32 or f16
// values (row i at base + i * ld elements, for i < valid; the rest read as zero) widened and
// interleaved in one pass, 8x8 transposes in registers (AVX2, F16C). stride 6: an A panel (each
// 8-float store's last two floats land in the next step's slot, which that step overwrites; the
// last step stores six); 8 or 16: one or both halves of a B panel.
void InterleaveStoredRows(const void* base, DType dtype, int64_t ld, int64_t valid, int64_t kc, float* dst,
                          int64_t stride);

// `count` values of stored row `row` of a kRows/kColumns operand from column k0, as f32.
void ReadRow(const GemmOperand& op, int64_t row, int64_t k0, int64_t count, float* out);

}  // namespace sdr::cpu::tile
