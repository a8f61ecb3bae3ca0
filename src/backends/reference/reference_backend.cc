#include "backends/reference/reference_backend.h"

#include <atomic>
#include <cmath>
#include <cstring>

#include "backends/host_memory.h"
#include "backends/reference/reference_kernels.h"

namespace sdr {
namespace {

const float* F(const DeviceTensor& t) { return static_cast<const float*>(t.data); }
float* Out(const DeviceTensor& t) { return static_cast<float*>(t.data); }
const float* F(const Weight* w) { return w != nullptr ? static_cast<const float*>(w->t.data) : nullptr; }

double Act(Activation act, double v) {
  switch (act) {
    case Activation::kNone: return v;
    case Activation::kSilu: return reference::Silu(static_cast<float>(v));
    case Activation::kGelu: return reference::Gelu(static_cast<float>(v));
    case Activation::kQuickGelu: return reference::QuickGelu(static_cast<float>(v));
  }
  return v;
}

class ReferenceStream final : public Stream {
 public:
  Status Upload(const Tensor& host, const DeviceTensor& dst) override { return UploadHostF32(host, dst); }
  Result<Tensor> Download(const DeviceTensor& src) override { return DownloadHostF32(src); }
  Status Synchronize() override { return Status::Ok(); }

  Status Linear(const LinearArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t m = a.x.dim(0), k = a.x.dim(1), n = a.y.dim(1);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double acc = a.b != nullptr ? F(a.b)[j] : 0.0;
        for (int64_t p = 0; p < k; ++p) acc += static_cast<double>(F(a.x)[i * k + p]) * F(a.w)[j * k + p];
        double v = Act(a.act, acc);
        if (a.residual != nullptr) v += F(*a.residual)[i * n + j];
        Out(a.y)[i * n + j] = static_cast<float>(v);
      }
    }
    return Status::Ok();
  }

  Status Conv2d(const Conv2dArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    if (a.upsample != 1) return InternalError("conv2d: upsample is not fused on the reference backend");
    const int64_t cin = a.x.dim(1), h = a.x.dim(2), w = a.x.dim(3), cout = a.y.dim(1), k = a.w->t.dim(2);
    const int64_t hw = a.y.dim(2) * a.y.dim(3);
    for (int64_t i = 0; i < a.x.dim(0); ++i) {
      float* y = Out(a.y) + i * cout * hw;
      reference::Conv2d(F(a.x) + i * cin * h * w, cin, h, w, F(a.w), F(a.b), cout, k, k, a.stride, a.pad, y);
      for (int64_t c = 0; c < cout; ++c) {
        for (int64_t j = 0; j < hw; ++j) {
          double v = y[c * hw + j];
          if (a.channel_bias != nullptr) v += F(*a.channel_bias)[i * cout + c];
          if (a.residual != nullptr) v += F(*a.residual)[(i * cout + c) * hw + j];
          y[c * hw + j] = static_cast<float>(v);
        }
      }
    }
    return Status::Ok();
  }

  Status GroupNorm(const GroupNormArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t c = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3);
    for (int64_t i = 0; i < a.x.dim(0); ++i) {
      reference::GroupNorm(F(a.x) + i * c * hw, F(a.gamma), F(a.beta), Out(a.y) + i * c * hw, c, hw, a.groups, a.eps,
                           a.silu);
    }
    return Status::Ok();
  }

  Status LayerNorm(const LayerNormArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    reference::LayerNorm(F(a.x), F(a.gamma), F(a.beta), Out(a.y), a.x.dim(0), a.x.dim(1), a.eps);
    return Status::Ok();
  }

  Status Attention(const AttentionArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t lq = a.q.dim(1), lk = a.k.dim(1), c = a.q.dim(2);
    for (int64_t i = 0; i < a.q.dim(0); ++i) {
      reference::Attention(F(a.q) + i * lq * c, F(a.k) + i * lk * c, F(a.v) + i * lk * c, Out(a.y) + i * lq * c,
                           a.heads, lq, lk, c / a.heads, a.scale, a.causal);
    }
    return Status::Ok();
  }

  Status Geglu(const GegluArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t m = a.x.dim(0), f = a.y.dim(1);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < f; ++j) {
        const float* row = F(a.x) + i * 2 * f;
        Out(a.y)[i * f + j] = static_cast<float>(static_cast<double>(row[j]) * reference::Gelu(row[f + j]));
      }
    }
    return Status::Ok();
  }

  Status Add(const AddArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    for (int64_t i = 0; i < a.y.numel(); ++i) Out(a.y)[i] = F(a.a)[i] + F(a.b)[i];
    return Status::Ok();
  }

  Status Affine(const AffineArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    for (int64_t i = 0; i < a.y.numel(); ++i) {
      double v = static_cast<double>(F(a.x)[i]) * a.scale + a.shift;
      if (a.clamp) v = std::fmin(std::fmax(v, a.lo), a.hi);
      Out(a.y)[i] = static_cast<float>(v);
    }
    return Status::Ok();
  }

  Status ResizeNearest(const ResizeNearestArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t n = a.x.dim(0) * a.x.dim(1), h = a.x.dim(2), w = a.x.dim(3), ho = a.y.dim(2), wo = a.y.dim(3);
    for (int64_t p = 0; p < n; ++p)
      for (int64_t y = 0; y < ho; ++y)
        for (int64_t x = 0; x < wo; ++x) Out(a.y)[(p * ho + y) * wo + x] = F(a.x)[(p * h + y * h / ho) * w + x * w / wo];
    return Status::Ok();
  }

  Status ConcatChannels(const ConcatChannelsArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t b = a.a.dim(0), ca = a.a.dim(1), cb = a.b.dim(1), hw = a.a.dim(2) * a.a.dim(3);
    for (int64_t i = 0; i < b; ++i)
      for (int64_t c = 0; c < ca + cb; ++c)
        for (int64_t j = 0; j < hw; ++j) {
          Out(a.y)[(i * (ca + cb) + c) * hw + j] = c < ca ? F(a.a)[(i * ca + c) * hw + j] : F(a.b)[(i * cb + c - ca) * hw + j];
        }
    return Status::Ok();
  }

  Status ToTokens(const TokensArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a, /*to_tokens=*/true));
    const int64_t b = a.x.dim(0), c = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3);
    for (int64_t i = 0; i < b; ++i)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t j = 0; j < hw; ++j) Out(a.y)[(i * hw + j) * c + ch] = F(a.x)[(i * c + ch) * hw + j];
    return Status::Ok();
  }

  Status FromTokens(const TokensArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a, /*to_tokens=*/false));
    const int64_t b = a.y.dim(0), c = a.y.dim(1), hw = a.y.dim(2) * a.y.dim(3);
    for (int64_t i = 0; i < b; ++i)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t j = 0; j < hw; ++j) Out(a.y)[(i * c + ch) * hw + j] = F(a.x)[(i * hw + j) * c + ch];
    return Status::Ok();
  }

  Status TimestepEmbedding(const TimestepEmbeddingArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t dim = a.y.dim(1), half = dim / 2;
    const std::vector<float> t = HostTimesteps(a);
    for (size_t i = 0; i < t.size(); ++i) {
      float* y = Out(a.y) + static_cast<int64_t>(i) * dim;
      for (int64_t j = 0; j < half; ++j) {
        const double f = std::exp(-std::log(10000.0) * static_cast<double>(j) / static_cast<double>(half));
        y[j] = static_cast<float>(std::cos(t[i] * f));
        y[half + j] = static_cast<float>(std::sin(t[i] * f));
      }
      if (dim % 2 != 0) y[dim - 1] = 0.0f;
    }
    return Status::Ok();
  }

  Status Embed(const EmbedArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    const int64_t l = a.y.dim(1), c = a.y.dim(2);
    for (size_t i = 0; i < a.ids.size(); ++i)
      for (int64_t j = 0; j < c; ++j) {
        Out(a.y)[static_cast<int64_t>(i) * c + j] =
            F(a.table)[a.ids[i] * c + j] + F(a.positions)[(static_cast<int64_t>(i) % l) * c + j];
      }
    return Status::Ok();
  }

  Status Convert(const ConvertArgs& a) override {
    SDR_RETURN_IF_ERROR(CheckArgs(a));
    if (a.x.dtype != DType::kF32 || a.y.dtype != DType::kF32) return Unsupported("reference: activations are f32 only");
    std::memcpy(a.y.data, a.x.data, static_cast<size_t>(a.x.numel()) * sizeof(float));
    return Status::Ok();
  }
};

class ReferenceBackend final : public Backend {
 public:
  ReferenceBackend() {
    info_.name = "reference";
    info_.description = "plain reference loops (double accumulation, one thread)";
    info_.activation_dtype = DType::kF32;
    info_.in_place_norm = true;  // statistics first, then each element from itself
  }
  const BackendInfo& info() const override { return info_; }
  Result<std::shared_ptr<void>> AllocateMemory(uint64_t bytes) override { return AllocateHostMemory(bytes, &in_use_); }
  uint64_t bytes_in_use() const override { return in_use_.load(std::memory_order_relaxed); }
  uint64_t bytes_available() const override { return HostMemoryAvailable(); }

  Result<Weight> PrepareWeight(const Tensor& host, WeightRole) override { return HostF32Weight(host); }

  Result<std::unique_ptr<Stream>> CreateStream() override { return std::unique_ptr<Stream>(new ReferenceStream()); }
  bool Supports(OpKind, DType dtype) const override { return dtype == DType::kF32; }

 private:
  BackendInfo info_;
  std::atomic<uint64_t> in_use_{0};
};

}  // namespace

std::unique_ptr<Backend> MakeReferenceBackend() { return std::make_unique<ReferenceBackend>(); }

}  // namespace sdr
