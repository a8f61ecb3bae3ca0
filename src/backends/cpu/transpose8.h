// The 8x8 block transpose of the cpu backend's channels-last copies (Winograd's gathers and
// scatters, the transformer's [C, HW] <-> [HW, C]) and of the GEMM's packers: AVX2, callers check
// for it.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace sdr::cpu {

// out[j] lane i = r[i] lane j: the 8x8 transpose of eight registers.
__attribute__((target("avx2"))) inline void Transpose8Regs(const __m256 r[8], __m256 out[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  out[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  out[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  out[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  out[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  out[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  out[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  out[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  out[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// The first six floats of x at dst: the last of a run of 8-float stores into six-float slots
// (each store's last two floats land in the next slot, which its own store overwrites), where
// the slot after it is not the run's.
__attribute__((target("avx2"))) inline void Store6(float* dst, __m256 x) {
  _mm_storeu_ps(dst, _mm256_castps256_ps128(x));
  _mm_storel_pi(reinterpret_cast<__m64*>(dst + 4), _mm256_extractf128_ps(x, 1));
}

// out[j][i] = in[i][j] for i, j < 8, with row strides ld_in / ld_out.
__attribute__((target("avx2"))) inline void Transpose8(const float* in, int64_t ld_in, float* out, int64_t ld_out) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(in + i * ld_in);
  Transpose8Regs(r, t);
  for (int i = 0; i < 8; ++i) _mm256_storeu_ps(out + i * ld_out, t[i]);
}

}  // namespace sdr::cpu
