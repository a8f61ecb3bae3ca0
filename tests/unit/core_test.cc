#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "core/dtype.h"
#include "core/half.h"
#include "core/result.h"
#include "core/status.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace sdr {
namespace {

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  SDR_ASSIGN_OR_RETURN(int h, Half(x));
  SDR_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(StatusTest, OkAndErrorsCarryCodeAndContext) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = NotFound("tensor 'x'").WithContext("loading unet");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "loading unet: tensor 'x'");
  EXPECT_EQ(s.ToString(), "not_found: loading unet: tensor 'x'");
}

TEST(ResultTest, PropagatesErrorsThroughAssignOrReturn) {
  auto ok = Quarter(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  auto bad = Quarter(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "odd: 3");
}

TEST(DTypeTest, BlockSizesFollowGgml) {
  EXPECT_EQ(*DTypeBytes(DType::kF16, 10), 20u);
  EXPECT_EQ(*DTypeBytes(DType::kQ8_0, 64), 68u);
  EXPECT_EQ(*DTypeBytes(DType::kQ4_0, 32), 18u);
  EXPECT_EQ(*DTypeBytes(DType::kQ6_K, 256), 210u);
  EXPECT_FALSE(DTypeBytes(DType::kQ4_0, 33).has_value());
  EXPECT_FALSE(DTypeBytes(DType::kF64, UINT64_MAX / 2).has_value());
  EXPECT_EQ(ParseDType("BF16"), DType::kBF16);
  EXPECT_FALSE(ParseDType("f128").has_value());
}

TEST(HalfTest, F16RoundTripsEveryHalfValue) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = F16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(F16ToF32(F32ToF16(f))));
      continue;
    }
    EXPECT_EQ(F32ToF16(f), h) << h;
  }
  EXPECT_EQ(F16ToF32(0x3c00), 1.0f);
  EXPECT_EQ(F16ToF32(0xc000), -2.0f);
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);           // rounds to inf
  EXPECT_EQ(F32ToF16(1.0f + 1.0f / 2048), 0x3c00);  // tie to even
  EXPECT_EQ(F32ToF16(5.9604644775390625e-8f), 1);   // smallest subnormal
}

TEST(HalfTest, BF16RoundsToNearestEven) {
  EXPECT_EQ(F32ToBF16(1.0f), 0x3f80);
  EXPECT_EQ(BF16ToF32(0x3f80), 1.0f);
  EXPECT_EQ(F32ToBF16(F32FromBits(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(F32ToBF16(F32FromBits(0x3f818000u)), 0x3f82);  // tie -> even (up)
  EXPECT_TRUE(std::isnan(BF16ToF32(F32ToBF16(std::nanf("")))));
}

TEST(TensorTest, AllocateRejectsInvalidShapes) {
  auto t = Tensor::Allocate(DType::kF32, {2, 3});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->numel(), 6);
  EXPECT_EQ(t->nbytes(), 24u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t->raw()) % 64, 0u);
  EXPECT_EQ(Tensor::Allocate(DType::kF32, {-1}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Tensor::Allocate(DType::kF32, {1LL << 40, 1LL << 40}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Tensor::Allocate(DType::kQ8_0, {31}).status().code(), StatusCode::kInvalidArgument);
}

TEST(TensorTest, HugeAllocationIsOutOfMemoryNotACrash) {
  auto t = Tensor::Allocate(DType::kF32, {1LL << 60 >> 2});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kOutOfMemory);
}

TEST(TensorTest, ToF32ConvertsHalfAndInts) {
  const uint16_t h[3] = {0x3c00, 0xc000, 0x0000};
  Tensor th = Tensor::Borrow(DType::kF16, {3}, h, nullptr);
  auto f = ToF32(th);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->data<float>()[0], 1.0f);
  EXPECT_EQ(f->data<float>()[1], -2.0f);
  const int64_t ids[2] = {7, -3};
  auto fi = ToF32(Tensor::Borrow(DType::kI64, {2}, ids, nullptr));
  ASSERT_TRUE(fi.ok());
  EXPECT_EQ(fi->data<float>()[1], -3.0f);
}

TEST(ThreadPoolTest, ParallelForCoversEveryIndexOnce) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> hits(1000);
  for (int rep = 0; rep < 20; ++rep) {
    pool.ParallelFor(1000, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
    });
  }
  for (auto& h : hits) EXPECT_EQ(h.load(), 20);
  EXPECT_GE(ThreadPool::DefaultThreadCount(), 1);
}

// Every index once, on threads numbered below num_threads(); nested inside a task, all on
// thread 0.
TEST(ThreadPoolTest, ForEachInOrderCoversEveryIndexOnceOnNumberedThreads) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(500);
  std::atomic<int> bad_thread{0};
  pool.ForEachInOrder(500, [&](int64_t t, int64_t i) {
    if (t < 0 || t >= pool.num_threads()) ++bad_thread;
    hits[static_cast<size_t>(i)]++;
  });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  EXPECT_EQ(bad_thread.load(), 0);

  std::atomic<int> nested{0}, nested_off_zero{0};
  pool.ParallelFor(3, [&](int64_t, int64_t) {
    pool.ForEachInOrder(7, [&](int64_t t, int64_t) {
      ++nested;
      if (t != 0) ++nested_off_zero;
    });
  });
  EXPECT_EQ(nested.load(), 21);
  EXPECT_EQ(nested_off_zero.load(), 0);
}

// A ParallelFor inside a task runs serially on the task's own thread (no deadlock, no waiting on
// workers busy with the outer call); one of a single range runs inline on the caller, which is not
// a task, so a ParallelFor inside it may use the workers. Every index once either way.
TEST(ThreadPoolTest, NestedCallsRunSeriallyInsideTasksAndCoverEveryIndex) {
  ThreadPool pool(4);
  std::atomic<int> covered{0};
  std::atomic<int> other_thread{0};
  pool.ParallelFor(4, [&](int64_t b, int64_t e) {
    EXPECT_TRUE(ThreadPool::InTask());
    const std::thread::id outer = std::this_thread::get_id();
    for (int64_t i = b; i < e; ++i) {
      pool.ParallelFor(5, [&](int64_t ib, int64_t ie) {
        covered += static_cast<int>(ie - ib);
        if (std::this_thread::get_id() != outer) ++other_thread;
      });
    }
  });
  EXPECT_EQ(covered.load(), 20);
  EXPECT_EQ(other_thread.load(), 0);

  std::atomic<int> inline_covered{0};
  pool.ParallelFor(1, [&](int64_t, int64_t) {
    EXPECT_FALSE(ThreadPool::InTask());
    pool.ParallelFor(5, [&](int64_t b, int64_t e) { inline_covered += static_cast<int>(e - b); });
  });
  EXPECT_EQ(inline_covered.load(), 5);
}

// Calls back to back (the workers still spinning), calls after pauses longer than the spin (the
// workers asleep), from two threads at once, and InTask inside and outside tasks: every index
// once each time, whichever way a worker waited.
TEST(ThreadPoolTest, CallsAfterSpinningAndAfterSleepingBothComplete) {
  ThreadPool pool(3);
  EXPECT_FALSE(ThreadPool::InTask());
  std::atomic<int64_t> total{0};
  std::atomic<int> in_task{0};
  auto run = [&](int reps, int pause_us) {
    for (int rep = 0; rep < reps; ++rep) {
      pool.ParallelFor(97, [&](int64_t b, int64_t e) {
        total += e - b;
        if (ThreadPool::InTask()) ++in_task;
      });
      if (pause_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
    }
  };
  run(200, 0);
  run(20, 2000);
  std::thread other([&] { run(100, 50); });
  run(100, 0);
  other.join();
  EXPECT_EQ(total.load(), 97 * (200 + 20 + 100 + 100));
  EXPECT_GE(in_task.load(), 200 + 20 + 100 + 100);  // every range of every call ran as a task
  EXPECT_FALSE(ThreadPool::InTask());
}

}  // namespace
}  // namespace sdr
