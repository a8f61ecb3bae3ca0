#include "core/memory_budget.h"

namespace sdr {
namespace {
thread_local std::shared_ptr<MemoryBudget> tls_budget;
}  // namespace

bool MemoryBudget::TryReserve(uint64_t bytes) {
  const uint64_t limit = limit_.load(std::memory_order_relaxed);
  uint64_t cur = used_.load(std::memory_order_relaxed);
  for (;;) {
    if (limit != 0 && (bytes > limit || cur > limit - bytes)) return false;
    if (used_.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed)) break;
  }
  const uint64_t now = cur + bytes;
  uint64_t peak = peak_.load(std::memory_order_relaxed);
  while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
  return true;
}

ScopedMemoryBudget::ScopedMemoryBudget(std::shared_ptr<MemoryBudget> budget) : previous_(std::move(tls_budget)) {
  tls_budget = std::move(budget);
}
ScopedMemoryBudget::~ScopedMemoryBudget() { tls_budget = std::move(previous_); }

const std::shared_ptr<MemoryBudget>& CurrentMemoryBudget() { return tls_budget; }

}  // namespace sdr
