// 3x3 stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray 2015):
// each 4x4 output tile costs 36 multiplies per input-output channel pair instead of 144, so the
// GEMM work drops 4x; on large images (64 x 64 up) F(6x6, 3x3), 64 per 6x6 tile instead of 324
// (5.06x; its f32 error measured ~2x F(4x4)'s, both ~1e-5 relative); on the smallest (4 x 4: one
// 4x4 tile per image) F(2x2, 3x3), 16 multiplies per 2x2 tile instead of 36 (2.25x). Per (m+2)^2
// input tile d, kernel g and m x m tile of output y:
//   V = B^T d B,   U = G g G^T,   y = A^T (U (.) V) A
// with the (m+2)^2 elementwise products summed over input channels as GEMMs (TileGemm):
//   M_e[tiles, cout] = V_e[tiles, cin] U_e[cin, cout],  e = 0..(m+2)^2 - 1.
// The transforms run 8 channels to a vector (channels-last scratch); U is computed per call from
// the stored weights (any dtype TileGemm reads), so nothing is cached and weights stay compact;
// where few tiles share it, in pieces inside the GEMMs (WinogradU::kFused).
// Tiles are processed in bands of whole tile rows, output channels in blocks, so scratch stays
// bounded by the chunk sizes whatever the image size (no whole-image channels-last copies).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace sdr::cpu {

// Scratch budgets (floats) of a call's plan: tiles go in bands, output channels in blocks, within
// them. Defaults measured on the SD 1.5 UNet's mix (sdr_bench_winograd): V holds both images of
// the CFG pair at every UNet size (960 channels at 64 x 64: 71 MB), so the kernel transform runs
// once per block of output channels, not once per image; U blocks are wide enough that V goes
// through the GEMMs a few times, not a dozen. Tests pass small ones to reach every path.
struct WinogradBudget {
  int64_t v_chunk = 18 << 20;  // V of one band of tiles: 72 MB
  int64_t u_chunk = 12 << 20;  // U of one block of output channels: 48 MB
  int64_t u_whole = 16 << 20;  // U of every output channel, when it fits: 64 MB
  int64_t fused_piece = 72 << 10;  // U of 16 output channels and some input channels, when fused:
                                   // 288 KB, in L2 until the GEMMs have read it (F(4x4): 128
                                   // input channels, F(6x6): 72)
};

// Where U = G g G^T goes. Streamed: U of a block of output channels is computed whole, written
// to scratch, then the (m+2)^2 GEMMs read it (one pass over U per band of tiles: good when many
// tiles share it). Fused: each thread computes U for 16 output channels and a few input channels
// at a time in L2 and multiplies it into those columns of M at once, so U never goes through
// memory (good when few tiles share it: at 16 x 16 the CFG pair has 32 tiles and a 1280-channel
// U is 236 MB, streamed twice per call for 32 uses of each value).
enum class WinogradU { kAuto, kStreamed, kFused };

struct WinogradConv {
  const float* x = nullptr;       // [b, cin, h / up, w / up] NCHW, read nearest-upsampled by `up`
  int64_t b = 0, cin = 0, h = 0, w = 0;  // h, w: the (upsampled) input and output size
  int64_t up = 1;                 // 1, or 2 (h and w even): the conv of x upsampled 2x, never stored
  const void* weight = nullptr;   // [cout, cin, 3, 3] stored as `weight_dtype`
  DType weight_dtype = DType::kF32;
  int64_t cout = 0;
  const float* bias = nullptr;          // [cout] or null
  const float* channel_bias = nullptr;  // [b, cout] or null
  const float* residual = nullptr;      // [b, cout, h, w] or null
  float* y = nullptr;                   // [b, cout, h, w]; y = conv(x) + bias + channel_bias + residual
  int64_t tile = 0;  // m of F(m x m, 3x3): 6, 4 or 2; 0: WinogradTile's choice for the size
  WinogradU u_mode = WinogradU::kAuto;  // kAuto: fused when the output channels are >= 16x the tiles
  WinogradBudget budget;
};

// The m of F(m x m, 3x3) that pays for this size (6, 4 or 2), or 0 when none does (below 4 x 4:
// too few tiles for the GEMMs, im2col instead).
int64_t WinogradTile(int64_t h, int64_t w, int64_t cin, int64_t cout);

// tile, u_mode: as WinogradConv's.
int64_t WinogradScratchFloats(int64_t b, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t tile = 0,
                              const WinogradBudget& budget = {}, WinogradU u_mode = WinogradU::kAuto);

// Needs TileGemmAvailable(). scratch: WinogradScratchFloats floats (null: allocates).
void WinogradConv3x3(const WinogradConv& c, float* scratch = nullptr);

}  // namespace sdr::cpu
