// Host-side layout and dtype transforms of the GPU backends (backends/cuda), plain C++ so that
// they are unit-tested on any machine:
//   activations  logical [B, C, H, W] feature maps live as NHWC ([B, H, W, C] in memory), every
//                other rank as its logical row-major shape; elements f32, f16 or bf16
//   conv kernels [Cout, Cin, k, k] live as [Cout, Kp]: row o holds w[o, c, ky, kx] at column
//                (ky * k + kx) * Cin + c, zero-padded to Kp columns (the im2col order of
//                Im2colNhwc), so a convolution is the GEMM im2col(x) [P, Kp] . W^T
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "core/shape.h"
#include "core/dtype.h"

namespace sdr {

// Whether a logical shape is held as NHWC on the GPU (rank 4).
inline bool GpuNhwc(const Shape& shape) { return shape.size() == 4; }

// Dense f32 of logical `shape` -> `out` (numel elements of `dtype`: f32, f16 or bf16), in the GPU
// layout. f16/bf16 round to nearest even, as PyTorch's .half() / .bfloat16().
void PackActivation(const float* src, const Shape& shape, DType dtype, void* out);
// The inverse: GPU layout and `dtype` -> dense f32 of logical `shape`.
void UnpackActivation(const void* src, const Shape& shape, DType dtype, float* out);

// Columns of a packed conv kernel: Cin for 1x1 (the input rows are the GEMM operand as they are),
// else k * k * Cin rounded up to a multiple of 8 (16-byte rows in f16 for the tensor cores).
int64_t ConvKernelColumns(int64_t cin, int64_t k);
// w: [cout, cin, k, k] f32 -> out: [cout, ConvKernelColumns(cin, k)] of `dtype`.
void PackConvKernel(const float* w, int64_t cout, int64_t cin, int64_t k, DType dtype, void* out);
// n f32 values -> `dtype` (f32, f16 or bf16).
void PackValues(const float* src, int64_t n, DType dtype, void* out);

}  // namespace sdr
