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

// c[6][16] (row stride ldc) = (accumulate ? c : 0) + sum_k a[k][0..6) x b[k][0..16)
// a: kc x 6 floats (a packed A panel), b: kc x 16 floats (a packed B panel, AlignPanels: each
// 16-float step one cache line, so the AVX-512 tile's loads never straddle two).
void MicroKernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate);

// The same for the first four rows of the A panel only: c[4][16] (rows 4 and 5 neither read nor
// written). For panels whose last rows are padding (an image's last Winograd tiles, attention's
// d = 40 as 42 rows): two thirds of the work.
void MicroKernel4(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate);

// MicroKernel4 where the panel's first `rows` rows are all that count (rows <= 4), else
// MicroKernel: rows past `rows` (up to 6) may or may not be written.
void MicroKernelRows(int64_t rows, int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                     bool accumulate);

// Up to three A panels against one B panel: c[rows][16], row r from panel r / 6 at
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
