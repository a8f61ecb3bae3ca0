// SdModel: everything one SD 1.x checkpoint needs for txt2img, loaded once: the tensor index
// (weights mmapped), the CLIP tokenizer and text encoder, the UNet and the VAE decoder.
//
// Ownership: owns its indexes and components; immutable after Load, so one SdModel may serve
// any number of generations and threads at once.
#pragma once

#include <memory>
#include <string>

#include "models/clip/text_conditioner.h"
#include "models/model_info.h"
#include "models/unet/unet_model.h"
#include "models/vae/vae_decoder.h"

namespace sdr {

struct SdModelOptions {
  std::string model_path;      // .safetensors / .ckpt / .gguf / diffusers folder (required)
  std::string vae_path;        // optional external VAE (with or without "first_stage_model." names)
  std::string tokenizer_path;  // optional CLIP merges (file or folder); see tokenizer_source.h
};

class SdModel {
 public:
  static Result<std::unique_ptr<SdModel>> Load(const SdModelOptions& opts);

  const ModelInfo& info() const { return info_; }
  const std::string& path() const { return path_; }
  const ClipTokenizer& tokenizer() const { return *tokenizer_; }
  const TextConditioner& conditioner() const { return *conditioner_; }
  const UnetModel& unet() const { SDR_CHECK(unet_ != nullptr); return *unet_; }
  bool has_unet() const { return unet_ != nullptr; }

  // Single-shot use (SD_FREE_PARAMS): drops the UNet's weights, converted copies freed and
  // mmapped pages handed back to the OS, so the VAE decode runs with a lower peak. The model
  // cannot sample afterwards. Not thread-safe: only for a model no other thread is using.
  void ReleaseUnetWeights();
  const VaeDecoder& vae() const { return *vae_; }

 private:
  std::string path_;
  TensorIndex index_, vae_index_;
  ModelInfo info_;
  std::unique_ptr<ClipTokenizer> tokenizer_;
  std::unique_ptr<ClipTextModel> clip_;
  std::unique_ptr<TextConditioner> conditioner_;
  std::unique_ptr<UnetModel> unet_;
  std::unique_ptr<VaeDecoder> vae_;
};

}  // namespace sdr
