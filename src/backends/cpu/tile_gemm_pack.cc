// Packing for TileGemm: operands in their stored form (f32, f16, bf16, GGUF blocks, an image's
// im2col matrix) into f32 panels the micro-kernel streams.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "backends/cpu/tile_gemm_kernel.h"
#include "backends/cpu/transpose8.h"
#include "core/half.h"
#include "core/quant.h"

namespace sdr::cpu::tile {
namespace {

__attribute__((target("avx2,f16c"))) void F16Row(const uint16_t* src, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  }
  for (; i < n; ++i) out[i] = F16ToF32(src[i]);
}

void Bf16Row(const uint16_t* src, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = BF16ToF32(src[i]);
}

// Stored row `row` of a kRows/kColumns operand, from column k0: a direct pointer for f32, else
// null (the caller reads it with ReadRow).
const float* DirectRow(const GemmOperand& op, int64_t row, int64_t k0) {
  if (op.dtype != DType::kF32) return nullptr;
  return static_cast<const float*>(op.data) + row * op.ld + k0;
}

}  // namespace

__attribute__((target("avx2,f16c"))) void InterleaveStoredRows(const void* base, DType dtype, int64_t ld,
                                                               int64_t valid, int64_t kc, float* dst,
                                                               int64_t stride) {
  const bool f16 = dtype == DType::kF16;
  const auto* h = static_cast<const uint16_t*>(base);
  const auto* f = static_cast<const float*>(base);
  const int64_t lanes = std::min<int64_t>(8, stride);
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    __m256 r[8], t[8];
    for (int64_t i = 0; i < 8; ++i) {
      r[i] = i >= valid ? _mm256_setzero_ps()
             : f16      ? _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i * ld + k)))
                        : _mm256_loadu_ps(f + i * ld + k);
    }
    Transpose8Regs(r, t);
    for (int64_t i = 0; i < 8; ++i) {
      if (stride >= 8 || k + i + 1 < kc) {
        _mm256_storeu_ps(dst + (k + i) * stride, t[i]);
      } else {
        Store6(dst + (k + i) * stride, t[i]);  // the last six-float slot: nothing of the run after it
      }
    }
  }
  for (; k < kc; ++k) {
    for (int64_t i = 0; i < lanes; ++i) {
      dst[k * stride + i] = i >= valid ? 0.0f : f16 ? F16ToF32(h[i * ld + k]) : f[i * ld + k];
    }
  }
}

void ReadRow(const GemmOperand& op, int64_t row, int64_t k0, int64_t count, float* out) {
  switch (op.dtype) {
    case DType::kF32:
      std::memcpy(out, static_cast<const float*>(op.data) + row * op.ld + k0, static_cast<size_t>(count) * 4);
      return;
    case DType::kF16: F16Row(static_cast<const uint16_t*>(op.data) + row * op.ld + k0, count, out); return;
    case DType::kBF16: Bf16Row(static_cast<const uint16_t*>(op.data) + row * op.ld + k0, count, out); return;
    default: {
      // GGUF blocks: a row of ld values is ld / block_elems blocks; k0 and count are block-aligned
      // (DepthBlock: multiples of 32, or 256 for a K that is a multiple of 256; K whole blocks).
      const DTypeInfo& info = GetDTypeInfo(op.dtype);
      const auto* base = static_cast<const uint8_t*>(op.data);
      const int64_t row_bytes = op.ld / info.block_elems * info.block_bytes;
      const uint8_t* src = base + row * row_bytes + k0 / info.block_elems * info.block_bytes;
      Dequantize(op.dtype, src, count, out).IgnoreError();  // block-aligned by construction
      return;
    }
  }
}

namespace {

// Stored rows [first, first + valid) of a kRows/kColumns operand, depth [k0, k0 + kc), as one
// A panel (stride kMr) or half B panel (stride kNr): f32 and f16 read in place, other dtypes
// through ReadRow first; rows past `valid` zero.
void PackStoredRows(const GemmOperand& op, int64_t first, int64_t valid, int64_t k0, int64_t kc, float* dst,
                    int64_t stride) {
  if ((op.dtype == DType::kF16 || op.dtype == DType::kF32) && valid > 0) {
    const int64_t esize = op.dtype == DType::kF16 ? 2 : 4;
    InterleaveStoredRows(static_cast<const uint8_t*>(op.data) + (first * op.ld + k0) * esize, op.dtype, op.ld, valid,
                         kc, dst, stride);
    return;
  }
  float tmp[8][kKc];
  for (int64_t i = 0; i < valid; ++i) ReadRow(op, first + i, k0, kc, tmp[i]);
  InterleaveStoredRows(tmp, DType::kF32, kKc, valid, kc, dst, stride);
}

}  // namespace

void PackA(const GemmOperand& a, int64_t m, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float* out) {
  for (int64_t p = 0; p < mc; p += kMr) {
    const int64_t first = i0 + p, valid = std::clamp<int64_t>(std::min(m - first, mc - p), 0, kMr);
    PackStoredRows(a, first, valid, k0, kc, out + p * kc, kMr);
  }
}

namespace {

// B stored row-major [K][N]: each depth row k holds the panel's columns contiguously.
void PackBRows(const GemmOperand& b, int64_t n, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* out) {
  float tmp[kNc];
  for (int64_t k = 0; k < kc; ++k) {
    const float* src = DirectRow(b, k0 + k, j0);
    if (src == nullptr) {
      ReadRow(b, k0 + k, j0, std::min(nc, n - j0), tmp);
      src = tmp;
    }
    for (int64_t p = 0; p < nc; p += kNr) {
      float* dst = out + p * kc + k * kNr;
      const int64_t valid = std::min<int64_t>(kNr, n - j0 - p);
      if (valid == kNr) {
        std::memcpy(dst, src + p, kNr * sizeof(float));
      } else {
        for (int64_t j = 0; j < kNr; ++j) dst[j] = j < valid ? src[p + j] : 0.0f;
      }
    }
  }
}

// B = the transpose of a row-major [N][K] matrix (a Linear weight): column j of B is stored row j.
// Each panel as two halves of eight columns (columns past N or nc zero up to the panel): f16 and
// f32 rows widened and interleaved straight from the weights, other dtypes read row by row first.
void PackBColumns(const GemmOperand& b, int64_t n, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* out) {
  for (int64_t p = 0; p < (nc + kNr - 1) / kNr * kNr; p += 8) {
    const int64_t first = j0 + p, valid = std::clamp<int64_t>(std::min(n - first, nc - p), 0, 8);
    PackStoredRows(b, first, valid, k0, kc, out + p / kNr * kNr * kc + p % kNr, kNr);
  }
}

// B = the im2col matrix of NCHW images: depth row k = (c, ky, kx) reads, for each output pixel
// n = (image, oy, ox), that image's input at (oy * stride - pad + ky, ox * stride - pad + kx).
void PackBIm2col(const GemmOperand& b, int64_t n, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* out) {
  const auto* x = static_cast<const float*>(b.data);
  const int64_t kk = b.kh * b.kw, out_hw = b.ho * b.wo, image = b.c * b.h * b.w;
  for (int64_t k = 0; k < kc; ++k) {
    const int64_t kidx = k0 + k;
    const int64_t c = kidx / kk, ky = kidx % kk / b.kw, kx = kidx % b.kw;
    for (int64_t p = 0; p < nc; p += kNr) {
      float* dst = out + p * kc + k * kNr;
      int64_t j = 0;
      // Runs of output pixels along one output row map to a contiguous input run (stride 1).
      while (j < kNr) {
        const int64_t pix = j0 + p + j;
        if (pix >= n) {
          dst[j++] = 0.0f;
          continue;
        }
        const int64_t img = pix / out_hw, oy = pix % out_hw / b.wo, ox = pix % b.wo;
        const float* plane = x + img * image + c * b.h * b.w;
        const int64_t iy = oy * b.stride - b.pad + ky;
        const int64_t run = std::min<int64_t>(kNr - j, b.wo - ox);  // one output row: one image
        if (iy < 0 || iy >= b.h) {
          std::fill_n(dst + j, run, 0.0f);
          j += run;
          continue;
        }
        const float* row = plane + iy * b.w;
        if (b.stride == 1) {
          // ix = ox + t - pad + kx is inside [0, w) for t in [lo, hi).
          const int64_t shift = ox - b.pad + kx;
          const int64_t lo = std::clamp<int64_t>(-shift, 0, run), hi = std::clamp<int64_t>(b.w - shift, lo, run);
          std::fill(dst + j, dst + j + lo, 0.0f);
          std::memcpy(dst + j + lo, row + shift + lo, static_cast<size_t>(hi - lo) * sizeof(float));
          std::fill(dst + j + hi, dst + j + run, 0.0f);
        } else {
          for (int64_t t = 0; t < run; ++t) {
            const int64_t ix = (ox + t) * b.stride - b.pad + kx;
            dst[j + t] = (ix >= 0 && ix < b.w) ? row[ix] : 0.0f;
          }
        }
        j += run;
      }
    }
  }
}

}  // namespace

void PackB(const GemmOperand& b, int64_t n, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* out) {
  switch (b.kind) {
    case GemmOperand::Kind::kRows: PackBRows(b, n, k0, kc, j0, nc, out); return;
    case GemmOperand::Kind::kColumns: PackBColumns(b, n, k0, kc, j0, nc, out); return;
    case GemmOperand::Kind::kIm2col: PackBIm2col(b, n, k0, kc, j0, nc, out); return;
    case GemmOperand::Kind::kPanels: break;  // read in place (Block): never packed
  }
}

}  // namespace sdr::cpu::tile
