#include "runtime/sd_model.h"

#include "core/mapped_file.h"
#include "formats/model_file.h"
#include "models/clip/tokenizer_source.h"

namespace sdr {
namespace {

// A standalone VAE file may use bare "decoder.*" names (A1111 .vae.pt/.vae.safetensors):
// present it under the checkpoint names.
Result<TensorIndex> OpenVae(const std::string& path) {
  SDR_ASSIGN_OR_RETURN(TensorIndex raw, OpenModelFile(path));
  if (raw.Find("first_stage_model.decoder.conv_in.weight") != nullptr) return raw;
  if (raw.Find("decoder.conv_in.weight") == nullptr) {
    return InvalidArgument("'" + path + "' holds no VAE decoder (no 'decoder.conv_in.weight')");
  }
  TensorIndex out;
  out.path = raw.path;
  out.format = raw.format;
  for (const TensorEntry& e : raw.entries()) SDR_RETURN_IF_ERROR(out.Add("first_stage_model." + e.name, e.tensor));
  return out;
}

}  // namespace

void SdModel::ReleaseUnetWeights() {
  unet_.reset();  // frees the f32 copies converted from f16/quantized weights
  // Pages of the mapping that held UNet tensors: the kernel may drop them (they are read-only
  // file pages, re-read on demand should anything touch them again).
  for (const TensorEntry& e : index_.entries()) {
    if (e.name.rfind("model.diffusion_model.", 0) == 0 && !e.tensor.writable()) {
      ReleaseMappedPages(e.tensor.raw(), e.tensor.nbytes());
    }
  }
}

Result<std::unique_ptr<SdModel>> SdModel::Load(const SdModelOptions& opts) {
  auto m = std::unique_ptr<SdModel>(new SdModel());
  m->path_ = opts.model_path;
  auto ctx = [&](const Status& s) { return s.WithContext("loading model '" + opts.model_path + "'"); };
  auto index = OpenModelFile(opts.model_path);
  if (!index.ok()) return ctx(index.status());
  m->index_ = std::move(index).value();
  auto info = DetectModel(m->index_);
  if (!info.ok()) return ctx(info.status());
  m->info_ = *info;
  if (m->info_.version != SdVersion::kSd1) {
    return ctx(Unsupported("this is a " + std::string(SdVersionName(m->info_.version)) +
                           " model; only SD 1.x runs for now"));
  }
  if (!opts.vae_path.empty()) {
    auto vae_index = OpenVae(opts.vae_path);
    if (!vae_index.ok()) return vae_index.status().WithContext("loading VAE '" + opts.vae_path + "'");
    m->vae_index_ = std::move(vae_index).value();
  }
  auto tok = LoadClipTokenizer(opts.model_path, opts.tokenizer_path);
  if (!tok.ok()) return ctx(tok.status());
  m->tokenizer_ = std::make_unique<ClipTokenizer>(std::move(tok).value());
  auto clip = ClipTextModel::Load(m->index_);
  if (!clip.ok()) return ctx(clip.status());
  m->clip_ = std::move(clip).value();
  m->conditioner_ = std::make_unique<TextConditioner>(m->clip_.get(), m->tokenizer_.get());
  auto unet = UnetModel::Load(m->index_);
  if (!unet.ok()) return ctx(unet.status());
  m->unet_ = std::move(unet).value();
  if (m->unet_->context_dim() != m->clip_->hidden()) {
    return ctx(InvalidArgument("UNet context dim " + std::to_string(m->unet_->context_dim()) +
                               " does not match the text encoder width " + std::to_string(m->clip_->hidden())));
  }
  auto vae = VaeDecoder::Load(opts.vae_path.empty() ? m->index_ : m->vae_index_);
  if (!vae.ok()) return ctx(vae.status());
  m->vae_ = std::move(vae).value();
  return m;
}

}  // namespace sdr
