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
// PSNR in dB of b against a, for values in [0, 1] (peak 1).
double Psnr(const float* a, const float* b, int64_t n);
std::vector<float> RandomVector(int64_t n, uint32_t seed, float scale = 1.0f);

}  // namespace sdr::ref

namespace sdr::ref {
// Direct convolution: x [cin,h,w], w [cout,cin,kh,kw] -> y [cout,ho,wo].
void Conv2d(const float* x, int64_t cin, int64_t h, int64_t w, const float* weight, const float* bias, int64_t cout,
            int64_t kh, int64_t kw, int64_t stride, int64_t pad, float* y);
void GroupNorm(const float* x, const float* g, const float* b, float* y, int64_t c, int64_t hw, int64_t groups,
               float eps, bool silu);
}  // namespace sdr::ref
