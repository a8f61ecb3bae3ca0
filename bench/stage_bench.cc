// Per-stage speed and memory of one model file at one size, as the runtime runs it: load, load to
// the first sampler step, text encode, one UNet evaluation (a guidance-free run, cfg 1), one CFG
// step (the batch-2 guidance pair), VAE decode. Each stage prints seconds, GFLOP (from the
// models' own FLOP counts: UnetModel::EvalFlops, VaeDecoder::DecodeFlops), achieved GFLOP/s and the
// fraction of the machine's SGEMM peak; the process's peak RSS closes the line. The CFG step counts
// two evaluations' FLOPs although their shared prefix runs once (UnetBatch::kSharedInput, ~3 %
// of the pair at 512x512): its GFLOP/s is an effective rate. One process per
// (model, size) so each peak RSS is that configuration's own; bench/stages.sh runs the matrix.
//
// Usage: sdr_bench_stages --peak                          measure and print the SGEMM and FMA peaks (GFLOP/s)
//        sdr_bench_stages [--device D] [--peak-gflops G] MODEL SIZE
//        sdr_bench_stages [--device D] --cfg-steps N MODEL SIZE
//            only N CFG steps, each step's seconds and their minimum and median: for before/after
//            runs alternated many times on a machine whose speed drifts within a minute
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <immintrin.h>

#include <string>
#include <vector>

#include "backends/cpu/ops.h"
#include "backends/cpu/tile_gemm_kernel.h"
#include "bench_util.h"
#include "core/thread_pool.h"
#include "runtime/context.h"

namespace {

using sdr::bench::Clock;
using sdr::bench::CpuLine;
using sdr::bench::Fail;
using sdr::bench::PeakRssMb;
using sdr::bench::Since;

// OpenBLAS SGEMM on a 2048-cube with every BLAS thread, best of 5 wall times: the machine's
// practical f32 peak, the yardstick for every stage's fraction.
double SgemmPeakGflops() {
  constexpr int64_t n = 2048;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    sdr::cpu::Linear(a.data(), b.data(), nullptr, c.data(), n, n, n);
    best = std::min(best, Since(t0));
  }
  return 2.0 * n * n * n / best * 1e-9;
}

// Seconds for `iters` rounds of 16 independent register FMAs of the tile ISA's width (no memory).
template <typename Fma>
double FmaSeconds(int64_t iters, Fma fma) {
  const auto t0 = Clock::now();
  volatile float sink = fma(iters);
  (void)sink;
  return Since(t0);
}

// Sixteen independent chains of register FMAs, `iters` rounds, at one vector width: V, its intrinsics'
// prefix (PS(op) = _mm256_op_ps / _mm512_op_ps) and float count. Returns their sum (kept live).
#define SDR_FMA_CHAINS(V, PS, LANES)                                                     \
  V acc[16];                                                                             \
  for (int i = 0; i < 16; ++i) acc[i] = PS(set1)(static_cast<float>(i));                 \
  const V x = PS(set1)(0.999999f), y = PS(set1)(1e-3f);                                  \
  for (int64_t k = 0; k < iters; ++k) {                                                  \
    _Pragma("GCC unroll 16") for (int i = 0; i < 16; ++i) acc[i] = PS(fmadd)(acc[i], x, y); \
  }                                                                                      \
  alignas(64) float v[LANES];                                                            \
  float s = 0;                                                                           \
  for (int i = 0; i < 16; ++i) {                                                         \
    PS(store)(v, acc[i]);                                                                \
    for (float f : v) s += f;                                                            \
  }                                                                                      \
  return s;

#define SDR_PS256(op) _mm256_##op##_ps
#define SDR_PS512(op) _mm512_##op##_ps
__attribute__((target("avx512f"), noinline)) float Fma512(int64_t iters) { SDR_FMA_CHAINS(__m512, SDR_PS512, 16) }
__attribute__((target("avx2,fma"), noinline)) float Fma256(int64_t iters) { SDR_FMA_CHAINS(__m256, SDR_PS256, 8) }
#undef SDR_FMA_CHAINS
#undef SDR_PS256
#undef SDR_PS512

// The machine's FMA peak for the register tiles' ISA: every thread of the shared pool running
// independent FMAs at once (GFLOP/s, all threads), and the ISA's name. What no GEMM can pass.
double FmaPeakGflops(const char** isa) {
  const bool wide = sdr::cpu::tile::ActiveKernelIsa() == sdr::cpu::tile::KernelIsa::kAvx512;
  *isa = sdr::cpu::tile::KernelIsaName(sdr::cpu::tile::ActiveKernelIsa());
  constexpr int64_t kIters = 50'000'000;
  // One chain set per thread of the pool the generations run on, all at once.
  sdr::ThreadPool& pool = sdr::ThreadPool::Shared();
  std::vector<double> seconds(static_cast<size_t>(pool.num_threads()));
  pool.ParallelFor(pool.num_threads(), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      seconds[static_cast<size_t>(t)] = wide ? FmaSeconds(kIters, Fma512) : FmaSeconds(kIters, Fma256);
    }
  });
  const double flop_per_iter = 16.0 * (wide ? 16 : 8) * 2;
  double total = 0;
  for (double s : seconds) total += kIters * flop_per_iter / s * 1e-9;
  return total;
}

struct Run {
  std::vector<double> at;  // seconds since the generation began, at each step callback
  sdr::StageTimings timings;
};

sdr::Result<Run> Generate(sdr::Context& ctx, int size, float cfg, int steps = 3) {
  sdr::GenerateParams p;
  p.prompt = "a photograph of an astronaut riding a horse";
  p.width = p.height = size;
  p.steps = steps;
  p.cfg_scale = cfg;
  p.sampler = sdr::SamplerKind::kEuler;
  p.seed = 42;
  Run run;
  const auto t0 = Clock::now();
  auto r = ctx.Generate(p, [&](const sdr::StepProgress&) {
    run.at.push_back(Since(t0));
    return true;
  });
  if (!r.ok()) return r.status();
  run.timings = r->timings;
  return run;
}

// The median gap between step callbacks after the first: one warm step.
double StepSeconds(const Run& run) {
  std::vector<double> gaps;
  for (size_t i = 1; i < run.at.size(); ++i) gaps.push_back(run.at[i] - run.at[i - 1]);
  std::sort(gaps.begin(), gaps.end());
  return gaps.empty() ? 0 : gaps[gaps.size() / 2];
}

void PrintStage(const char* what, double s, double gflop, double peak) {
  if (gflop <= 0) {
    std::printf("  %-22s %8.2f s\n", what, s);
    return;
  }
  std::printf("  %-22s %8.2f s %9.1f GFLOP %7.1f GFLOP/s %5.1f %% of peak\n", what, s, gflop, gflop / s,
              100.0 * gflop / s / peak);
}

}  // namespace

int main(int argc, char** argv) {
  std::string device = "auto";
  double peak = 0;
  int cfg_steps = 0;
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--peak") {
      const char* isa = "";
      const double fma = FmaPeakGflops(&isa);
      std::printf("cpu: %s; %s\nSGEMM peak %.1f GFLOP/s (OpenBLAS, 2048^3, best of 5)\n"
                  "FMA peak %.1f GFLOP/s (%s register FMAs on every thread: what no kernel passes)\n",
                  CpuLine().c_str(), sdr::cpu::BlasDescription(), SgemmPeakGflops(), fma, isa);
      return 0;
    }
    if (a == "--device" && i + 1 < argc) {
      device = argv[++i];
    } else if (a == "--peak-gflops" && i + 1 < argc) {
      peak = std::atof(argv[++i]);
    } else if (a == "--cfg-steps" && i + 1 < argc) {
      cfg_steps = std::atoi(argv[++i]);
    } else {
      rest.push_back(a);
    }
  }
  if (rest.size() != 2) {
    std::fprintf(stderr, "usage: %s --peak | [--device D] [--peak-gflops G | --cfg-steps N] MODEL SIZE\n", argv[0]);
    return 2;
  }
  const std::string model_path = rest[0];
  const int size = std::atoi(rest[1].c_str());
  if (peak <= 0 && cfg_steps <= 0) peak = SgemmPeakGflops();

  const auto t_load = Clock::now();
  sdr::SdModelOptions options;
  options.model_path = model_path;
  options.device = device;
  auto loaded = sdr::SdModel::Load(options);
  if (!loaded.ok()) return Fail(loaded.status());
  std::shared_ptr<const sdr::SdModel> model = std::move(loaded).value();
  const double load_s = Since(t_load);
  sdr::Context ctx(model, {.memory_budget_bytes = 0, .timeout_s = 0});
  if (cfg_steps > 0) {
    auto run = Generate(ctx, size, 7.0f, cfg_steps + 1);
    if (!run.ok()) return Fail(run.status());
    std::vector<double> gaps;
    std::printf("%dx%d CFG steps:", size, size);
    for (size_t i = 1; i < run->at.size(); ++i) {
      gaps.push_back(run->at[i] - run->at[i - 1]);
      std::printf(" %.2f", gaps.back());
    }
    std::sort(gaps.begin(), gaps.end());
    std::printf(" s; min %.2f median %.2f s\n", gaps.front(), gaps[gaps.size() / 2]);
    return 0;
  }

  // Guidance-free first: its first callback also gives load -> first step (text encode, plan and
  // the first UNet evaluation included), as a user's first generation sees it.
  auto single = Generate(ctx, size, 1.0f);
  if (!single.ok()) return Fail(single.status());
  const double first_step_s = load_s + single->at.front();
  auto cfg = Generate(ctx, size, 7.0f);
  if (!cfg.ok()) return Fail(cfg.status());

  const int64_t lat = size / 8;
  const double unet_gflop = model->unet().EvalFlops(lat, lat, 77) * 1e-9;
  const double vae_gflop = model->vae().DecodeFlops(lat, lat) * 1e-9;
  std::printf("%s %dx%d on %s (SGEMM peak %.1f GFLOP/s)\n", model_path.c_str(), size, size,
              model->backend().info().name.c_str(), peak);
  PrintStage("load", load_s, 0, peak);
  PrintStage("load to first step", first_step_s, 0, peak);
  PrintStage("text encode (cfg)", cfg->timings.text_s, 0, peak);
  PrintStage("UNet eval (batch 1)", StepSeconds(*single), unet_gflop, peak);
  PrintStage("CFG step (batch 2)", StepSeconds(*cfg), 2 * unet_gflop, peak);
  PrintStage("VAE decode", cfg->timings.decode_s, vae_gflop, peak);
  std::printf("  peak RSS %.0f MB\n", PeakRssMb());
  return 0;
}
