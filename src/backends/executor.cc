#include "backends/executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>

namespace sdr {
namespace {

DeviceTensor Folded(const DeviceTensor& t) {  // [..., C] -> [M, C]
  DeviceTensor f = t;
  const int64_t c = t.shape.back();
  f.shape = {c == 0 ? 0 : t.numel() / c, c};
  return f;
}

OpKind KindOf(const LinearArgs&) { return OpKind::kLinear; }
OpKind KindOf(const Conv2dArgs&) { return OpKind::kConv2d; }
OpKind KindOf(const GroupNormArgs&) { return OpKind::kGroupNorm; }
OpKind KindOf(const LayerNormArgs&) { return OpKind::kLayerNorm; }
OpKind KindOf(const AttentionArgs&) { return OpKind::kAttention; }
OpKind KindOf(const GegluArgs&) { return OpKind::kGeglu; }
OpKind KindOf(const AddArgs&) { return OpKind::kAdd; }
OpKind KindOf(const AffineArgs&) { return OpKind::kAffine; }
OpKind KindOf(const ResizeNearestArgs&) { return OpKind::kResizeNearest; }
OpKind KindOf(const ConcatChannelsArgs&) { return OpKind::kConcatChannels; }
OpKind KindOf(const TimestepEmbeddingArgs&) { return OpKind::kTimestepEmbedding; }
OpKind KindOf(const EmbedArgs&) { return OpKind::kEmbed; }

// ---- signatures of op arguments (Executor::Captured) ----------------------------------------

uint64_t Bits(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof(u));
  return u;
}
uint64_t Addr(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

struct Signer {
  std::vector<uint64_t>* out;
  void Add(uint64_t v) { out->push_back(v); }
  void Add(const DeviceTensor& t) {
    Add(static_cast<uint64_t>(t.dtype));
    Add(Addr(t.data));
    Add(t.shape.size());
    for (int64_t d : t.shape) Add(static_cast<uint64_t>(d));
  }
  void Add(const DeviceTensor* t) {
    Add(t != nullptr ? 1 : 0);
    if (t != nullptr) Add(*t);
  }
  void Add(const Weight* w) {
    Add(w != nullptr ? 1 : 0);
    if (w != nullptr) Add(w->t);
  }
  void Add(std::span<std::byte> s) {
    Add(Addr(s.data()));
    Add(s.size());
  }
};

void Fields(Signer& s, const LinearArgs& a) {
  s.Add(a.x), s.Add(a.w), s.Add(a.b), s.Add(static_cast<uint64_t>(a.act)), s.Add(a.residual), s.Add(a.y);
  s.Add(a.scratch);
}
void Fields(Signer& s, const Conv2dArgs& a) {
  s.Add(a.x), s.Add(a.w), s.Add(a.b), s.Add(static_cast<uint64_t>(a.stride)), s.Add(static_cast<uint64_t>(a.pad));
  s.Add(static_cast<uint64_t>(a.upsample)), s.Add(a.channel_bias), s.Add(a.residual), s.Add(a.y), s.Add(a.scratch);
}
void Fields(Signer& s, const GroupNormArgs& a) {
  s.Add(a.x), s.Add(a.gamma), s.Add(a.beta), s.Add(static_cast<uint64_t>(a.groups)), s.Add(Bits(a.eps));
  s.Add(a.silu ? 1 : 0), s.Add(a.y), s.Add(a.scratch);
}
void Fields(Signer& s, const LayerNormArgs& a) { s.Add(a.x), s.Add(a.gamma), s.Add(a.beta), s.Add(Bits(a.eps)), s.Add(a.y); }
void Fields(Signer& s, const AttentionArgs& a) {
  s.Add(a.q), s.Add(a.k), s.Add(a.v), s.Add(static_cast<uint64_t>(a.heads)), s.Add(Bits(a.scale));
  s.Add(a.causal ? 1 : 0), s.Add(a.y), s.Add(a.scratch);
}
void Fields(Signer& s, const GegluArgs& a) { s.Add(a.x), s.Add(a.y); }
void Fields(Signer& s, const AddArgs& a) { s.Add(a.a), s.Add(a.b), s.Add(a.y); }
void Fields(Signer& s, const AffineArgs& a) {
  s.Add(a.x), s.Add(Bits(a.scale)), s.Add(Bits(a.shift)), s.Add(a.clamp ? 1 : 0), s.Add(Bits(a.lo)), s.Add(Bits(a.hi));
  s.Add(a.y);
}
void Fields(Signer& s, const ResizeNearestArgs& a) { s.Add(a.x), s.Add(a.y); }
void Fields(Signer& s, const ConcatChannelsArgs& a) { s.Add(a.a), s.Add(a.b), s.Add(a.y); }
void Fields(Signer& s, const TokensArgs& a) { s.Add(a.x), s.Add(a.y); }
void Fields(Signer& s, const TimestepEmbeddingArgs& a) {
  s.Add(a.t.size());
  for (float t : a.t) s.Add(Bits(t));
  s.Add(a.t_device), s.Add(a.y);
}
void Fields(Signer& s, const EmbedArgs& a) {
  s.Add(a.ids.size());
  for (int32_t id : a.ids) s.Add(static_cast<uint32_t>(id));
  s.Add(a.table), s.Add(a.positions), s.Add(a.y);
}

template <typename Args>
constexpr uint64_t Tag() {
  if constexpr (std::is_same_v<Args, LinearArgs>) return 1;
  if constexpr (std::is_same_v<Args, Conv2dArgs>) return 2;
  if constexpr (std::is_same_v<Args, GroupNormArgs>) return 3;
  if constexpr (std::is_same_v<Args, LayerNormArgs>) return 4;
  if constexpr (std::is_same_v<Args, AttentionArgs>) return 5;
  if constexpr (std::is_same_v<Args, GegluArgs>) return 6;
  if constexpr (std::is_same_v<Args, AddArgs>) return 7;
  if constexpr (std::is_same_v<Args, AffineArgs>) return 8;
  if constexpr (std::is_same_v<Args, ResizeNearestArgs>) return 9;
  if constexpr (std::is_same_v<Args, ConcatChannelsArgs>) return 10;
  if constexpr (std::is_same_v<Args, TokensArgs>) return 11;
  if constexpr (std::is_same_v<Args, TimestepEmbeddingArgs>) return 12;
  if constexpr (std::is_same_v<Args, EmbedArgs>) return 13;
  return 0;
}

}  // namespace

template <typename Args>
void Executor::Sign(const Args& args) {
  Signer s{&signature_};
  s.Add(Tag<Args>());
  Fields(s, args);
}

void Executor::BeginSigning(Mode mode) {
  mode_ = mode;
  spoiled_ = false;
  signature_.clear();
}

bool Executor::EndSigning() {
  mode_ = Mode::kLive;
  return !spoiled_;
}

Act Act::Reshaped(Shape shape) const {
  SDR_CHECK(NumElements(shape) == t_.numel());
  Act a = *this;
  a.t_.shape = std::move(shape);
  return a;
}

Act Act::FirstImages(int64_t n) const {
  SDR_CHECK(rank() >= 1 && n >= 1 && n <= dim(0));
  Act a = *this;
  a.t_.shape[0] = n;
  return a;
}

Result<std::shared_ptr<const uint64_t>> Executor::Block(uint64_t bytes, void** data) {
  SDR_ASSIGN_OR_RETURN(const uint64_t offset, arena_->Alloc(bytes));
  Arena* arena = arena_;
  *data = arena->base() == nullptr ? nullptr : static_cast<std::byte*>(arena->base()) + offset;
  return std::shared_ptr<const uint64_t>(new uint64_t(offset), [arena](const uint64_t* o) {
    arena->Free(*o);
    delete o;
  });
}

Result<Act> Executor::Alloc(Shape shape) { return Alloc(std::move(shape), act_dtype()); }

Result<Act> Executor::Alloc(Shape shape, DType dtype) {
  auto numel = CheckedNumElements(shape);
  if (!numel) return InvalidArgument("activation shape " + ShapeToString(shape) + " is invalid");
  auto bytes = DTypeBytes(dtype, static_cast<uint64_t>(*numel));
  if (!bytes) return InvalidArgument("activation shape " + ShapeToString(shape) + " is too large");
  Act a;
  a.t_.dtype = dtype;
  a.t_.shape = std::move(shape);
  SDR_ASSIGN_OR_RETURN(a.block_, Block(*bytes, &a.t_.data));
  return a;
}

Result<Act> Executor::Upload(const Tensor& host) { return Upload(host, act_dtype()); }

Result<Act> Executor::Upload(const Tensor& host, DType dtype) {
  if (host.dtype() != DType::kF32) return InvalidArgument("Upload takes f32 host tensors");
  if (dtype != act_dtype() && dtype != DType::kF32) return InvalidArgument("Upload keeps f32 or the activation dtype");
  SDR_ASSIGN_OR_RETURN(Act a, Alloc(host.shape(), dtype));
  if (mode_ != Mode::kLive) {
    spoiled_ = true;  // a captured region must not read the host: it runs live instead
    return a;
  }
  if (!planning()) SDR_RETURN_IF_ERROR(stream_->Upload(host, a.t()));
  return a;
}

Result<Tensor> Executor::Download(const Act& a) {
  if (planning() || mode_ != Mode::kLive) {
    spoiled_ = spoiled_ || mode_ != Mode::kLive;
    return Tensor::Zeros(DType::kF32, a.shape());
  }
  return stream_->Download(a.t());
}

template <typename Args, typename Op>
Status Executor::Run(Args& args, size_t scratch_bytes, Op op) {
  SDR_RETURN_IF_ERROR(CheckArgs(args));
  std::shared_ptr<const uint64_t> scratch;  // freed when the op has been enqueued
  if constexpr (requires { args.scratch; }) {
    if (scratch_bytes > 0) {
      void* data = nullptr;
      SDR_ASSIGN_OR_RETURN(scratch, Block(scratch_bytes, &data));
      args.scratch = std::span<std::byte>(static_cast<std::byte*>(data), data == nullptr ? 0 : scratch_bytes);
    }
  }
  if (planning()) return Status::Ok();
  if (mode_ != Mode::kLive) Sign(args);
  if (mode_ == Mode::kChecking) return Status::Ok();
  if (profile_ == nullptr) return op(*stream_, args);
  const auto t0 = std::chrono::steady_clock::now();
  Status s = op(*stream_, args);
  profile_->Add(KindOf(args), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return s;
}

std::string OpProfile::Format() const {
  SDR_CHECK(AllOpKinds().size() == kKinds);
  std::vector<size_t> order;
  for (size_t i = 0; i < kKinds; ++i) {
    if (calls[i] > 0) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return seconds[a] > seconds[b]; });
  double total = 0;
  for (size_t i : order) total += seconds[i];
  std::string s;
  char line[160];
  for (size_t i : order) {
    std::snprintf(line, sizeof(line), "  %-18s %8.3f s  %5.1f%%  (%llu calls)\n",
                  std::string(OpKindName(static_cast<OpKind>(i))).c_str(), seconds[i],
                  total > 0 ? 100.0 * seconds[i] / total : 0.0, static_cast<unsigned long long>(calls[i]));
    s += line;
  }
  return s;
}

Result<Act> Executor::Linear(const Act& x, const Weight& w, const Weight* b, Activation act, const Act* residual) {
  Shape out = x.shape();
  if (out.empty()) return InternalError("linear: x is a scalar");
  out.back() = w.t.rank() == 2 ? w.t.dim(0) : 0;
  SDR_ASSIGN_OR_RETURN(Act y, Alloc(out));
  LinearArgs a;
  a.x = Folded(x.t());
  a.w = &w;
  a.b = b;
  a.act = act;
  DeviceTensor res;
  if (residual != nullptr) {
    res = Folded(residual->t());
    a.residual = &res;
  }
  a.y = Folded(y.t());
  const size_t scratch = CheckArgs(a).ok() ? backend_.ScratchBytes(a) : 0;
  SDR_RETURN_IF_ERROR(Run(a, scratch, [](Stream& s, const LinearArgs& args) { return s.Linear(args); }));
  return y;
}

Result<Act> Executor::Conv2d(const Act& x, const Weight& w, const Weight* b, int64_t stride, int64_t pad,
                             const Act* channel_bias, const Act* residual) {
  if (x.rank() != 4 || w.t.rank() != 4 || stride < 1) {
    return InternalError("conv2d: x " + ShapeToString(x.shape()) + ", w " + ShapeToString(w.t.shape));
  }
  const int64_t k = w.t.dim(2);
  const int64_t ho = (x.dim(2) + 2 * pad - k) / stride + 1, wo = (x.dim(3) + 2 * pad - k) / stride + 1;
  SDR_ASSIGN_OR_RETURN(Act y, Alloc({x.dim(0), w.t.dim(0), ho, wo}));
  Conv2dArgs a;
  a.x = x.t();
  a.w = &w;
  a.b = b;
  a.stride = stride;
  a.pad = pad;
  a.channel_bias = channel_bias != nullptr ? &channel_bias->t() : nullptr;
  a.residual = residual != nullptr ? &residual->t() : nullptr;
  a.y = y.t();
  const size_t scratch = CheckArgs(a).ok() ? backend_.ScratchBytes(a) : 0;
  SDR_RETURN_IF_ERROR(Run(a, scratch, [](Stream& s, const Conv2dArgs& args) { return s.Conv2d(args); }));
  return y;
}

Result<Act> Executor::UpsampleConv2d(const Act& x, const Weight& w, const Weight* b, int64_t pad) {
  if (x.rank() != 4 || w.t.rank() != 4) {
    return InternalError("upsample conv2d: x " + ShapeToString(x.shape()) + ", w " + ShapeToString(w.t.shape));
  }
  const int64_t k = w.t.dim(2);
  Conv2dArgs a;
  a.x = x.t();
  a.w = &w;
  a.b = b;
  a.pad = pad;
  a.upsample = 2;
  a.y.shape = {x.dim(0), w.t.dim(0), 2 * x.dim(2) + 2 * pad - k + 1, 2 * x.dim(3) + 2 * pad - k + 1};
  if (!CheckArgs(a).ok() || !backend_.FusesUpsample(a)) {
    SDR_ASSIGN_OR_RETURN(Act up, ResizeNearest(x, 2 * x.dim(2), 2 * x.dim(3)));
    return Conv2d(up, w, b, 1, pad);
  }
  SDR_ASSIGN_OR_RETURN(Act y, Alloc(a.y.shape));
  a.y = y.t();
  const size_t scratch = backend_.ScratchBytes(a);
  SDR_RETURN_IF_ERROR(Run(a, scratch, [](Stream& s, const Conv2dArgs& args) { return s.Conv2d(args); }));
  return y;
}

Result<Act> Executor::GroupNormInPlace(Act x, const Weight& gamma, const Weight& beta, int64_t groups, float eps,
                                       bool silu) {
  if (!backend_.info().in_place_norm || x.block_.use_count() != 1) return GroupNorm(x, gamma, beta, groups, eps, silu);
  GroupNormArgs a{x.t(), &gamma, &beta, groups, eps, silu, x.t(), {}};
  const size_t scratch = CheckArgs(a).ok() ? backend_.ScratchBytes(a) : 0;
  SDR_RETURN_IF_ERROR(Run(a, scratch, [](Stream& s, const GroupNormArgs& args) { return s.GroupNorm(args); }));
  return x;
}

Result<Act> Executor::GroupNorm(const Act& x, const Weight& gamma, const Weight& beta, int64_t groups, float eps,
                                bool silu) {
  SDR_ASSIGN_OR_RETURN(Act y, Alloc(x.shape()));
  GroupNormArgs a{x.t(), &gamma, &beta, groups, eps, silu, y.t(), {}};
  const size_t scratch = CheckArgs(a).ok() ? backend_.ScratchBytes(a) : 0;
  SDR_RETURN_IF_ERROR(Run(a, scratch, [](Stream& s, const GroupNormArgs& args) { return s.GroupNorm(args); }));
  return y;
}

Result<Act> Executor::LayerNorm(const Act& x, const Weight& gamma, const Weight& beta, float eps) {
  SDR_ASSIGN_OR_RETURN(Act y, Alloc(x.shape()));
  LayerNormArgs a{Folded(x.t()), &gamma, &beta, eps, Folded(y.t())};
  SDR_RETURN_IF_ERROR(Run(a, 0, [](Stream& s, const LayerNormArgs& args) { return s.LayerNorm(args); }));
  return y;
}

Result<Act> Executor::Attention(const Act& q, const Act& k, const Act& v, int64_t heads, float scale, bool causal) {
  SDR_ASSIGN_OR_RETURN(Act y, Alloc(q.shape()));
  AttentionArgs a;
  a.q = q.t();
  a.k = k.t();
  a.v = v.t();
  a.heads = heads;
  a.scale = scale;
  a.causal = causal;
  a.y = y.t();
  const size_t scratch = CheckArgs(a).ok() ? backend_.ScratchBytes(a) : 0;
  SDR_RETURN_IF_ERROR(Run(a, scratch, [](Stream& s, const AttentionArgs& args) { return s.Attention(args); }));
  return y;
}

Result<Act> Executor::Geglu(const Act& x) {
  Shape out = x.shape();
  if (out.empty()) return InternalError("geglu: x is a scalar");
  out.back() /= 2;
  SDR_ASSIGN_OR_RETURN(Act y, Alloc(out));
  GegluArgs a{Folded(x.t()), Folded(y.t())};
  SDR_RETURN_IF_ERROR(Run(a, 0, [](Stream& s, const GegluArgs& args) { return s.Geglu(args); }));
  return y;
}

Result<Act> Executor::Add(const Act& a, const Act& b) {
  SDR_ASSIGN_OR_RETURN(Act y, Alloc(a.shape()));
  AddArgs args{a.t(), b.t(), y.t()};
  SDR_RETURN_IF_ERROR(Run(args, 0, [](Stream& s, const AddArgs& x) { return s.Add(x); }));
  return y;
}

Result<Act> Executor::Affine(const Act& x, float scale, float shift, bool clamp, float lo, float hi) {
  SDR_ASSIGN_OR_RETURN(Act y, Alloc(x.shape()));
  AffineArgs a{x.t(), scale, shift, clamp, lo, hi, y.t()};
  SDR_RETURN_IF_ERROR(Run(a, 0, [](Stream& s, const AffineArgs& args) { return s.Affine(args); }));
  return y;
}

Result<Act> Executor::ResizeNearest(const Act& x, int64_t ho, int64_t wo) {
  if (x.rank() != 4) return InternalError("resize_nearest: x " + ShapeToString(x.shape()));
  SDR_ASSIGN_OR_RETURN(Act y, Alloc({x.dim(0), x.dim(1), ho, wo}));
  ResizeNearestArgs a{x.t(), y.t()};
  SDR_RETURN_IF_ERROR(Run(a, 0, [](Stream& s, const ResizeNearestArgs& args) { return s.ResizeNearest(args); }));
  return y;
}

Result<Act> Executor::ConcatChannels(const Act& a, const Act& b) {
  if (a.rank() != 4 || b.rank() != 4) return InternalError("concat_channels: not 4-D");
  SDR_ASSIGN_OR_RETURN(Act y, Alloc({a.dim(0), a.dim(1) + b.dim(1), a.dim(2), a.dim(3)}));
  ConcatChannelsArgs args{a.t(), b.t(), y.t()};
  SDR_RETURN_IF_ERROR(Run(args, 0, [](Stream& s, const ConcatChannelsArgs& x) { return s.ConcatChannels(x); }));
  return y;
}

Result<Act> Executor::RepeatImages(const Act& x, int64_t n) {
  if (x.rank() < 1 || x.dim(0) != 1 || n < 1) {
    return InternalError("repeat_images: x " + ShapeToString(x.shape()) + ", n " + std::to_string(n));
  }
  const int64_t m = x.numel();
  const Act one = x.Reshaped({1, m, 1, 1});
  Act y = one;
  for (int64_t i = 1; i < n; ++i) {
    SDR_ASSIGN_OR_RETURN(y, ConcatChannels(y, one));
  }
  Shape shape = x.shape();
  shape[0] = n;
  return y.Reshaped(std::move(shape));
}

Result<Act> Executor::ToTokens(const Act& x) {
  if (x.rank() != 4) return InternalError("to_tokens: x " + ShapeToString(x.shape()));
  SDR_ASSIGN_OR_RETURN(Act y, Alloc({x.dim(0), x.dim(2) * x.dim(3), x.dim(1)}));
  TokensArgs a{x.t(), y.t()};
  SDR_RETURN_IF_ERROR(CheckArgs(a, /*to_tokens=*/true));
  if (planning()) return y;
  if (mode_ != Mode::kLive) Sign(a);
  if (mode_ != Mode::kChecking) {
    const auto t0 = std::chrono::steady_clock::now();
    SDR_RETURN_IF_ERROR(stream_->ToTokens(a));
    if (profile_ != nullptr) {
      profile_->Add(OpKind::kToTokens, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  return y;
}

Result<Act> Executor::FromTokens(const Act& x, int64_t h, int64_t w) {
  if (x.rank() != 3) return InternalError("from_tokens: x " + ShapeToString(x.shape()));
  SDR_ASSIGN_OR_RETURN(Act y, Alloc({x.dim(0), x.dim(2), h, w}));
  TokensArgs a{x.t(), y.t()};
  SDR_RETURN_IF_ERROR(CheckArgs(a, /*to_tokens=*/false));
  if (planning()) return y;
  if (mode_ != Mode::kLive) {
    Sign(a);
    signature_.push_back(1);  // from, not to
  }
  if (mode_ != Mode::kChecking) {
    const auto t0 = std::chrono::steady_clock::now();
    SDR_RETURN_IF_ERROR(stream_->FromTokens(a));
    if (profile_ != nullptr) {
      profile_->Add(OpKind::kFromTokens, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  return y;
}

Result<Act> Executor::TimestepEmbedding(std::vector<float> t, int64_t dim) {
  SDR_ASSIGN_OR_RETURN(Act y, Alloc({static_cast<int64_t>(t.size()), dim}));
  TimestepEmbeddingArgs a{std::move(t), nullptr, y.t()};
  SDR_RETURN_IF_ERROR(
      Run(a, 0, [](Stream& s, const TimestepEmbeddingArgs& args) { return s.TimestepEmbedding(args); }));
  return y;
}

Result<Act> Executor::TimestepEmbedding(const Act& t, int64_t dim) {
  if (t.rank() != 1) return InternalError("timestep_embedding: t " + ShapeToString(t.shape()) + " is not [B]");
  SDR_ASSIGN_OR_RETURN(Act y, Alloc({t.dim(0), dim}));
  TimestepEmbeddingArgs a{{}, &t.t(), y.t()};
  SDR_RETURN_IF_ERROR(
      Run(a, 0, [](Stream& s, const TimestepEmbeddingArgs& args) { return s.TimestepEmbedding(args); }));
  return y;
}

Result<Act> Executor::Embed(std::vector<int32_t> ids, int64_t batch, const Weight& table, const Weight& positions) {
  const auto n = static_cast<int64_t>(ids.size());
  if (batch < 1 || n % batch != 0 || table.t.rank() != 2) return InternalError("embed: bad ids or table");
  SDR_ASSIGN_OR_RETURN(Act y, Alloc({batch, n / batch, table.t.dim(1)}));
  EmbedArgs a{std::move(ids), &table, &positions, y.t()};
  SDR_RETURN_IF_ERROR(Run(a, 0, [](Stream& s, const EmbedArgs& args) { return s.Embed(args); }));
  return y;
}

}  // namespace sdr
