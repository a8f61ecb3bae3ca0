#include "models/vae/taesd_decoder.h"

#include <cmath>
#include <limits>

#include "formats/model_file.h"
#include "models/weights.h"

namespace sdr {
namespace {

// taesd.py's Decoder nn.Sequential: which index holds what.
constexpr int kConvIn = 1, kConvOut = 19;
struct LevelSpec {
  int up_conv;  // 0: no upsample
  std::vector<int> blocks;
};
const std::vector<LevelSpec>& Layout() {
  static const std::vector<LevelSpec> layout = {{0, {3, 4, 5}}, {7, {8, 9, 10}}, {12, {13, 14, 15}}, {17, {18}}};
  return layout;
}

std::string FindPrefix(const TensorIndex& index) {
  for (const char* p : {"", "decoder.", "decoder.layers.", "taesd_decoder."}) {
    if (index.Find(std::string(p) + "1.weight") != nullptr) return p;
  }
  return "";
}

}  // namespace

Result<std::unique_ptr<TaesdDecoder>> TaesdDecoder::Load(const std::string& path, Backend& backend) {
  auto index = OpenModelFile(path);
  if (!index.ok()) return index.status().WithContext("loading TAESD '" + path + "'");
  auto d = Load(*index, backend);
  if (!d.ok()) return d.status().WithContext("loading TAESD '" + path + "'");
  return d;
}

Result<std::unique_ptr<TaesdDecoder>> TaesdDecoder::Load(const TensorIndex& index, Backend& backend) {
  auto m = std::unique_ptr<TaesdDecoder>(new TaesdDecoder());
  m->backend_ = &backend;
  const WeightLoader wl(index, backend);
  const std::string p = FindPrefix(index);
  auto idx = [&](int i) { return p + std::to_string(i); };
  SDR_ASSIGN_OR_RETURN(const TensorEntry* in, RequireTensor(index, idx(kConvIn) + ".weight", 4));
  const int64_t latent = in->tensor.dim(1);
  SDR_ASSIGN_OR_RETURN(m->conv_in_, Conv2dLayer::Load(wl, idx(kConvIn), latent, 3));
  const int64_t ch = m->conv_in_.cout;
  SDR_ASSIGN_OR_RETURN(Tensor zeros, Tensor::Zeros(DType::kF32, {ch}));
  SDR_ASSIGN_OR_RETURN(m->zero_bias_, backend.PrepareWeight(zeros, WeightRole::kVector));
  for (const LevelSpec& spec : Layout()) {
    Level level;
    if (spec.up_conv != 0) {
      level.upsample = true;
      Conv2dLayer& c = level.up_conv;
      c.cout = ch, c.cin = ch, c.k = 3, c.stride = 1, c.pad = 1;
      SDR_ASSIGN_OR_RETURN(c.w, wl.Load(idx(spec.up_conv) + ".weight", {ch, ch, 3, 3}, WeightRole::kConvKernel));
      c.b = m->zero_bias_;
    }
    for (int b : spec.blocks) {
      Block blk;
      SDR_ASSIGN_OR_RETURN(blk.c0, Conv2dLayer::Load(wl, idx(b) + ".conv.0", ch, 3, 1, ch));
      SDR_ASSIGN_OR_RETURN(blk.c1, Conv2dLayer::Load(wl, idx(b) + ".conv.2", ch, 3, 1, ch));
      SDR_ASSIGN_OR_RETURN(blk.c2, Conv2dLayer::Load(wl, idx(b) + ".conv.4", ch, 3, 1, ch));
      level.blocks.push_back(std::move(blk));
    }
    m->levels_.push_back(std::move(level));
  }
  SDR_ASSIGN_OR_RETURN(m->conv_out_, Conv2dLayer::Load(wl, idx(kConvOut), ch, 3, 1, 3));
  return m;
}

Result<Act> TaesdDecoder::Relu(Executor& ex, const Act& x) const {
  return ex.Affine(x, 1.0f, 0.0f, /*clamp=*/true, 0.0f, std::numeric_limits<float>::infinity());
}

Result<Act> TaesdDecoder::Decode(Executor& ex, const Act& latent) const {
  if (latent.rank() != 4 || latent.dim(1) != conv_in_.cin) {
    return InvalidArgument("TAESD latent must be [B, " + std::to_string(conv_in_.cin) + ", h, w], got " +
                           ShapeToString(latent.shape()));
  }
  SDR_ASSIGN_OR_RETURN(Act h, conv_in_.Forward(ex, latent));
  SDR_ASSIGN_OR_RETURN(h, Relu(ex, h));
  for (const Level& level : levels_) {
    if (level.upsample) {
      SDR_ASSIGN_OR_RETURN(h, ex.ResizeNearest(h, 2 * h.dim(2), 2 * h.dim(3)));
      SDR_ASSIGN_OR_RETURN(h, level.up_conv.Forward(ex, h));
    }
    for (const Block& b : level.blocks) {
      SDR_RETURN_IF_ERROR(ex.Check());
      SDR_ASSIGN_OR_RETURN(Act t, b.c0.Forward(ex, h));
      SDR_ASSIGN_OR_RETURN(t, Relu(ex, t));
      SDR_ASSIGN_OR_RETURN(t, b.c1.Forward(ex, t));
      SDR_ASSIGN_OR_RETURN(t, Relu(ex, t));
      SDR_ASSIGN_OR_RETURN(t, b.c2.Forward(ex, t, nullptr, /*residual=*/&h));  // conv(x) + x
      SDR_ASSIGN_OR_RETURN(h, Relu(ex, t));
    }
  }
  SDR_ASSIGN_OR_RETURN(h, conv_out_.Forward(ex, h));
  return ex.Affine(h, 1.0f, 0.0f, /*clamp=*/true, 0.0f, 1.0f);
}

void TaesdDecoder::ClampLatent(std::span<float> z) {
  for (float& v : z) v = std::tanh(v / 3.0f) * 3.0f;
}

Result<Tensor> TaesdDecoder::Decode(const Tensor& latent, const RunControl* control) const {
  SDR_ASSIGN_OR_RETURN(Tensor z, ToF32(latent));
  SDR_ASSIGN_OR_RETURN(Tensor c, Tensor::Allocate(DType::kF32, z.shape()));
  std::copy(z.data<float>(), z.data<float>() + z.numel(), c.mutable_data<float>());
  ClampLatent({c.mutable_data<float>(), static_cast<size_t>(c.numel())});
  return RunPlanned(*backend_, control, [&](Executor& ex) -> Result<Act> {
    SDR_ASSIGN_OR_RETURN(Act x, ex.Upload(c));
    return Decode(ex, x);
  });
}

}  // namespace sdr
