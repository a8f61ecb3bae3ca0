// The GEMM kernel lab: our TileGemm (f32 / f16 / q8_0 weights read in place, im2col in the
// packing step) against OpenBLAS's SGEMM on the shapes SD 1.5 runs, in one run on one machine.
// Prints GFLOP per CPU-second (per core) per variant, best of 3, with the CPU line.
//
// Usage: sdr_bench_gemm [attention]   (attention: the attention shapes only)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "backends/cpu/flash_attention.h"
#include "backends/cpu/ops.h"
#include "bench_util.h"
#include "backends/cpu/tile_gemm.h"
#include "backends/cpu/tile_gemm_kernel.h"
#include "backends/cpu/winograd.h"
#include "core/half.h"
#include "core/quant.h"

namespace {

using Clock = std::chrono::steady_clock;

using sdr::bench::CpuLine;
using sdr::bench::CpuSeconds;
using sdr::bench::Filled;

// Best of 3 in CPU seconds of this process (all its threads): GFLOP per CPU-second is the rate
// per core, which other load on a shared machine disturbs far less than wall time.
template <typename F>
double BestSeconds(F f) {
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    const double t0 = CpuSeconds();
    f();
    best = std::min(best, CpuSeconds() - t0);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const bool attention_only = argc > 1 && std::string(argv[1]) == "attention";
  using sdr::cpu::GemmOperand;
  using sdr::cpu::tile::ActiveKernelIsa;
  using sdr::cpu::tile::KernelIsaName;
  std::printf("cpu: %s; OpenBLAS threads %d; TileGemm %s\n", CpuLine().c_str(), sdr::cpu::BlasThreads(),
              sdr::cpu::TileGemmAvailable() ? KernelIsaName(ActiveKernelIsa()) : "unavailable");
  if (!sdr::cpu::TileGemmAvailable()) return 0;
  struct Shape {
    const char* what;
    int64_t m, n, k;
  };
  // Linear: y[m, n] = x[m, k] W[n, k]^T.
  if (!attention_only)
  for (const Shape& s : {Shape{"linear 64x64 tokens x2, 320->320", 8192, 320, 320},
                         Shape{"linear 64x64 tokens x2, 320->2560 (GEGLU)", 8192, 2560, 320},
                         Shape{"linear 32x32 tokens x2, 640->640", 2048, 640, 640},
                         Shape{"linear 77 tokens, 768->768 (CLIP)", 77, 768, 768}}) {
    const auto x = Filled(s.m * s.k, 1.0f), w = Filled(s.n * s.k, 0.05f);
    std::vector<uint16_t> w16(w.size());
    for (size_t i = 0; i < w.size(); ++i) w16[i] = sdr::F32ToF16(w[i]);
    std::vector<uint8_t> wq(*sdr::DTypeBytes(sdr::DType::kQ8_0, static_cast<uint64_t>(w.size())));
    if (!sdr::Quantize(sdr::DType::kQ8_0, w.data(), static_cast<int64_t>(w.size()), wq.data()).ok()) return 1;
    std::vector<float> y(static_cast<size_t>(s.m * s.n));
    const double flop = 2.0 * s.m * s.n * s.k;
    const double blas = BestSeconds([&] { sdr::cpu::Linear(x.data(), w.data(), nullptr, y.data(), s.m, s.n, s.k); });
    auto tile = [&](const void* wd, sdr::DType dt) {
      return BestSeconds([&] {
        sdr::cpu::TileGemm(s.m, s.n, s.k, GemmOperand::Rows(x.data(), sdr::DType::kF32, s.k),
                           GemmOperand::Columns(wd, dt, s.k), y.data(), s.n, {});
      });
    };
    const double t32 = tile(w.data(), sdr::DType::kF32), t16 = tile(w16.data(), sdr::DType::kF16),
                 tq = tile(wq.data(), sdr::DType::kQ8_0);
    std::printf("%-46s OpenBLAS f32 %6.1f | Tile f32 %6.1f  f16 %6.1f  q8_0 %6.1f GFLOP/core-s\n", s.what,
                flop / blas * 1e-9, flop / t32 * 1e-9, flop / t16 * 1e-9, flop / tq * 1e-9);
  }
  // 3x3 convolution of b images (b = 2: the CFG pair): y[cout, hw] = W[cout, cin*9] im2col(x).
  struct Conv {
    const char* what;
    int64_t b, cin, h, cout;
  };
  if (!attention_only)
  for (const Conv& c : {Conv{"conv3x3 320@64x64 x2", 2, 320, 64, 320}, Conv{"conv3x3 640@32x32 x2", 2, 640, 32, 640},
                        Conv{"conv3x3 1280@32x32 x2 (upsample conv)", 2, 1280, 32, 1280},
                        Conv{"conv3x3 1280@16x16 x2", 2, 1280, 16, 1280}, Conv{"conv3x3 1280@8x8 x2", 2, 1280, 8, 1280},
                        Conv{"conv3x3 1280@4x4 x2", 2, 1280, 4, 1280},
                        Conv{"conv3x3 128@256x256 (VAE)", 1, 128, 256, 128}}) {
    const int64_t k = c.cin * 9, hw = c.h * c.h;
    const auto x = Filled(c.b * c.cin * hw, 1.0f), w = Filled(c.cout * k, 0.05f);
    std::vector<uint16_t> w16(w.size());
    for (size_t i = 0; i < w.size(); ++i) w16[i] = sdr::F32ToF16(w[i]);
    std::vector<float> y(static_cast<size_t>(c.b * c.cout * hw));
    const double flop = 2.0 * c.b * c.cout * hw * k;
    const double blas = BestSeconds([&] {
      for (int64_t i = 0; i < c.b; ++i) {
        sdr::cpu::Conv2d(x.data() + i * c.cin * hw, c.cin, c.h, c.h, w.data(), nullptr, c.cout, 3, 3, 1, 1,
                         y.data() + i * c.cout * hw);
      }
    });
    auto tile = [&](const void* wd, sdr::DType dt) {
      return BestSeconds([&] {
        for (int64_t i = 0; i < c.b; ++i) {
          GemmOperand col;
          col.kind = GemmOperand::Kind::kIm2col;
          col.data = x.data() + i * c.cin * hw;
          col.c = c.cin, col.h = c.h, col.w = c.h, col.kh = 3, col.kw = 3, col.stride = 1, col.pad = 1, col.ho = c.h,
          col.wo = c.h;
          sdr::cpu::TileGemm(c.cout, hw, k, GemmOperand::Rows(wd, dt, k), col, y.data() + i * c.cout * hw, hw, {});
        }
      });
    };
    const double t32 = tile(w.data(), sdr::DType::kF32), t16 = tile(w16.data(), sdr::DType::kF16);
    // Every image in one GEMM (the cpu backend's batched im2col path): the weights packed once.
    const double t16b = BestSeconds([&] {
      GemmOperand col;
      col.kind = GemmOperand::Kind::kIm2col;
      col.data = x.data();
      col.c = c.cin, col.h = c.h, col.w = c.h, col.kh = 3, col.kw = 3, col.stride = 1, col.pad = 1, col.ho = c.h,
      col.wo = c.h, col.images = c.b;
      sdr::cpu::TileGemm(c.cout, c.b * hw, k, GemmOperand::Rows(w16.data(), sdr::DType::kF16, k), col, y.data(),
                         c.b * hw, {});
    });
    sdr::cpu::WinogradConv wc;
    wc.x = x.data();
    wc.b = c.b, wc.cin = c.cin, wc.h = c.h, wc.w = c.h, wc.cout = c.cout;
    wc.weight = w16.data();
    wc.weight_dtype = sdr::DType::kF16;
    wc.y = y.data();
    auto winograd = [&](int64_t tile) {
      wc.tile = tile;
      std::vector<float> wscratch(
          static_cast<size_t>(sdr::cpu::WinogradScratchFloats(c.b, c.cin, c.h, c.h, c.cout, tile)));
      return BestSeconds([&] { sdr::cpu::WinogradConv3x3(wc, wscratch.data()); });
    };
    const double wino4 = winograd(4), wino2 = winograd(2);
    std::printf("%-40s OpenBLAS f32 %6.1f | Tile f32 %6.1f  f16 %6.1f  f16 batched %6.1f | Winograd f16 F4 %6.1f "
                "F2 %6.1f effective GFLOP/core-s (auto: F%d)\n",
                c.what, flop / blas * 1e-9, flop / t32 * 1e-9, flop / t16 * 1e-9, flop / t16b * 1e-9,
                flop / wino4 * 1e-9, flop / wino2 * 1e-9,
                static_cast<int>(sdr::cpu::WinogradTile(c.h, c.h, c.cin, c.cout)));
  }
  // Attention of one image: softmax(q k^T / sqrt(d)) v per head, 4 lq lk c FLOP (both products).
  struct Att {
    const char* what;
    int64_t lq, lk, c, heads;
  };
  for (const Att& a : {Att{"attention 4096x4096, 8 x 40 (64x64 self)", 4096, 4096, 320, 8},
                       Att{"attention 1024x1024, 8 x 80 (32x32 self)", 1024, 1024, 640, 8},
                       Att{"attention 4096x77, 8 x 40 (64x64 cross)", 4096, 77, 320, 8},
                       Att{"attention 256x256, 8 x 160 (16x16 self)", 256, 256, 1280, 8}}) {
    const int64_t d = a.c / a.heads;
    const auto q = Filled(a.lq * a.c, 1.0f), k = Filled(a.lk * a.c, 1.0f), v = Filled(a.lk * a.c, 1.0f);
    std::vector<float> y(static_cast<size_t>(a.lq * a.c));
    const double flop = 4.0 * a.lq * a.lk * a.c;
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    const double blas = BestSeconds([&] {
      sdr::cpu::Attention(q.data(), a.c, k.data(), v.data(), a.c, y.data(), a.heads, a.lq, a.lk, d, scale, false);
    });
    std::vector<float> scratch(static_cast<size_t>(sdr::cpu::FlashAttentionScratchFloats(a.heads, a.lq, a.lk, d)));
    const double flash = BestSeconds([&] {
      sdr::cpu::FlashAttention(q.data(), a.c, k.data(), v.data(), a.c, y.data(), a.heads, a.lq, a.lk, d, scale, false,
                               scratch.data());
    });
    std::printf("%-46s OpenBLAS blocks %6.1f | flash %6.1f GFLOP/core-s\n", a.what, flop / blas * 1e-9,
                flop / flash * 1e-9);
  }
  return 0;
}
