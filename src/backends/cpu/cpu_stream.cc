#include "backends/cpu/cpu_stream.h"

#include "backends/cpu/flash_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backends/cpu/ops.h"
#include "backends/cpu/tile_gemm.h"
#include "backends/cpu/tile_gemm_kernel.h"
#include "backends/cpu/winograd.h"
#include "backends/host_memory.h"
#include "core/thread_pool.h"

namespace sdr::cpu {
namespace {

// A one-image im2col convolution: the row bias [cout] (8-float aligned), then TileGemm's scratch.
int64_t RowBiasFloats(int64_t cout) { return (cout + 7) / 8 * 8; }
int64_t ConvScratchFloats(int64_t cout, int64_t hw, int64_t depth) {
  return RowBiasFloats(cout) + TileGemmScratchFloats(cout, hw, depth);
}

// A batched im2col convolution: the GEMM's [cout, n] result, then TileGemm's own scratch.
int64_t BatchedConvScratchFloats(int64_t cout, int64_t n, int64_t depth) {
  return cout * n + TileGemmScratchFloats(cout, n, depth);
}

const float* F(const DeviceTensor& t) { return static_cast<const float*>(t.data); }
float* Out(const DeviceTensor& t) { return static_cast<float*>(t.data); }
const float* F(const Weight* w) { return w != nullptr ? static_cast<const float*>(w->t.data) : nullptr; }

void Apply(Activation act, float* y, int64_t n) {
  switch (act) {
    case Activation::kNone: return;
    case Activation::kSilu: cpu::Silu(y, n); return;
    case Activation::kGelu: cpu::Gelu(y, n); return;
    case Activation::kQuickGelu: cpu::QuickGelu(y, n); return;
  }
}

class CpuStream final : public Stream {
 public:
  explicit CpuStream(const CpuOptions& options) : options_(options) {}

  Status Upload(const Tensor& host, const DeviceTensor& dst) override { return UploadHostF32(host, dst); }
  Result<Tensor> Download(const DeviceTensor& src) override { return DownloadHostF32(src); }

  Status Synchronize() override { return Status::Ok(); }

  Status Linear(const LinearArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t m = a.x.dim(0), k = a.x.dim(1), n = a.y.dim(1);
    if (options_.tile_gemm) {
      // y[m, n] = x[m, k] W[n, k]^T: W read in its stored dtype as the columns of B.
      GemmEpilogue e;
      e.col_bias = F(a.b);
      e.act = a.act;
      e.residual = a.residual != nullptr ? F(*a.residual) : nullptr;
      e.ldr = n;
      TileGemm(m, n, k, GemmOperand::Rows(a.x.data, DType::kF32, k), GemmOperand::Columns(a.w->t.data, a.w->t.dtype, k),
               Out(a.y), n, e, Scratch(a.scratch));
      return Status::Ok();
    }
    cpu::Linear(F(a.x), F(a.w), F(a.b), Out(a.y), m, n, k);
    Apply(a.act, Out(a.y), m * n);
    if (a.residual != nullptr) cpu::AddInPlace(Out(a.y), F(*a.residual), m * n);
    return Status::Ok();
  }

  Status Conv2d(const Conv2dArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    if (a.upsample != 1 && !CpuFusesUpsample(options_, a)) return InternalError("conv2d: upsample not fused here");
    if (options_.tile_gemm) return TileConv2d(a);
    const int64_t b = a.x.dim(0), cin = a.x.dim(1), h = a.x.dim(2), w = a.x.dim(3);
    const int64_t cout = a.y.dim(1), k = a.w->t.dim(2), hw = a.y.dim(2) * a.y.dim(3);
    float* col = a.scratch.empty() ? nullptr : reinterpret_cast<float*>(a.scratch.data());
    for (int64_t i = 0; i < b; ++i) {
      float* y = Out(a.y) + i * cout * hw;
      cpu::Conv2d(F(a.x) + i * cin * h * w, cin, h, w, F(a.w), F(a.b), cout, k, k, a.stride, a.pad, y, col);
      if (a.channel_bias != nullptr) {
        const float* cb = F(*a.channel_bias) + i * cout;
        for (int64_t c = 0; c < cout; ++c) {
          float* yc = y + c * hw;
          for (int64_t j = 0; j < hw; ++j) yc[j] += cb[c];
        }
      }
    }
    if (a.residual != nullptr) cpu::AddInPlace(Out(a.y), F(*a.residual), a.y.numel());
    return Status::Ok();
  }

  Status GroupNorm(const GroupNormArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t c = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3), groups = a.groups;
    // Every (image, group) pair is independent: spread them over the pool.
    ThreadPool::Shared().ParallelFor(
        a.x.dim(0) * groups,
        [&](int64_t p0, int64_t p1) {
          for (int64_t p = p0; p < p1;) {
            const int64_t i = p / groups, g0 = p % groups, g1 = std::min(groups, g0 + (p1 - p));
            cpu::GroupNormRange(F(a.x) + i * c * hw, F(a.gamma), F(a.beta), Out(a.y) + i * c * hw, c, hw, groups,
                                g0, g1, a.eps, a.silu);
            p += g1 - g0;
          }
        },
        1);
    return Status::Ok();
  }

  Status LayerNorm(const LayerNormArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t c = a.x.dim(1);
    ThreadPool::Shared().ParallelFor(
        a.x.dim(0),
        [&](int64_t r0, int64_t r1) {
          cpu::LayerNorm(F(a.x) + r0 * c, F(a.gamma), F(a.beta), Out(a.y) + r0 * c, r1 - r0, c, a.eps);
        },
        64);
    return Status::Ok();
  }

  Status Attention(const AttentionArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t lq = a.q.dim(1), lk = a.k.dim(1), c = a.q.dim(2), d = c / a.heads;
    if (options_.tile_gemm) {
      for (int64_t i = 0; i < a.q.dim(0); ++i) {
        FlashAttention(F(a.q) + i * lq * c, c, F(a.k) + i * lk * c, F(a.v) + i * lk * c, c, Out(a.y) + i * lq * c,
                       a.heads, lq, lk, d, a.scale, a.causal, Scratch(a.scratch));
      }
      return Status::Ok();
    }
    float* scores = a.scratch.empty() ? nullptr : reinterpret_cast<float*>(a.scratch.data());
    for (int64_t i = 0; i < a.q.dim(0); ++i) {
      cpu::Attention(F(a.q) + i * lq * c, c, F(a.k) + i * lk * c, F(a.v) + i * lk * c, c, Out(a.y) + i * lq * c,
                     a.heads, lq, lk, d, a.scale, a.causal, scores);
    }
    return Status::Ok();
  }

  Status Geglu(const GegluArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t m = a.x.dim(0), f = a.y.dim(1);
    ThreadPool::Shared().ParallelFor(
        m,
        [&](int64_t r0, int64_t r1) {
          for (int64_t i = r0; i < r1; ++i) {
            const float* row = F(a.x) + i * 2 * f;
            float* y = Out(a.y) + i * f;
            std::memcpy(y, row + f, static_cast<size_t>(f) * sizeof(float));
            cpu::Gelu(y, f);
            for (int64_t j = 0; j < f; ++j) y[j] *= row[j];
          }
        },
        16);
    return Status::Ok();
  }

  Status Add(const AddArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t n = a.y.numel();
    const float* x = F(a.a);
    const float* z = F(a.b);
    float* y = Out(a.y);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] + z[i];
    return Status::Ok();
  }

  Status Affine(const AffineArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t n = a.y.numel();
    const float* x = F(a.x);
    float* y = Out(a.y);
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i] * a.scale + a.shift;
      y[i] = a.clamp ? std::fmin(std::fmax(v, a.lo), a.hi) : v;
    }
    return Status::Ok();
  }

  Status ResizeNearest(const ResizeNearestArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t c = a.x.dim(1), h = a.x.dim(2), w = a.x.dim(3), ho = a.y.dim(2), wo = a.y.dim(3);
    for (int64_t i = 0; i < a.x.dim(0); ++i) {
      cpu::ResizeNearest(F(a.x) + i * c * h * w, c, h, w, ho, wo, Out(a.y) + i * c * ho * wo);
    }
    return Status::Ok();
  }

  Status ConcatChannels(const ConcatChannelsArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t na = a.a.numel() / a.a.dim(0), nb = a.b.numel() / a.b.dim(0);
    for (int64_t i = 0; i < a.a.dim(0); ++i) {
      float* y = Out(a.y) + i * (na + nb);
      std::memcpy(y, F(a.a) + i * na, static_cast<size_t>(na) * sizeof(float));
      std::memcpy(y + na, F(a.b) + i * nb, static_cast<size_t>(nb) * sizeof(float));
    }
    return Status::Ok();
  }

  Status ToTokens(const TokensArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a, /*to_tokens=*/true));
    const int64_t c = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3);
    TransposeEach(a.x.dim(0), F(a.x), c, hw, Out(a.y));
    return Status::Ok();
  }

  Status FromTokens(const TokensArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a, /*to_tokens=*/false));
    const int64_t hw = a.x.dim(1), c = a.x.dim(2);
    TransposeEach(a.x.dim(0), F(a.x), hw, c, Out(a.y));
    return Status::Ok();
  }

  Status TimestepEmbedding(const TimestepEmbeddingArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t dim = a.y.dim(1);
    const std::vector<float> t = HostTimesteps(a);
    for (size_t i = 0; i < t.size(); ++i) cpu::TimestepEmbedding(t[i], dim, Out(a.y) + static_cast<int64_t>(i) * dim);
    return Status::Ok();
  }

  Status Embed(const EmbedArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t l = a.y.dim(1), c = a.y.dim(2);
    // Tables may stay in their stored dtype: rows are read (widened) one at a time.
    const GemmOperand table = GemmOperand::Rows(a.table->t.data, a.table->t.dtype, c);
    const GemmOperand positions = GemmOperand::Rows(a.positions->t.data, a.positions->t.dtype, c);
    std::vector<float> pos(static_cast<size_t>(c));
    for (size_t i = 0; i < a.ids.size(); ++i) {
      float* y = Out(a.y) + static_cast<int64_t>(i) * c;
      tile::ReadRow(table, a.ids[i], 0, c, y);
      tile::ReadRow(positions, static_cast<int64_t>(i) % l, 0, c, pos.data());
      for (int64_t j = 0; j < c; ++j) y[j] += pos[static_cast<size_t>(j)];
    }
    return Status::Ok();
  }

  Status Convert(const ConvertArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    if (a.x.dtype != DType::kF32 || a.y.dtype != DType::kF32) return Unsupported("cpu: activations are f32 only");
    std::memcpy(a.y.data, a.x.data, static_cast<size_t>(a.x.numel()) * sizeof(float));
    return Status::Ok();
  }
 private:
  // Each of `b` [rows, cols] matrices x -> [cols, rows] y, blocks of 64 rows over the threads.
  static void TransposeEach(int64_t b, const float* x, int64_t rows, int64_t cols, float* y) {
    const int64_t blocks = (rows + 63) / 64;
    ThreadPool::Shared().ParallelFor(
        b * blocks,
        [&](int64_t t0, int64_t t1) {
          for (int64_t t = t0; t < t1; ++t) {
            const int64_t i = t / blocks, r0 = t % blocks * 64;
            TransposeRows(x + i * rows * cols, rows, cols, r0, std::min(rows, r0 + 64), y + i * rows * cols);
          }
        },
        1);
  }

  static float* Scratch(std::span<std::byte> s) { return s.empty() ? nullptr : reinterpret_cast<float*>(s.data()); }

  // y[cout, ho * wo] of each image = W[cout, cin * k * k] im2col(x) (+ bias and the image's
  // channel bias per row, + residual), W read in its stored dtype as A.
  Status TileConv2d(const Conv2dArgs& a) {
    const int64_t b = a.x.dim(0), cin = a.x.dim(1), h = a.x.dim(2), w = a.x.dim(3);
    const int64_t cout = a.y.dim(1), k = a.w->t.dim(2), ho = a.y.dim(2), wo = a.y.dim(3), hw = ho * wo;
    if (UseWinograd(a)) {
      WinogradConv c;
      c.x = F(a.x);
      c.b = b, c.cin = cin, c.h = ho, c.w = wo, c.cout = cout;
      c.up = a.upsample;
      c.weight = a.w->t.data;
      c.weight_dtype = a.w->t.dtype;
      c.bias = F(a.b);
      c.channel_bias = a.channel_bias != nullptr ? F(*a.channel_bias) : nullptr;
      c.residual = a.residual != nullptr ? F(*a.residual) : nullptr;
      c.y = Out(a.y);
      WinogradConv3x3(c, Scratch(a.scratch));
      return Status::Ok();
    }
    const int64_t depth = cin * k * k;
    const GemmOperand weight = GemmOperand::Rows(a.w->t.data, a.w->t.dtype, depth);
    const float* bias = F(a.b);
    const float* channel_bias = a.channel_bias != nullptr ? F(*a.channel_bias) : nullptr;
    const float* residual = a.residual != nullptr ? F(*a.residual) : nullptr;
    GemmOperand col;
    col.kind = GemmOperand::Kind::kIm2col;
    col.data = F(a.x);
    col.c = cin, col.h = h, col.w = w, col.kh = k, col.kw = k, col.stride = a.stride, col.pad = a.pad, col.ho = ho,
    col.wo = wo, col.images = b;
    float* scratch = Scratch(a.scratch);
    std::vector<float> own;
    if (b == 1) {
      // One image: straight into y, biases and residual in the GEMM's epilogue; a 1x1 stride-1
      // convolution reads the image itself as B.
      if (k == 1 && a.stride == 1 && a.pad == 0) col = GemmOperand::Rows(F(a.x), DType::kF32, hw);
      if (scratch == nullptr) {
        own.resize(static_cast<size_t>(ConvScratchFloats(cout, hw, depth)));
        scratch = own.data();
      }
      GemmEpilogue e;
      e.row_bias = bias;
      if (channel_bias != nullptr) {
        float* row_bias = scratch;  // [cout]: channel bias + bias
        for (int64_t c = 0; c < cout; ++c) row_bias[c] = channel_bias[c] + (bias != nullptr ? bias[c] : 0.0f);
        e.row_bias = row_bias;
      }
      e.residual = residual;
      e.ldr = hw;
      TileGemm(cout, hw, depth, weight, col, Out(a.y), hw, e, scratch + RowBiasFloats(cout));
      return Status::Ok();
    }
    // A batch (the CFG pair) in one GEMM over every image's columns: t[cout, b * hw], so the
    // weights are packed (widened from their stored dtype) once, not once per image; then each
    // image's columns go to y with the epilogue the one-image GEMM applies, (acc + (channel bias
    // + bias)) + residual: the same values bit for bit.
    const int64_t n = b * hw;
    if (scratch == nullptr) {
      own.resize(static_cast<size_t>(BatchedConvScratchFloats(cout, n, depth)));
      scratch = own.data();
    }
    float* t = scratch;
    TileGemm(cout, n, depth, weight, col, t, n, {}, t + cout * n);
    float* y = Out(a.y);
    ThreadPool::Shared().ParallelFor(
        b * cout,
        [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) {
            const int64_t i = r / cout, c = r % cout;
            const float rb = channel_bias != nullptr ? channel_bias[r] + (bias != nullptr ? bias[c] : 0.0f)
                             : bias != nullptr      ? bias[c]
                                                    : 0.0f;
            AddRowBiasResidual(t + c * n + i * hw, rb, residual != nullptr ? residual + r * hw : nullptr, hw,
                               y + r * hw);
          }
        },
        16);
    return Status::Ok();
  }

 public:
  // 3x3, stride 1, same padding, big enough for Winograd to pay.
  static bool UseWinograd(const Conv2dArgs& a) {
    return a.w->t.dim(2) == 3 && a.stride == 1 && a.pad == 1 &&
           WinogradTile(a.y.dim(2), a.y.dim(3), a.x.dim(1), a.y.dim(1)) != 0;
  }

 private:

  CpuOptions options_;
};


}  // namespace

std::unique_ptr<Stream> MakeCpuStream(const CpuOptions& options) { return std::make_unique<CpuStream>(options); }

size_t CpuScratchBytes(const CpuOptions& options, const LinearArgs& a) {
  if (!options.tile_gemm) return 0;
  return static_cast<size_t>(TileGemmScratchFloats(a.x.dim(0), a.y.dim(1), a.x.dim(1))) * sizeof(float);
}

size_t CpuScratchBytes(const CpuOptions& options, const Conv2dArgs& a) {
  const int64_t k = a.w->t.dim(2);
  if (!options.tile_gemm) {
    return static_cast<size_t>(Conv2dScratchFloats(a.x.dim(1), a.x.dim(2), a.x.dim(3), k, k, a.stride, a.pad)) *
           sizeof(float);
  }
  const int64_t cout = a.y.dim(1), hw = a.y.dim(2) * a.y.dim(3);
  if (CpuStream::UseWinograd(a)) {
    return static_cast<size_t>(WinogradScratchFloats(a.x.dim(0), a.x.dim(1), a.y.dim(2), a.y.dim(3), cout)) *
           sizeof(float);
  }
  if (a.x.dim(0) > 1) {
    return static_cast<size_t>(BatchedConvScratchFloats(cout, a.x.dim(0) * hw, a.x.dim(1) * k * k)) * sizeof(float);
  }
  return static_cast<size_t>(ConvScratchFloats(cout, hw, a.x.dim(1) * k * k)) * sizeof(float);
}

// Upsampling is read in place by the Winograd path's channels-last gather only.
bool CpuFusesUpsample(const CpuOptions& options, const Conv2dArgs& a) {
  return options.tile_gemm && a.upsample == 2 && CpuStream::UseWinograd(a);
}

size_t CpuScratchBytes(const CpuOptions& options, const AttentionArgs& a) {
  if (options.tile_gemm) {
    return static_cast<size_t>(FlashAttentionScratchFloats(a.heads, a.q.dim(1), a.k.dim(1), a.q.dim(2) / a.heads)) *
           sizeof(float);
  }
  return static_cast<size_t>(AttentionScratchFloats(a.q.dim(1), a.k.dim(1))) * sizeof(float);
}

bool CpuKeepsWeightDtype(const CpuOptions& options, DType dtype, WeightRole role) {
  if (dtype == DType::kF32) return true;
  if (!options.tile_gemm || !TileGemmReads(dtype)) return false;
  // Matrices and kernels are read by TileGemm, tables row by row; vectors (biases, norms) are
  // widened (they are small, and read elementwise).
  return role != WeightRole::kVector;
}

}  // namespace sdr::cpu
