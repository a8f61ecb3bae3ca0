#include "models/vae/vae_decoder.h"

#include <algorithm>
#include <cmath>

#include "formats/ldm_names.h"
#include "models/weights.h"

namespace sdr {
namespace {

constexpr const char* kPrefix = kLdmVaePrefix;
constexpr float kEps = kVaeNormEps;
constexpr int64_t kImageChannels = 3;  // RGB

}  // namespace

// Layers are loaded in the order they run, each for the channels the previous one produces.
Result<std::unique_ptr<VaeDecoder>> VaeDecoder::Load(const TensorIndex& index, Backend& backend) {
  const std::string p = kPrefix, d = p + "decoder.";
  auto m = std::unique_ptr<VaeDecoder>(new VaeDecoder());
  m->backend_ = &backend;
  const WeightLoader wl(index, backend);
  auto body = [&]() -> Status {
    // post_quant_conv: 1x1, latent -> latent.
    SDR_ASSIGN_OR_RETURN(const TensorEntry* pq, RequireTensor(index, p + "post_quant_conv.weight", 4));
    const int64_t z = pq->tensor.dim(1);
    SDR_ASSIGN_OR_RETURN(m->post_quant_conv_, Conv2dLayer::Load(wl, p + "post_quant_conv", z, 1, 1, z));
    SDR_ASSIGN_OR_RETURN(m->conv_in_, Conv2dLayer::Load(wl, d + "conv_in", z, 3));
    int64_t ch = m->conv_in_.cout;
    SDR_ASSIGN_OR_RETURN(m->mid1_, LoadVaeRes(wl, d + "mid.block_1", ch));
    ch = m->mid1_.conv1.cout;
    SDR_ASSIGN_OR_RETURN(m->mid_attn_, LoadVaeAttention(wl, d + "mid.attn_1", ch));
    SDR_ASSIGN_OR_RETURN(m->mid2_, LoadVaeRes(wl, d + "mid.block_2", ch));
    ch = m->mid2_.conv1.cout;
    SDR_ASSIGN_OR_RETURN(const int levels, CountNumbered(index, d + "up."));
    if (levels == 0) return NotFound("no '" + d + "up.0.block.0' layers");
    m->up_.resize(static_cast<size_t>(levels));
    for (int i = levels - 1; i >= 0; --i) {  // the order they run in
      VaeUpLevel& level = m->up_[static_cast<size_t>(i)];
      const std::string up = d + "up." + std::to_string(i);
      SDR_ASSIGN_OR_RETURN(level.blocks, LoadVaeResBlocks(wl, up, &ch));
      level.has_upsample = HasTensorsUnder(index, up + ".upsample.");
      if (level.has_upsample) {
        SDR_ASSIGN_OR_RETURN(level.upsample, Conv2dLayer::Load(wl, up + ".upsample.conv", ch, 3, 1, ch));
      }
    }
    SDR_ASSIGN_OR_RETURN(m->norm_out_, GroupNormLayer::Load(wl, d + "norm_out", ch, kEps));
    SDR_ASSIGN_OR_RETURN(m->conv_out_, Conv2dLayer::Load(wl, d + "conv_out", ch, 3, 1, kImageChannels));
    return Status::Ok();
  };
  Status s = body();
  if (!s.ok()) return s.WithContext("loading VAE decoder");
  return m;
}

Result<Act> VaeDecoder::Decode(Executor& ex, const Act& latent) const {
  if (latent.rank() != 4 || latent.dim(1) != post_quant_conv_.cin) {
    return InvalidArgument("VAE latent must be [B, " + std::to_string(post_quant_conv_.cin) + ", h, w], got " +
                           ShapeToString(latent.shape()));
  }
  SDR_ASSIGN_OR_RETURN(Act h, ex.Affine(latent, 1.0f / kLatentScale, 0.0f));
  SDR_ASSIGN_OR_RETURN(h, post_quant_conv_.Forward(ex, h));
  SDR_ASSIGN_OR_RETURN(h, conv_in_.Forward(ex, h));
  SDR_RETURN_IF_ERROR(ex.Check());
  SDR_ASSIGN_OR_RETURN(h, RunVaeRes(ex, mid1_, std::move(h)));
  SDR_RETURN_IF_ERROR(ex.Check());
  SDR_ASSIGN_OR_RETURN(h, RunVaeAttention(ex, mid_attn_, h));
  SDR_RETURN_IF_ERROR(ex.Check());
  SDR_ASSIGN_OR_RETURN(h, RunVaeRes(ex, mid2_, std::move(h)));
  for (size_t i = up_.size(); i-- > 0;) {
    SDR_ASSIGN_OR_RETURN(h, RunVaeResBlocks(ex, up_[i].blocks, std::move(h)));
    SDR_RETURN_IF_ERROR(ex.Check());
    if (up_[i].has_upsample) {
      SDR_ASSIGN_OR_RETURN(h, up_[i].upsample.ForwardUpsampled(ex, h));
    }
  }
  SDR_ASSIGN_OR_RETURN(h, norm_out_.ForwardInPlace(ex, std::move(h), /*silu=*/true));
  SDR_ASSIGN_OR_RETURN(h, conv_out_.Forward(ex, h));
  return ex.Affine(h, 0.5f, 0.5f, /*clamp=*/true, 0.0f, 1.0f);  // (x + 1) / 2 in [0, 1]
}

Result<Tensor> VaeDecoder::Decode(const Tensor& latent, const RunControl* control) const {
  return RunPlanned(*backend_, control, [&](Executor& ex) -> Result<Act> {
    SDR_ASSIGN_OR_RETURN(Act z, ex.Upload(latent));
    return Decode(ex, z);
  });
}

double VaeDecoder::DecodeFlops(int64_t lh, int64_t lw) const {
  int64_t h = lh, w = lw;
  double flops = post_quant_conv_.Flops(h, w) + conv_in_.Flops(h, w) + VaeResFlops(mid1_, h, w) +
                 VaeResFlops(mid2_, h, w) + VaeAttentionFlops(mid_attn_, h, w);
  for (size_t i = up_.size(); i-- > 0;) {
    for (const VaeResBlock& r : up_[i].blocks) flops += VaeResFlops(r, h, w);
    if (up_[i].has_upsample) {
      h *= 2;
      w *= 2;
      flops += up_[i].upsample.Flops(h, w);
    }
  }
  return flops + conv_out_.Flops(h, w);
}

}  // namespace sdr
