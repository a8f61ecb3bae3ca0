#include "models/weights.h"

#include "core/mapped_file.h"

namespace sdr {

Result<Tensor> LoadF32(const TensorIndex& index, const std::string& name, const Shape& expected) {
  const TensorEntry* e = index.Find(name);
  if (e == nullptr) return NotFound("tensor '" + name + "' is missing from the model");
  if (e->tensor.shape() != expected) {
    return InvalidArgument("tensor '" + name + "' has shape " + ShapeToString(e->tensor.shape()) + ", expected " +
                           ShapeToString(expected));
  }
  if (e->tensor.dtype() == DType::kF32) return e->tensor;
  auto f = ToF32(e->tensor);
  if (!f.ok()) return f.status().WithContext("tensor '" + name + "'");
  // The f32 copy is what runs; the stored bytes' pages need not stay resident.
  if (!e->tensor.writable()) ReleaseMappedPages(e->tensor.raw(), e->tensor.nbytes());
  return f;
}

}  // namespace sdr
