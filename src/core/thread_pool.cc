#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace sdr {
namespace {

thread_local bool tls_in_pool_task = false;

// Spins until done() or `ns` nanoseconds have passed; true when done() held.
// Between rounds of checks it yields the core, so that on a machine with more runnable threads
// than cores (two programs, ctest -j) the spinning gives way to the ones with work.
template <typename Done>
bool SpinUntil(Done done, int64_t ns) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    if (std::chrono::steady_clock::now() >= end) return done();
    std::this_thread::yield();
  }
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = DefaultThreadCount();
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_release);
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::WorkerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    auto called = [&] { return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; };
    if (!SpinUntil(called, kSpinNs)) {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, called);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    // ranges_ and fn_ were written before generation_ moved on, and stay until every worker is
    // done with this call.
    seen = generation_.load(std::memory_order_acquire);
    const std::pair<int64_t, int64_t> range = ranges_[static_cast<size_t>(index)];
    const std::function<void(int64_t, int64_t)>* fn = fn_;
    if (range.first < range.second) {
      tls_in_pool_task = true;
      (*fn)(range.first, range.second);
      tls_in_pool_task = false;
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);  // a caller between its check and its wait gets the notify
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn,
                             int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t max_parts = (n + grain - 1) / grain;
  const int parts = static_cast<int>(std::min<int64_t>(num_threads(), max_parts));
  if (parts <= 1 || tls_in_pool_task || workers_.empty()) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mu_);
  const int participants = num_threads();
  std::vector<std::pair<int64_t, int64_t>> ranges(static_cast<size_t>(participants), {0, 0});
  for (int p = 0; p < parts; ++p) {
    ranges[static_cast<size_t>(p)] = {n * p / parts, n * (p + 1) / parts};
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ranges_ = ranges;
    fn_ = &fn;
    pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  work_cv_.notify_all();
  tls_in_pool_task = true;
  fn(ranges[0].first, ranges[0].second);
  tls_in_pool_task = false;
  auto done = [&] { return pending_.load(std::memory_order_acquire) == 0; };
  if (!SpinUntil(done, kSpinNs)) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, done);
  }
}

void ThreadPool::ForEachInOrder(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  std::atomic<int64_t> next{0};
  ParallelFor(
      num_threads(),
      [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          for (int64_t i = next++; i < n; i = next++) fn(t, i);
        }
      },
      1);
}

bool ThreadPool::InTask() { return tls_in_pool_task; }

ThreadPool& ThreadPool::Shared() {
  static ThreadPool* pool = new ThreadPool(0);  // never destroyed: usable until exit
  return *pool;
}

int ThreadPool::DefaultThreadCount() {
  // Count distinct (physical id, core id) pairs; fall back to hardware_concurrency.
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, phys = "0";
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    std::string val = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "physical id") phys = val;
    if (key == "core id") cores.emplace(phys, val);
  }
  int n = static_cast<int>(cores.size());
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(n, 1);
}

}  // namespace sdr
