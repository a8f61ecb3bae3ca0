#include "backends/arena.h"

#include <string>

#include "core/check.h"

namespace sdr {

Result<uint64_t> Arena::Alloc(uint64_t bytes) {
  if (bytes > kUnlimited - kAlign) return OutOfMemory("an activation of " + std::to_string(bytes) + " bytes");
  const uint64_t size = bytes == 0 ? kAlign : (bytes + kAlign - 1) / kAlign * kAlign;
  // Best fit among the gaps; ties go to the lowest offset (std::map order).
  auto best = free_.end();
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second >= size && (best == free_.end() || it->second < best->second)) best = it;
  }
  uint64_t offset = 0;
  if (best != free_.end()) {
    offset = best->first;
    const uint64_t rest = best->second - size;
    free_.erase(best);
    if (rest > 0) free_.emplace(offset + size, rest);
  } else {
    offset = top_;  // (Free keeps no gap ending at the top: it lowers the top instead)
    if (size > capacity_ || offset > capacity_ - size) {
      return OutOfMemory("an activation of " + std::to_string(bytes) + " bytes does not fit the planned arena of " +
                         std::to_string(capacity_) + " bytes");
    }
    top_ = offset + size;
    if (top_ > high_water_) high_water_ = top_;
  }
  used_.emplace(offset, size);
  in_use_ += size;
  return offset;
}

void Arena::Free(uint64_t offset) {
  auto it = used_.find(offset);
  SDR_CHECK(it != used_.end());
  uint64_t start = offset, size = it->second;
  used_.erase(it);
  in_use_ -= size;
  // Coalesce with the gaps on either side.
  auto next = free_.lower_bound(start);
  if (next != free_.end() && start + size == next->first) {
    size += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      start = prev->first;
      size += prev->second;
      free_.erase(prev);
    }
  }
  if (start + size == top_) {
    top_ = start;  // the top comes down; no gap is kept above it
  } else {
    free_.emplace(start, size);
  }
}

void Arena::Reset(uint64_t capacity, void* base) {
  SDR_CHECK(used_.empty());
  free_.clear();
  top_ = 0;
  capacity_ = capacity;
  base_ = base;
}

}  // namespace sdr
