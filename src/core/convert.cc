#include "core/convert.h"

#include <string>

#include "core/half.h"
#include "core/quant.h"

namespace sdr {

int64_t QuantRowElems(const Shape& shape) {
  int64_t n = 1;
  for (size_t i = shape.size() > 1 ? 1 : 0; i < shape.size(); ++i) n *= shape[i];
  return n;
}

bool QuantRowsValid(DType dtype, const Shape& shape) {
  const DTypeInfo& info = GetDTypeInfo(dtype);
  if (!info.is_quantized) return true;
  return !shape.empty() && QuantRowElems(shape) % info.block_elems == 0;
}

bool GgmlQuantRowsValid(DType dtype, const Shape& shape) {
  const DTypeInfo& info = GetDTypeInfo(dtype);
  if (!info.is_quantized) return true;
  return !shape.empty() && shape.back() % info.block_elems == 0;
}

bool CanQuantizeRows(DType dtype, const Shape& shape) { return shape.size() >= 2 && QuantRowsValid(dtype, shape); }

Result<Tensor> ConvertTensor(const Tensor& t, DType target) {
  if (t.dtype() == target) return t;
  SDR_ASSIGN_OR_RETURN(Tensor f, t.dtype() == DType::kF32 ? Result<Tensor>(t) : ToF32(t));
  if (target == DType::kF32) return f;
  const float* src = f.data<float>();
  if (GetDTypeInfo(target).is_quantized && !CanQuantizeRows(target, t.shape())) {
    return InvalidArgument("shape " + ShapeToString(t.shape()) + " cannot be quantized to " +
                           std::string(DTypeName(target)) + " by rows");
  }
  SDR_ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(target, t.shape()));
  switch (target) {
    case DType::kF16: {
      auto* d = out.mutable_data<uint16_t>();
      for (int64_t i = 0; i < t.numel(); ++i) d[i] = F32ToF16(src[i]);
      return out;
    }
    case DType::kBF16: {
      auto* d = out.mutable_data<uint16_t>();
      for (int64_t i = 0; i < t.numel(); ++i) d[i] = F32ToBF16(src[i]);
      return out;
    }
    default: break;
  }
  if (GetDTypeInfo(target).is_quantized) {
    SDR_RETURN_IF_ERROR(Quantize(target, src, t.numel(), out.mutable_raw()));
    return out;
  }
  return Unsupported("conversion to " + std::string(DTypeName(target)) + " is not supported");
}

}  // namespace sdr
