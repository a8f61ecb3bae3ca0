// Multi-head attention in blocks with an online softmax (the FlashAttention scheme): for each
// block of query rows, keys are visited in chunks; the chunk's scores S = scale q k^T stay in
// cache, the row maxima and sums are updated as the chunks go by, and O += exp(S - max) v.
// No score matrix is ever stored, so memory stays linear in the number of tokens. Both products
// run on TileGemm's 6x16 micro-kernel over K and V packed once per head.
//
//   q: [lq, heads * d] (row stride ldq); k, v: [lk, heads * d] (row stride ldk); y: [lq, heads * d]
//   y_h = softmax(scale q_h k_h^T, masked to j <= i when causal) v_h
#pragma once

#include <cstdint>

namespace sdr::cpu {

int64_t FlashAttentionScratchFloats(int64_t heads, int64_t lq, int64_t lk, int64_t d);

// Needs TileGemmAvailable(). scratch: FlashAttentionScratchFloats floats (null: allocates).
void FlashAttention(const float* q, int64_t ldq, const float* k, const float* v, int64_t ldk, float* y, int64_t heads,
                    int64_t lq, int64_t lk, int64_t d, float scale, bool causal, float* scratch = nullptr);

}  // namespace sdr::cpu
