#include "testing/arena_executor.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "testing/reference_ops.h"

namespace sdr::testing {

ArenaExecutor MakeArenaExecutor(Backend& backend, Stream* stream, uint64_t bytes) {
  ArenaExecutor e;
  auto memory = backend.AllocateMemory(bytes);
  if (!memory.ok()) std::abort();
  e.memory = std::move(memory).value();
  e.arena = std::make_unique<Arena>(bytes, e.memory.get());
  e.ex = std::make_unique<Executor>(backend, stream, e.arena.get());
  return e;
}

Tensor RandomTensor(const Shape& shape, uint32_t seed, float scale) {
  auto t = Tensor::Allocate(DType::kF32, shape);
  if (!t.ok()) std::abort();
  const std::vector<float> v = ref::RandomVector(t->numel(), seed, scale);
  std::copy(v.begin(), v.end(), t->mutable_data<float>());
  return std::move(t).value();
}

}  // namespace sdr::testing
