// 3x3 stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray 2015):
// each 4x4 output tile costs 36 multiplies per input-output channel pair instead of 144, so the
// GEMM work drops 4x. Per 6x6 input tile d, kernel g and tile of output y:
//   V = B^T d B,   U = G g G^T,   y = A^T (U (.) V) A
// with the 36 elementwise products summed over input channels as 36 GEMMs (TileGemm):
//   M_e[tiles, cout] = V_e[tiles, cin] U_e[cin, cout],  e = 0..35.
// The transforms run 8 channels to a vector (channels-last scratch); U is computed per call from
// the stored weights (any dtype TileGemm reads), so nothing is cached and weights stay compact.
// Tiles are processed in bands of whole tile rows, output channels in blocks, so scratch stays
// bounded by the chunk sizes whatever the image size (no whole-image channels-last copies).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace sdr::cpu {

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
};

// Whether F(4x4, 3x3) pays for this size (enough tiles for the GEMMs; else use im2col).
bool WinogradWorthIt(int64_t h, int64_t w, int64_t cin, int64_t cout);

int64_t WinogradScratchFloats(int64_t b, int64_t cin, int64_t h, int64_t w, int64_t cout);

// Needs TileGemmAvailable(). scratch: WinogradScratchFloats floats (null: allocates).
void WinogradConv3x3(const WinogradConv& c, float* scratch = nullptr);

}  // namespace sdr::cpu
