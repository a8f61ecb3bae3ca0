// ThreadPool: a fixed set of worker threads for data-parallel kernels. ParallelFor splits
// [0, n) into contiguous ranges, runs them on the workers and the calling thread, and returns
// when all are done. Nested ParallelFor calls from inside a task run serially (no deadlock); a call
// with a single range runs inline on the caller and is not a task (what it calls may go parallel).
//
// Waiting spins briefly before it sleeps (kSpinNs): a generation is thousands of ParallelFor calls
// a few milliseconds apart, and waking a sleeping thread (on a VM, a halted virtual CPU) costs
// tens of microseconds each time; a worker that finds no call within kSpinNs sleeps on the
// condition variable as before.
//
// Thread-safety: ParallelFor may be called from several threads; calls are serialised.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sdr {

class ThreadPool {
 public:
  // num_threads <= 0 means DefaultThreadCount().
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // fn(begin, end) over ranges covering [0, n) with at least `grain` items each.
  void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);

  // fn(thread, i) for every i in [0, n), the pool's threads (numbered from 0, below
  // num_threads()) each taking the next i when done with the last, so a thread the machine slows
  // takes fewer: for equal tasks that need per-thread scratch. Inside a task, all on thread 0.
  void ForEachInOrder(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

  // True inside a task of any pool's ParallelFor (where a nested ParallelFor runs serially).
  static bool InTask();

  // Physical cores where the OS says (logical cores / SMT siblings), at least 1.
  static int DefaultThreadCount();

  // A process-wide pool of DefaultThreadCount() threads for bulk work outside generations
  // (weight conversion at load). Created on first use.
  static ThreadPool& Shared();

 private:
  void WorkerLoop(int index);
  static constexpr int64_t kSpinNs = 200'000;  // how long a wait spins before it sleeps

  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // one ParallelFor at a time
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  std::vector<std::pair<int64_t, int64_t>> ranges_;  // one per participant
  // Written under mu_; read without it by spinning waiters.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace sdr
