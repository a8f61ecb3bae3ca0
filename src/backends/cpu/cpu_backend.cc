#include "backends/cpu/cpu_backend.h"

#include <atomic>
#include <cmath>
#include <cstring>

#include "backends/cpu/ops.h"
#include "backends/host_memory.h"

namespace sdr {
namespace {

using cpu::ConvOutSize;

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
  Status Upload(const Tensor& host, const DeviceTensor& dst) override { return UploadHostF32(host, dst); }
  Result<Tensor> Download(const DeviceTensor& src) override { return DownloadHostF32(src); }

  Status Synchronize() override { return Status::Ok(); }

  Status Linear(const LinearArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t m = a.x.dim(0), k = a.x.dim(1), n = a.y.dim(1);
    cpu::Linear(F(a.x), F(a.w), F(a.b), Out(a.y), m, n, k);
    Apply(a.act, Out(a.y), m * n);
    if (a.residual != nullptr) cpu::AddInPlace(Out(a.y), F(*a.residual), m * n);
    return Status::Ok();
  }

  Status Conv2d(const Conv2dArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
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
    const int64_t c = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3);
    for (int64_t i = 0; i < a.x.dim(0); ++i) {
      cpu::GroupNorm(F(a.x) + i * c * hw, F(a.gamma), F(a.beta), Out(a.y) + i * c * hw, c, hw, a.groups, a.eps,
                     a.silu);
    }
    return Status::Ok();
  }

  Status LayerNorm(const LayerNormArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    cpu::LayerNorm(F(a.x), F(a.gamma), F(a.beta), Out(a.y), a.x.dim(0), a.x.dim(1), a.eps);
    return Status::Ok();
  }

  Status Attention(const AttentionArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t lq = a.q.dim(1), lk = a.k.dim(1), c = a.q.dim(2), d = c / a.heads;
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
    for (int64_t i = 0; i < m; ++i) {
      const float* row = F(a.x) + i * 2 * f;
      float* y = Out(a.y) + i * f;
      std::memcpy(y, row + f, static_cast<size_t>(f) * sizeof(float));
      cpu::Gelu(y, f);
      for (int64_t j = 0; j < f; ++j) y[j] *= row[j];
    }
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
    for (int64_t i = 0; i < a.x.dim(0); ++i) cpu::Transpose(F(a.x) + i * c * hw, c, hw, Out(a.y) + i * c * hw);
    return Status::Ok();
  }

  Status FromTokens(const TokensArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a, /*to_tokens=*/false));
    const int64_t hw = a.x.dim(1), c = a.x.dim(2);
    for (int64_t i = 0; i < a.x.dim(0); ++i) cpu::Transpose(F(a.x) + i * c * hw, hw, c, Out(a.y) + i * c * hw);
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
    for (size_t i = 0; i < a.ids.size(); ++i) {
      const float* tok = F(a.table) + static_cast<int64_t>(a.ids[i]) * c;
      const float* pos = F(a.positions) + (static_cast<int64_t>(i) % l) * c;
      float* y = Out(a.y) + static_cast<int64_t>(i) * c;
      for (int64_t j = 0; j < c; ++j) y[j] = tok[j] + pos[j];
    }
    return Status::Ok();
  }

  Status Convert(const ConvertArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    if (a.x.dtype != DType::kF32 || a.y.dtype != DType::kF32) return Unsupported("cpu: activations are f32 only");
    std::memcpy(a.y.data, a.x.data, static_cast<size_t>(a.x.numel()) * sizeof(float));
    return Status::Ok();
  }
};

class CpuBackend final : public Backend {
 public:
  CpuBackend() {
    info_.name = "cpu";
    info_.description = std::string("CPU, ") + cpu::BlasDescription();
    info_.activation_dtype = DType::kF32;
  }

  const BackendInfo& info() const override { return info_; }

  Result<std::shared_ptr<void>> AllocateMemory(uint64_t bytes) override {
    return AllocateHostMemory(bytes, &in_use_);
  }
  uint64_t bytes_in_use() const override { return in_use_.load(std::memory_order_relaxed); }
  uint64_t bytes_available() const override { return HostMemoryAvailable(); }

  Result<Weight> PrepareWeight(const Tensor& host, WeightRole role) override { return HostF32Weight(host); }

  Result<std::unique_ptr<Stream>> CreateStream() override { return std::unique_ptr<Stream>(new CpuStream()); }

  bool Supports(OpKind op, DType dtype) const override { return dtype == DType::kF32; }

  size_t ScratchBytes(const Conv2dArgs& a) const override {
    const int64_t k = a.w->t.dim(2);
    return static_cast<size_t>(
               cpu::Conv2dScratchFloats(a.x.dim(1), a.x.dim(2), a.x.dim(3), k, k, a.stride, a.pad)) *
           sizeof(float);
  }
  size_t ScratchBytes(const AttentionArgs& a) const override {
    return static_cast<size_t>(cpu::AttentionScratchFloats(a.q.dim(1), a.k.dim(1))) * sizeof(float);
  }

 private:
  BackendInfo info_;
  std::atomic<uint64_t> in_use_{0};
};

}  // namespace

std::unique_ptr<Backend> MakeCpuBackend() { return std::make_unique<CpuBackend>(); }

}  // namespace sdr
