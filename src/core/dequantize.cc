#include "core/dequantize.h"

#include <cstring>
#include <string>

#include "core/half.h"
#include "core/quant.h"
#include "core/thread_pool.h"

namespace sdr {
namespace {

template <typename T>
void Widen(const void* src, int64_t n, float* dst) {
  const T* s = static_cast<const T*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]);
}

}  // namespace

Status ConvertToF32(DType dtype, const void* src, int64_t n, float* dst) {
  // Half types: split large tensors over the shared pool (conversion and first-touch page
  // faults of dst both scale with cores).
  constexpr int64_t kGrain = int64_t{1} << 20;
  switch (dtype) {
    case DType::kF32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return Status::Ok();
    case DType::kF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      auto run = [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) dst[i] = F16ToF32(s[i]);
      };
      if (n >= 2 * kGrain) ThreadPool::Shared().ParallelFor(n, run, kGrain); else run(0, n);
      return Status::Ok();
    }
    case DType::kBF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      auto run = [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) dst[i] = BF16ToF32(s[i]);
      };
      if (n >= 2 * kGrain) ThreadPool::Shared().ParallelFor(n, run, kGrain); else run(0, n);
      return Status::Ok();
    }
    case DType::kF64: Widen<double>(src, n, dst); return Status::Ok();
    case DType::kI8: Widen<int8_t>(src, n, dst); return Status::Ok();
    case DType::kU8: Widen<uint8_t>(src, n, dst); return Status::Ok();
    case DType::kBool: Widen<uint8_t>(src, n, dst); return Status::Ok();
    case DType::kI16: Widen<int16_t>(src, n, dst); return Status::Ok();
    case DType::kI32: Widen<int32_t>(src, n, dst); return Status::Ok();
    case DType::kI64: Widen<int64_t>(src, n, dst); return Status::Ok();
    default: break;
  }
  if (GetDTypeInfo(dtype).is_quantized) return Dequantize(dtype, src, n, dst);
  return Unsupported("no f32 conversion for dtype " + std::string(DTypeName(dtype)));
}

}  // namespace sdr
