#include "models/weights.h"

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
  return f;
}

}  // namespace sdr
