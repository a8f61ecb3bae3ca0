// Peak memory of a ContextPool with 1, 2 and 4 contexts generating at once on one shared model:
// the weights are counted once, so RSS(4) - RSS(1) is per-generation scratch only.
// Peak RSS is reset between runs through /proc/self/clear_refs (Linux).
//
// Usage: sdr_bench_pool_memory MODEL MERGES [SIZE]   (default 256)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/context.h"

namespace {

long ReadStatusKb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::string(key).size());
  }
  return -1;
}

void ResetPeak() { std::ofstream("/proc/self/clear_refs") << "5"; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL MERGES [SIZE]\n", argv[0]);
    return 2;
  }
  const int size = argc > 3 ? std::atoi(argv[3]) : 256;
  auto loaded = sdr::SdModel::Load({argv[1], "", argv[2]});
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", loaded.status().ToString().c_str());
    return 1;
  }
  std::shared_ptr<const sdr::SdModel> model = std::move(loaded).value();
  std::printf("model loaded: RSS %.0f MB\n", ReadStatusKb("VmRSS:") / 1024.0);
  long rss1 = 0;
  for (int n : {1, 2, 4}) {
    auto pool = sdr::ContextPool::Create(model, {.max_concurrent = n});
    if (!pool.ok()) return 1;
    ResetPeak();
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        auto lease = (*pool)->Acquire(std::chrono::minutes(10));
        if (!lease.ok()) return;
        sdr::GenerateParams p;
        p.prompt = "a lovely cat";
        p.width = p.height = size;
        p.steps = 1;
        p.seed = i;
        auto r = (*lease)->Generate(p);
        if (!r.ok()) std::fprintf(stderr, "generation failed: %s\n", r.status().ToString().c_str());
      });
    }
    for (auto& t : threads) t.join();
    const long peak = ReadStatusKb("VmHWM:");
    if (n == 1) rss1 = peak;
    std::printf("contexts %d at %dx%d: peak RSS %.0f MB (+%.0f MB over 1 context)\n", n, size, size, peak / 1024.0,
                (peak - rss1) / 1024.0);
  }
  return 0;
}
