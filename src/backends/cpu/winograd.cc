#include "backends/cpu/winograd.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "backends/cpu/tile_gemm.h"
#include "backends/cpu/tile_gemm_kernel.h"
#include "backends/cpu/transpose8.h"
#include "core/check.h"
#include "core/thread_pool.h"

namespace sdr::cpu {
namespace {

// The smallest outputs each F(m x m, 3x3) takes (sdr_bench_winograd: at 32 x 32 F(6x6) is 1.35x
// slower than F(4x4) on the same multiplication count; at 64 x 64 it is ~1.1x faster; with U
// fused, F(4x4) beats F(2x2) at 16 x 16 (1.6x fewer multiplications) and ties it at 8 x 8, where
// both are ~1.8x faster than im2col; at 4 x 4 (a 256 x 256 image's deepest level) F(2x2) is 1.4x
// faster than im2col, F(4x4) 1.6x slower: one tile per image).
constexpr int64_t kSmallestF2 = 4;
constexpr int64_t kSmallestF4 = 8;
constexpr int64_t kSmallestF6 = 64;
// Floats between consecutive planes (V_e, U_e, M_e) beyond their contents: the planes' sizes are
// multiples of 4096 bytes at the UNet's sizes, and a tile's 36 stores (or loads), one per plane,
// would all fall in one cache set and evict each other; one line apart they do not.
constexpr int64_t kPlanePad = 16;
static_assert(tile::kMr == 6, "InputPanel writes six-row A panels");

int64_t Up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Floats from one plane (V_e, U_e or M_e: rows x width) to the next.
int64_t PlaneStride(int64_t rows, int64_t width) { return rows * width + kPlanePad; }

// Where V lives: the input channels in pieces of `fd` (a multiple of 8; the last piece may be
// shorter), piece by piece; within a piece each V_e, one after another (kPlanePad apart), holds
// the `count` rows (tiles) in A panels of six rows over the piece's channels: a GEMM over one
// piece reads one contiguous stream per V_e. With one piece (fd = cin8) each V_e is the packed
// A operand of the whole GEMM (GemmOperand::Panels, K = cin8).
struct VLayout {
  int64_t count, fd, cin8, e;
  int64_t Depth(int64_t piece) const { return std::min(fd, cin8 - piece * fd); }
  // Where V_e of a piece (count x Depth(piece) floats in panels) starts.
  int64_t Plane(int64_t piece, int64_t plane) const {
    return piece * e * PlaneStride(count, fd) + plane * PlaneStride(count, Depth(piece));
  }
  // Where the panel of rows [row0, row0 + 6) (row0 a multiple of 6) at channel ch (a multiple of
  // 8) starts.
  int64_t At(int64_t plane, int64_t row0, int64_t ch) const {
    const int64_t piece = ch / fd;
    return Plane(piece, plane) + row0 * Depth(piece) + (ch - piece * fd) * tile::kMr;
  }
  static int64_t Floats(int64_t count, int64_t fd, int64_t cin8, int64_t e) {
    return (cin8 + fd - 1) / fd * e * PlaneStride(count, fd);
  }
};

struct Plan {
  int64_t tile, e;          // outputs per tile side (2, 4 or 6); transform positions (tile + 2)^2
  int64_t cin8, cout8, th, tw, band, ipb, tc, cb;
  int64_t xt, v, u, m, yt, k;  // scratch floats of each part (k: KernelThreadFloats per thread)
  int64_t us;               // PlaneStride of U
  int64_t yt1;              // one image's slice of yt
  bool fused;               // WinogradU::kFused: U in pieces in each thread's scratch, no u
  int64_t fd;               // input channels per piece of V and U (a multiple of 8); streamed: cin8
  int64_t depth;            // cin * 9: a stored kernel row
};

// One thread's scratch for transforming kernels: sixteen kernel rows as f32 (WidenKernelRows), one
// piece's taps interleaved (KernelTaps16) and, fused, the piece's U planes (AlignPanels).
int64_t KernelThreadFloats(const Plan& p) {
  return 16 * p.depth + 16 * p.fd * 9 + (p.fused ? p.e * PlaneStride(p.fd, 16) : 0) + 16;
}

// Tiles are processed a band of whole tile rows at a time: only the band's input rows (plus the
// halo) and output rows are held channels-last, so scratch stays bounded by the chunk sizes, not
// by the image (a 512 x 512 x 128 VAE feature map would need 134 MB for each copy).
Plan MakePlan(int64_t b, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t tile, const WinogradBudget& budget,
              WinogradU u_mode) {
  Plan p;
  p.tile = tile;
  p.e = (tile + 2) * (tile + 2);
  p.cin8 = Up(cin, 8);
  p.cout8 = Up(cout, 8);
  p.th = (h + tile - 1) / tile;
  p.tw = (w + tile - 1) / tile;
  p.band = std::clamp<int64_t>(budget.v_chunk / (p.e * p.cin8) / p.tw, 1, p.th);  // tile rows per band
  // Whole images fit a band: a band holds several images (the CFG pair), so that the kernel
  // transform runs once for them and the GEMMs get their tiles together.
  p.ipb = p.band < p.th ? 1 : std::clamp<int64_t>(budget.v_chunk / (p.e * p.cin8) / (p.th * p.tw), 1, b);
  p.tc = p.ipb * Up(p.band * p.tw, tile::kMr);  // V and M rows per band: each image's tiles in whole A panels
  // Fused pays where each value of U serves few tile rows (sdr_bench_winograd unet / unet256: with
  // 36 rows and 640-1280 channels, 16 x 16 and smaller, 1.5-2x faster; with 132 rows and 320-640
  // channels, 32 x 32, streamed is as fast or up to 1.4x faster). At 1280 channels and 132 rows
  // (the 512 UNet's 1280 -> 1280 upsampling conv at 32 x 32) fused re-reads V's 24 MB for each
  // of 80 groups of output channels: with AVX-512 tiles streamed is 1.7-2.1x faster (58 vs
  // 100-125 ms), with AVX2 fused 1.2x (74 vs 88 ms); streamed there for both, since the choice
  // changes the sums' order and images stay bit-identical across instruction sets.
  p.fused = u_mode == WinogradU::kFused || (u_mode == WinogradU::kAuto && 16 * p.tc <= Up(p.cout8, 16));
  p.depth = cin * 9;
  p.fd = p.fused ? std::clamp<int64_t>(budget.fused_piece / (p.e * 16) / 8 * 8, 8, p.cin8) : p.cin8;
  p.cb = p.fused || p.e * p.cin8 * Up(p.cout8, 16) <= budget.u_whole
             ? Up(p.cout8, 16)
             : std::clamp<int64_t>(budget.u_chunk / (p.e * p.cin8) / 16 * 16, 16, Up(p.cout8, 16));
  p.xt = (tile * p.band + 2) * w * p.cin8;  // input rows [tile ty0 - 1, tile (ty0 + band) + 1)
  p.v = VLayout::Floats(p.tc, p.fd, p.cin8, p.e);
  p.us = PlaneStride(p.cin8, p.cb);
  p.u = p.fused ? 0 : p.e * p.us;
  p.k = ThreadPool::Shared().num_threads() * KernelThreadFloats(p);
  p.m = p.e * PlaneStride(p.tc, p.cb);
  p.yt1 = tile * p.band * w * p.cout8;  // output rows [tile ty0, tile (ty0 + band))
  p.yt = p.ipb * p.yt1;
  return p;
}

// Rows [r0, r1) of one image, as the band buffers hold them: row r at (r - r0) * w.
struct Rows {
  int64_t r0, r1;
};

// out[q - qb][ch] = x[ch][q] for a block of pixels [q0, q1): whole 8x8 blocks vectorised, edges
// scalar. x: [c, hw] NCHW of one image; out: channels last from pixel qb on (channels past c zero).
// Channels outer: eight channel rows are read along the whole block (the channel rows are hw
// apart, often a multiple of 4096 bytes: reading a few floats of every channel at a time would
// evict each line before its second half is used), and the block's output rows stay in L1.
void ChannelsLastRows(const float* x, int64_t c, int64_t hw, int64_t c8, int64_t q0, int64_t q1, int64_t qb,
                      float* out) {
  const int64_t q8 = q0 + (q1 - q0) / 8 * 8;  // [q0, q8): whole 8x8 blocks
  int64_t ch = 0;
  for (; ch + 8 <= c; ch += 8) {
    for (int64_t q = q0; q < q8; q += 8) Transpose8(x + ch * hw + q, hw, out + (q - qb) * c8 + ch, c8);
  }
  for (int64_t q = q0; q < q1; ++q) {
    for (int64_t k = q < q8 ? ch : 0; k < c8; ++k) out[(q - qb) * c8 + k] = k < c ? x[k * hw + q] : 0.0f;
  }
}

// Rows [r.r0, r.r1) of NCHW [c, h*w] (one image) -> channels-last [(r1 - r0) * w, c8].
void ToChannelsLast(const float* x, int64_t c, int64_t hw, int64_t w, int64_t c8, Rows r, float* out) {
  const int64_t q0 = r.r0 * w, q1 = r.r1 * w;
  ThreadPool::Shared().ParallelFor(
      (q1 - q0 + 63) / 64,
      [&](int64_t b0, int64_t b1) {
        ChannelsLastRows(x, c, hw, c8, q0 + b0 * 64, std::min(q1, q0 + b1 * 64), q0, out);
      },
      1);
}

// Rows [r.r0, r.r1) of x upsampled 2x (nearest; x is NCHW [c, (h/2) * (w/2)], one image) ->
// channels-last [(r1 - r0) * w, c8]: each source row is transposed into the right half of its
// output row, then source pixel j (at w/2 + j) is copied to 2j and 2j + 1, left to right: no write
// reaches a pixel not yet read, and only the last copy lands on its own source.
void ToChannelsLastUp2(const float* x, int64_t c, int64_t src_hw, int64_t w, int64_t c8, Rows r, float* out) {
  const int64_t sw = w / 2;
  ThreadPool::Shared().ParallelFor(
      r.r1 - r.r0,
      [&](int64_t i0, int64_t i1) {
        const size_t bytes = static_cast<size_t>(c8) * sizeof(float);
        for (int64_t i = i0; i < i1; ++i) {
          const int64_t row = r.r0 + i, src_row = row / 2;
          float* dst = out + i * w * c8;
          float* half = dst + sw * c8;
          ChannelsLastRows(x, c, src_hw, c8, src_row * sw, (src_row + 1) * sw, src_row * sw, half);
          for (int64_t j = 0; j < sw; ++j) {
            std::memcpy(dst + (2 * j) * c8, half + j * c8, bytes);
            if (2 * j + 1 != sw + j) std::memcpy(dst + (2 * j + 1) * c8, half + j * c8, bytes);
          }
        }
      },
      1);
}

// The transforms of F(m x m, 3x3) for m = 4 (6x6 tiles, Lavin & Gray's points 0, +-1, +-2),
// m = 6 (8x8 tiles) and m = 2 (4x4 tiles, points 0, +-1), each applied to one line of a tile, 8
// channels to a vector:
// Bt: B^T x (input, T -> T), At: A^T v (output, T -> m), G: G g (kernel, 3 -> T).
template <int M>
struct Transforms;

template <>
struct Transforms<4> {
  static constexpr int kT = 6;
  __attribute__((target("avx2,fma"))) static inline void Bt(const __m256 x[6], __m256 out[6]) {
    const __m256 k2 = _mm256_set1_ps(2.0f), k4 = _mm256_set1_ps(4.0f), k5 = _mm256_set1_ps(5.0f);
    out[0] = _mm256_add_ps(_mm256_fnmadd_ps(k5, x[2], _mm256_mul_ps(k4, x[0])), x[4]);
    out[1] = _mm256_add_ps(_mm256_fnmadd_ps(k4, _mm256_add_ps(x[1], x[2]), x[4]), x[3]);
    out[2] = _mm256_sub_ps(_mm256_fmadd_ps(k4, _mm256_sub_ps(x[1], x[2]), x[4]), x[3]);
    out[3] = _mm256_sub_ps(_mm256_fmadd_ps(k2, _mm256_sub_ps(x[3], x[1]), x[4]), x[2]);
    out[4] = _mm256_sub_ps(_mm256_fmadd_ps(k2, _mm256_sub_ps(x[1], x[3]), x[4]), x[2]);
    out[5] = _mm256_add_ps(_mm256_fnmadd_ps(k5, x[3], _mm256_mul_ps(k4, x[1])), x[5]);
  }
  __attribute__((target("avx2,fma"))) static inline void At(const __m256 v[6], __m256 out[4]) {
    const __m256 k2 = _mm256_set1_ps(2.0f), k4 = _mm256_set1_ps(4.0f), k8 = _mm256_set1_ps(8.0f);
    const __m256 a12 = _mm256_add_ps(v[1], v[2]), s12 = _mm256_sub_ps(v[1], v[2]);
    const __m256 a34 = _mm256_add_ps(v[3], v[4]), s34 = _mm256_sub_ps(v[3], v[4]);
    out[0] = _mm256_add_ps(_mm256_add_ps(v[0], a12), a34);
    out[1] = _mm256_fmadd_ps(k2, s34, s12);
    out[2] = _mm256_fmadd_ps(k4, a34, a12);
    out[3] = _mm256_add_ps(_mm256_fmadd_ps(k8, s34, s12), v[5]);
  }
  __attribute__((target("avx2,fma"))) static inline void G(__m256 x0, __m256 x1, __m256 x2, __m256 out[6]) {
    const __m256 s02 = _mm256_add_ps(x0, x2), m6 = _mm256_set1_ps(-1.0f / 6.0f);
    out[0] = _mm256_mul_ps(_mm256_set1_ps(1.0f / 4.0f), x0);
    out[1] = _mm256_mul_ps(m6, _mm256_add_ps(s02, x1));
    out[2] = _mm256_mul_ps(m6, _mm256_sub_ps(s02, x1));
    const __m256 base =
        _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 24.0f), x0, _mm256_mul_ps(_mm256_set1_ps(1.0f / 6.0f), x2));
    out[3] = _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 12.0f), x1, base);
    out[4] = _mm256_fnmadd_ps(_mm256_set1_ps(1.0f / 12.0f), x1, base);
    out[5] = x2;
  }
};

// m = 6: 8x8 tiles, points 0, +-1, +-2, +-1/2 (Lavin & Gray's F(6x6, 3x3)); each line's outputs
// come in pairs sharing their even and odd parts.
template <>
struct Transforms<6> {
  static constexpr int kT = 8;
  __attribute__((target("avx2,fma"))) static inline void Bt(const __m256 x[8], __m256 out[8]) {
    const __m256 k21_4 = _mm256_set1_ps(21.0f / 4.0f), k17_4 = _mm256_set1_ps(17.0f / 4.0f);
    const __m256 k5_4 = _mm256_set1_ps(5.0f / 4.0f), k5_2 = _mm256_set1_ps(5.0f / 2.0f);
    const __m256 k1_4 = _mm256_set1_ps(0.25f), k1_2 = _mm256_set1_ps(0.5f);
    const __m256 k2 = _mm256_set1_ps(2.0f), k4 = _mm256_set1_ps(4.0f), k5 = _mm256_set1_ps(5.0f);
    out[0] = _mm256_fmadd_ps(k21_4, _mm256_sub_ps(x[4], x[2]), _mm256_sub_ps(x[0], x[6]));
    out[7] = _mm256_fmadd_ps(k21_4, _mm256_sub_ps(x[3], x[5]), _mm256_sub_ps(x[7], x[1]));
    const __m256 e1 = _mm256_fnmadd_ps(k17_4, x[4], _mm256_add_ps(x[2], x[6]));
    const __m256 o1 = _mm256_fnmadd_ps(k17_4, x[3], _mm256_add_ps(x[1], x[5]));
    out[1] = _mm256_add_ps(e1, o1);
    out[2] = _mm256_sub_ps(e1, o1);
    const __m256 e2 = _mm256_fmadd_ps(k1_4, x[2], _mm256_fnmadd_ps(k5_4, x[4], x[6]));
    const __m256 o2 = _mm256_fmadd_ps(k1_2, x[1], _mm256_fmsub_ps(k2, x[5], _mm256_mul_ps(k5_2, x[3])));
    out[3] = _mm256_add_ps(e2, o2);
    out[4] = _mm256_sub_ps(e2, o2);
    const __m256 e3 = _mm256_fmadd_ps(k4, x[2], _mm256_fnmadd_ps(k5, x[4], x[6]));
    const __m256 o3 = _mm256_fmadd_ps(k2, x[1], _mm256_fmsub_ps(k1_2, x[5], _mm256_mul_ps(k5_2, x[3])));
    out[5] = _mm256_add_ps(e3, o3);
    out[6] = _mm256_sub_ps(e3, o3);
  }
  __attribute__((target("avx2,fma"))) static inline void At(const __m256 v[8], __m256 out[6]) {
    const __m256 a1 = _mm256_add_ps(v[1], v[2]), s1 = _mm256_sub_ps(v[1], v[2]);
    const __m256 a2 = _mm256_add_ps(v[3], v[4]), s2 = _mm256_sub_ps(v[3], v[4]);
    const __m256 a3 = _mm256_add_ps(v[5], v[6]), s3 = _mm256_sub_ps(v[5], v[6]);
    out[0] = _mm256_add_ps(_mm256_add_ps(v[0], a1), _mm256_add_ps(a2, a3));
    out[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), s2, _mm256_fmadd_ps(_mm256_set1_ps(0.5f), s3, s1));
    out[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), a2, _mm256_fmadd_ps(_mm256_set1_ps(0.25f), a3, a1));
    out[3] = _mm256_fmadd_ps(_mm256_set1_ps(8.0f), s2, _mm256_fmadd_ps(_mm256_set1_ps(0.125f), s3, s1));
    out[4] = _mm256_fmadd_ps(_mm256_set1_ps(16.0f), a2, _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 16.0f), a3, a1));
    const __m256 o5 = _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 32.0f), s3, _mm256_add_ps(s1, v[7]));
    out[5] = _mm256_fmadd_ps(_mm256_set1_ps(32.0f), s2, o5);
  }
  __attribute__((target("avx2,fma"))) static inline void G(__m256 x0, __m256 x1, __m256 x2, __m256 out[8]) {
    const __m256 s02 = _mm256_add_ps(x0, x2);
    out[0] = x0;
    out[1] = _mm256_mul_ps(_mm256_set1_ps(-2.0f / 9.0f), _mm256_add_ps(s02, x1));
    out[2] = _mm256_mul_ps(_mm256_set1_ps(-2.0f / 9.0f), _mm256_sub_ps(s02, x1));
    const __m256 e3 =
        _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 90.0f), x0, _mm256_mul_ps(_mm256_set1_ps(2.0f / 45.0f), x2));
    out[3] = _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 45.0f), x1, e3);
    out[4] = _mm256_fnmadd_ps(_mm256_set1_ps(1.0f / 45.0f), x1, e3);
    const __m256 e5 =
        _mm256_fmadd_ps(_mm256_set1_ps(32.0f / 45.0f), x0, _mm256_mul_ps(_mm256_set1_ps(8.0f / 45.0f), x2));
    out[5] = _mm256_fmadd_ps(_mm256_set1_ps(16.0f / 45.0f), x1, e5);
    out[6] = _mm256_fnmadd_ps(_mm256_set1_ps(16.0f / 45.0f), x1, e5);
    out[7] = x2;
  }
};

template <>
struct Transforms<2> {
  static constexpr int kT = 4;
  __attribute__((target("avx2,fma"))) static inline void Bt(const __m256 x[4], __m256 out[4]) {
    out[0] = _mm256_sub_ps(x[0], x[2]);
    out[1] = _mm256_add_ps(x[1], x[2]);
    out[2] = _mm256_sub_ps(x[2], x[1]);
    out[3] = _mm256_sub_ps(x[1], x[3]);
  }
  __attribute__((target("avx2,fma"))) static inline void At(const __m256 v[4], __m256 out[2]) {
    out[0] = _mm256_add_ps(_mm256_add_ps(v[0], v[1]), v[2]);
    out[1] = _mm256_sub_ps(_mm256_sub_ps(v[1], v[2]), v[3]);
  }
  __attribute__((target("avx2,fma"))) static inline void G(__m256 x0, __m256 x1, __m256 x2, __m256 out[4]) {
    const __m256 half = _mm256_set1_ps(0.5f), s02 = _mm256_add_ps(x0, x2);
    out[0] = x0;
    out[1] = _mm256_mul_ps(half, _mm256_add_ps(s02, x1));
    out[2] = _mm256_mul_ps(half, _mm256_sub_ps(s02, x1));
    out[3] = x2;
  }
};

// f(std::integral_constant<int, m>{}) for the plan's m (2, 4 or 6): the one place that maps a
// runtime tile size to the templates instantiated for it.
template <typename F>
void WithTile(int64_t tile, F&& f) {
  switch (tile) {
    case 2: return f(std::integral_constant<int, 2>{});
    case 4: return f(std::integral_constant<int, 4>{});
    default: SDR_CHECK(tile == 6); return f(std::integral_constant<int, 6>{});
  }
}

// The (M+2)^2 transformed vectors V_e (channels [g, g + 8)) of tile t, from the channels-last
// input rows in xt, into out[e][i].
template <int M>
__attribute__((target("avx2,fma"))) inline void TileV(const Plan& p, const float* xt, Rows rows, int64_t h,
                                                      int64_t w, int64_t t, int64_t g, int i, __m256 out[][8]) {
  using X = Transforms<M>;
  constexpr int T = X::kT;
  const int64_t c8 = p.cin8;
  const int64_t ty = t % (p.th * p.tw) / p.tw, tx = t % p.tw;
  __m256 d[T][T];
  for (int r = 0; r < T; ++r) {
    const int64_t iy = M * ty - 1 + r;
    for (int c = 0; c < T; ++c) {
      const int64_t ix = M * tx - 1 + c;
      d[r][c] = (iy >= 0 && iy < h && ix >= 0 && ix < w)
                    ? _mm256_loadu_ps(xt + ((iy - rows.r0) * w + ix) * c8 + g)  // the band holds row iy
                    : _mm256_setzero_ps();
    }
  }
  // B^T applied rows first (s = B^T d), then columns (V = s B).
  __m256 s[T][T];
  for (int c = 0; c < T; ++c) {
    __m256 x[T], col[T];
    for (int r = 0; r < T; ++r) x[r] = d[r][c];
    X::Bt(x, col);
    for (int r = 0; r < T; ++r) s[r][c] = col[r];
  }
  for (int r = 0; r < T; ++r) {
    __m256 v[T];
    X::Bt(s[r], v);
    for (int c = 0; c < T; ++c) out[r * T + c][i] = v[c];
  }
}

// Rows [row0, row0 + 6) of every V_e (row0 a multiple of 6) from tiles [t0, t0 + valid) of one
// image (valid <= 6; the panel's other rows zero), written as A panels where `vl` puts them.
// Per 8 channels: six tiles' vectors, then per e one 8x8 transpose (two zero rows) gives the
// panel's 48 contiguous floats for those channels.
template <int M>
__attribute__((target("avx2,fma"))) void InputPanel(const Plan& p, const float* xt, Rows rows, int64_t h, int64_t w,
                                                    int64_t t0, int64_t valid, int64_t row0, const VLayout& vl,
                                                    float* v) {
  constexpr int E = (M + 2) * (M + 2);
  const int64_t c8 = p.cin8;
  __m256 buf[E][8];
  for (int e = 0; e < E; ++e)
    for (int i = static_cast<int>(valid); i < 8; ++i) buf[e][i] = _mm256_setzero_ps();
  for (int64_t g = 0; g < c8; g += 8) {
    for (int i = 0; i < valid; ++i) TileV<M>(p, xt, rows, h, w, t0 + i, g, i, buf);
    for (int e = 0; e < E; ++e) {
      __m256 t[8];
      Transpose8Regs(buf[e], t);
      float* dst = v + vl.At(e, row0, g);
      // Each 8-float store spills two floats into the next channel's slot, which the next store
      // overwrites; the last one stores exactly six (the slot after it is another panel's).
      for (int j = 0; j < 7; ++j) _mm256_storeu_ps(dst + j * 6, t[j]);
      Store6(dst + 42, t[7]);
    }
  }
}

// V rows [row0, row0 + Up(tiles, 6)) for tiles [t0, t0 + tiles) of one image, panel by panel.
void InputTransform(const Plan& p, const float* xt, Rows rows, int64_t h, int64_t w, int64_t t0, int64_t tiles,
                    int64_t row0, const VLayout& vl, float* v) {
  ThreadPool::Shared().ParallelFor(
      (tiles + 5) / 6,
      [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
          const int64_t valid = std::min<int64_t>(6, tiles - 6 * q);
          WithTile(p.tile, [&](auto m) {
            InputPanel<decltype(m)::value>(p, xt, rows, h, w, t0 + 6 * q, valid, row0 + 6 * q, vl, v);
          });
        }
      },
      1);
}

// U = G g G^T for sixteen output channels [j, j + 16) at once, stored as TileGemm's packed B
// panel of U_e[cin8, cb] (GemmOperand::Panels): U[e][j / 16][ci][16], whole 64-byte lines, U_e
// at u + e * us.
// lo, hi: the two halves' weights interleaved, [ci][ky][kx][8]; rows past cin are zero.
template <int M>
__attribute__((target("avx2,fma"))) void KernelTile16(const float* lo, const float* hi, int64_t cin, int64_t cin8,
                                                      int64_t us, int64_t j, float* u) {
  using X = Transforms<M>;
  constexpr int T = X::kT;
  float* panel = u + j / 16 * cin8 * 16;  // + e * us + ci * 16
  for (int64_t ci = 0; ci < cin; ++ci) {
    for (int half = 0; half < 2; ++half) {
      const float* w8t = half == 0 ? lo : hi;
      __m256 g[3][3];
      for (int ky = 0; ky < 3; ++ky)
        for (int kx = 0; kx < 3; ++kx) g[ky][kx] = _mm256_loadu_ps(w8t + (ci * 9 + ky * 3 + kx) * 8);
      __m256 t[T][3];
      for (int kx = 0; kx < 3; ++kx) {
        __m256 col[T];
        X::G(g[0][kx], g[1][kx], g[2][kx], col);
        for (int r = 0; r < T; ++r) t[r][kx] = col[r];
      }
      for (int r = 0; r < T; ++r) {
        __m256 out[T];
        X::G(t[r][0], t[r][1], t[r][2], out);
        for (int c = 0; c < T; ++c) _mm256_store_ps(panel + (r * T + c) * us + ci * 16 + half * 8, out[c]);
      }
    }
  }
  for (int64_t e = 0; e < T * T; ++e) std::fill_n(panel + e * us + cin * 16, (cin8 - cin) * 16, 0.0f);
}

// Whether the kernel rows are widened and interleaved straight from the stored weights (one pass,
// any range of taps); other dtypes (GGUF blocks) are widened a whole row at a time first.
bool ReadsKernelsInPlace(DType dtype) { return dtype == DType::kF16 || dtype == DType::kF32; }

// Every tap (k = ci * 9 + ky * 3 + kx) of kernels [co0, co0 + 16) as f32 rows (rows past cout
// zero): what KernelTaps16 reads for dtypes it does not read in place.
void WidenKernelRows(const WinogradConv& c, int64_t co0, float* rows) {
  const int64_t depth = c.cin * 9;
  const GemmOperand wt = GemmOperand::Rows(c.weight, c.weight_dtype, depth);
  for (int64_t i = 0; i < 16; ++i) {
    if (co0 + i < c.cout) {
      tile::ReadRow(wt, co0 + i, 0, depth, rows + i * depth);
    } else {
      std::fill_n(rows + i * depth, depth, 0.0f);
    }
  }
}

// Taps [k0, k0 + n) of kernels [co0, co0 + 16) (past cout zero) as KernelTile16's two halves of
// eight kernels interleaved: half h at out + h * 8 * n, tap k0 + k at [k][8]. f16 and f32 are
// read from the weights (widened and transposed in registers, one pass); other dtypes from `rows`
// (WidenKernelRows).
void KernelTaps16(const WinogradConv& c, int64_t co0, int64_t k0, int64_t n, const float* rows, float* out) {
  const int64_t depth = c.cin * 9;
  const bool in_place = ReadsKernelsInPlace(c.weight_dtype);
  const int64_t esize = c.weight_dtype == DType::kF16 ? 2 : 4;
  for (int64_t h = 0; h < 2; ++h) {
    const int64_t first = co0 + h * 8, valid = std::clamp<int64_t>(c.cout - first, 0, 8);
    const void* src = !in_place   ? static_cast<const void*>(rows + h * 8 * depth + k0)
                      : valid > 0 ? static_cast<const uint8_t*>(c.weight) + (first * depth + k0) * esize
                                  : c.weight;
    tile::InterleaveStoredRows(src, in_place ? c.weight_dtype : DType::kF32, depth, valid, n, out + h * 8 * n, 8);
  }
}

// The three parts of thread t's KernelThreadFloats in `kernels`.
struct KernelScratch {
  float* rows;  // [16][depth] (WidenKernelRows)
  float* taps;  // two halves of [fd * 9][8] (KernelTaps16)
  float* u;     // fused: the piece's U planes, on cache lines (the micro-kernel's B panels)
};
KernelScratch ThreadKernelScratch(const Plan& p, float* kernels, int64_t t) {
  KernelScratch k;
  k.rows = kernels + t * KernelThreadFloats(p);
  k.taps = k.rows + 16 * p.depth;
  k.u = tile::AlignPanels(k.taps + 16 * p.fd * 9);
  return k;
}

// U for output channels [co0, co0 + count), count = min(cb, cout - co0), in whole panels of 16
// (channels past cout zero); panels past the count are not written (Gemms stops before them).
void KernelTransform(const WinogradConv& c, const Plan& p, int64_t co0, float* u, float* kernels) {
  ThreadPool::Shared().ForEachInOrder((std::min(p.cb, c.cout - co0) + 15) / 16, [&](int64_t t, int64_t g) {
    const KernelScratch k = ThreadKernelScratch(p, kernels, t);
    if (!ReadsKernelsInPlace(c.weight_dtype)) WidenKernelRows(c, co0 + 16 * g, k.rows);
    KernelTaps16(c, co0 + 16 * g, 0, p.depth, k.rows, k.taps);
    WithTile(p.tile, [&](auto m) {
      KernelTile16<decltype(m)::value>(k.taps, k.taps + 8 * p.depth, c.cin, p.cin8, p.us, 16 * g, u);
    });
  });
}

// yt[y - rows.r0][x][co0 + g] of tile t (local index n) from M[e][n][cb]: y = A^T M A.
template <int M>
__attribute__((target("avx2,fma"))) void OutputTile(const Plan& p, Rows rows, int64_t h, int64_t w, const float* m,
                                                    int64_t t, int64_t n, int64_t count, int64_t co0, int64_t cols,
                                                    float* yt) {
  using X = Transforms<M>;
  constexpr int T = X::kT;
  const int64_t cb = p.cb, ms = PlaneStride(count, cb);
  const int64_t ty = t % (p.th * p.tw) / p.tw, tx = t % p.tw;
  for (int64_t g = 0; g < cols; g += 8) {
    __m256 s[M][T];
    for (int c = 0; c < T; ++c) {
      __m256 v[T], out[M];
      for (int r = 0; r < T; ++r) v[r] = _mm256_loadu_ps(m + (r * T + c) * ms + n * cb + g);
      X::At(v, out);
      for (int r = 0; r < M; ++r) s[r][c] = out[r];
    }
    for (int r = 0; r < M; ++r) {
      const int64_t oy = M * ty + r;
      if (oy >= h) break;
      __m256 out[M];
      X::At(s[r], out);
      for (int c = 0; c < M; ++c) {
        const int64_t ox = M * tx + c;
        if (ox >= w) break;
        // row oy of the image at (oy - rows.r0) * w
        _mm256_storeu_ps(yt + ((oy - rows.r0) * w + ox) * p.cout8 + co0 + g, out[c]);
      }
    }
  }
}

// Tiles [t0, t0 + count) of one image, at local indices [n_base, n_base + count) of M_e's `m_rows`
// rows, into that image's yt.
void OutputTransform(const Plan& p, Rows rows, int64_t h, int64_t w, const float* m, int64_t t0, int64_t count,
                     int64_t n_base, int64_t m_rows, int64_t co0, int64_t cols, float* yt) {
  ThreadPool::Shared().ParallelFor(
      count,
      [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) {
          WithTile(p.tile, [&](auto tm) {
            OutputTile<decltype(tm)::value>(p, rows, h, w, m, t0 + n, n_base + n, m_rows, co0, cols, yt);
          });
        }
      },
      1);
}

// Rows [r0, r1) of y (NCHW) = yt (channels last, those rows) + bias + channel bias + residual,
// one image.
void FromChannelsLast(const WinogradConv& c, const Plan& p, int64_t img, Rows rows, const float* yt) {
  const int64_t hw = c.h * c.w, q0 = rows.r0 * c.w, q1 = rows.r1 * c.w;
  float* y = c.y + img * c.cout * hw;
  // Sixteen channels at a time: both halves of each 64-byte line of yt are read together.
  ThreadPool::Shared().ParallelFor(
      (c.cout + 15) / 16,
      [&](int64_t g0, int64_t g1) {
        for (int64_t g = g0; g < g1; ++g) {
          const int64_t co0 = 16 * g, n = std::min<int64_t>(16, c.cout - co0), whole = n / 8 * 8;
          int64_t q = q0;
          if (whole > 0) {
            for (; q + 8 <= q1; q += 8) {
              for (int64_t k = 0; k < whole; k += 8) {
                Transpose8(yt + (q - q0) * p.cout8 + co0 + k, p.cout8, y + (co0 + k) * hw + q, hw);
              }
            }
          }
          for (int64_t co = co0; co < co0 + n; ++co)
            for (int64_t i = co < co0 + whole ? q : q0; i < q1; ++i) y[co * hw + i] = yt[(i - q0) * p.cout8 + co];
          for (int64_t co = co0; co < co0 + n; ++co) {
            const float add = (c.bias != nullptr ? c.bias[co] : 0.0f) +
                              (c.channel_bias != nullptr ? c.channel_bias[img * c.cout + co] : 0.0f);
            float* dst = y + co * hw;
            const float* res = c.residual != nullptr ? c.residual + (img * c.cout + co) * hw : nullptr;
            if (res != nullptr) {
              for (int64_t i = q0; i < q1; ++i) dst[i] += add + res[i];
            } else {
              for (int64_t i = q0; i < q1; ++i) dst[i] += add;
            }
          }
        }
      },
      1);
}

// M_e = V_e U_e for every e (its first `cols` columns, a multiple of 16; V in one piece): whole
// GEMMs as the threads' tasks, each thread taking the next e when it is done (the e are equal
// work; a thread slowed by the machine takes fewer), so the threads meet once, not once per GEMM.
// V_e and U_e are both written as the micro-kernel's panels and read in place: nothing is packed.
void Gemms(const Plan& p, int64_t count, int64_t cols, const VLayout& vl, const float* v, const float* u, float* m,
           float* gemm) {
  ThreadPool::Shared().ForEachInOrder(p.e, [&](int64_t t, int64_t e) {
    TileGemm(count, cols, p.cin8, GemmOperand::Panels(v + vl.Plane(0, e), p.cin8),
             GemmOperand::Panels(u + e * p.us, p.cin8), m + e * PlaneStride(count, p.cb), p.cb, {},
             gemm + t * TileGemmTaskScratchFloats());
  });
}

// M_e[:, j .. j + 16) = sum over pieces of V_e[:, piece] U_e[piece, j .. j + 16) for every e: the
// fused mode. Each thread takes the next group of sixteen output channels, widens their kernel
// rows once, then per piece of fd input channels computes U (all (m+2)^2 planes, in L2) and runs
// the micro-kernel down every panel of V_e's rows against it, accumulating into M. V's rows are
// images of `per_image` tiles, each padded to `image_rows`.
void FusedGemms(const WinogradConv& c, const Plan& p, int64_t count, int64_t per_image, int64_t image_rows,
                const VLayout& vl, const float* v, float* m, float* kernels) {
  const int64_t ms = PlaneStride(count, p.cb), piece_us = PlaneStride(p.fd, 16);
  ThreadPool::Shared().ForEachInOrder((c.cout + 15) / 16, [&](int64_t t, int64_t g) {
    const KernelScratch k = ThreadKernelScratch(p, kernels, t);
    if (!ReadsKernelsInPlace(c.weight_dtype)) WidenKernelRows(c, 16 * g, k.rows);
    for (int64_t piece = 0, k0 = 0; k0 < p.cin8; ++piece, k0 += p.fd) {
      const int64_t kd = vl.Depth(piece);                            // a multiple of 8
      const int64_t real = std::clamp<int64_t>(c.cin - k0, 0, kd);  // the rest: zero rows of U
      KernelTaps16(c, 16 * g, k0 * 9, real * 9, k.rows, k.taps);
      WithTile(p.tile, [&](auto tm) {
        KernelTile16<decltype(tm)::value>(k.taps, k.taps + 8 * real * 9, real, kd, piece_us, 0, k.u);
      });
      // One pass down the piece of V: V_0's panels, V_1's, ... in address order.
      for (int64_t e = 0; e < p.e; ++e) {
        // The images' rows (padding rows zero in V, ignored in M) against this U piece.
        tile::MicroKernelGrid({.rows = per_image, .groups = count / image_rows, .group_rows = image_rows,
                               .kc = kd, .a = v + vl.Plane(piece, e), .a_step = tile::kMr * kd,
                               .b = k.u + e * piece_us, .c = m + e * ms + 16 * g, .ldc = p.cb,
                               .accumulate = piece > 0});
      }
    }
  });
}

}  // namespace

int64_t WinogradTile(int64_t h, int64_t w, int64_t cin, int64_t cout) {
  // The kernel transform (per call, ~cin * cout work) must be small beside the GEMM savings
  // (~cin * cout * h * w), and the GEMMs need enough tiles: measured with sdr_bench_winograd.
  if (cin < 8 || cout < 8) return 0;
  if (h * w >= kSmallestF6 * kSmallestF6) return 6;
  if (h * w >= kSmallestF4 * kSmallestF4) return 4;
  if (h * w >= kSmallestF2 * kSmallestF2) return 2;
  return 0;
}

int64_t WinogradScratchFloats(int64_t b, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t tile,
                              const WinogradBudget& budget, WinogradU u_mode) {
  const Plan p = MakePlan(b, cin, h, w, cout, tile != 0 ? tile : WinogradTile(h, w, cin, cout), budget, u_mode);
  return p.xt + p.v + p.u + p.m + p.yt + p.k + ThreadPool::Shared().num_threads() * TileGemmTaskScratchFloats() + 64;
}

void WinogradConv3x3(const WinogradConv& c, float* scratch) {
  const int64_t tile = c.tile != 0 ? c.tile : WinogradTile(c.h, c.w, c.cin, c.cout);
  const Plan p = MakePlan(c.b, c.cin, c.h, c.w, c.cout, tile, c.budget, c.u_mode);
  std::vector<float> own;
  if (scratch == nullptr) {
    own.resize(static_cast<size_t>(WinogradScratchFloats(c.b, c.cin, c.h, c.w, c.cout, tile, c.budget, c.u_mode)));
    scratch = own.data();
  }
  float* xt = scratch;
  float* v = xt + p.xt;
  // U is read in place by the GEMM's micro-kernel: its panels on cache lines.
  float* u = tile::AlignPanels(v + p.v);
  float* m = u + p.u;
  float* yt = m + p.m;
  float* kernels = yt + p.yt;  // each thread's KernelThreadFloats
  float* gemm = kernels + p.k;
  const int64_t hw = c.h * c.w, src_hw = hw / (c.up * c.up);
  // One block of output channels: the kernel transform runs once, not once per band.
  const bool whole_u = !p.fused && p.cb >= c.cout;
  if (whole_u) KernelTransform(c, p, 0, u, kernels);
  for (int64_t img0 = 0; img0 < c.b; img0 += p.ipb) {
    const int64_t images = std::min(p.ipb, c.b - img0);
    for (int64_t ty0 = 0; ty0 < p.th; ty0 += p.band) {
      const int64_t rows_t = std::min(p.band, p.th - ty0);
      const Rows in{std::max<int64_t>(0, tile * ty0 - 1), std::min(c.h, tile * (ty0 + rows_t) + 1)};
      const Rows out{tile * ty0, std::min(c.h, tile * (ty0 + rows_t))};
      // Tiles of each image in the band, and their V / M rows (whole A panels: the rows past the
      // tiles are zero in V, ignored in M).
      const int64_t per_image = rows_t * p.tw, image_rows = Up(per_image, tile::kMr), count = images * image_rows;
      const VLayout vl{count, p.fd, p.cin8, p.e};
      for (int64_t i = 0; i < images; ++i) {
        const int64_t img = img0 + i;
        if (c.up == 2) {
          ToChannelsLastUp2(c.x + img * c.cin * src_hw, c.cin, src_hw, c.w, p.cin8, in, xt);
        } else {
          ToChannelsLast(c.x + img * c.cin * hw, c.cin, hw, c.w, p.cin8, in, xt);
        }
        InputTransform(p, xt, in, c.h, c.w, img * p.th * p.tw + ty0 * p.tw, per_image, i * image_rows, vl, v);
      }
      if (p.fused) {
        FusedGemms(c, p, count, per_image, image_rows, vl, v, m, kernels);
        for (int64_t i = 0; i < images; ++i) {
          OutputTransform(p, out, c.h, c.w, m, (img0 + i) * p.th * p.tw + ty0 * p.tw, per_image, i * image_rows, count,
                          0, p.cout8, yt + i * p.yt1);
        }
      }
      for (int64_t co0 = 0; !p.fused && co0 < c.cout; co0 += p.cb) {
        if (!whole_u) KernelTransform(c, p, co0, u, kernels);
        Gemms(p, count, Up(std::min(p.cb, c.cout - co0), 16), vl, v, u, m, gemm);
        for (int64_t i = 0; i < images; ++i) {
          OutputTransform(p, out, c.h, c.w, m, (img0 + i) * p.th * p.tw + ty0 * p.tw, per_image, i * image_rows, count,
                          co0, std::min(p.cb, p.cout8 - co0), yt + i * p.yt1);
        }
      }
      for (int64_t i = 0; i < images; ++i) FromChannelsLast(c, p, img0 + i, out, yt + i * p.yt1);
    }
  }
}

}  // namespace sdr::cpu
