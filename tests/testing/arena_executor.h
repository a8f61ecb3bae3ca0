// An Executor of the tests' own: a stream the test chooses (often a wrapper that records or counts
// ops) over a fresh arena of the backend's memory, for driving models' Forward directly.
#pragma once

#include <cstdint>
#include <memory>

#include "backends/arena.h"
#include "backends/executor.h"
#include "core/tensor.h"

namespace sdr::testing {

struct ArenaExecutor {
  std::shared_ptr<void> memory;
  std::unique_ptr<Arena> arena;
  std::unique_ptr<Executor> ex;
};

// `bytes` of `backend`'s memory as the arena of an executor on `stream` (not owned; it must outlive
// the executor). Aborts when the memory cannot be had: a test machine always has it.
ArenaExecutor MakeArenaExecutor(Backend& backend, Stream* stream, uint64_t bytes);

// A dense f32 host tensor of normal values (standard deviation `scale`) from `seed` (ref::RandomVector).
Tensor RandomTensor(const Shape& shape, uint32_t seed, float scale = 1.0f);

}  // namespace sdr::testing
