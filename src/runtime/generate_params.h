// GenerateParams: the settings of one text-to-image (or image-to-image) request, each with its default and range
// beside it. This is the one place those defaults live: the configuration table (SD_* variables,
// runtime/config.h), the CLI flags and the C API's sdr_generate_params_default() all start from
// GenerateParams{}.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "runtime/rgb_image.h"
#include "sampling/rng.h"
#include "sampling/sampler.h"
#include "sampling/schedule.h"

namespace sdr {

// A1111's inpainting_fill: what the masked area starts from before it is noised and denoised.
// original: the init image's latent; latent noise: the image's noise draw (the same draw that
// noises it, as A1111's create_random_tensors with the image's seed); latent nothing: zeros.
// fill (A1111 blurs the surrounding colours into the masked pixels) is not implemented.
enum class InpaintingFill { kFill = 0, kOriginal = 1, kLatentNoise = 2, kLatentNothing = 3 };

struct GenerateParams {
  std::string prompt;
  std::string negative_prompt;
  int width = 512;                              // pixels, multiple of 8, kMinSide..kMaxSide
  int height = 512;                             // pixels, multiple of 8, kMinSide..kMaxSide
  int steps = 20;                               // sampler steps, 1..kMaxSteps
  float cfg_scale = 7.5f;                       // classifier-free guidance, 0..kMaxCfg; 1 skips the uncond pass
  SamplerKind sampler = SamplerKind::kDpmpp2m;  // see sampling/sampler.h
  Scheduler scheduler = Scheduler::kDiscrete;   // sigma spacing
  int64_t seed = -1;                            // < 0: random (the seed used is reported)
  RngKind rng = RngKind::kCuda;                 // "cuda" Philox (A1111/sd.cpp default) or "cpu" mt19937
  int clip_skip = 1;                            // 1 = last CLIP layer, ..kMaxClipSkip
  int batch_count = 1;                          // images per request; image b uses seed + b
  bool vae_tiling = false;                      // decode in overlapping tiles (bounded memory)
  bool taesd_decode = false;                    // decode the final image with the model's TAESD (fast, rough)
  std::string dump_dir;                         // non-empty: write intermediate tensors as .npy (image 0)
  // LoRAs: "<lora:NAME:WEIGHT>" tags in the prompt (tokenizer/lora_tags.h) name NAME.safetensors
  // in this folder; the tags are removed from the text the encoder sees.
  std::string lora_dir;                         // "" = none (a prompt naming a LoRA is refused)
  // img2img: a non-empty init image is fitted to width x height (runtime/image_fit.h), encoded
  // by the VAE and noised to the first sigma of the partial schedule Img2ImgSigmas gives for
  // `strength` (sampling/schedule.h); every image of the batch starts from it.
  RgbImage init_image;                          // empty: text to image
  float strength = 0.75f;                       // img2img denoising strength, 0..1 (1: the whole schedule)
  // Inpainting (needs init_image): white = repaint, black = keep; any size, fitted like the init
  // image (runtime/inpaint_mask.h says how it becomes the latent blend mask).
  RgbImage mask;                                // empty: no inpainting
  int mask_blur = 0;                            // pixels, 0..kMaxMaskBlur; 0 = stable-diffusion.cpp (a hard mask);
                                                // > 0 = A1111 (Gaussian blur + final overlay on the init image)
  InpaintingFill inpainting_fill = InpaintingFill::kOriginal;  // with a mask: what the masked latent starts from

  static constexpr int kMinSide = 64;
  static constexpr int kMaxSide = 2048;
  static constexpr int kMaxSteps = 1000;
  static constexpr float kMaxCfg = 100.0f;
  static constexpr int kMaxClipSkip = 12;
  static constexpr int kMaxBatch = 64;
  static constexpr int kMaxMaskBlur = 64;       // pixels
};

// Defaults of the settings of a context pool (PoolOptions / ContextOptions, the SD_* table,
// sdr_pool_params_default), declared once here beside the per-request ones.
inline constexpr double kDefaultTimeoutSeconds = 120.0;  // per generation (SD_TIMEOUT_SECONDS)
inline constexpr int kDefaultMaxConcurrent = 2;          // contexts (SD_MAX_CONCURRENT)

// InvalidArgument naming the field when a setting is out of range (no heavy work done).
Status ValidateParams(const GenerateParams& p);

}  // namespace sdr
