// GGUF/ggml block quantization: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (32 values a block) and the
// K-quants Q4_K, Q5_K, Q6_K (256 values a super-block), bit layouts exactly as ggml defines them.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/status.h"

namespace sdr {

// src: n values (n a multiple of the block size) stored as `dtype`; dst: n floats.
// InvalidArgument for a non-quantized dtype or a partial block.
Status Dequantize(DType dtype, const void* src, int64_t n, float* dst);

// src: n floats (n a multiple of the block size); dst: DTypeBytes(dtype, n) bytes.
// Round-to-nearest reference quantizers (used to write test models and GGUF conversions).
Status Quantize(DType dtype, const float* src, int64_t n, void* dst);

}  // namespace sdr
