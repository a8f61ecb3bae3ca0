// Per-format block kernels behind core/quant.h (Dequantize/Quantize dispatch to these).
// Each function handles `nblocks` whole blocks; `src`/`dst` bytes hold blocks back to back in
// the ggml layout (little-endian, no padding, any byte alignment).
#pragma once

#include <cstdint>
#include <cstring>

#include "core/half.h"

namespace sdr::quant_internal {

// Reads/writes an f16 stored at an arbitrary byte address.
inline float LoadF16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return F16ToF32(h);
}
inline void StoreF16(uint8_t* p, float f) {
  const uint16_t h = F32ToF16(f);
  std::memcpy(p, &h, 2);
}

// Rounds `v` to the nearest integer (halves away from zero) and clamps to [lo, hi]; NaN -> lo.
inline int RoundClamp(float v, int lo, int hi) {
  if (!(v >= static_cast<float>(lo))) return lo;
  if (v >= static_cast<float>(hi)) return hi;
  const float r = v < 0 ? v - 0.5f : v + 0.5f;
  const int i = static_cast<int>(r);
  return i < lo ? lo : (i > hi ? hi : i);
}

// 32-value blocks (quant_legacy.cc).
void DequantizeQ4_0(const uint8_t* src, int64_t nblocks, float* dst);
void DequantizeQ4_1(const uint8_t* src, int64_t nblocks, float* dst);
void DequantizeQ5_0(const uint8_t* src, int64_t nblocks, float* dst);
void DequantizeQ5_1(const uint8_t* src, int64_t nblocks, float* dst);
void DequantizeQ8_0(const uint8_t* src, int64_t nblocks, float* dst);
void QuantizeQ4_0(const float* src, int64_t nblocks, uint8_t* dst);
void QuantizeQ4_1(const float* src, int64_t nblocks, uint8_t* dst);
void QuantizeQ5_0(const float* src, int64_t nblocks, uint8_t* dst);
void QuantizeQ5_1(const float* src, int64_t nblocks, uint8_t* dst);
void QuantizeQ8_0(const float* src, int64_t nblocks, uint8_t* dst);

// 256-value super-blocks (quant_k.cc).
void DequantizeQ4_K(const uint8_t* src, int64_t nblocks, float* dst);
void DequantizeQ5_K(const uint8_t* src, int64_t nblocks, float* dst);
void DequantizeQ6_K(const uint8_t* src, int64_t nblocks, float* dst);
void QuantizeQ4_K(const float* src, int64_t nblocks, uint8_t* dst);
void QuantizeQ5_K(const float* src, int64_t nblocks, uint8_t* dst);
void QuantizeQ6_K(const float* src, int64_t nblocks, uint8_t* dst);

}  // namespace sdr::quant_internal
