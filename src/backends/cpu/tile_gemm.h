// TileGemm: our own blocked GEMM (BLIS-style: packed panels, a 6x16 AVX2/FMA micro-kernel) whose
// packing step reads each operand in the form it is stored — f32 activations, f16/bf16 or
// GGUF-quantized weights straight from the model file, or an image read as its im2col matrix —
// and widens it to f32 panels in cache. So weights stay compact in memory (no f32 copy of the
// model), nothing is converted at load, and convolutions need no im2col buffer. The epilogue
// (row bias, column bias, activation, residual) is applied to each finished tile while it is hot.
//
//   C[M, N] (ldc) = act(op(A) · op(B) + row_bias[m] + col_bias[n]) + residual[m, n]
//
// Threads: the work is split between the calling thread and the shared pool (ThreadPool::Shared);
// called from inside a pool task it runs on the calling thread alone, in one slice;
// the micro-kernel needs AVX2 + FMA + F16C (TileGemmAvailable()); callers fall back to the BLAS
// path elsewhere.
#pragma once

#include <cstdint>

#include "backends/backend.h"
#include "core/dtype.h"

namespace sdr::cpu {

// One GEMM operand, as the packers read it.
struct GemmOperand {
  enum class Kind {
    kRows,        // element (i, j) at row i, column j of a row-major matrix: data + i * ld (+ j)
    kColumns,     // the transpose of a row-major matrix: (i, j) at row j, column i (B = W^T of a
                  // Linear weight W [N, K]; the K matrix of attention)
    kIm2col,      // (k, n) of the im2col matrix of NCHW images (B only): k = (c, ky, kx) in that
                  // order, n = (image, oy, ox) row-major; zero outside the image
    kPanels,      // already packed (f32) in the register tile's panels, K = ld deep: B's columns in
                  // panels of 16, (k, p * 16 + j) at data + (p * ld + k) * 16 + j; A's rows in
                  // panels of 6, (p * 6 + i, k) at data + (p * ld + k) * 6 + i; rows / columns
                  // past M / N zero up to the panel
  };
  Kind kind = Kind::kRows;
  DType dtype = DType::kF32;  // f32 (any); f16, bf16, q8_0, q4_0, ... (kRows / kColumns weights)
  const void* data = nullptr;
  int64_t ld = 0;             // elements per stored row (kRows, kColumns)
  // kIm2col geometry: `images` images [c, h, w] one after another; kernel kh x kw; output ho x wo.
  int64_t c = 0, h = 0, w = 0, kh = 0, kw = 0, stride = 1, pad = 0, ho = 0, wo = 0;
  int64_t images = 1;

  static GemmOperand Rows(const void* data, DType dtype, int64_t ld) { return {Kind::kRows, dtype, data, ld}; }
  static GemmOperand Columns(const void* data, DType dtype, int64_t ld) {
    return {Kind::kColumns, dtype, data, ld};
  }
  static GemmOperand Panels(const float* data, int64_t k) { return {Kind::kPanels, DType::kF32, data, k}; }
};

struct GemmEpilogue {
  const float* row_bias = nullptr;  // [M] or null
  const float* col_bias = nullptr;  // [N] or null
  Activation act = Activation::kNone;
  const float* residual = nullptr;  // [M, N] with row stride ldr, or null; added after act
  int64_t ldr = 0;
};

// True when this CPU runs the micro-kernel (AVX2, FMA, F16C).
bool TileGemmAvailable();

// Whether TileGemm reads `dtype` as a weight operand (rows or columns).
bool TileGemmReads(DType dtype);

// Scratch (floats) TileGemm needs for these sizes.
int64_t TileGemmScratchFloats(int64_t m, int64_t n, int64_t k);

// Scratch (floats) a TileGemm called inside a ThreadPool task needs: it runs on that thread alone.
int64_t TileGemmTaskScratchFloats();

// Runs the GEMM described above. `scratch`: TileGemmScratchFloats floats, or null to allocate.
// Quantized operands need K to be a whole number of blocks.
void TileGemm(int64_t m, int64_t n, int64_t k, const GemmOperand& a, const GemmOperand& b, float* c, int64_t ldc,
              const GemmEpilogue& epilogue, float* scratch = nullptr);

}  // namespace sdr::cpu
