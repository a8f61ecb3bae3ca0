// Many threads against one ContextPool: acquires with short and long timeouts, generations,
// cancels from other threads, and a Close(kCancel) while work is in flight. Meant to run under
// ThreadSanitizer too (cmake -DSDR_TSAN=ON); asserts the pool's accounting at the end.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "runtime/context.h"
#include "runtime/errors.h"
#include "testing/tiny_model.h"

namespace sdr {
namespace {

using namespace std::chrono_literals;

TEST(PoolStressTest, ManyThreadsAcquireGenerateCancelAndClose) {
  auto model = testing::TinySdModel();
  ASSERT_NE(model, nullptr);
  auto pool = ContextPool::Create(model, {.max_concurrent = 3});
  ASSERT_TRUE(pool.ok());
  std::atomic<int> ok{0}, timeouts{0}, cancelled{0}, closed{0}, other{0}, in_flight{0}, max_in_flight{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 6 && !stop.load(); ++i) {
        auto lease = (*pool)->Acquire(t % 3 == 0 ? 1ms : 30s);
        if (!lease.ok()) {
          const ErrorCode c = ClassifyError(lease.status(), Operation::kAcquire);
          (c == ErrorCode::kAcquireTimeout ? timeouts : closed)++;
          continue;
        }
        const int now = ++in_flight;
        int prev = max_in_flight.load();
        while (now > prev && !max_in_flight.compare_exchange_weak(prev, now)) {
        }
        GenerateParams p;
        p.prompt = "stress";
        p.width = p.height = 64;
        p.steps = 2;
        p.seed = t * 10 + i;
        Context* ctx = &**lease;
        std::thread canceller;
        if ((t + i) % 4 == 0) canceller = std::thread([ctx] { ctx->Cancel(); });
        auto r = ctx->Generate(p);
        if (canceller.joinable()) canceller.join();
        --in_flight;
        if (r.ok()) {
          ok++;
        } else if (r.status().code() == StatusCode::kCancelled) {
          cancelled++;
        } else {
          other++;
        }
      }
    });
  }
  std::thread closer([&] {
    // Close while work is still queued: after a few generations succeeded (or 60 s at worst).
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (ok.load() < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    stop = true;
    (*pool)->Close(ContextPool::CloseMode::kCancel);
  });
  for (auto& th : threads) th.join();
  closer.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_LE(max_in_flight.load(), 3);
  EXPECT_GE(ok.load(), 3);
  EXPECT_EQ(in_flight.load(), 0);
  EXPECT_EQ((*pool)->available(), 0);  // closed
  std::printf("[ figures ] stress: %d ok, %d cancelled, %d acquire timeouts, %d refused after close\n", ok.load(),
              cancelled.load(), timeouts.load(), closed.load());
}

}  // namespace
}  // namespace sdr
