// Arena: a deterministic offset allocator over one block of device memory, where a context keeps
// its activations. The same sequence of Alloc/Free calls always yields the same offsets, so a dry
// run (no memory behind it, capacity unlimited) measures exactly the high-water mark the real run
// will reach: the context reserves that much once, before its first op, and nothing is allocated
// inside the step loop. Blocks are placed best-fit among the free gaps (coalesced on free), else
// at the top.
//
// Thread-safety: none; an arena belongs to one context.
#pragma once

#include <cstdint>
#include <limits>
#include <map>

#include "core/result.h"

namespace sdr {

class Arena {
 public:
  static constexpr uint64_t kAlign = 256;  // bytes; every block starts and ends on it
  static constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();

  // `base` is the device address of offset 0 (nullptr for a dry run).
  explicit Arena(uint64_t capacity = kUnlimited, void* base = nullptr) : capacity_(capacity), base_(base) {}

  // A block of at least `bytes` (rounded up to kAlign; 0 gives kAlign). OutOfMemory naming the
  // request and the capacity when it does not fit.
  Result<uint64_t> Alloc(uint64_t bytes);
  // Frees the block at `offset` (a bug if it is not live).
  void Free(uint64_t offset);

  // Gives the arena new memory; every block must have been freed. Keeps the high-water mark.
  void Reset(uint64_t capacity, void* base);

  void* base() const { return base_; }
  uint64_t capacity() const { return capacity_; }
  uint64_t in_use() const { return in_use_; }
  uint64_t high_water() const { return high_water_; }  // the top reached since construction
  void ResetHighWater() { high_water_ = top_; }
  size_t live_blocks() const { return used_.size(); }

 private:
  uint64_t capacity_;
  void* base_;
  std::map<uint64_t, uint64_t> free_;  // offset -> bytes, gaps below top_, coalesced
  std::map<uint64_t, uint64_t> used_;  // offset -> bytes
  uint64_t top_ = 0;                   // end of the highest block
  uint64_t in_use_ = 0;
  uint64_t high_water_ = 0;
};

}  // namespace sdr
