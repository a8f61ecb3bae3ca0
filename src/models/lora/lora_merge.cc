#include "models/lora/lora_merge.h"

#include <map>

namespace sdr {

Result<MergedLoraIndex> MergeLoras(const TensorIndex& base, std::span<const WeightedLora> loras) {
  // target name -> merged f32 copy, made on first touch.
  std::map<std::string, Tensor> merged;
  for (const WeightedLora& wl : loras) {
    if (wl.multiplier == 0.0f) continue;
    for (const LoraLayer& l : wl.file->layers) {
      const TensorEntry* e = base.Find(l.target);
      if (e == nullptr) {
        return InvalidArgument("LoRA '" + wl.file->path + "': layer '" + l.key + "' changes '" + l.target +
                               "', which this model does not have");
      }
      const Shape& ws = e->tensor.shape();
      const int64_t out = l.up.dim(0), r = l.rank(), in = l.down.numel() / r;
      if (ws.empty() || ws[0] != out || e->tensor.numel() != out * in) {
        return InvalidArgument("LoRA '" + wl.file->path + "': layer '" + l.key + "' gives a delta of [" +
                               std::to_string(out) + ", " + std::to_string(in) + "] for '" + l.target + "' of shape " +
                               ShapeToString(ws));
      }
      auto it = merged.find(l.target);
      if (it == merged.end()) {
        SDR_ASSIGN_OR_RETURN(Tensor w, ToF32(e->tensor));
        SDR_ASSIGN_OR_RETURN(Tensor copy, Tensor::Allocate(DType::kF32, ws));
        std::copy(w.data<float>(), w.data<float>() + w.numel(), copy.mutable_data<float>());
        it = merged.emplace(l.target, std::move(copy)).first;
      }
      // W[o, i] += s * sum_k up[o, k] * down[k, i]; accumulated in double per element.
      const float s = wl.multiplier * l.scale();
      const float* up = l.up.data<float>();      // [out, r]
      const float* down = l.down.data<float>();  // [r, in]
      float* w = it->second.mutable_data<float>();
      for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i) {
          double acc = 0;
          for (int64_t k = 0; k < r; ++k) acc += static_cast<double>(up[o * r + k]) * down[k * in + i];
          w[o * in + i] += s * static_cast<float>(acc);
        }
    }
  }
  MergedLoraIndex out;
  out.index.format = base.format;
  out.index.path = base.path;
  out.index.metadata = base.metadata;
  for (const TensorEntry& e : base.entries()) {
    const auto it = merged.find(e.name);
    if (it == merged.end()) {
      SDR_RETURN_IF_ERROR(out.index.Add(e.name, e.tensor));
    } else {
      out.bytes += it->second.nbytes();
      ++out.tensors;
      SDR_RETURN_IF_ERROR(out.index.Add(e.name, it->second));
    }
  }
  return out;
}

}  // namespace sdr
