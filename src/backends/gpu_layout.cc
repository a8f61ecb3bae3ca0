#include "backends/gpu_layout.h"

#include <cstring>

#include "core/check.h"
#include "core/half.h"

namespace sdr {
namespace {

void Store(DType dtype, void* out, int64_t i, float v) {
  switch (dtype) {
    case DType::kF32: static_cast<float*>(out)[i] = v; return;
    case DType::kF16: static_cast<uint16_t*>(out)[i] = F32ToF16(v); return;
    case DType::kBF16: static_cast<uint16_t*>(out)[i] = F32ToBF16(v); return;
    default: SDR_CHECK(false && "GPU tensors are f32, f16 or bf16");
  }
}

float Load(DType dtype, const void* src, int64_t i) {
  switch (dtype) {
    case DType::kF32: return static_cast<const float*>(src)[i];
    case DType::kF16: return F16ToF32(static_cast<const uint16_t*>(src)[i]);
    case DType::kBF16: return BF16ToF32(static_cast<const uint16_t*>(src)[i]);
    default: SDR_CHECK(false && "GPU tensors are f32, f16 or bf16");
  }
  return 0.0f;
}

}  // namespace

void PackValues(const float* src, int64_t n, DType dtype, void* out) {
  if (dtype == DType::kF32) {
    std::memcpy(out, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  for (int64_t i = 0; i < n; ++i) Store(dtype, out, i, src[i]);
}

void PackActivation(const float* src, const Shape& shape, DType dtype, void* out) {
  if (!GpuNhwc(shape)) {
    PackValues(src, NumElements(shape), dtype, out);
    return;
  }
  const int64_t b = shape[0], c = shape[1], hw = shape[2] * shape[3];
  for (int64_t n = 0; n < b; ++n)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < hw; ++p) Store(dtype, out, (n * hw + p) * c + ch, src[(n * c + ch) * hw + p]);
}

void UnpackActivation(const void* src, const Shape& shape, DType dtype, float* out) {
  const int64_t numel = NumElements(shape);
  if (!GpuNhwc(shape)) {
    if (dtype == DType::kF32) {
      std::memcpy(out, src, static_cast<size_t>(numel) * sizeof(float));
    } else {
      for (int64_t i = 0; i < numel; ++i) out[i] = Load(dtype, src, i);
    }
    return;
  }
  const int64_t b = shape[0], c = shape[1], hw = shape[2] * shape[3];
  for (int64_t n = 0; n < b; ++n)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < hw; ++p) out[(n * c + ch) * hw + p] = Load(dtype, src, (n * hw + p) * c + ch);
}

int64_t ConvKernelColumns(int64_t cin, int64_t k) {
  if (k == 1) return cin;
  return (k * k * cin + 7) / 8 * 8;
}

void PackConvKernel(const float* w, int64_t cout, int64_t cin, int64_t k, DType dtype, void* out) {
  const int64_t kp = ConvKernelColumns(cin, k);
  for (int64_t o = 0; o < cout; ++o) {
    for (int64_t j = 0; j < kp; ++j) Store(dtype, out, o * kp + j, 0.0f);
    for (int64_t c = 0; c < cin; ++c)
      for (int64_t ky = 0; ky < k; ++ky)
        for (int64_t kx = 0; kx < k; ++kx) {
          Store(dtype, out, o * kp + (ky * k + kx) * cin + c, w[((o * cin + c) * k + ky) * k + kx]);
        }
  }
}

}  // namespace sdr
