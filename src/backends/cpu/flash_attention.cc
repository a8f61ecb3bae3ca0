#include "backends/cpu/flash_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backends/cpu/fast_math.h"
#include "backends/cpu/tile_gemm.h"
#include "backends/cpu/tile_gemm_kernel.h"
#include "core/thread_pool.h"

namespace sdr::cpu {
namespace {

using namespace tile;

constexpr int64_t kQb = 48;   // query rows per block (a multiple of kMr)
constexpr int64_t kKb = 256;  // keys per chunk (a multiple of kNr; <= kKc for PackA)

int64_t Up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

struct Sizes {
  int64_t lk16, lkb, d16, kpanel, vpanel, per_task;
};

Sizes MakeSizes(int64_t heads, int64_t lk, int64_t d) {
  Sizes s;
  s.lk16 = Up(lk, kNr);
  s.lkb = Up(lk, kKb);  // P v reads whole chunks of kKb keys: V is zero up to there, never unset
  s.d16 = Up(d, kNr);
  s.kpanel = s.lk16 * d;     // K^T of one head: lk16 / 16 panels of d x 16
  s.vpanel = s.d16 * s.lkb;  // V of one head: d16 / 16 panels of lkb x 16
  // Per task: the Q panel (kQb x d), S (kQb x kKb), the P panel (kQb x kKb), O (kQb x d16),
  // row max and sum (kQb each), alignment slack.
  s.per_task = kQb * Up(d, kKc) + kQb * kKb + kQb * kKb + kQb * s.d16 + 2 * kQb + 64;
  return s;
}

float* Align(float* p) { return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(p) + 31) & ~uintptr_t{31}); }

// K^T of head h into kNr-key panels (d x 16 each), zero past lk.
void PackKeys(const float* k, int64_t ldk, int64_t lk, int64_t d, int64_t h, const Sizes& s, float* out) {
  const GemmOperand ko = GemmOperand::Columns(k + h * d, DType::kF32, ldk);
  for (int64_t j0 = 0; j0 < s.lk16; j0 += kKc) {
    // PackB takes depth blocks of at most kKc; here the depth is d (<= kKc in SD's heads) and the
    // columns are keys.
    const int64_t nc = std::min(kKc, s.lk16 - j0);
    for (int64_t k0 = 0; k0 < d; k0 += kKc) {
      const int64_t kc = std::min(kKc, d - k0);
      // Panels of keys [j0, j0 + nc), depth [k0, k0 + kc): panel p of the whole lives at
      // out + (j0 / 16 + p) * 16 * d; PackB writes nc/16 panels of kc x 16 contiguously.
      std::vector<float> tmp(static_cast<size_t>(nc * kc));
      PackB(ko, lk, k0, kc, j0, nc, tmp.data());
      for (int64_t p = 0; p < nc / kNr; ++p) {
        std::memcpy(out + ((j0 / kNr + p) * d + k0) * kNr, tmp.data() + p * kc * kNr,
                    static_cast<size_t>(kc * kNr) * sizeof(float));
      }
    }
  }
}

// V of head h into kNr-dim panels (lkb x 16 each), zero past lk and d: P (zero past lk) times
// V must never meet unset memory, which may hold inf or NaN.
void PackValues(const float* v, int64_t ldk, int64_t lk, int64_t d, int64_t h, const Sizes& s, float* out) {
  for (int64_t p = 0; p < s.d16 / kNr; ++p) {
    float* panel = out + p * s.lkb * kNr;
    const int64_t c0 = p * kNr, cols = std::min<int64_t>(kNr, d - c0);
    for (int64_t j = 0; j < s.lkb; ++j) {
      float* dst = panel + j * kNr;
      if (j >= lk) {
        std::fill_n(dst, kNr, 0.0f);
        continue;
      }
      const float* src = v + j * ldk + h * d + c0;
      for (int64_t c = 0; c < kNr; ++c) dst[c] = c < cols ? src[c] : 0.0f;
    }
  }
}

// Online softmax over one chunk of scores: rows [0, rows), valid keys [0, keys) of kKb columns.
// s: scores in, exp(scale s - new max) out (zero past `keys`); o rows rescaled by exp(old - new).
SDR_VECTOR_CLONES void SoftmaxChunk(float* s, int64_t rows, int64_t keys, int64_t q0, int64_t j0, bool causal,
                                    float scale, float* row_max, float* row_sum, float* o, int64_t d16) {
  for (int64_t i = 0; i < rows; ++i) {
    float* r = s + i * kKb;
    // Keys past the causal limit (and past lk) do not exist for this row.
    const int64_t valid = causal ? std::clamp<int64_t>(q0 + i - j0 + 1, 0, keys) : keys;
    float mx = row_max[i];
    for (int64_t j = 0; j < valid; ++j) {
      r[j] *= scale;
      mx = std::max(mx, r[j]);
    }
    if (valid == 0) {
      std::fill_n(r, kKb, 0.0f);
      continue;
    }
    const float alpha = ExpF(row_max[i] - mx);  // 0 for the first chunk (row_max = -inf)
    float sum = 0.0f;
    for (int64_t j = 0; j < valid; ++j) {
      r[j] = ExpF(r[j] - mx);
      sum += r[j];
    }
    std::fill(r + valid, r + kKb, 0.0f);
    row_sum[i] = row_sum[i] * alpha + sum;
    row_max[i] = mx;
    float* orow = o + i * d16;
    for (int64_t c = 0; c < d16; ++c) orow[c] *= alpha;
  }
}

// One block of query rows [q0, q0 + rows) of head h.
void QueryBlock(const float* q, int64_t ldq, int64_t lk, int64_t d, int64_t h, int64_t q0, int64_t rows, float scale,
                bool causal, const Sizes& s, const float* kp, const float* vp, float* y, int64_t ldy, float* scratch) {
  float* qpanel = Align(scratch);  // depth chunks of kKc: chunk c at qpanel + c * kQb * kKc
  float* sblock = Align(qpanel + kQb * Up(d, kKc));
  float* ppanel = Align(sblock + kQb * kKb);
  float* o = Align(ppanel + kQb * kKb);
  float* row_max = o + kQb * s.d16;
  float* row_sum = row_max + kQb;
  for (int64_t c0 = 0; c0 < d; c0 += kKc) {
    PackA(GemmOperand::Rows(q, DType::kF32, ldq), q0 + rows, q0, rows, h * d + c0, std::min(kKc, d - c0),
          qpanel + c0 / kKc * kQb * kKc);
  }
  std::fill_n(o, kQb * s.d16, 0.0f);
  std::fill_n(row_max, kQb, -std::numeric_limits<float>::infinity());
  std::fill_n(row_sum, kQb, 0.0f);
  const int64_t rows6 = Up(rows, kMr);
  const int64_t key_end = causal ? std::min(lk, q0 + rows) : lk;  // later keys are masked for every row
  for (int64_t j0 = 0; j0 < key_end; j0 += kKb) {
    const int64_t keys = std::min(kKb, lk - j0);
    // S = q k^T over this chunk (whole 16-key panels; scores past lk are ignored), depth in
    // chunks of kKc.
    for (int64_t jr = 0; jr < Up(keys, kNr); jr += kNr) {
      for (int64_t c0 = 0; c0 < d; c0 += kKc) {
        const int64_t kc = std::min(kKc, d - c0);
        const float* qc = qpanel + c0 / kKc * kQb * kKc;
        const float* kc_panel = kp + ((j0 + jr) / kNr) * d * kNr + c0 * kNr;
        for (int64_t ir = 0; ir < rows6; ir += kMr) {
          MicroKernel(kc, qc + ir * kc, kc_panel, sblock + ir * kKb + jr, kKb, c0 > 0);
        }
      }
    }
    SoftmaxChunk(sblock, rows, keys, q0, j0, causal, scale, row_max, row_sum, o, s.d16);
    // O += P v over this chunk.
    PackA(GemmOperand::Rows(sblock, DType::kF32, kKb), rows, 0, rows, 0, kKb, ppanel);
    for (int64_t c0 = 0; c0 < s.d16; c0 += kNr) {
      const float* vchunk = vp + (c0 / kNr) * s.lkb * kNr + j0 * kNr;
      for (int64_t ir = 0; ir < rows6; ir += kMr) {
        if (ir + kMr <= rows) {
          MicroKernel(kKb, ppanel + ir * kKb, vchunk, o + ir * s.d16 + c0, s.d16, true);
        } else {
          alignas(32) float edge[kMr * kNr];
          for (int64_t r = 0; r < kMr; ++r)
            for (int64_t c = 0; c < kNr; ++c) edge[r * kNr + c] = ir + r < rows ? o[(ir + r) * s.d16 + c0 + c] : 0.0f;
          MicroKernel(kKb, ppanel + ir * kKb, vchunk, edge, kNr, true);
          for (int64_t r = 0; ir + r < rows; ++r)
            for (int64_t c = 0; c < kNr; ++c) o[(ir + r) * s.d16 + c0 + c] = edge[r * kNr + c];
        }
      }
    }
  }
  for (int64_t i = 0; i < rows; ++i) {
    const float inv = row_sum[i] > 0.0f ? 1.0f / row_sum[i] : 0.0f;
    float* dst = y + (q0 + i) * ldy + h * d;
    for (int64_t c = 0; c < d; ++c) dst[c] = o[i * s.d16 + c] * inv;
  }
}

}  // namespace

int64_t FlashAttentionScratchFloats(int64_t heads, int64_t lq, int64_t lk, int64_t d) {
  const Sizes s = MakeSizes(heads, lk, d);
  return heads * (s.kpanel + s.vpanel) + ThreadPool::Shared().num_threads() * s.per_task + 64;
}

void FlashAttention(const float* q, int64_t ldq, const float* k, const float* v, int64_t ldk, float* y, int64_t heads,
                    int64_t lq, int64_t lk, int64_t d, float scale, bool causal, float* scratch) {
  const Sizes s = MakeSizes(heads, lk, d);
  std::vector<float> own;
  if (scratch == nullptr) {
    own.resize(static_cast<size_t>(FlashAttentionScratchFloats(heads, lq, lk, d)));
    scratch = own.data();
  }
  float* kp = Align(scratch);
  float* vp = kp + heads * s.kpanel;  // kpanel and vpanel are multiples of 16 floats: stays aligned
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
  const int threads = pool.num_threads();
  // Tasks (head, query block) in contiguous slices, one slice and one scratch area per thread.
  pool.ParallelFor(
      threads,
      [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t total = heads * blocks;
          for (int64_t task = total * t / threads; task < total * (t + 1) / threads; ++task) {
            const int64_t h = task / blocks, q0 = task % blocks * kQb;
            QueryBlock(q, ldq, lk, d, h, q0, std::min(kQb, lq - q0), scale, causal, s, kp + h * s.kpanel,
                       vp + h * s.vpanel, y, heads * d, tasks + t * s.per_task);
          }
        }
      },
      1);
}

}  // namespace sdr::cpu
