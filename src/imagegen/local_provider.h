// The local engine as a Provider: a loaded SdModel and a ContextPool of SD_MAX_CONCURRENT
// contexts. Requests take their unset engine settings from the configuration (SD_IMAGE_SIZE,
// SD_INFERENCE_STEPS, SD_GUIDANCE_SCALE, SD_SAMPLER, SD_SCHEDULER, SD_NEGATIVE_PROMPT, SD_VAE_TILING);
// every image comes back as PNG with A1111's "parameters" infotext (model name and hash included).
// Requests with an init image run as img2img (a mask: inpainting). With a TAESD decoder
// (SD_TAESD_PATH) the progress callback gets an image-sized TAESD preview every SD_PREVIEW_EVERY
// steps (ImageProgress::preview).
//
// Thread-safety: Generate may run on any number of threads; each borrows a context from the pool.
#pragma once

#include <future>

#include <memory>
#include <string>

#include "imagegen/provider.h"
#include "runtime/config.h"
#include "runtime/context.h"

namespace sdr {

class LocalProvider final : public Provider {
 public:
  // Loads config.model_path (+ vae_path, tokenizer_path, taesd_path) on config.device. Errors as SdModel::Load: tagged
  // model_not_found, model_load_failed or out_of_memory.
  static Result<std::unique_ptr<LocalProvider>> Load(const RuntimeConfig& config);
  // Over a model already loaded (tests, embedders).
  static Result<std::unique_ptr<LocalProvider>> Create(std::shared_ptr<const SdModel> model, const RuntimeConfig& config);
  ~LocalProvider() override;

  std::string_view name() const override { return "local"; }
  const ProviderCapabilities& capabilities() const override { return caps_; }
  Status Ready() const override;
  Result<ImageResult> Generate(const ImageRequest& request, const ImageProgressFn& progress, const CancelToken* cancel,
                               double timeout_s) override;

  // The GenerateParams a request becomes (unset fields from the configuration).
  GenerateParams ParamsFor(const ImageRequest& request) const;

 private:
  LocalProvider() = default;
  std::shared_ptr<const SdModel> model_;
  std::unique_ptr<ContextPool> pool_;
  GenerateParams defaults_;
  int preview_every_ = 0;  // TAESD previews every this many steps (SD_PREVIEW_EVERY); 0 = none (no TAESD)
  ProviderCapabilities caps_;
  std::string model_name_;
  std::shared_future<Result<std::string>> hash_;  // the model's short hash, computed from Create on
};

}  // namespace sdr
