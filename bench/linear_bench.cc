// The SD 1.5 UNet's Linear layers as one evaluation at 512x512 runs them (64x64 latent, the CFG
// pair: batch 2, f16 weights read in place by TileGemm): each shape timed alone (wall seconds, best
// of ROUNDS) and weighted by how often one evaluation runs it. Compare builds by alternating their
// runs on one machine.
//
// Usage: sdr_bench_linear [ROUNDS [ONLY]]   (default 3; ONLY: run the shapes whose name contains it)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backends/cpu/tile_gemm.h"
#include "bench_util.h"
#include "core/half.h"

namespace {

struct Shape {
  const char* what;
  int64_t m, n, k, count;  // y[m, n] = x[m, k] W[n, k]^T, `count` times per evaluation
};

// Per transformer block at width c over t tokens (x2 images): proj_in, q, k, v, out, cross q,
// cross out, proj_out (c -> c), FF1 (c -> 8c: GEGLU's two halves), FF2 (4c -> c), and the cross
// k, v of the 77 text tokens (768 -> c). Five blocks at 64x64, 32x32 and 16x16, one at 8x8.
constexpr Shape kUnetLinears[] = {
    {"64x64 320->320", 8192, 320, 320, 40},      {"64x64 320->2560 FF1", 8192, 2560, 320, 5},
    {"64x64 1280->320 FF2", 8192, 320, 1280, 5}, {"32x32 640->640", 2048, 640, 640, 40},
    {"32x32 640->5120 FF1", 2048, 5120, 640, 5}, {"32x32 2560->640 FF2", 2048, 640, 2560, 5},
    {"16x16 1280->1280", 512, 1280, 1280, 40},   {"16x16 1280->10240 FF1", 512, 10240, 1280, 5},
    {"16x16 5120->1280 FF2", 512, 1280, 5120, 5}, {"8x8 1280->1280", 128, 1280, 1280, 8},
    {"8x8 1280->10240 FF1", 128, 10240, 1280, 1}, {"8x8 5120->1280 FF2", 128, 1280, 5120, 1},
    {"text 768->320", 154, 320, 768, 10},         {"text 768->640", 154, 640, 768, 10},
    {"text 768->1280", 154, 1280, 768, 12},
};

using sdr::bench::Filled;

}  // namespace

int main(int argc, char** argv) {
  using sdr::cpu::GemmOperand;
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const char* only = argc > 2 ? argv[2] : nullptr;
  std::printf("cpu: %s\n", sdr::bench::CpuLine().c_str());
  if (!sdr::cpu::TileGemmAvailable()) return 0;
  double total = 0.0, total_flop = 0.0;
  for (const Shape& s : kUnetLinears) {
    if (only != nullptr && std::strstr(s.what, only) == nullptr) continue;
    const auto x = Filled(s.m * s.k, 1.0f, 1), w = Filled(s.n * s.k, 0.05f, 2), b = Filled(s.n, 0.1f, 3);
    std::vector<uint16_t> w16(w.size());
    for (size_t i = 0; i < w.size(); ++i) w16[i] = sdr::F32ToF16(w[i]);
    std::vector<float> y(static_cast<size_t>(s.m * s.n));
    std::vector<float> scratch(static_cast<size_t>(sdr::cpu::TileGemmScratchFloats(s.m, s.n, s.k)));
    sdr::cpu::GemmEpilogue e;
    e.col_bias = b.data();
    double best = 1e30, best_cpu = 0.0;
    for (int r = 0; r < rounds; ++r) {
      const double c0 = sdr::bench::CpuSeconds();
      const auto t0 = sdr::bench::Clock::now();
      sdr::cpu::TileGemm(s.m, s.n, s.k, GemmOperand::Rows(x.data(), sdr::DType::kF32, s.k),
                         GemmOperand::Columns(w16.data(), sdr::DType::kF16, s.k), y.data(), s.n, e, scratch.data());
      const double wall = sdr::bench::Since(t0);
      if (wall < best) best = wall, best_cpu = sdr::bench::CpuSeconds() - c0;
    }
    const double flop = 2.0 * s.m * s.n * s.k;
    total += best * static_cast<double>(s.count);
    total_flop += flop * static_cast<double>(s.count);
    // CPU seconds of the threads over wall seconds: 2 on two cores when neither waits.
    std::printf("%-24s x%-3lld %8.2f ms  %6.1f GFLOP/s  cpu/wall %4.2f  (%5.1f ms per evaluation)\n", s.what,
                static_cast<long long>(s.count), best * 1e3, flop / best * 1e-9, best_cpu / best,
                best * 1e3 * static_cast<double>(s.count));
  }
  std::printf("one UNet evaluation (batch 2), Linear layers: %.3f s, %.1f GFLOP/s\n", total, total_flop / total * 1e-9);
  return 0;
}
