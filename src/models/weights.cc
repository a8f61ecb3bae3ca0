#include "models/weights.h"


namespace sdr {

Result<const TensorEntry*> RequireTensor(const TensorIndex& index, const std::string& name, size_t rank,
                                         const Shape& expected) {
  const TensorEntry* e = index.Find(name);
  if (e == nullptr) {
    return NotFound("tensor '" + name + "' is missing from the model" +
                    (expected.empty() ? std::string() : " (expected shape " + ShapeToString(expected) + ")"));
  }
  if (e->tensor.rank() != rank) {
    return InvalidArgument("tensor '" + name + "' has shape " + ShapeToString(e->tensor.shape()) + ", expected " +
                           (expected.empty() ? "rank " + std::to_string(rank) : ShapeToString(expected)));
  }
  const DTypeInfo& info = GetDTypeInfo(e->tensor.dtype());
  if (!info.is_float && !info.is_quantized) {
    return InvalidArgument("tensor '" + name + "' has dtype " + std::string(info.name) +
                           "; weights must be f32, f16, bf16, f64 or a GGUF quantized type");
  }
  return e;
}

Result<Weight> WeightLoader::Load(const std::string& name, const Shape& expected, WeightRole role,
                                  const Shape& as_shape) const {
  SDR_ASSIGN_OR_RETURN(const TensorEntry* e, RequireTensor(index_, name, expected.size(), expected));
  if (e->tensor.shape() != expected) {
    return InvalidArgument("tensor '" + name + "' has shape " + ShapeToString(e->tensor.shape()) + ", expected " +
                           ShapeToString(expected));
  }
  const Tensor host = as_shape.empty() ? e->tensor : e->tensor.Reshaped(as_shape);
  auto w = backend_.PrepareWeight(host, role);
  if (!w.ok()) return w.status().WithContext("tensor '" + name + "'");
  return w;
}

bool HasTensorsUnder(const TensorIndex& index, const std::string& prefix) { return index.HasPrefix(prefix); }

Result<int> CountNumbered(const TensorIndex& index, const std::string& prefix) {
  int n = 0;
  while (HasTensorsUnder(index, prefix + std::to_string(n) + ".")) ++n;
  if (HasTensorsUnder(index, prefix + std::to_string(n + 1) + ".")) {
    return NotFound("'" + prefix + std::to_string(n) + "' is missing from the model (but '" + prefix +
                    std::to_string(n + 1) + "' is there)");
  }
  return n;
}

}  // namespace sdr
