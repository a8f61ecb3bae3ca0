// Speed and memory of the SD 1.x pipeline as the runtime runs it, in one run on one machine: for
// each size, a Context generates 3 euler steps with CFG; the step time is the median gap between
// step callbacks after the first (warm), the text and decode times come from the generation's
// timings. Prints seconds, GEMM GFLOP/s (counted by the CPU kernel interface) and peak RSS, with
// the machine's CPU line. Uses only the public runtime API, so the same source builds against an
// older checkout for a before/after comparison in one session.
//
// Usage: sdr_bench_txt2img [--device D] MODEL [SIZE ...]   (default sizes: 256; device auto)
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "backends/cpu/ops.h"
#include "bench_util.h"
#include "runtime/context.h"

namespace {

using sdr::bench::Clock;
using sdr::bench::CpuLine;
using sdr::bench::Fail;
using sdr::bench::PeakRssMb;
using sdr::bench::Since;

double RssMb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string device = "auto";
  int first = 1;
  if (argc > 2 && std::string(argv[1]) == "--device") {
    device = argv[2];
    first = 3;
  }
  if (argc <= first) {
    std::fprintf(stderr, "usage: %s [--device D] MODEL [SIZE ...]\n", argv[0]);
    return 2;
  }
  const char* model_path = argv[first];
  std::vector<int> sizes;
  for (int i = first + 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes.push_back(256);
  std::printf("cpu: %s, %d BLAS threads\n", CpuLine().c_str(), sdr::cpu::BlasThreads());
  auto t0 = Clock::now();
  auto loaded = sdr::SdModel::Load({model_path, "", "", device});
  if (!loaded.ok()) return Fail(loaded.status());
  std::shared_ptr<const sdr::SdModel> model = std::move(loaded).value();
  const double weights_rss = RssMb();
  std::printf("model %s on %s: load %.2f s, RSS after load %.0f MB\n", model_path, model->backend().info().name.c_str(),
              Since(t0), weights_rss);

  for (int size : sizes) {
    sdr::Context ctx(model, {.memory_budget_bytes = 0, .timeout_s = 0});
    sdr::GenerateParams p;
    p.prompt = "a photograph of an astronaut riding a horse";
    p.width = p.height = size;
    p.steps = 3;
    p.sampler = sdr::SamplerKind::kEuler;
    p.seed = 42;
    std::vector<double> at;
    std::vector<uint64_t> flops;
    sdr::cpu::ResetGemmFlops();
    t0 = Clock::now();
    auto r = ctx.Generate(p, [&](const sdr::StepProgress&) {
      at.push_back(Since(t0));
      flops.push_back(sdr::cpu::GemmFlops());
      return true;
    });
    if (!r.ok()) return Fail(r.status());
    std::vector<double> gaps;
    for (size_t i = 1; i < at.size(); ++i) gaps.push_back(at[i] - at[i - 1]);
    std::sort(gaps.begin(), gaps.end());
    const double step_s = gaps[gaps.size() / 2];
    const double step_gflop = static_cast<double>(flops[2] - flops[1]) * 1e-9;
    std::printf("%dx%d: text %.2f s, CFG step %.2f s (%.1f GFLOP, %.1f GFLOP/s), VAE decode %.2f s, peak RSS %.0f MB "
                "(%.0f over the loaded model)\n",
                size, size, r->timings.text_s, step_s, step_gflop, step_gflop / step_s, r->timings.decode_s,
                PeakRssMb(), PeakRssMb() - weights_rss);
  }
  return 0;
}
