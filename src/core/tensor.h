// Tensor: a dtype, a shape (PyTorch order), row-major strides in elements and a storage that is
// either owned (64-byte aligned heap memory) or borrowed (read-only bytes such as an mmapped
// model file, kept alive by a shared keep-alive handle). Copying a Tensor shares its storage.
//
// Thread-safety: concurrent reads are safe; writes need external synchronisation.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "core/check.h"
#include "core/dtype.h"
#include "core/result.h"
#include "core/shape.h"

namespace sdr {

class Tensor {
 public:
  Tensor() = default;

  // Owned, uninitialised, 64-byte aligned storage. OutOfMemory when the allocation fails;
  // InvalidArgument for a negative dim, overflow or a non-whole number of quant blocks.
  static Result<Tensor> Allocate(DType dtype, Shape shape);
  // As Allocate, filled with zero bytes.
  static Result<Tensor> Zeros(DType dtype, Shape shape);
  // Read-only view of `nbytes` at `data` (which must stay valid while `keepalive` lives).
  static Tensor Borrow(DType dtype, Shape shape, const void* data,
                       std::shared_ptr<const void> keepalive);

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(size_t i) const { SDR_CHECK(i < shape_.size()); return shape_[i]; }
  size_t rank() const { return shape_.size(); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return nbytes_; }
  bool writable() const { return writable_; }

  const void* raw() const { return storage_.get(); }
  void* mutable_raw() { SDR_CHECK(writable_); return const_cast<void*>(storage_.get()); }

  template <typename T> const T* data() const { return static_cast<const T*>(raw()); }
  template <typename T> T* mutable_data() { return static_cast<T*>(mutable_raw()); }

  // Same storage, new shape with the same element count (aborts otherwise: a bug).
  Tensor Reshaped(Shape shape) const;

 private:
  DType dtype_ = DType::kF32;
  Shape shape_;
  int64_t numel_ = 0;
  size_t nbytes_ = 0;
  bool writable_ = false;
  std::shared_ptr<const void> storage_;  // points at the first byte
};

// Converts any plain float/int tensor or quantized tensor to a new owned f32 tensor.
Result<Tensor> ToF32(const Tensor& t);

}  // namespace sdr
