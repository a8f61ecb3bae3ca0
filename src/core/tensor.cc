#include "core/tensor.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "core/dequantize.h"
#include "core/memory_budget.h"

namespace sdr {
namespace {

constexpr size_t kAlign = 64;
// Large buffers (weights, activations) are 2 MB aligned and asked to be backed by transparent
// huge pages: far fewer page faults when first written and fewer TLB misses in GEMMs.
constexpr size_t kHugeAlign = size_t{2} << 20;
constexpr size_t kHugeThreshold = size_t{4} << 20;

Result<size_t> ByteSize(DType dtype, const Shape& shape) {
  auto n = CheckedNumElements(shape);
  if (!n) return InvalidArgument("invalid shape " + ShapeToString(shape));
  auto bytes = DTypeBytes(dtype, static_cast<uint64_t>(*n));
  if (!bytes) {
    return InvalidArgument("shape " + ShapeToString(shape) + " is not a whole number of " +
                           std::string(DTypeName(dtype)) + " blocks");
  }
  return static_cast<size_t>(*bytes);
}

}  // namespace

Result<Tensor> Tensor::Allocate(DType dtype, Shape shape) {
  SDR_ASSIGN_OR_RETURN(size_t bytes, ByteSize(dtype, shape));
  const size_t align = bytes >= kHugeThreshold ? kHugeAlign : kAlign;
  const size_t rounded = (bytes + align - 1) / align * align;
  std::shared_ptr<MemoryBudget> budget = CurrentMemoryBudget();
  if (budget != nullptr && !budget->TryReserve(rounded)) {
    return OutOfMemory("allocating " + std::to_string(bytes) + " bytes for a " + std::string(DTypeName(dtype)) +
                       " tensor " + ShapeToString(shape) + " would exceed the memory budget of " +
                       std::to_string(budget->limit()) + " bytes (" + std::to_string(budget->used()) + " in use)");
  }
  void* p = std::aligned_alloc(align, rounded == 0 ? align : rounded);
  if (p == nullptr) {
    if (budget != nullptr) budget->Release(rounded);
    return OutOfMemory("cannot allocate " + std::to_string(bytes) + " bytes for a " +
                       std::string(DTypeName(dtype)) + " tensor " + ShapeToString(shape));
  }
  if (align == kHugeAlign) ::madvise(p, rounded, MADV_HUGEPAGE);  // a hint; failure is harmless
  Tensor t;
  t.dtype_ = dtype;
  t.numel_ = NumElements(shape);
  t.shape_ = std::move(shape);
  t.nbytes_ = bytes;
  t.writable_ = true;
  t.storage_ = std::shared_ptr<const void>(p, [budget, rounded](const void* q) {
    std::free(const_cast<void*>(q));
    if (budget != nullptr) budget->Release(rounded);
  });
  return t;
}

Result<Tensor> Tensor::Zeros(DType dtype, Shape shape) {
  SDR_ASSIGN_OR_RETURN(Tensor t, Allocate(dtype, std::move(shape)));
  std::memset(t.mutable_raw(), 0, t.nbytes());
  return t;
}

Tensor Tensor::Borrow(DType dtype, Shape shape, const void* data,
                      std::shared_ptr<const void> keepalive) {
  Tensor t;
  t.dtype_ = dtype;
  t.numel_ = NumElements(shape);
  auto bytes = DTypeBytes(dtype, static_cast<uint64_t>(t.numel_));
  SDR_CHECK(bytes.has_value());
  t.nbytes_ = static_cast<size_t>(*bytes);
  t.shape_ = std::move(shape);
  t.writable_ = false;
  t.storage_ = std::shared_ptr<const void>(std::move(keepalive), data);
  return t;
}

Tensor Tensor::Reshaped(Shape shape) const {
  SDR_CHECK(NumElements(shape) == numel_);
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Result<Tensor> ToF32(const Tensor& t) {
  SDR_CHECK(t.defined());
  SDR_ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(DType::kF32, t.shape()));
  SDR_RETURN_IF_ERROR(ConvertToF32(t.dtype(), t.raw(), t.numel(), out.mutable_data<float>()));
  return out;
}

}  // namespace sdr
