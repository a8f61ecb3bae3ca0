// MemoryBudget: a cap on the bytes of tensors allocated while it is installed on a thread.
// A Context installs its budget (ScopedMemoryBudget) around a generation; Tensor::Allocate
// then fails with OutOfMemory instead of growing past the cap, and freed tensors give their
// bytes back. Without an installed budget, allocation is limited only by the system.
//
// Thread-safety: the counters are atomic; tensors may be freed on any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace sdr {

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit_bytes = 0) : limit_(limit_bytes) {}  // 0 = unlimited

  // Reserves `bytes`; false (nothing reserved) when that would pass the limit.
  bool TryReserve(uint64_t bytes);
  void Release(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t peak() const { return peak_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_.load(std::memory_order_relaxed); }
  void set_limit(uint64_t bytes) { limit_.store(bytes, std::memory_order_relaxed); }
  void ResetPeak() { peak_.store(used(), std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> limit_;
  std::atomic<uint64_t> used_{0};
  std::atomic<uint64_t> peak_{0};
};

// Installs `budget` as the calling thread's budget for its lifetime (restores the previous).
// Tensors allocated under it keep the budget alive until they are freed.
class ScopedMemoryBudget {
 public:
  explicit ScopedMemoryBudget(std::shared_ptr<MemoryBudget> budget);
  ~ScopedMemoryBudget();
  ScopedMemoryBudget(const ScopedMemoryBudget&) = delete;
  ScopedMemoryBudget& operator=(const ScopedMemoryBudget&) = delete;

 private:
  std::shared_ptr<MemoryBudget> previous_;
};

// The calling thread's installed budget, or null.
const std::shared_ptr<MemoryBudget>& CurrentMemoryBudget();

}  // namespace sdr
