// SdModel: everything one SD 1.x checkpoint needs for txt2img, loaded once: the tensor index
// (weights mmapped), the CLIP tokenizer and text encoder, the UNet and the VAE decoder.
//
// Ownership: owns its indexes and components; immutable after Load, so one SdModel may serve
// any number of generations and threads at once.
//
// Load checks everything the forward passes assume (every tensor present with the shape its layer
// needs, channel counts chaining from layer to layer) and refuses variants we do not run by name,
// so a wrong file gives one clear error and never reaches a kernel.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "models/clip/text_conditioner.h"
#include "models/clip/tokenizer_source.h"
#include "models/model_info.h"
#include "models/unet/unet_model.h"
#include "models/vae/vae_decoder.h"

namespace sdr {

struct SdModelOptions {
  std::string model_path;      // .safetensors / .ckpt / .gguf / diffusers folder (required)
  std::string vae_path;        // optional external VAE (with or without "first_stage_model." names)
  std::string tokenizer_path;  // optional CLIP merges (file or folder); "" = the model's own
                               // tokenizer/ folder, else the embedded vocabulary (tokenizer_source.h)
  std::string device = "auto";  // backend (backends/registry.h): auto, cpu, reference, cuda[:N]
  // What a GPU holds activations and weights in: "f16", "bf16" or "f32" (no TF32, for checking);
  // "" = SD_CUDA_PRECISION from the environment, else f16. Ignored by CPU backends.
  std::string cuda_precision;
};

class SdModel {
 public:
  SdModel(const SdModel&) = delete;
  SdModel& operator=(const SdModel&) = delete;

  // Errors are tagged with their ErrorCode (runtime/errors.h): ModelNotFound when a path does
  // not exist, OutOfMemory when an allocation fails, else ModelLoadFailed. Never throws.
  static Result<std::unique_ptr<SdModel>> Load(const SdModelOptions& opts);
  // The same checks and components over an index already open (opts.model_path only names it
  // and locates a tokenizer/ folder). Errors as Load's.
  static Result<std::unique_ptr<SdModel>> FromIndex(TensorIndex index, const SdModelOptions& opts);

  const ModelInfo& info() const { return info_; }
  const std::string& path() const { return path_; }
  const ClipTokenizer& tokenizer() const { return *tokenizer_; }
  const TokenizerSource& tokenizer_source() const { return tokenizer_source_; }
  const TextConditioner& conditioner() const { return *conditioner_; }
  const UnetModel& unet() const { SDR_CHECK(unet_ != nullptr); return *unet_; }
  // The backend the weights were prepared for (SdModelOptions::device).
  Backend& backend() const { return *backend_; }
  const std::shared_ptr<Backend>& backend_ptr() const { return backend_; }
  bool has_unet() const { return unet_ != nullptr; }

  // Single-shot use (SD_FREE_PARAMS): drops the UNet's weights, converted copies freed and
  // mmapped pages handed back to the OS, so the VAE decode runs with a lower peak. The model
  // cannot sample afterwards. Not thread-safe: only for a model no other thread is using.
  void ReleaseUnetWeights();
  const VaeDecoder& vae() const { return *vae_; }

  // Speed measured on this model, for timeout projections (txt2img.cc). Thread-safe; these are
  // observations, not state that changes what the model computes.
  // True once any UNet evaluation finished (its weights are paged in / converted).
  bool unet_warm() const { return unet_warm_.load(std::memory_order_relaxed); }
  void MarkUnetWarm() const { unet_warm_.store(true, std::memory_order_relaxed); }
  // The VAE decoder's last measured rate in FLOP/s (0 = never measured).
  double decode_flops_per_s() const { return decode_rate_.load(std::memory_order_relaxed); }
  void RecordDecodeRate(double flops_per_s) const { decode_rate_.store(flops_per_s, std::memory_order_relaxed); }

 private:
  SdModel() = default;
  static Status LoadInto(const SdModelOptions& opts, SdModel* m);
  static Status BuildFromIndex(const SdModelOptions& opts, SdModel* m);
  static Result<std::unique_ptr<SdModel>> Finish(const SdModelOptions& opts, std::unique_ptr<SdModel> m,
                                                 Status (*build)(const SdModelOptions&, SdModel*));

  std::string path_;
  std::shared_ptr<Backend> backend_;
  TensorIndex index_, vae_index_;
  ModelInfo info_;
  TokenizerSource tokenizer_source_;
  std::shared_ptr<const ClipTokenizer> tokenizer_;
  std::unique_ptr<ClipTextModel> clip_;
  std::unique_ptr<TextConditioner> conditioner_;
  std::unique_ptr<UnetModel> unet_;
  std::unique_ptr<VaeDecoder> vae_;
  mutable std::atomic<bool> unet_warm_{false};
  mutable std::atomic<double> decode_rate_{0};
};

}  // namespace sdr
