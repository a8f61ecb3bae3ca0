// Speed of the SD 1.x pipeline stages on one machine, in one run: text encode (77 tokens), one
// sampler step with CFG (two UNet evals) at each requested size, and one VAE decode. Prints
// seconds and GFLOP/s (GEMM flops counted by the kernel interface).
//
// Usage: sdr_bench_txt2img MODEL TOKENIZER_MERGES [SIZE ...]   (default sizes: 256)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "backends/cpu/ops.h"
#include "runtime/sd_model.h"
#include "sampling/rng.h"
#include "sampling/schedule.h"

namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int Fail(const sdr::Status& s) {
  std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL MERGES [SIZE ...]\n", argv[0]);
    return 2;
  }
  std::vector<int> sizes;
  for (int i = 3; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes.push_back(256);
  auto t0 = Clock::now();
  auto model = sdr::SdModel::Load({argv[1], "", argv[2]});
  if (!model.ok()) return Fail(model.status());
  std::printf("model %s: load %.2f s\n", argv[1], Since(t0));

  sdr::cpu::ResetGemmFlops();
  t0 = Clock::now();
  auto cond = (*model)->conditioner().Encode("a photograph of an astronaut riding a horse");
  if (!cond.ok()) return Fail(cond.status());
  auto uncond = (*model)->conditioner().Encode("");
  const double text_s = Since(t0) / 2;
  std::printf("text encode (77 tokens): %.3f s, %.1f GFLOP/s\n", text_s,
              sdr::cpu::GemmFlops() / 2 / text_s * 1e-9);

  const sdr::NoiseSchedule schedule;
  for (int size : sizes) {
    const int64_t l = size / 8;
    auto x = sdr::Tensor::Allocate(sdr::DType::kF32, {1, 4, l, l});
    auto gen = sdr::MakeNoiseGenerator(sdr::RngKind::kCuda, 42);
    gen->Randn({x->mutable_data<float>(), static_cast<size_t>(x->numel())});
    const float t = schedule.SigmaToT(1.0f);
    // Warm-up eval (first-touch page faults of the mmapped weights), then the timed step.
    if (auto w = (*model)->unet().Forward(*x, t, *cond); !w.ok()) return Fail(w.status());
    sdr::cpu::ResetGemmFlops();
    t0 = Clock::now();
    auto ec = (*model)->unet().Forward(*x, t, *cond);
    auto eu = (*model)->unet().Forward(*x, t, *uncond);
    const double step_s = Since(t0);
    if (!ec.ok()) return Fail(ec.status());
    if (!eu.ok()) return Fail(eu.status());
    const double gflop = sdr::cpu::GemmFlops() * 1e-9;
    std::printf("unet step with CFG at %dx%d: %.2f s (%.1f GFLOP, %.1f GFLOP/s)\n", size, size, step_s, gflop,
                gflop / step_s);
    sdr::cpu::ResetGemmFlops();
    t0 = Clock::now();
    auto img = (*model)->vae().Decode(*x);
    const double dec_s = Since(t0);
    if (!img.ok()) return Fail(img.status());
    std::printf("vae decode at %dx%d: %.2f s (%.1f GFLOP/s)\n", size, size, dec_s,
                sdr::cpu::GemmFlops() * 1e-9 / dec_s);
  }
  return 0;
}
