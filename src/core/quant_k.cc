// The ggml K-quant formats: 256-value super-blocks split into sub-blocks, each sub-block with
// its own scale quantized against a super-block f16 scale. Layouts (bytes, little-endian):
//   Q4_K (144): f16 d, f16 dmin, u8 scales[12], u8 qs[128]
//   Q5_K (176): f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]
//   Q6_K (210): u8 ql[128], u8 qh[64], i8 scales[16], f16 d
// Q4_K/Q5_K: 8 sub-blocks of 32; sub-block s has a 6-bit scale sc[s] and a 6-bit min mn[s],
//   x = d*sc[s] * q - dmin*mn[s]. The 12 scale bytes pack them as: for s < 4, byte s holds
//   sc[s] in bits 0-5 and bits 4-5 of sc[s+4] in bits 6-7; byte s+4 likewise holds mn[s] and
//   bits 4-5 of mn[s+4]; byte s+8 holds the low 4 bits of sc[s+4] (bits 0-3) and of mn[s+4]
//   (bits 4-7). Quants come in four 64-value chunks of 32 bytes: byte l of chunk c holds
//   element 64c+l in its low nibble and 64c+32+l in its high nibble. Q5_K adds the fifth bit:
//   bit 2c of qh[l] for element 64c+l, bit 2c+1 for element 64c+32+l.
// Q6_K: 16 sub-blocks of 16 with signed 8-bit scales, x = d * scales[i/16] * (q - 32), q 6-bit.
//   Two 128-value halves h; within a half, for l < 32: ql[64h+l] low nibble -> element l,
//   ql[64h+32+l] low -> l+32, ql[64h+l] high -> l+64, ql[64h+32+l] high -> l+96; the top two
//   bits come from qh[32h+l] bits 0-1, 2-3, 4-5, 6-7 for those four elements in that order.
//
// Dequantization follows ggml's arithmetic exactly (same float operations, same order), so the
// results are bit-identical. The quantizers are plain round-to-nearest: each sub-block scale
// covers its range, the sub-block scales are quantized against the largest; they do not search
// for optimal scales like ggml's, so the bytes differ from ggml's but decode the same way.
#include <algorithm>
#include <cmath>

#include "core/quant_internal.h"

namespace sdr::quant_internal {
namespace {

constexpr int kSuper = 256;

// Unpacks the 6-bit scale and min of sub-block s (0..7) from the 12 packed bytes.
inline void UnpackScaleMin(const uint8_t* sc, int s, int* scale, int* min) {
  if (s < 4) {
    *scale = sc[s] & 63;
    *min = sc[s + 4] & 63;
  } else {
    *scale = (sc[s + 4] & 0xF) | ((sc[s - 4] >> 6) << 4);
    *min = (sc[s + 4] >> 4) | ((sc[s] >> 6) << 4);
  }
}

void PackScaleMin(const int* scale, const int* min, uint8_t* sc) {
  for (int s = 0; s < 4; ++s) {
    sc[s] = static_cast<uint8_t>(scale[s] | ((scale[s + 4] >> 4) << 6));
    sc[s + 4] = static_cast<uint8_t>(min[s] | ((min[s + 4] >> 4) << 6));
    sc[s + 8] = static_cast<uint8_t>((scale[s + 4] & 0xF) | ((min[s + 4] & 0xF) << 4));
  }
}

// Shared by Q4_K (max_q 15) and Q5_K (max_q 31): picks d, dmin, the 6-bit sub-block scales and
// mins, and the quants q[256] in 0..max_q.
void QuantizeScaleMinSuperBlock(const float* x, int max_q, float* d_out, float* dmin_out,
                                uint8_t* packed_scales, int* q) {
  float sub_scale[8];
  float sub_min[8];  // >= 0: the amount subtracted (x = scale*q - min)
  float max_scale = 0.0f;
  float max_min = 0.0f;
  for (int s = 0; s < 8; ++s) {
    const float* xs = x + 32 * s;
    float lo = 0.0f;  // the min is clamped to <= 0 so that it is stored as a non-negative 6 bits
    float hi = xs[0];
    for (int l = 0; l < 32; ++l) {
      lo = std::fmin(lo, xs[l]);
      hi = std::fmax(hi, xs[l]);
    }
    sub_scale[s] = std::fmax(hi - lo, 0.0f) / static_cast<float>(max_q);
    sub_min[s] = -lo;
    max_scale = std::fmax(max_scale, sub_scale[s]);
    max_min = std::fmax(max_min, sub_min[s]);
  }
  // Store the super-block scales as f16 and quantize against the stored values.
  const float d = F16ToF32(F32ToF16(max_scale / 63.0f));
  const float dmin = F16ToF32(F32ToF16(max_min / 63.0f));
  int scale6[8];
  int min6[8];
  for (int s = 0; s < 8; ++s) {
    scale6[s] = d > 0.0f ? RoundClamp(sub_scale[s] / d, 0, 63) : 0;
    min6[s] = dmin > 0.0f ? RoundClamp(sub_min[s] / dmin, 0, 63) : 0;
  }
  for (int s = 0; s < 8; ++s) {
    const float step = d * static_cast<float>(scale6[s]);
    const float offset = dmin * static_cast<float>(min6[s]);
    const float inv = step != 0.0f ? 1.0f / step : 0.0f;
    for (int l = 0; l < 32; ++l) q[32 * s + l] = RoundClamp((x[32 * s + l] + offset) * inv, 0, max_q);
  }
  PackScaleMin(scale6, min6, packed_scales);
  *d_out = d;
  *dmin_out = dmin;
}

}  // namespace

void DequantizeQ4_K(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += 144, dst += kSuper) {
    const float d = LoadF16(src);
    const float dmin = LoadF16(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* qs = src + 16;
    for (int c = 0; c < 4; ++c) {
      int sc1, m1, sc2, m2;
      UnpackScaleMin(scales, 2 * c, &sc1, &m1);
      UnpackScaleMin(scales, 2 * c + 1, &sc2, &m2);
      const float d1 = d * static_cast<float>(sc1), min1 = dmin * static_cast<float>(m1);
      const float d2 = d * static_cast<float>(sc2), min2 = dmin * static_cast<float>(m2);
      float* y = dst + 64 * c;
      const uint8_t* q = qs + 32 * c;
      for (int l = 0; l < 32; ++l) {
        y[l] = d1 * static_cast<float>(q[l] & 0xF) - min1;
        y[l + 32] = d2 * static_cast<float>(q[l] >> 4) - min2;
      }
    }
  }
}

void DequantizeQ5_K(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += 176, dst += kSuper) {
    const float d = LoadF16(src);
    const float dmin = LoadF16(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* qh = src + 16;
    const uint8_t* qs = src + 48;
    for (int c = 0; c < 4; ++c) {
      int sc1, m1, sc2, m2;
      UnpackScaleMin(scales, 2 * c, &sc1, &m1);
      UnpackScaleMin(scales, 2 * c + 1, &sc2, &m2);
      const float d1 = d * static_cast<float>(sc1), min1 = dmin * static_cast<float>(m1);
      const float d2 = d * static_cast<float>(sc2), min2 = dmin * static_cast<float>(m2);
      float* y = dst + 64 * c;
      const uint8_t* q = qs + 32 * c;
      const uint8_t lo_bit = static_cast<uint8_t>(1u << (2 * c));
      const uint8_t hi_bit = static_cast<uint8_t>(2u << (2 * c));
      for (int l = 0; l < 32; ++l) {
        const int q_lo = (q[l] & 0xF) + ((qh[l] & lo_bit) ? 16 : 0);
        const int q_hi = (q[l] >> 4) + ((qh[l] & hi_bit) ? 16 : 0);
        y[l] = d1 * static_cast<float>(q_lo) - min1;
        y[l + 32] = d2 * static_cast<float>(q_hi) - min2;
      }
    }
  }
}

void DequantizeQ6_K(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += 210, dst += kSuper) {
    const float d = LoadF16(src + 208);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = src + 64 * h;
      const uint8_t* qh = src + 128 + 32 * h;
      const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192 + 8 * h);
      float* y = dst + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

void QuantizeQ4_K(const float* src, int64_t nblocks, uint8_t* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += kSuper, dst += 144) {
    float d, dmin;
    int q[kSuper];
    QuantizeScaleMinSuperBlock(src, 15, &d, &dmin, dst + 4, q);
    StoreF16(dst, d);
    StoreF16(dst + 2, dmin);
    uint8_t* qs = dst + 16;
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
      }
    }
  }
}

void QuantizeQ5_K(const float* src, int64_t nblocks, uint8_t* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += kSuper, dst += 176) {
    float d, dmin;
    int q[kSuper];
    QuantizeScaleMinSuperBlock(src, 31, &d, &dmin, dst + 4, q);
    StoreF16(dst, d);
    StoreF16(dst + 2, dmin);
    uint8_t* qh = dst + 16;
    uint8_t* qs = dst + 48;
    std::fill(qh, qh + 32, uint8_t{0});
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int lo = q[64 * c + l];
        const int hi = q[64 * c + 32 + l];
        qs[32 * c + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        qh[l] = static_cast<uint8_t>(qh[l] | (((lo >> 4) & 1) << (2 * c)) |
                                     (((hi >> 4) & 1) << (2 * c + 1)));
      }
    }
  }
}

void QuantizeQ6_K(const float* src, int64_t nblocks, uint8_t* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += kSuper, dst += 210) {
    // Sub-block scale: the value of largest magnitude maps to q - 32 = -32.
    float sub_scale[16];
    float max_abs_scale = 0.0f;
    for (int s = 0; s < 16; ++s) {
      float amax = 0.0f, vmax = 0.0f;
      for (int l = 0; l < 16; ++l) {
        const float v = src[16 * s + l];
        if (std::fabs(v) > amax) {
          amax = std::fabs(v);
          vmax = v;
        }
      }
      sub_scale[s] = vmax / -32.0f;
      max_abs_scale = std::fmax(max_abs_scale, std::fabs(sub_scale[s]));
    }
    const float d = F16ToF32(F32ToF16(max_abs_scale / 127.0f));
    int8_t* scales = reinterpret_cast<int8_t*>(dst + 192);
    int q[kSuper];
    for (int s = 0; s < 16; ++s) {
      const int sc = d > 0.0f ? RoundClamp(sub_scale[s] / d, -127, 127) : 0;
      scales[s] = static_cast<int8_t>(sc);
      const float step = d * static_cast<float>(sc);
      const float inv = step != 0.0f ? 1.0f / step : 0.0f;
      for (int l = 0; l < 16; ++l) q[16 * s + l] = RoundClamp(src[16 * s + l] * inv, -32, 31) + 32;
    }
    StoreF16(dst + 208, d);
    for (int h = 0; h < 2; ++h) {
      uint8_t* ql = dst + 64 * h;
      uint8_t* qh = dst + 128 + 32 * h;
      const int* qq = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((qq[l] & 0xF) | ((qq[l + 64] & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((qq[l + 32] & 0xF) | ((qq[l + 96] & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) |
                                     ((qq[l + 64] >> 4) << 4) | ((qq[l + 96] >> 4) << 6));
      }
    }
  }
}

}  // namespace sdr::quant_internal
