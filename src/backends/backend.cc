#include "backends/backend.h"

#include <array>

namespace sdr {
namespace {

struct OpName {
  OpKind op;
  std::string_view name;
};

constexpr std::array<OpName, 15> kOps = {{
    {OpKind::kLinear, "linear"},
    {OpKind::kConv2d, "conv2d"},
    {OpKind::kGroupNorm, "group_norm"},
    {OpKind::kLayerNorm, "layer_norm"},
    {OpKind::kAttention, "attention"},
    {OpKind::kGeglu, "geglu"},
    {OpKind::kAdd, "add"},
    {OpKind::kAffine, "affine"},
    {OpKind::kResizeNearest, "resize_nearest"},
    {OpKind::kConcatChannels, "concat_channels"},
    {OpKind::kToTokens, "to_tokens"},
    {OpKind::kFromTokens, "from_tokens"},
    {OpKind::kTimestepEmbedding, "timestep_embedding"},
    {OpKind::kEmbed, "embed"},
    {OpKind::kConvert, "convert"},
}};

constexpr std::array<OpKind, kOps.size()> kAllOps = [] {
  std::array<OpKind, kOps.size()> a{};
  for (size_t i = 0; i < kOps.size(); ++i) a[i] = kOps[i].op;
  return a;
}();

Status Bad(std::string_view op, const std::string& what) {
  return InternalError(std::string(op) + ": " + what);
}

std::string S(const Shape& s) { return ShapeToString(s); }

bool Has(const DeviceTensor& t, size_t rank) { return t.rank() == rank; }

}  // namespace

std::string_view OpKindName(OpKind op) {
  for (const OpName& o : kOps) {
    if (o.op == op) return o.name;
  }
  return "unknown";
}

std::span<const OpKind> AllOpKinds() { return kAllOps; }

Status CheckArgs(const LinearArgs& a) {
  if (a.w == nullptr || !Has(a.w->t, 2) || !Has(a.x, 2) || !Has(a.y, 2)) return Bad("linear", "x, w, y must be 2-D");
  const int64_t m = a.x.dim(0), k = a.x.dim(1), n = a.w->t.dim(0);
  if (a.w->t.dim(1) != k || a.y.shape != Shape{m, n}) {
    return Bad("linear", "x " + S(a.x.shape) + ", w " + S(a.w->t.shape) + ", y " + S(a.y.shape));
  }
  if (a.b != nullptr && a.b->t.shape != Shape{n}) return Bad("linear", "bias " + S(a.b->t.shape));
  if (a.residual != nullptr && a.residual->shape != a.y.shape) return Bad("linear", "residual " + S(a.residual->shape));
  return Status::Ok();
}

Status CheckArgs(const Conv2dArgs& a) {
  if (a.w == nullptr || !Has(a.w->t, 4) || !Has(a.x, 4) || !Has(a.y, 4)) return Bad("conv2d", "x, w, y must be 4-D");
  const int64_t k = a.w->t.dim(2), cout = a.w->t.dim(0);
  if (a.w->t.dim(3) != k || a.w->t.dim(1) != a.x.dim(1) || a.stride < 1 || a.pad < 0 || a.upsample < 1 ||
      a.upsample > 2) {
    return Bad("conv2d", "x " + S(a.x.shape) + ", w " + S(a.w->t.shape) + ", upsample " + std::to_string(a.upsample));
  }
  const int64_t h = a.upsample * a.x.dim(2), w = a.upsample * a.x.dim(3);
  const int64_t ho = (h + 2 * a.pad - k) / a.stride + 1, wo = (w + 2 * a.pad - k) / a.stride + 1;
  if (a.y.shape != Shape{a.x.dim(0), cout, ho, wo}) return Bad("conv2d", "y " + S(a.y.shape));
  if (a.b != nullptr && a.b->t.shape != Shape{cout}) return Bad("conv2d", "bias " + S(a.b->t.shape));
  if (a.channel_bias != nullptr && a.channel_bias->shape != Shape{a.x.dim(0), cout}) {
    return Bad("conv2d", "channel bias " + S(a.channel_bias->shape));
  }
  if (a.residual != nullptr && a.residual->shape != a.y.shape) return Bad("conv2d", "residual " + S(a.residual->shape));
  return Status::Ok();
}

Status CheckArgs(const GroupNormArgs& a) {
  if (!Has(a.x, 4) || a.y.shape != a.x.shape || a.groups < 1 || a.x.dim(1) % a.groups != 0) {
    return Bad("group_norm", "x " + S(a.x.shape) + ", y " + S(a.y.shape) + ", groups " + std::to_string(a.groups));
  }
  if (a.gamma == nullptr || a.beta == nullptr || a.gamma->t.shape != Shape{a.x.dim(1)} ||
      a.beta->t.shape != Shape{a.x.dim(1)}) {
    return Bad("group_norm", "affine weights do not match " + S(a.x.shape));
  }
  return Status::Ok();
}

Status CheckArgs(const LayerNormArgs& a) {
  if (!Has(a.x, 2) || a.y.shape != a.x.shape) return Bad("layer_norm", "x " + S(a.x.shape) + ", y " + S(a.y.shape));
  if (a.gamma == nullptr || a.beta == nullptr || a.gamma->t.shape != Shape{a.x.dim(1)} ||
      a.beta->t.shape != Shape{a.x.dim(1)}) {
    return Bad("layer_norm", "affine weights do not match " + S(a.x.shape));
  }
  return Status::Ok();
}

Status CheckArgs(const AttentionArgs& a) {
  if (!Has(a.q, 3) || !Has(a.k, 3) || a.v.shape != a.k.shape || a.y.shape != a.q.shape || a.heads < 1 ||
      a.q.dim(0) != a.k.dim(0) || a.q.dim(2) != a.k.dim(2) || a.q.dim(2) % a.heads != 0) {
    return Bad("attention", "q " + S(a.q.shape) + ", k " + S(a.k.shape) + ", v " + S(a.v.shape) + ", heads " +
                                std::to_string(a.heads));
  }
  return Status::Ok();
}

Status CheckArgs(const GegluArgs& a) {
  if (!Has(a.x, 2) || a.x.dim(1) % 2 != 0 || a.y.shape != Shape{a.x.dim(0), a.x.dim(1) / 2}) {
    return Bad("geglu", "x " + S(a.x.shape) + ", y " + S(a.y.shape));
  }
  return Status::Ok();
}

Status CheckArgs(const AddArgs& a) {
  if (a.a.shape != a.b.shape || a.y.shape != a.a.shape) {
    return Bad("add", S(a.a.shape) + " + " + S(a.b.shape) + " -> " + S(a.y.shape));
  }
  return Status::Ok();
}

Status CheckArgs(const AffineArgs& a) {
  if (a.y.shape != a.x.shape) return Bad("affine", S(a.x.shape) + " -> " + S(a.y.shape));
  return Status::Ok();
}

Status CheckArgs(const ResizeNearestArgs& a) {
  if (!Has(a.x, 4) || !Has(a.y, 4) || a.x.dim(0) != a.y.dim(0) || a.x.dim(1) != a.y.dim(1)) {
    return Bad("resize_nearest", S(a.x.shape) + " -> " + S(a.y.shape));
  }
  return Status::Ok();
}

Status CheckArgs(const ConcatChannelsArgs& a) {
  if (!Has(a.a, 4) || !Has(a.b, 4) || a.a.dim(0) != a.b.dim(0) || a.a.dim(2) != a.b.dim(2) ||
      a.a.dim(3) != a.b.dim(3) || a.y.shape != Shape{a.a.dim(0), a.a.dim(1) + a.b.dim(1), a.a.dim(2), a.a.dim(3)}) {
    return Bad("concat_channels", S(a.a.shape) + " ++ " + S(a.b.shape) + " -> " + S(a.y.shape));
  }
  return Status::Ok();
}

Status CheckArgs(const TokensArgs& a, bool to_tokens) {
  const DeviceTensor& maps = to_tokens ? a.x : a.y;
  const DeviceTensor& tokens = to_tokens ? a.y : a.x;
  if (!Has(maps, 4) ||
      tokens.shape != Shape{maps.dim(0), maps.dim(2) * maps.dim(3), maps.dim(1)}) {
    return Bad(to_tokens ? "to_tokens" : "from_tokens", S(a.x.shape) + " -> " + S(a.y.shape));
  }
  return Status::Ok();
}

Status CheckArgs(const TimestepEmbeddingArgs& a) {
  if (a.t_device != nullptr) {
    if (!Has(a.y, 2) || a.t_device->dtype != DType::kF32 || a.t_device->shape != Shape{a.y.dim(0)}) {
      return Bad("timestep_embedding", "device timesteps " + S(a.t_device->shape) + " (" +
                                           std::string(DTypeName(a.t_device->dtype)) + ") -> " + S(a.y.shape));
    }
    return Status::Ok();
  }
  if (!Has(a.y, 2) || a.y.dim(0) != static_cast<int64_t>(a.t.size())) {
    return Bad("timestep_embedding", std::to_string(a.t.size()) + " timesteps -> " + S(a.y.shape));
  }
  return Status::Ok();
}

Status CheckArgs(const EmbedArgs& a) {
  if (a.table == nullptr || a.positions == nullptr || !Has(a.y, 3) || !Has(a.table->t, 2) ||
      !Has(a.positions->t, 2)) {
    return Bad("embed", "table, positions and y must be 2-D, 2-D, 3-D");
  }
  const int64_t b = a.y.dim(0), l = a.y.dim(1), c = a.y.dim(2);
  if (static_cast<int64_t>(a.ids.size()) != b * l || a.table->t.dim(1) != c || a.positions->t.dim(1) != c ||
      a.positions->t.dim(0) < l) {
    return Bad("embed", std::to_string(a.ids.size()) + " ids, table " + S(a.table->t.shape) + ", positions " +
                            S(a.positions->t.shape) + " -> " + S(a.y.shape));
  }
  for (int32_t id : a.ids) {
    if (id < 0 || id >= a.table->t.dim(0)) return Bad("embed", "token id " + std::to_string(id) + " out of range");
  }
  return Status::Ok();
}

Status CheckArgs(const ConvertArgs& a) {
  if (a.y.shape != a.x.shape) return Bad("convert", S(a.x.shape) + " -> " + S(a.y.shape));
  return Status::Ok();
}

}  // namespace sdr
