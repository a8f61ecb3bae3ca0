#include "backends/cpu/flash_attention.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/tile_gemm.h"
#include "backends/cpu/tile_gemm_kernel.h"
#include "backends/cpu/transpose8.h"
#include "core/thread_pool.h"

namespace sdr::cpu {
namespace {

using namespace tile;

// The block is computed transposed: S^T = K Q^T (rows: keys, columns: queries), so that each
// query's softmax runs down a column: the row maxima and sums of the online softmax are whole
// vectors across 16 queries (no horizontal reductions), and exp(S^T) is already the packed B
// panel of O^T += V^T P^T, the second product.
constexpr int64_t kQb = 64;   // queries per block (a multiple of kNr)
constexpr int64_t kKb = 252;  // keys per chunk (a multiple of kMr)
constexpr float kLog2e = 1.44269504088896341f;

int64_t Up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

struct Sizes {
  int64_t lk6, d6, kpanel, vpanel, per_task;
};

Sizes MakeSizes(int64_t lk, int64_t d) {
  Sizes s;
  s.lk6 = Up(lk, kMr);
  s.d6 = Up(d, kMr);
  s.kpanel = s.lk6 * d;  // K of one head: lk6 / 6 panels of d x 6 keys
  s.vpanel = s.d6 * lk;  // V^T of one head: d6 / 6 panels of lk keys x 6 dims
  // Per task: Q^T panels (d x kQb), S^T (kQb / 16 panels of kKb x 16), O^T (d6 x kQb), the
  // running max, sum and rescale factor (kQb each), alignment slack.
  s.per_task = d * kQb + kKb * kQb + s.d6 * kQb + 3 * kQb + 64;
  return s;
}

// 2^x for x <= 127: x = n + f, |f| <= 1/2, 2^f by its Taylor polynomial in f ln2 to degree 6
// (relative error < 2e-7; kExp2Poly, highest degree first), 2^n inserted as the exponent.
// x <= -127 (and NaN) gives exactly 0. The 8- and 16-lane forms are the same operations per lane.
constexpr float kExp2Poly[7] = {
    1.5403530393381609e-4f,  // ln2^6 / 720
    1.3333558146428443e-3f,  // ln2^5 / 120
    9.6181291076284772e-3f,  // ln2^4 / 24
    5.5504108664821580e-2f,  // ln2^3 / 6
    2.4022650695910071e-1f,  // ln2^2 / 2
    6.9314718055994531e-1f,  // ln2
    1.0f,
};

// The body of Exp2 for one vector width: PS(op) / EPI(op) name its float / int32 intrinsics.
#define SDR_EXP2(V, VI, PS, EPI, ROUND, TO_INT, AS_FLOAT)                                 \
  x = PS(min)(PS(max)(x, PS(set1)(-127.0f)), PS(set1)(127.0f));                           \
  const V n = ROUND(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);                    \
  const V f = PS(sub)(x, n);                                                              \
  V p = PS(set1)(kExp2Poly[0]);                                                           \
  for (int i = 1; i < 7; ++i) p = PS(fmadd)(p, f, PS(set1)(kExp2Poly[i]));                \
  const VI e = EPI(slli)(EPI(add)(TO_INT(n), EPI(set1)(127)), 23);                        \
  return PS(mul)(p, AS_FLOAT(e));

#define SDR_PS256(op) _mm256_##op##_ps
#define SDR_PS512(op) _mm512_##op##_ps
#define SDR_EPI256(op) _mm256_##op##_epi32
#define SDR_EPI512(op) _mm512_##op##_epi32

__attribute__((target("avx2,fma"))) inline __m256 Exp2(__m256 x) {
  SDR_EXP2(__m256, __m256i, SDR_PS256, SDR_EPI256, _mm256_round_ps, _mm256_cvtps_epi32, _mm256_castsi256_ps)
}

// GCC 12's unmasked AVX-512 max/min/round/convert/shift intrinsics pass _mm512_undefined_ps()
// as the unused source and warn that it may be uninitialized (GCC PR 105593, fixed in 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
__attribute__((target("avx512f"))) inline __m512 Exp2(__m512 x) {
  SDR_EXP2(__m512, __m512i, SDR_PS512, SDR_EPI512, _mm512_roundscale_ps, _mm512_cvtps_epi32, _mm512_castsi512_ps)
}

// The online softmax down the 16 columns of one S^T panel (sp: `keys` rows of 16 queries) for
// columns [c0, c0 + lanes): the new maxima, P^T = 2^(S^T - max) in place, the sums; alpha =
// 2^(old max - new max), the rescale of O^T and the running sums. max, sum, alpha: the panel's
// 16 per-query values. V: __m256 (two calls, c0 = 0 and 8) or __m512 (one call).
#define SDR_ONLINE_SOFTMAX(V, PS, LOAD, LOADU, STORE, STOREU)                                              \
  const V old_max = LOADU(max + c0);                                                                       \
  /* Four running maxima: one would be a chain of dependent maxes, one per key. */                         \
  V m4[4] = {old_max, old_max, old_max, old_max};                                                          \
  int64_t jj = 0;                                                                                          \
  for (; jj + 4 <= keys; jj += 4)                                                                          \
    for (int u = 0; u < 4; ++u) m4[u] = PS(max)(LOAD(sp + (jj + u) * kNr + c0), m4[u]);                   \
  for (; jj < keys; ++jj) m4[0] = PS(max)(LOAD(sp + jj * kNr + c0), m4[0]);                                \
  const V mx = PS(max)(PS(max)(m4[0], m4[1]), PS(max)(m4[2], m4[3]));                                     \
  V total = PS(setzero)();                                                                                 \
  for (jj = 0; jj < keys; ++jj) {                                                                          \
    const V e = Exp2(PS(sub)(LOAD(sp + jj * kNr + c0), mx));                                               \
    STORE(sp + jj * kNr + c0, e);                                                                          \
    total = PS(add)(total, e);                                                                             \
  }                                                                                                        \
  /* A column with every key so far masked has max -inf: its factor is Exp2(NaN) = 0. */                  \
  const V a = Exp2(PS(sub)(old_max, mx));                                                                  \
  STOREU(alpha + c0, a);                                                                                   \
  STOREU(max + c0, mx);                                                                                    \
  STOREU(sum + c0, PS(fmadd)(LOADU(sum + c0), a, total));

__attribute__((target("avx2,fma"))) void OnlineSoftmax8(float* sp, int64_t keys, int64_t c0, float* max, float* sum,
                                                        float* alpha) {
  SDR_ONLINE_SOFTMAX(__m256, SDR_PS256, _mm256_load_ps, _mm256_loadu_ps, _mm256_store_ps, _mm256_storeu_ps)
}

__attribute__((target("avx512f"))) void OnlineSoftmax16(float* sp, int64_t keys, float* max, float* sum,
                                                        float* alpha) {
  const int64_t c0 = 0;
  SDR_ONLINE_SOFTMAX(__m512, SDR_PS512, _mm512_loadu_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_storeu_ps)
}

#pragma GCC diagnostic pop

#undef SDR_EXP2
#undef SDR_ONLINE_SOFTMAX
#undef SDR_PS256
#undef SDR_PS512
#undef SDR_EPI256
#undef SDR_EPI512

// The online softmax of one panel: AVX-512 where the register tiles use it (16 queries, one
// vector), else AVX2 (two halves of 8). The same operations per lane either way.
void OnlineSoftmax(float* sp, int64_t keys, float* max, float* sum, float* alpha) {
  if (ActiveKernelIsa() == KernelIsa::kAvx512) {
    OnlineSoftmax16(sp, keys, max, sum, alpha);
  } else {
    for (int64_t c0 = 0; c0 < kNr; c0 += 8) OnlineSoftmax8(sp, keys, c0, max, sum, alpha);
  }
}

// K of head h as A panels of 6 keys: panel p holds d x 6 floats, keys past lk zero.
void PackKeys(const float* k, int64_t ldk, int64_t lk, int64_t d, int64_t h, const Sizes& s, float* out) {
  for (int64_t j0 = 0; j0 < s.lk6; j0 += kMr) {
    InterleaveStoredRows(k + j0 * ldk + h * d, DType::kF32, ldk, std::min<int64_t>(kMr, lk - j0), d, out + j0 * d, kMr);
  }
}

// V^T of head h as A panels of 6 dims: panel p holds lk x 6 floats, dims past d zero. Per panel,
// key by key: the six dims as one 8-float load (masked where the row ends) and store, whose last
// two floats land in the next key's slot (overwritten by it; the very last key stores six).
__attribute__((target("avx2"))) void PackValues(const float* v, int64_t ldk, int64_t lk, int64_t d, int64_t h,
                                                const Sizes& s, float* out) {
  for (int64_t c0 = 0; c0 < s.d6; c0 += kMr) {
    float* dst = out + c0 * lk;  // panel c0 / 6
    const int64_t dims = std::min<int64_t>(8, d - c0);  // readable dims from c0 (>= 1)
    __m256i mask = _mm256_setzero_si256();
    if (dims < 8) {
      alignas(32) int32_t lanes[8];
      for (int64_t i = 0; i < 8; ++i) lanes[i] = i < std::min<int64_t>(dims, kMr) ? -1 : 0;
      mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
    }
    const bool last_panel = c0 + kMr >= s.d6;
    for (int64_t j = 0; j < lk; ++j) {
      const float* src = v + j * ldk + h * d + c0;
      const __m256 x = dims < 8 ? _mm256_maskload_ps(src, mask) : _mm256_loadu_ps(src);
      if (last_panel && j + 1 == lk) {
        Store6(dst + j * kMr, x);
      } else {
        _mm256_storeu_ps(dst + j * kMr, x);
      }
    }
  }
}

// One block of query rows [q0, q0 + rows) of head h. kp, vp: the head's packed K and V^T.
__attribute__((target("avx2,fma"))) void QueryBlock(const float* q, int64_t ldq, int64_t lk, int64_t d, int64_t h,
                                                    int64_t q0, int64_t rows, float scale, bool causal,
                                                    const Sizes& s, const float* kp, const float* vp, float* y,
                                                    int64_t ldy, float* scratch) {
  const int64_t panels = Up(rows, kNr) / kNr;
  float* qt = AlignPanels(scratch);                // Q^T panel p: d x 16 at qt + p * d * 16
  float* st = AlignPanels(qt + d * kQb);           // S^T / P^T panel p: kKb x 16 at st + p * kKb * 16
  float* ot = AlignPanels(st + kKb * kQb);         // O^T: d6 x kQb, row stride kQb
  float* row_max = AlignPanels(ot + s.d6 * kQb);   // per query
  float* row_sum = row_max + kQb;
  float* alpha = row_sum + kQb;
  // Q^T scaled by scale * log2(e): the softmax then runs on powers of two. Whole 8x8 blocks by
  // register transposes, the edges (queries past `rows` zero) one value at a time.
  const float qs = scale * kLog2e;
  const int64_t d8 = d / 8 * 8;
  for (int64_t p = 0; p < panels; ++p) {
    for (int64_t i0 = 0; i0 < kNr; i0 += 8) {
      const int64_t r0 = p * kNr + i0;
      const bool whole = r0 + 8 <= rows;
      if (whole) {
        for (int64_t c = 0; c < d8; c += 8) {
          Transpose8(q + (q0 + r0) * ldq + h * d + c, ldq, qt + (p * d + c) * kNr + i0, kNr);
        }
      }
      for (int64_t i = i0; i < i0 + 8; ++i) {
        const int64_t r = p * kNr + i;
        const float* src = q + (q0 + r) * ldq + h * d;
        for (int64_t c = whole ? d8 : 0; c < d; ++c) qt[(p * d + c) * kNr + i] = r < rows ? src[c] : 0.0f;
      }
    }
  }
  for (int64_t j = 0; j < panels * d * kNr; j += 8) {
    _mm256_store_ps(qt + j, _mm256_mul_ps(_mm256_load_ps(qt + j), _mm256_set1_ps(qs)));
  }
  std::fill_n(ot, s.d6 * kQb, 0.0f);
  std::fill_n(row_max, kQb, -std::numeric_limits<float>::infinity());
  std::fill_n(row_sum, kQb, 0.0f);
  const int64_t key_end = causal ? std::min(lk, q0 + rows) : lk;  // later keys are masked for every row
  for (int64_t j0 = 0; j0 < key_end; j0 += kKb) {
    const int64_t keys = std::min(kKb, lk - j0);
    // S^T = K Q^T over this chunk: whole 6-key panels (rows past lk are zero and never read).
    MicroKernelGrid({.rows = keys, .panels = panels, .kc = d, .a = kp + j0 * d, .a_step = d * kMr, .b = qt,
                     .b_step = d * kNr, .c = st, .ldc = kNr, .c_step = kKb * kNr});
    if (causal && j0 + keys - 1 > q0) {
      for (int64_t p = 0; p < panels; ++p) {
        for (int64_t jj = 0; jj < keys; ++jj) {
          for (int64_t i = 0; i < kNr; ++i) {
            if (j0 + jj > q0 + p * kNr + i) st[(p * kKb + jj) * kNr + i] = -std::numeric_limits<float>::infinity();
          }
        }
      }
    }
    // Online softmax down each column: new max, P^T = 2^(S^T - max) in place, sums; O^T and the
    // running sums rescaled by 2^(old max - new max).
    for (int64_t p = 0; p < panels; ++p) {
      OnlineSoftmax(st + p * kKb * kNr, keys, row_max + p * kNr, row_sum + p * kNr, alpha + p * kNr);
    }
    if (j0 > 0) {
      for (int64_t c = 0; c < d; ++c) {
        float* orow = ot + c * kQb;
        for (int64_t i = 0; i < panels * kNr; i += 8) {
          _mm256_storeu_ps(orow + i, _mm256_mul_ps(_mm256_loadu_ps(orow + i), _mm256_loadu_ps(alpha + i)));
        }
      }
    }
    // O^T += V^T P^T over this chunk (d = 40: six panels and one of four dims).
    MicroKernelGrid({.rows = d, .panels = panels, .kc = keys, .a = vp + j0 * kMr, .a_step = lk * kMr, .b = st,
                     .b_step = kKb * kNr, .c = ot, .ldc = kQb, .c_step = kNr, .accumulate = true});
  }
  // O = (O^T)^T / row sums: each column of O^T scaled (in place), then whole 8x8 blocks out by
  // register transposes, the edges one value at a time.
  float* inv_sum = alpha;  // the rescale factors' space, free after the last chunk
  for (int64_t i = 0; i < kQb; ++i) inv_sum[i] = i < rows && row_sum[i] > 0.0f ? 1.0f / row_sum[i] : 0.0f;
  for (int64_t c = 0; c < d; ++c) {
    for (int64_t i = 0; i < kQb; i += 8) {
      _mm256_store_ps(ot + c * kQb + i, _mm256_mul_ps(_mm256_load_ps(ot + c * kQb + i), _mm256_load_ps(inv_sum + i)));
    }
  }
  const int64_t rows8 = rows / 8 * 8;
  for (int64_t i = 0; i < rows8; i += 8) {
    for (int64_t c = 0; c < d8; c += 8) Transpose8(ot + c * kQb + i, kQb, y + (q0 + i) * ldy + h * d + c, ldy);
  }
  for (int64_t i = 0; i < rows; ++i) {
    float* dst = y + (q0 + i) * ldy + h * d;
    for (int64_t c = i < rows8 ? d8 : 0; c < d; ++c) dst[c] = ot[c * kQb + i];
  }
}

}  // namespace

int64_t FlashAttentionScratchFloats(int64_t heads, int64_t lq, int64_t lk, int64_t d) {
  (void)lq;
  const Sizes s = MakeSizes(lk, d);
  return heads * (s.kpanel + s.vpanel) + ThreadPool::Shared().num_threads() * s.per_task + 64;
}

void FlashAttention(const float* q, int64_t ldq, const float* k, const float* v, int64_t ldk, float* y, int64_t heads,
                    int64_t lq, int64_t lk, int64_t d, float scale, bool causal, float* scratch) {
  const Sizes s = MakeSizes(lk, d);
  std::vector<float> own;
  if (scratch == nullptr) {
    own.resize(static_cast<size_t>(FlashAttentionScratchFloats(heads, lq, lk, d)));
    scratch = own.data();
  }
  float* kp = AlignPanels(scratch);
  float* vp = kp + heads * s.kpanel;
  float* tasks = vp + heads * s.vpanel;
  ThreadPool& pool = ThreadPool::Shared();
  pool.ParallelFor(
      heads,
      [&](int64_t h0, int64_t h1) {
        for (int64_t h = h0; h < h1; ++h) {
          PackKeys(k, ldk, lk, d, h, s, kp + h * s.kpanel);
          PackValues(v, ldk, lk, d, h, s, vp + h * s.vpanel);
        }
      },
      1);
  const int64_t blocks = (lq + kQb - 1) / kQb;
  // Tasks (head, query block) in order, each thread taking the next when done (a thread the
  // machine slows takes fewer), one scratch area per thread.
  pool.ForEachInOrder(heads * blocks, [&](int64_t t, int64_t task) {
    const int64_t h = task / blocks, q0 = task % blocks * kQb;
    QueryBlock(q, ldq, lk, d, h, q0, std::min(kQb, lq - q0), scale, causal, s, kp + h * s.kpanel, vp + h * s.vpanel,
               y, heads * d, tasks + t * s.per_task);
  });
}

}  // namespace sdr::cpu
