#include "models/random_weights.h"

#include <cmath>

#include "core/convert.h"

namespace sdr {
namespace {

// splitmix64 stream + Box-Muller: simple, portable, deterministic.
class Gaussian {
 public:
  explicit Gaussian(uint64_t seed) : state_(seed) {}
  float Next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = (static_cast<double>(NextU64() >> 11) + 0.5) * 0x1.0p-53;
    const double u2 = static_cast<double>(NextU64() >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = static_cast<float>(r * std::sin(2.0 * M_PI * u2));
    has_spare_ = true;
    return static_cast<float>(r * std::cos(2.0 * M_PI * u2));
  }

 private:
  uint64_t NextU64() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t state_;
  float spare_ = 0;
  bool has_spare_ = false;
};

float Sample(Gaussian& g, InitKind kind, float fan_in_scale) {
  const float z = g.Next();
  switch (kind) {
    case InitKind::kNormScale: return 1.0f + 0.1f * z;
    case InitKind::kNormShift: return 0.1f * z;
    case InitKind::kFinalNormShift: return 0.3f + 0.1f * z;
    case InitKind::kBias: return 0.02f * z;
    case InitKind::kEmbedding: return 0.02f * z;
    case InitKind::kPosition: return 0.01f * z;
    case InitKind::kWeight: return fan_in_scale * z;
  }
  return z;
}

}  // namespace

Result<std::vector<NamedTensor>> MakeRandomSd1Weights(const RandomModelOptions& opts) {
  std::vector<NamedTensor> out;
  Gaussian g(opts.seed);
  for (const LayoutTensor& lt : Sd1Layout(opts.layout)) {
    SDR_ASSIGN_OR_RETURN(Tensor f, Tensor::Allocate(DType::kF32, lt.shape));
    int64_t fan_in = 1;
    for (size_t i = 1; i < lt.shape.size(); ++i) fan_in *= lt.shape[i];
    const float scale = 1.0f / std::sqrt(static_cast<float>(fan_in));
    float* p = f.mutable_data<float>();
    for (int64_t i = 0; i < f.numel(); ++i) p[i] = Sample(g, lt.init, scale);
    DType target = opts.dtype;
    if (GetDTypeInfo(target).is_quantized && !CanQuantizeRows(target, lt.shape)) target = DType::kF16;
    SDR_ASSIGN_OR_RETURN(Tensor t, ConvertTensor(f, target));
    out.push_back({lt.name, std::move(t)});
  }
  return out;
}

Result<std::vector<NamedTensor>> MakeRandomTaesdDecoder(uint64_t seed, int64_t channels) {
  std::vector<NamedTensor> out;
  Gaussian g(seed);
  auto conv = [&](const std::string& name, int64_t cout, int64_t cin, bool bias) -> Status {
    SDR_ASSIGN_OR_RETURN(Tensor w, Tensor::Allocate(DType::kF32, {cout, cin, 3, 3}));
    const float scale = 1.0f / std::sqrt(static_cast<float>(cin * 9));
    for (int64_t i = 0; i < w.numel(); ++i) w.mutable_data<float>()[i] = scale * g.Next();
    out.push_back({name + ".weight", w});
    if (bias) {
      SDR_ASSIGN_OR_RETURN(Tensor b, Tensor::Allocate(DType::kF32, {cout}));
      for (int64_t i = 0; i < cout; ++i) b.mutable_data<float>()[i] = 0.02f * g.Next();
      out.push_back({name + ".bias", b});
    }
    return Status::Ok();
  };
  const int64_t c = channels;
  SDR_RETURN_IF_ERROR(conv("1", c, 4, true));
  for (int i : {3, 4, 5, 8, 9, 10, 13, 14, 15, 18}) {
    for (int j : {0, 2, 4}) SDR_RETURN_IF_ERROR(conv(std::to_string(i) + ".conv." + std::to_string(j), c, c, true));
  }
  for (int i : {7, 12, 17}) SDR_RETURN_IF_ERROR(conv(std::to_string(i), c, c, false));
  SDR_RETURN_IF_ERROR(conv("19", 3, c, true));
  return out;
}

}  // namespace sdr
