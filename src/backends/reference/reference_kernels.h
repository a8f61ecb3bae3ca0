// Plain, obviously-correct kernels (double accumulation, no blocking, no threads): the
// `reference` backend runs on them, and every optimised kernel and backend is checked against
// them (tests/unit/backend_conformance_test.cc). Dense row-major f32 buffers; shapes as in
// backends/cpu/ops.h.
#pragma once

#include <cstdint>

namespace sdr::reference {

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
// Direct convolution: x [cin,h,w], w [cout,cin,kh,kw] -> y [cout,ho,wo].
void Conv2d(const float* x, int64_t cin, int64_t h, int64_t w, const float* weight, const float* bias, int64_t cout,
            int64_t kh, int64_t kw, int64_t stride, int64_t pad, float* y);
void GroupNorm(const float* x, const float* g, const float* b, float* y, int64_t c, int64_t hw, int64_t groups,
               float eps, bool silu);

}  // namespace sdr::reference
