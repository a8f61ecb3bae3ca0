// Plain, obviously-correct reference kernels (double accumulation, no blocking) that every
// optimised kernel in src/backends is checked against.
#pragma once

#include <cstdint>
#include <vector>

namespace sdr::ref {

// c[M,N] = alpha op(a) op(b) + beta c (row-major, dense: lda = cols of a as stored).
void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, const float* b, float beta,
          float* c);
void LayerNorm(const float* x, const float* g, const float* b, float* y, int64_t rows, int64_t cols, float eps);
void SoftmaxRows(float* x, int64_t rows, int64_t cols);
float QuickGelu(float x);
float Gelu(float x);
float Silu(float x);
// q: [lq, heads*d], k/v: [lk, heads*d] dense; out: [lq, heads*d].
void Attention(const float* q, const float* k, const float* v, float* out, int64_t heads, int64_t lq, int64_t lk,
               int64_t d, float scale, bool causal);

// Relative L2 error ||a - b|| / ||a||.
double RelL2(const float* a, const float* b, int64_t n);
std::vector<float> RandomVector(int64_t n, uint32_t seed, float scale = 1.0f);

}  // namespace sdr::ref
