// Where a generation's time goes, op kind by op kind: one context generates `steps` euler steps
// with CFG (plus the text encode and the VAE decode) with per-op timing on, and the totals are
// printed largest first; then the same with one step more, and the difference: one CFG step
// alone (UNet only, no text encode or decode). A one-step generation before them warms up. The tool for "optimise the biggest measured cost
// first".
//
// Usage: sdr_bench_op_profile MODEL [SIZE [STEPS [DEVICE]]]   (default 256, 2 steps, auto)
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "backends/executor.h"
#include "runtime/context.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL [SIZE [STEPS [DEVICE]]]\n", argv[0]);
    return 2;
  }
  const int size = argc > 2 ? std::atoi(argv[2]) : 256;
  const int steps = argc > 3 ? std::atoi(argv[3]) : 2;
  auto loaded = sdr::SdModel::Load({argv[1], "", "", argc > 4 ? argv[4] : "auto"});
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", loaded.status().ToString().c_str());
    return 1;
  }
  std::shared_ptr<const sdr::SdModel> model = std::move(loaded).value();
  sdr::Context ctx(model, {.memory_budget_bytes = 0, .timeout_s = 0});
  sdr::GenerateParams p;
  p.prompt = "a photograph of an astronaut riding a horse";
  p.width = p.height = size;
  p.sampler = sdr::SamplerKind::kEuler;
  p.seed = 42;
  // A warm-up generation first: the first one in a process also pays for mapping the weights and
  // first-touching the activation memory, which would come out of the difference below.
  p.steps = 1;
  if (auto warm = ctx.Generate(p); !warm.ok()) {
    std::fprintf(stderr, "error: %s\n", warm.status().ToString().c_str());
    return 1;
  }
  sdr::OpProfile runs[2];
  for (int i = 0; i < 2; ++i) {
    ctx.set_profile(&runs[i]);
    p.steps = steps + i;
    auto r = ctx.Generate(p);
    if (!r.ok()) {
      std::fprintf(stderr, "error: %s\n", r.status().ToString().c_str());
      return 1;
    }
    std::printf("%dx%d, %d steps on %s: text %.2f s, sampling %.2f s, decode %.2f s\n%s", size, size, p.steps,
                model->backend().info().name.c_str(), r->timings.text_s, r->timings.sampling_s, r->timings.decode_s,
                runs[i].Format().c_str());
  }
  sdr::OpProfile step;
  for (size_t k = 0; k < sdr::OpProfile::kKinds; ++k) {
    step.seconds[k] = std::max(0.0, runs[1].seconds[k] - runs[0].seconds[k]);
    step.calls[k] = runs[1].calls[k] - runs[0].calls[k];
  }
  std::printf("one CFG step (the difference):\n%s", step.Format().c_str());
  return 0;
}
