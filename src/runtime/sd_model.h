// SdModel: everything one SD 1.x checkpoint needs for txt2img, loaded once: the tensor index
// (weights mmapped), the CLIP tokenizer and text encoder, the UNet, the VAE decoder and (when the
// file has one) the VAE encoder.
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
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "models/clip/text_conditioner.h"
#include "models/clip/tokenizer_source.h"
#include "models/lora/lora_merge.h"
#include "models/model_info.h"
#include "models/unet/unet_model.h"
#include "models/vae/vae_decoder.h"
#include "models/vae/taesd_decoder.h"
#include "models/vae/vae_encoder.h"

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
  std::string taesd_path;       // optional TAESD decoder (models/vae/taesd_decoder.h) for previews
};

// One LoRA of a generation: the file and its multiplier.
struct LoraRequest {
  std::string path;        // .safetensors (models/lora/lora_file.h: kohya or diffusers keys)
  float multiplier = 1.0f;
};

// The text encoder and UNet with a set of LoRAs merged (models/lora/lora_merge.h): every weight
// no LoRA touches is the base model's own (the same mmapped bytes), so the cost is the merged
// tensors (merged_bytes). Immutable; shared by every generation that asks for the same set.
struct LoraComponents {
  std::string key;                        // the set, "path*multiplier;..." in request order
  std::vector<std::string> unknown_keys;  // "file: key" of tensors no SD 1.x layer takes (reported)
  uint64_t merged_bytes = 0;
  int64_t merged_tensors = 0;
  std::unique_ptr<ClipTextModel> clip;
  std::unique_ptr<TextConditioner> conditioner;
  std::unique_ptr<UnetModel> unet;
};

class SdModel {
 public:
  // At most this many LoRA sets stay merged (least recently used goes first).
  static constexpr size_t kLoraCacheSets = 2;
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
  // An inpainting UNet (9 input channels): generations need an init image and a mask.
  bool is_inpainting() const { return info_.unet_in_channels == 9; }

  // The stages of a generation whose weights are read in place from the model file.
  enum class Stage { kText, kUnet, kVae };
  // Hands the file pages `stage`'s weights were read from back to the OS once a generation is done
  // with that stage (text encoder after the text encode, UNet before the decode, VAE after it),
  // when that generation is the only one running on this model: the process then holds one
  // stage's weights at a time, so its peak is the largest stage, not their sum. The pages stay
  // in the page cache; the next use maps them again (minor faults, no disk read, same values).
  // Weights converted into owned memory (other backends, LoRA merges) are untouched. Thread-safe.
  void ReleaseStagePages(Stage stage) const;
  // Counts the generations running on this model for ReleaseStagePages (held for the duration
  // of Generate).
  class GenerationScope {
   public:
    explicit GenerationScope(const SdModel& m) : m_(m) { m_.generations_.fetch_add(1, std::memory_order_relaxed); }
    ~GenerationScope() { m_.generations_.fetch_sub(1, std::memory_order_relaxed); }
    GenerationScope(const GenerationScope&) = delete;
    GenerationScope& operator=(const GenerationScope&) = delete;

   private:
    const SdModel& m_;
  };

  // Single-shot use (SD_FREE_PARAMS): drops the UNet's weights, converted copies freed and
  // mmapped pages handed back to the OS, so the VAE decode runs with a lower peak. The model
  // cannot sample afterwards. Not thread-safe: only for a model no other thread is using.
  void ReleaseUnetWeights();
  const VaeDecoder& vae() const { return *vae_; }

  // The components with `loras` merged, built on first use and cached (kLoraCacheSets sets).
  // Multiplier-0 entries are dropped; an empty set gives null (use the base components).
  // Errors: NotFound naming a missing file, InvalidArgument for a file that is no SD 1.x LoRA.
  // Thread-safe (building holds a lock; concurrent users of one set share it).
  Result<std::shared_ptr<const LoraComponents>> WithLoras(std::span<const LoraRequest> loras) const;
  // The TAESD preview decoder, when SdModelOptions::taesd_path named one.
  bool has_taesd() const { return taesd_ != nullptr; }
  const TaesdDecoder& taesd() const { SDR_CHECK(taesd_ != nullptr); return *taesd_; }
  // The VAE encoder (img2img, inpainting); absent when the VAE file holds only a decoder.
  bool has_vae_encoder() const { return vae_encoder_ != nullptr; }
  const VaeEncoder& vae_encoder() const { SDR_CHECK(vae_encoder_ != nullptr); return *vae_encoder_; }

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
  void ReleasePagesUnder(const char* prefix) const;
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
  std::unique_ptr<VaeEncoder> vae_encoder_;  // null for a decoder-only VAE
  std::unique_ptr<TaesdDecoder> taesd_;      // null unless asked for
  mutable std::atomic<bool> unet_warm_{false};
  mutable std::atomic<double> decode_rate_{0};
  mutable std::atomic<int> generations_{0};  // GenerationScope
  mutable std::mutex lora_mu_;
  mutable std::vector<std::shared_ptr<const LoraComponents>> lora_cache_;  // most recent last
};

}  // namespace sdr
