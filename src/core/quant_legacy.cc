// The 32-value ggml block formats. Layouts (bytes, little-endian):
//   Q4_0 (18): f16 d, u8 qs[16]          x = (q - 8) * d
//   Q4_1 (20): f16 d, f16 m, u8 qs[16]   x = q * d + m
//   Q5_0 (22): f16 d, u8 qh[4], u8 qs[16]            x = (q - 16) * d
//   Q5_1 (24): f16 d, f16 m, u8 qh[4], u8 qs[16]     x = q * d + m
//   Q8_0 (34): f16 d, i8 qs[32]          x = q * d
// 4-bit quants: qs[j] holds element j in its low nibble and element j + 16 in its high nibble.
// 5-bit quants: qh is a little-endian u32 whose bit i is the fifth bit of element i.
// The quantizers are the plain round-to-nearest reference ones: the scale maps the value of
// largest magnitude (or the min..max range for the _1 types) onto the full quant range.
#include <cmath>
#include <cstring>

#include "core/quant_internal.h"

namespace sdr::quant_internal {
namespace {

constexpr int kBlock = 32;

struct MinMax {
  float min;
  float max;
};

MinMax BlockMinMax(const float* x) {
  MinMax r{x[0], x[0]};
  for (int j = 1; j < kBlock; ++j) {
    r.min = std::fmin(r.min, x[j]);
    r.max = std::fmax(r.max, x[j]);
  }
  return r;
}

// The value of largest magnitude in the block, sign kept (first one on ties).
float BlockSignedAbsMax(const float* x) {
  float amax = 0.0f;
  float vmax = 0.0f;
  for (int j = 0; j < kBlock; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      vmax = x[j];
    }
  }
  return vmax;
}

inline uint32_t LoadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline float Inverse(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

// Writes 32 quants (each < 16 after masking) as nibble pairs, and their fifth bits into *qh.
void PackNibbles(const int* q, uint8_t* qs, uint32_t* qh) {
  uint32_t high = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
    high |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
    high |= static_cast<uint32_t>((q[j + 16] >> 4) & 1) << (j + 16);
  }
  if (qh != nullptr) *qh = high;
}

}  // namespace

void DequantizeQ4_0(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += 18, dst += kBlock) {
    const float d = LoadF16(src);
    const uint8_t* qs = src + 2;
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>((qs[j] & 0xF) - 8) * d;
      dst[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
  }
}

void DequantizeQ4_1(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += 20, dst += kBlock) {
    const float d = LoadF16(src);
    const float m = LoadF16(src + 2);
    const uint8_t* qs = src + 4;
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>(qs[j] & 0xF) * d + m;
      dst[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
    }
  }
}

void DequantizeQ5_0(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += 22, dst += kBlock) {
    const float d = LoadF16(src);
    const uint32_t qh = LoadU32(src + 2);
    const uint8_t* qs = src + 6;
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      dst[j] = static_cast<float>(lo - 16) * d;
      dst[j + 16] = static_cast<float>(hi - 16) * d;
    }
  }
}

void DequantizeQ5_1(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += 24, dst += kBlock) {
    const float d = LoadF16(src);
    const float m = LoadF16(src + 2);
    const uint32_t qh = LoadU32(src + 4);
    const uint8_t* qs = src + 8;
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      dst[j] = static_cast<float>(lo) * d + m;
      dst[j + 16] = static_cast<float>(hi) * d + m;
    }
  }
}

void DequantizeQ8_0(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += 34, dst += kBlock) {
    const float d = LoadF16(src);
    for (int j = 0; j < kBlock; ++j) {
      dst[j] = static_cast<float>(static_cast<int8_t>(src[2 + j])) * d;
    }
  }
}

void QuantizeQ4_0(const float* src, int64_t nblocks, uint8_t* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += kBlock, dst += 18) {
    const float d = BlockSignedAbsMax(src) / -8.0f;  // the largest magnitude maps to q = 0
    const float id = Inverse(d);
    int q[kBlock];
    for (int j = 0; j < kBlock; ++j) q[j] = RoundClamp(src[j] * id + 8.0f, 0, 15);
    StoreF16(dst, d);
    PackNibbles(q, dst + 2, nullptr);
  }
}

void QuantizeQ4_1(const float* src, int64_t nblocks, uint8_t* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += kBlock, dst += 20) {
    const MinMax mm = BlockMinMax(src);
    const float d = (mm.max - mm.min) / 15.0f;
    const float id = Inverse(d);
    int q[kBlock];
    for (int j = 0; j < kBlock; ++j) q[j] = RoundClamp((src[j] - mm.min) * id, 0, 15);
    StoreF16(dst, d);
    StoreF16(dst + 2, mm.min);
    PackNibbles(q, dst + 4, nullptr);
  }
}

void QuantizeQ5_0(const float* src, int64_t nblocks, uint8_t* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += kBlock, dst += 22) {
    const float d = BlockSignedAbsMax(src) / -16.0f;
    const float id = Inverse(d);
    int q[kBlock];
    for (int j = 0; j < kBlock; ++j) q[j] = RoundClamp(src[j] * id + 16.0f, 0, 31);
    uint32_t qh = 0;
    StoreF16(dst, d);
    PackNibbles(q, dst + 6, &qh);
    std::memcpy(dst + 2, &qh, 4);
  }
}

void QuantizeQ5_1(const float* src, int64_t nblocks, uint8_t* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += kBlock, dst += 24) {
    const MinMax mm = BlockMinMax(src);
    const float d = (mm.max - mm.min) / 31.0f;
    const float id = Inverse(d);
    int q[kBlock];
    for (int j = 0; j < kBlock; ++j) q[j] = RoundClamp((src[j] - mm.min) * id, 0, 31);
    uint32_t qh = 0;
    StoreF16(dst, d);
    StoreF16(dst + 2, mm.min);
    PackNibbles(q, dst + 8, &qh);
    std::memcpy(dst + 4, &qh, 4);
  }
}

void QuantizeQ8_0(const float* src, int64_t nblocks, uint8_t* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += kBlock, dst += 34) {
    float amax = 0.0f;
    for (int j = 0; j < kBlock; ++j) amax = std::fmax(amax, std::fabs(src[j]));
    const float d = amax / 127.0f;
    const float id = Inverse(d);
    StoreF16(dst, d);
    for (int j = 0; j < kBlock; ++j) {
      dst[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(RoundClamp(src[j] * id, -127, 127)));
    }
  }
}

}  // namespace sdr::quant_internal
