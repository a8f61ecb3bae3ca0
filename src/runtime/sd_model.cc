#include "runtime/sd_model.h"

#include <cstdlib>
#include <filesystem>
#include <new>

#include "core/log.h"
#include "core/mapped_file.h"
#include "formats/ldm_names.h"
#include "backends/registry.h"
#include "formats/model_file.h"
#include "runtime/errors.h"

namespace sdr {
namespace {

// A standalone VAE file may use bare "decoder.*" names (A1111 .vae.pt/.vae.safetensors):
// present it under the checkpoint names.
Result<TensorIndex> OpenVae(const std::string& path) {
  SDR_ASSIGN_OR_RETURN(TensorIndex raw, OpenModelFile(path));
  const std::string prefix = kLdmVaePrefix;
  if (raw.Find(prefix + "decoder.conv_in.weight") != nullptr) return raw;
  if (raw.Find("decoder.conv_in.weight") == nullptr) {
    return InvalidArgument("'" + path + "' holds no VAE decoder (no 'decoder.conv_in.weight')");
  }
  TensorIndex out;
  out.path = raw.path;
  out.format = raw.format;
  for (const TensorEntry& e : raw.entries()) SDR_RETURN_IF_ERROR(out.Add(prefix + e.name, e.tensor));
  return out;
}

// Variants that parse as SD but that we do not run yet, named so that the user knows what they
// have: OK for a plain SD 1.x model.
Status CheckSupportedVariant(const ModelInfo& info) {
  if (info.version == SdVersion::kSd2) {
    return Unsupported("this is an SD 2.x model (v-prediction / OpenCLIP text encoder); only SD 1.x runs for now");
  }
  if (info.version == SdVersion::kSdxl) return Unsupported("this is an SDXL model; only SD 1.x runs for now");
  if (info.version != SdVersion::kSd1) {
    return Unsupported("this is a " + std::string(SdVersionName(info.version)) + " model; only SD 1.x runs for now");
  }
  if (info.unet_in_channels == 8) {
    return Unsupported("this is an SD 1.x instruct-pix2pix UNet (8 input channels); it is not supported yet");
  }
  return Status::Ok();
}

}  // namespace

void SdModel::ReleaseUnetWeights() {
  unet_.reset();  // frees the f32 copies converted from f16/quantized weights
  ReleasePagesUnder(kLdmUnetPrefix);
}

void SdModel::ReleaseStagePages(Stage stage) const {
  if (generations_.load(std::memory_order_relaxed) > 1) return;  // another generation may need them now
  ReleasePagesUnder(stage == Stage::kText   ? kLdmCondStagePrefix
                    : stage == Stage::kUnet ? kLdmUnetPrefix
                                            : kLdmVaePrefix);
}

// Pages of the mappings that hold the tensors named `prefix`*: the kernel may drop them (read-only
// file pages, re-read on demand should anything touch them again).
void SdModel::ReleasePagesUnder(const char* prefix) const {
  for (const TensorIndex* index : {&index_, &vae_index_}) {
    for (const TensorEntry& e : index->entries()) {
      if (!e.tensor.writable() && e.name.rfind(prefix, 0) == 0) ReleaseMappedPages(e.tensor.raw(), e.tensor.nbytes());
    }
  }
}

Status SdModel::LoadInto(const SdModelOptions& opts, SdModel* m) {
  SDR_ASSIGN_OR_RETURN(m->index_, OpenModelFile(opts.model_path));
  return BuildFromIndex(opts, m);
}

Status SdModel::BuildFromIndex(const SdModelOptions& opts, SdModel* m) {
  m->path_ = opts.model_path;
  BackendOptions backend_options;
  std::string precision = opts.cuda_precision;
  if (precision.empty()) {
    const char* env = std::getenv("SD_CUDA_PRECISION");
    precision = env != nullptr && *env != '\0' ? env : "f16";
  }
  if (!ParseGpuPrecision(precision, &backend_options.precision)) {
    return InvalidArgument("cuda precision '" + precision + "' is not f16, bf16 or f32");
  }
  SDR_ASSIGN_OR_RETURN(m->backend_, OpenBackend(opts.device, backend_options));
  SDR_ASSIGN_OR_RETURN(m->info_, DetectModel(m->index_));
  SDR_RETURN_IF_ERROR(CheckSupportedVariant(m->info_));
  if (!opts.vae_path.empty()) {
    auto vae_index = OpenVae(opts.vae_path);
    if (!vae_index.ok()) return vae_index.status().WithContext("loading VAE '" + opts.vae_path + "'");
    m->vae_index_ = std::move(vae_index).value();
  }
  m->tokenizer_source_ = ResolveTokenizerSource(opts.model_path, opts.tokenizer_path);
  SDR_ASSIGN_OR_RETURN(m->tokenizer_, LoadClipTokenizer(m->tokenizer_source_));
  SDR_ASSIGN_OR_RETURN(m->clip_, ClipTextModel::Load(m->index_, *m->backend_));
  // Token ids come from the tokenizer: the embedding must have a row for each (a larger table,
  // e.g. with added tokens, is harmless).
  const auto vocab = static_cast<int64_t>(m->tokenizer_->vocab_size());
  const std::string embedding = std::string(kLdmClipTextPrefix) + "embeddings.token_embedding.weight";
  if (m->clip_->vocab() < vocab) {
    return InvalidArgument("tensor '" + embedding + "' has " + std::to_string(m->clip_->vocab()) + " rows but " +
                           m->tokenizer_source_.Describe() + " has " + std::to_string(vocab) + " tokens");
  }
  if (m->clip_->positions() < PromptChunks::kChunkLength) {
    return InvalidArgument("tensor '" + std::string(kLdmClipTextPrefix) + "embeddings.position_embedding.weight' has " +
                           std::to_string(m->clip_->positions()) + " positions, expected at least " +
                           std::to_string(PromptChunks::kChunkLength) + " (one prompt chunk)");
  }
  m->conditioner_ = std::make_unique<TextConditioner>(m->clip_.get(), m->tokenizer_.get());
  // The VAE first: its latent channels are what the UNet must take and give back.
  const TensorIndex& vae_index = opts.vae_path.empty() ? m->index_ : m->vae_index_;
  SDR_ASSIGN_OR_RETURN(m->vae_, VaeDecoder::Load(vae_index, *m->backend_));
  // The encoder (img2img, inpainting) when the VAE has one; decoder-only files still load.
  if (HasTensorsUnder(vae_index, std::string(kLdmVaePrefix) + "encoder.")) {
    SDR_ASSIGN_OR_RETURN(m->vae_encoder_, VaeEncoder::Load(vae_index, *m->backend_));
  }
  if (!opts.taesd_path.empty()) {
    SDR_ASSIGN_OR_RETURN(m->taesd_, TaesdDecoder::Load(opts.taesd_path, *m->backend_));
  }
  UnetLoadOptions unet;
  unet.heads = m->info_.unet_heads;
  unet.context_dim = m->clip_->hidden();
  unet.latent_channels = m->vae_->latent_channels();
  // Inpainting UNets (9 input channels) read the mask and the masked image's latent too.
  if (m->info_.unet_in_channels == unet.latent_channels + 5) unet.extra_in_channels = 5;
  SDR_ASSIGN_OR_RETURN(m->unet_, UnetModel::Load(m->index_, *m->backend_, unet));
  return Status::Ok();
}

Result<std::unique_ptr<SdModel>> SdModel::Load(const SdModelOptions& opts) {
  auto m = std::unique_ptr<SdModel>(new (std::nothrow) SdModel());
  if (m == nullptr) return WithErrorCode(OutOfMemory("loading model: no memory for the model"), ErrorCode::kOutOfMemory);
  return Finish(opts, std::move(m), &LoadInto);
}

Result<std::unique_ptr<SdModel>> SdModel::FromIndex(TensorIndex index, const SdModelOptions& opts) {
  auto m = std::unique_ptr<SdModel>(new (std::nothrow) SdModel());
  if (m == nullptr) return WithErrorCode(OutOfMemory("loading model: no memory for the model"), ErrorCode::kOutOfMemory);
  m->index_ = std::move(index);
  return Finish(opts, std::move(m), &BuildFromIndex);
}

Result<std::unique_ptr<SdModel>> SdModel::Finish(const SdModelOptions& opts, std::unique_ptr<SdModel> m,
                                                 Status (*build)(const SdModelOptions&, SdModel*)) {
  Status s;
  try {
    s = build(opts, m.get());
  } catch (const std::bad_alloc&) {
    // Containers sized from a file (names, shapes, converted weights) allocate through the
    // standard library; a declared size that passes every check but not the allocator is an
    // out-of-memory, never a crash.
    s = OutOfMemory("an allocation failed (the model needs more memory than is available)");
  }
  if (!s.ok()) {
    s = TagLoadError(s.WithContext("loading model '" + opts.model_path + "'"), opts.model_path, opts.vae_path);
    // A missing TAESD file is a missing file as a missing model or VAE is (TagLoadError checks those two).
    std::error_code ec;
    if (ClassifyError(s) == ErrorCode::kModelLoadFailed && !opts.taesd_path.empty() &&
        !std::filesystem::exists(opts.taesd_path, ec)) {
      s = WithErrorCode(std::move(s), ErrorCode::kModelNotFound);
    }
    return s;
  }
  return m;
}

}  // namespace sdr

namespace sdr {

Result<std::shared_ptr<const LoraComponents>> SdModel::WithLoras(std::span<const LoraRequest> loras) const {
  std::vector<LoraRequest> active;
  std::string key;
  for (const LoraRequest& r : loras) {
    if (r.multiplier == 0.0f) continue;
    active.push_back(r);
    key += r.path + "*" + std::to_string(r.multiplier) + ";";
  }
  if (active.empty()) return std::shared_ptr<const LoraComponents>();
  std::lock_guard<std::mutex> lock(lora_mu_);
  for (size_t i = 0; i < lora_cache_.size(); ++i) {
    if (lora_cache_[i]->key == key) {
      auto hit = lora_cache_[i];
      lora_cache_.erase(lora_cache_.begin() + static_cast<std::ptrdiff_t>(i));
      lora_cache_.push_back(hit);
      return hit;
    }
  }
  std::vector<LoraFile> files;
  for (const LoraRequest& r : active) {
    auto f = ReadLoraFile(r.path);
    if (!f.ok()) return f.status();
    files.push_back(std::move(f).value());
  }
  std::vector<WeightedLora> weighted;
  auto c = std::make_shared<LoraComponents>();
  c->key = key;
  for (size_t i = 0; i < files.size(); ++i) {
    weighted.push_back({&files[i], active[i].multiplier});
    for (const std::string& k : files[i].unknown_keys) c->unknown_keys.push_back(files[i].path + ": " + k);
  }
  SDR_ASSIGN_OR_RETURN(MergedLoraIndex merged, MergeLoras(index_, weighted));
  c->merged_bytes = merged.bytes;
  c->merged_tensors = merged.tensors;
  auto clip = ClipTextModel::Load(merged.index, *backend_);
  if (!clip.ok()) return clip.status().WithContext("applying LoRAs");
  c->clip = std::move(clip).value();
  c->conditioner = std::make_unique<TextConditioner>(c->clip.get(), tokenizer_.get());
  UnetLoadOptions unet;
  unet.heads = info_.unet_heads;
  unet.context_dim = c->clip->hidden();
  unet.latent_channels = vae_->latent_channels();
  if (info_.unet_in_channels == unet.latent_channels + 5) unet.extra_in_channels = 5;
  auto u = UnetModel::Load(merged.index, *backend_, unet);
  if (!u.ok()) return u.status().WithContext("applying LoRAs");
  c->unet = std::move(u).value();
  if (!c->unknown_keys.empty()) {
    std::string list;
    for (size_t i = 0; i < c->unknown_keys.size() && i < 5; ++i) list += (i ? ", " : "") + c->unknown_keys[i];
    SDR_LOG_WARN("LoRA: {} tensor(s) match no SD 1.x layer and were not applied: {}{}", c->unknown_keys.size(), list,
                 c->unknown_keys.size() > 5 ? ", ..." : "");
  }
  SDR_LOG_INFO("LoRA set merged: {} tensors, {} MB", c->merged_tensors, c->merged_bytes >> 20);
  if (lora_cache_.size() >= kLoraCacheSets) lora_cache_.erase(lora_cache_.begin());
  lora_cache_.push_back(c);
  return std::shared_ptr<const LoraComponents>(c);
}

}  // namespace sdr
