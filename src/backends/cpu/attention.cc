// Multi-head attention in row blocks: for each head and each block of query rows,
// S = scale * Q_blk K^T (GEMM), mask, softmax, O_blk = S V (GEMM). Scratch is
// [block, lk] floats, so memory grows linearly with the number of tokens.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/ops.h"

namespace sdr::cpu {

namespace {
constexpr int64_t kBlock = 256;  // query rows per block
}  // namespace

int64_t AttentionScratchFloats(int64_t lq, int64_t lk) { return std::min(kBlock, lq) * lk; }

void Attention(const float* q, int64_t q_stride, const float* k, const float* v, int64_t kv_stride, float* out,
               int64_t heads, int64_t lq, int64_t lk, int64_t d, float scale, bool causal, float* scratch) {
  const int64_t out_stride = heads * d;
  std::vector<float> own;
  if (scratch == nullptr) {
    own.resize(static_cast<size_t>(AttentionScratchFloats(lq, lk)));
    scratch = own.data();
  }
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t r0 = 0; r0 < lq; r0 += kBlock) {
      const int64_t rows = std::min(kBlock, lq - r0);
      float* s = scratch;
      // s[rows, lk] = scale * q[r0:r0+rows, h] · k[:, h]^T
      Gemm(false, true, rows, lk, d, scale, q + r0 * q_stride + h * d, q_stride, k + h * d, kv_stride, 0.0f, s, lk);
      if (causal) {
        for (int64_t i = 0; i < rows; ++i) {
          for (int64_t j = r0 + i + 1; j < lk; ++j) s[i * lk + j] = -INFINITY;
        }
      }
      SoftmaxRows(s, rows, lk);
      // out[r0:r0+rows, h] = s · v[:, h]
      Gemm(false, false, rows, d, lk, 1.0f, s, lk, v + h * d, kv_stride, 0.0f, out + r0 * out_stride + h * d,
           out_stride);
    }
  }
}

}  // namespace sdr::cpu
