// The narrow CPU kernel interface every model (CLIP, UNet, VAE) is built from. Kernels are plain
// functions over row-major f32 buffers; shapes are in the comments. GEMM goes to the BLAS
// provider (OpenBLAS); the rest are our own loops. Every kernel has a plain reference in
// tests/testing/reference_ops.h and a test that checks one against the other.
//
// Thread-safety: kernels keep no state; distinct outputs may be computed concurrently.
#pragma once

#include <cstdint>

namespace sdr::cpu {

// C[M,N] = alpha * op(A) · op(B) + beta * C, row-major; op(X) = X or X^T.
// A: [M,K] (lda) or, transposed, [K,M]; B: [K,N] (ldb) or, transposed, [N,K].
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// PyTorch Linear: y[M,N] = x[M,K] · w[N,K]^T + bias[N] (bias may be null).
void Linear(const float* x, const float* w, const float* bias, float* y, int64_t m, int64_t n, int64_t k);

// LayerNorm over the last dim: x, y: [rows, cols]; gamma, beta: [cols] (may alias x == y).
void LayerNorm(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t cols,
               float eps);

// In-place softmax of each row: x: [rows, cols].
void SoftmaxRows(float* x, int64_t rows, int64_t cols);

// In-place activations over n values.
void QuickGelu(float* x, int64_t n);  // x * sigmoid(1.702 x)
void Gelu(float* x, int64_t n);       // exact: 0.5 x (1 + erf(x / sqrt 2))
void Silu(float* x, int64_t n);       // x * sigmoid(x)

// y[i] += x[i] over n values.
void AddInPlace(float* y, const float* x, int64_t n);
// y[i] = (t[i] + bias) + residual[i] (residual may be null): a GEMM epilogue applied afterwards.
void AddRowBiasResidual(const float* t, float bias, const float* residual, int64_t n, float* y);

// Sinusoidal timestep embedding as LDM computes it: out[dim] = [cos(t f_j), sin(t f_j)],
// f_j = exp(-ln(10000) j / half), half = dim / 2 (an odd dim leaves the last value 0).
void TimestepEmbedding(float t, int64_t dim, float* out);

// Multi-head scaled dot-product attention, computed in row blocks so memory stays linear in
// the number of tokens. q: [lq, q_stride] with head h at columns [h*d, (h+1)*d); k, v: [lk,
// kv_stride] likewise; out: [lq, heads*d]. scale multiplies q·k; causal masks j > i.
// scores: AttentionScratchFloats(lq, lk) floats of scratch, or null to allocate its own.
void Attention(const float* q, int64_t q_stride, const float* k, const float* v, int64_t kv_stride, float* out,
               int64_t heads, int64_t lq, int64_t lk, int64_t d, float scale, bool causal, float* scores = nullptr);
int64_t AttentionScratchFloats(int64_t lq, int64_t lk);

// Threads used by the BLAS provider (<= 0: its default).
void SetBlasThreads(int n);
// The BLAS provider and its build ("OpenBLAS 0.3.21 ... Cooperlake MAX_THREADS=64") and threads.
const char* BlasDescription();
int BlasThreads();

// Floating-point operations issued through Gemm since the last reset (2*m*n*k per call), for
// benchmarks that print GFLOP/s. Process-wide, relaxed atomic.
uint64_t GemmFlops();
void ResetGemmFlops();

}  // namespace sdr::cpu

namespace sdr::cpu {

// 2-D convolution of one image (PyTorch semantics, symmetric zero padding).
// x: [cin, h, w]; weight: [cout, cin, kh, kw]; bias: [cout] (may be null);
// y: [cout, ho, wo] with ho = (h + 2 pad - kh) / stride + 1 (likewise wo).
// Computed as GEMMs over im2col tiles of output rows, so scratch stays bounded (~32 MB):
// col is Conv2dScratchFloats(...) floats of scratch, or null to allocate its own.
void Conv2d(const float* x, int64_t cin, int64_t h, int64_t w, const float* weight, const float* bias, int64_t cout,
            int64_t kh, int64_t kw, int64_t stride, int64_t pad, float* y, float* col = nullptr);
int64_t Conv2dScratchFloats(int64_t cin, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t stride, int64_t pad);
inline int64_t ConvOutSize(int64_t in, int64_t k, int64_t stride, int64_t pad) { return (in + 2 * pad - k) / stride + 1; }

// GroupNorm over x: [c, hw] with `groups` groups of c/groups channels; gamma, beta: [c].
// y may alias x. When `silu`, applies x * sigmoid(x) to the result (the usual GN -> SiLU pair).
void GroupNorm(const float* x, const float* gamma, const float* beta, float* y, int64_t c, int64_t hw,
               int64_t groups, float eps, bool silu);
// The same for groups [g0, g1) only (to split one image's groups between threads).
void GroupNormRange(const float* x, const float* gamma, const float* beta, float* y, int64_t c, int64_t hw,
                    int64_t groups, int64_t g0, int64_t g1, float eps, bool silu);

// Nearest-neighbour 2x upsampling: x: [c, h, w] -> y: [c, 2h, 2w].
void UpsampleNearest2x(const float* x, int64_t c, int64_t h, int64_t w, float* y);
// Nearest-neighbour resize (PyTorch "nearest": src = floor(dst * in / out)): [c, h, w] -> [c, ho, wo].
void ResizeNearest(const float* x, int64_t c, int64_t h, int64_t w, int64_t ho, int64_t wo, float* y);

// Transposes a [rows, cols] matrix into [cols, rows] (e.g. [C, HW] <-> [HW, C]).
void Transpose(const float* x, int64_t rows, int64_t cols, float* y);
// The same for rows [r0, r1) of x only (columns [r0, r1) of y): one thread's share.
void TransposeRows(const float* x, int64_t rows, int64_t cols, int64_t r0, int64_t r1, float* y);

}  // namespace sdr::cpu
