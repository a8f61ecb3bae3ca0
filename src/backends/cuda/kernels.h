// The CUDA kernels of the cuda backend, as plain launch functions over device pointers (llm.c's
// style): no sdruntime types, so the .cu files stay free of the C++20 host headers. Every launch
// is asynchronous on `s` and returns cudaGetLastError() (a launch error; device faults surface at
// the next synchronisation). Shapes are in the comments; B batch, C channels, L tokens.
//
// Layouts: feature maps are NHWC ([B, H, W, C] in memory for the logical [B, C, H, W]); token rows
// [B, L, C] and matrices are row-major. Every element type is `Dt`; arithmetic and accumulation
// are f32. Each kernel has a plain reference (backends/reference) and a case in the conformance
// test (tests/unit/backend_conformance_test.cc), run on a GPU by scripts/gpu_check.sh.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace sdr::cuda {

enum class Dt : int { kF32 = 0, kF16 = 1, kBf16 = 2 };
enum class Act : int { kNone = 0, kSilu = 1, kGelu = 2, kQuickGelu = 3 };  // sdr::Activation's order

inline size_t DtBytes(Dt dt) { return dt == Dt::kF32 ? 4 : 2; }

// ---- elementwise (elementwise.cu) -------------------------------------------------------------

// a, b, y: [n]: y = a + b
cudaError_t Add(Dt dt, const void* a, const void* b, void* y, int64_t n, cudaStream_t s);
// x, y: [n]: y = x * scale + shift, clamped to [lo, hi] when `clamp`
cudaError_t Affine(Dt dt, const void* x, void* y, int64_t n, float scale, float shift, bool clamp, float lo, float hi,
                   cudaStream_t s);
// x: [M, 2F] -> y: [M, F]: y = x[:, :F] * gelu(x[:, F:]) (exact erf GELU)
cudaError_t Geglu(Dt dt, const void* x, void* y, int64_t m, int64_t f, cudaStream_t s);
// y: [M, N] in place: y = act(y) + residual[M, N] (residual may be null)
cudaError_t ActResidual(Dt dt, void* y, const void* residual, int64_t m, int64_t n, Act act, cudaStream_t s);
// y: [B, P, N] in place: y[b, p, :] += bias[b, :] (a per-sample bias, e.g. a conv's time embedding)
cudaError_t AddRowBias(Dt dt, void* y, const void* bias, int64_t b, int64_t p, int64_t n, cudaStream_t s);
// x: [n] of `from` -> y: [n] of `to`
cudaError_t Convert(Dt from, const void* x, Dt to, void* y, int64_t n, cudaStream_t s);
// out: [n] = a[n] + b[n], a may be null (out = b)
cudaError_t AddVectors(Dt dt, const void* a, const void* b, void* out, int64_t n, cudaStream_t s);

// ---- layout (layout.cu) -----------------------------------------------------------------------

// x: [B, H, W, C] -> y: [B, Ho, Wo, C], y[b, i, j] = x[b, i * H / Ho, j * W / Wo] (PyTorch "nearest")
cudaError_t ResizeNearestNhwc(Dt dt, const void* x, void* y, int64_t b, int64_t h, int64_t w, int64_t c, int64_t ho,
                              int64_t wo, cudaStream_t s);
// x: [B, H, W, C] -> col: [rows, kp], the rows [row0, row0 + rows) of the im2col matrix of a k x k
// convolution (stride, pad) over the flattened output pixels [B * Ho * Wo]:
//   col[r, (ky * k + kx) * C + c] = x[b, oy * stride - pad + ky, ox * stride - pad + kx, c]
// (0 outside the image; 0 in the padding columns k*k*C .. kp-1).
cudaError_t Im2colNhwc(Dt dt, const void* x, void* col, int64_t b, int64_t h, int64_t w, int64_t c, int64_t k,
                       int64_t stride, int64_t pad, int64_t ho, int64_t wo, int64_t row0, int64_t rows, int64_t kp,
                       cudaStream_t s);

// ---- normalisation (norm.cu) ------------------------------------------------------------------

// Scratch GroupNormNhwc needs for x of [B, HW, C] (bytes, 256-aligned).
size_t GroupNormScratchBytes(int64_t b, int64_t hw, int64_t c);
// x, y: [B, HW, C]; gamma, beta: [C]. Statistics per (sample, group of C / groups channels) over
// HW x C/groups values (Welford, f32), then y = (x - mean) * rstd * gamma + beta, then silu(y)
// when `silu`. Three launches: partial statistics, per-group merge, apply.
cudaError_t GroupNormNhwc(Dt dt, const void* x, const void* gamma, const void* beta, void* y, int64_t b, int64_t hw,
                          int64_t c, int64_t groups, float eps, bool silu, void* scratch, cudaStream_t s);
// x, y: [M, C]; gamma, beta: [C]: LayerNorm over each row (two-pass mean and variance, f32).
cudaError_t LayerNorm(Dt dt, const void* x, const void* gamma, const void* beta, void* y, int64_t m, int64_t c,
                      float eps, cudaStream_t s);

// ---- embeddings (embed.cu) --------------------------------------------------------------------

inline constexpr int kMaxHostTimesteps = 64;  // per launch when the timesteps come from the host
// y: [B, dim]: [cos(t f_j), sin(t f_j)] with f_j = exp(-ln(10000) j / (dim / 2)); an odd dim's last
// value 0. t from the device (t_dev: [B] f32) when t_dev is set, else t_host ([B] host floats,
// B <= kMaxHostTimesteps, passed by value).
cudaError_t TimestepEmbedding(Dt dt, const float* t_dev, const float* t_host, int64_t b, int64_t dim, void* y,
                              cudaStream_t s);
inline constexpr int kMaxEmbedIds = 256;  // per launch (passed by value)
// table: [V, C], positions: [P, C] -> y rows [row0, row0 + n) of [B * L, C]:
//   y[row0 + i] = table[ids[i]] + positions[(row0 + i) % L]; ids: n <= kMaxEmbedIds host values.
cudaError_t Embed(Dt dt, const int32_t* ids, int64_t n, int64_t row0, int64_t l, int64_t c, const void* table,
                  const void* positions, void* y, cudaStream_t s);

// ---- attention (attention_flash.cu, attention_rows.cu) ----------------------------------------

struct AttentionShape {
  int64_t b = 1, lq = 0, lk = 0, heads = 1, d = 0;  // q, y: [B, Lq, H * D]; k, v: [B, Lk, H * D]
  float scale = 1.0f;                               // multiplies q . k
  bool causal = false;                              // mask key j > query i
};
// Fused flash attention on tensor cores (WMMA, f16/bf16 only): online softmax over tiles of 64
// keys (one tile of 80 for Lk <= 80: SD's 77-token cross-attention without rescaling), Q/K/V
// tiles and the f32 output accumulator in shared memory. Whether `shape` fits the device's
// shared memory (`smem_optin`: cudaDevAttrMaxSharedMemoryPerBlockOptin) in some variant.
bool FlashAttentionFits(Dt dt, int64_t d, int smem_optin);
// Raises the flash kernels' dynamic shared-memory limit to `smem_optin` on the current device;
// once per device, before the first FlashAttention (not during graph capture).
cudaError_t PrepareFlashAttention(int smem_optin);
cudaError_t FlashAttention(Dt dt, const void* q, const void* k, const void* v, void* y, const AttentionShape& shape,
                           int smem_optin, cudaStream_t s);
// Attention for any element type and head size: one warp per query row, 32 keys per round (a
// lane scores one key), online softmax, f32 accumulators in registers (D <= 1024).
inline constexpr int64_t kMaxRowsAttentionD = 1024;
cudaError_t RowsAttention(Dt dt, const void* q, const void* k, const void* v, void* y, const AttentionShape& shape,
                          cudaStream_t s);

// ---- GEMM fallback (gemm_fallback.cu) ---------------------------------------------------------

// y: [M, N] = x[M, K] (row stride ldx) . w[N, K]^T (row stride ldw) + bias[N] (may be null) +
// beta * c[M, N] (c may be null), f32 accumulation. Shared-memory tiles; for shapes cuBLASLt
// refuses.
cudaError_t GemmFallback(Dt dt, const void* x, int64_t ldx, const void* w, int64_t ldw, const void* bias,
                         const void* c, void* y, int64_t m, int64_t n, int64_t k, cudaStream_t s);

}  // namespace sdr::cuda
