// Winograd on the SD 1.5 UNet's own mix: every 3x3 stride-1 convolution of one UNet evaluation at
// 512x512 (64x64 latent, the CFG pair: batch 2), decoder concatenations and upsample convolutions
// included (a size WinogradTile leaves to im2col: the batched im2col GEMM the cpu backend runs
// there, printed as F0), each timed alone (wall seconds, best of 3)
// and weighted by how often one evaluation runs it. The total is what chunk sizes and transforms
// are tuned on; compare builds by alternating their runs on one machine. With `vae`: the VAE
// decoder's 3x3 convolutions of one 512x512 decode instead (batch 1).
//
// Usage: sdr_bench_winograd [ROUNDS [TILE [unet|unet256|vae [auto|streamed|fused [CIN,COUT,SIZE,UP]]]]]
//   ROUNDS: best of that many per shape (default 3); TILE: the m of F(m x m, 3x3) for every shape,
//   0 (default): WinogradTile's choice; unet256: the UNet's convolutions at 256x256 (every size
//   halved); auto|streamed|fused: where U goes (WinogradU, default auto); the last: that shape only
//   (as printed, e.g. 1280,1280,16,1).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "backends/cpu/tile_gemm.h"
#include "backends/cpu/winograd.h"
#include "bench_util.h"
#include "core/half.h"

namespace {

struct Shape {
  int64_t cin, cout, size, count;  // count: how many of this shape one UNet evaluation runs
  int64_t up;                      // 2: the upsample conv (reads its input at half size)
};

// SD 1.5: levels 64 (320 ch), 32 (640), 16 (1280), 8 (1280: down block 4, the middle block, up
// block 1's three ResBlocks).
constexpr Shape kUnetConvs[] = {
    {320, 320, 64, 7, 1},   {960, 320, 64, 1, 1},   {640, 320, 64, 2, 1},   {640, 640, 64, 1, 2},
    {320, 640, 32, 1, 1},   {640, 640, 32, 6, 1},   {1920, 640, 32, 1, 1},  {1280, 640, 32, 1, 1},
    {960, 640, 32, 1, 1},   {1280, 1280, 32, 1, 2}, {640, 1280, 16, 1, 1},  {1280, 1280, 16, 6, 1},
    {1280, 1280, 16, 1, 2}, {2560, 1280, 16, 2, 1}, {1920, 1280, 16, 1, 1}, {1280, 1280, 8, 11, 1},
    {2560, 1280, 8, 3, 1},
};

// The SD VAE decoder at 512x512 (batch 1): 512 channels at 64 and 128, then 256 at 256 and 128 at
// 512; each level's first conv narrows the channels, the upsample conv is at the next size.
constexpr Shape kVaeConvs[] = {
    {512, 512, 64, 10, 1},  {512, 512, 128, 1, 2},  {512, 512, 128, 6, 1}, {512, 512, 256, 1, 2},
    {512, 256, 256, 1, 1},  {256, 256, 256, 5, 1},  {256, 256, 512, 1, 2}, {256, 128, 512, 1, 1},
    {128, 128, 512, 5, 1},
};

using sdr::bench::Filled;

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const int64_t forced = argc > 2 ? std::atoi(argv[2]) : 0;
  const std::string set = argc > 3 ? argv[3] : "unet";
  const bool vae = set == "vae";
  const int64_t halve = set == "unet256" ? 2 : 1;
  const std::string only = argc > 5 ? argv[5] : "";
  const std::string u_arg = argc > 4 ? argv[4] : "auto";
  const sdr::cpu::WinogradU u_mode = u_arg == "fused"      ? sdr::cpu::WinogradU::kFused
                                     : u_arg == "streamed" ? sdr::cpu::WinogradU::kStreamed
                                                           : sdr::cpu::WinogradU::kAuto;
  const int64_t b = vae ? 1 : 2;
  std::printf("cpu: %s\n", sdr::bench::CpuLine().c_str());
  if (!sdr::cpu::TileGemmAvailable()) return 0;
  double total = 0.0, total_flop = 0.0;
  const std::span<const Shape> shapes = vae ? std::span<const Shape>(kVaeConvs) : std::span<const Shape>(kUnetConvs);
  for (Shape s : shapes) {
    s.size /= halve;
    const std::string name = std::to_string(s.cin) + "," + std::to_string(s.cout) + "," + std::to_string(s.size) +
                             "," + std::to_string(s.up);
    if (!only.empty() && name != only) continue;
    const int64_t hw = s.size * s.size, src = hw / (s.up * s.up);
    const auto x = Filled(b * s.cin * src, 1.0f, 1);
    const auto w = Filled(s.cout * s.cin * 9, 0.05f, 2);
    std::vector<uint16_t> w16(w.size());
    for (size_t i = 0; i < w.size(); ++i) w16[i] = sdr::F32ToF16(w[i]);
    std::vector<float> y(static_cast<size_t>(b * s.cout * hw));
    sdr::cpu::WinogradConv c;
    c.x = x.data();
    c.b = b, c.cin = s.cin, c.h = s.size, c.w = s.size, c.up = s.up, c.cout = s.cout;
    c.weight = w16.data();
    c.weight_dtype = sdr::DType::kF16;
    c.y = y.data();
    c.tile = forced != 0 ? forced : sdr::cpu::WinogradTile(s.size, s.size, s.cin, s.cout);
    c.u_mode = u_mode;
    const int64_t scratch_floats =
        c.tile == 0 ? sdr::cpu::TileGemmScratchFloats(s.cout, b * hw, s.cin * 9)
                    : sdr::cpu::WinogradScratchFloats(b, s.cin, s.size, s.size, s.cout, c.tile, c.budget, u_mode);
    std::vector<float> scratch(static_cast<size_t>(scratch_floats));
    // im2col: every image's columns in one GEMM, [cout, b * hw] (up: not on this path).
    sdr::cpu::GemmOperand col;
    col.kind = sdr::cpu::GemmOperand::Kind::kIm2col;
    col.data = x.data();
    col.c = s.cin, col.h = s.size, col.w = s.size, col.kh = 3, col.kw = 3, col.stride = 1, col.pad = 1;
    col.ho = s.size, col.wo = s.size, col.images = b;
    const sdr::cpu::GemmOperand wt = sdr::cpu::GemmOperand::Rows(w16.data(), sdr::DType::kF16, s.cin * 9);
    double best = 1e30;
    for (int r = 0; r < rounds; ++r) {
      const auto t0 = sdr::bench::Clock::now();
      if (c.tile == 0) {
        sdr::cpu::TileGemm(s.cout, b * hw, s.cin * 9, wt, col, y.data(), b * hw, {}, scratch.data());
      } else {
        sdr::cpu::WinogradConv3x3(c, scratch.data());
      }
      best = std::min(best, sdr::bench::Since(t0));
    }
    const double flop = 2.0 * b * s.cout * hw * s.cin * 9;  // as the direct convolution counts
    total += best * static_cast<double>(s.count);
    total_flop += flop * static_cast<double>(s.count);
    std::printf("%5lld -> %-5lld @%lldx%lld%s x%lld  F%lld  %7.1f ms  %6.1f effective GFLOP/s  scratch %5.1f MB\n",
                static_cast<long long>(s.cin), static_cast<long long>(s.cout), static_cast<long long>(s.size),
                static_cast<long long>(s.size), s.up == 2 ? " (up)" : "     ", static_cast<long long>(s.count),
                static_cast<long long>(c.tile), best * 1e3,
                flop / best * 1e-9, static_cast<double>(scratch_floats) * 4e-6);
  }
  std::printf("%s, 3x3 convolutions: %.3f s, %.1f effective GFLOP/s\n",
              vae ? "one VAE decode (512x512, batch 1)"
              : halve == 2 ? "one UNet evaluation at 256x256 (batch 2)"
                           : "one UNet evaluation (batch 2)",
              total,
              total_flop / total * 1e-9);
  return 0;
}
