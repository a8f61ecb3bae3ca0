// The request and result types of the Generator (generator.h), shared by every provider (the
// local engine, OpenAI, Azure OpenAI) and meant to be served as they are by an HTTP server:
// OpenAI's {prompt, n, size} and A1111's {prompt, negative_prompt, steps, cfg_scale, sampler_name,
// scheduler, seed, batch_size, clip_skip} both map onto ImageRequest, and every image comes back
// as checked PNG bytes with its decoded size.
//
// Engine settings (negative prompt, steps, cfg, sampler, scheduler, seed, rng, clip skip) are honoured
// by providers whose capabilities say `engine_settings`; the cloud providers ignore them (their
// APIs have no such fields), so one request works against any provider.
//
// Image to image (A1111 img2img, OpenAI images/edits): a decoded init image, the denoising
// strength, and for inpainting a mask (white = repaint). Only providers whose capabilities say
// `image_input` take them; the others refuse such a request (invalid_params naming init_image).
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "runtime/generate_params.h"
#include "runtime/rgb_image.h"
#include "sampling/rng.h"
#include "sampling/sampler.h"
#include "sampling/schedule.h"

namespace sdr {

// InpaintingFill (runtime/generate_params.h) as A1111 names it; fill (0) is refused by name.
std::string_view ToString(InpaintingFill fill);  // "fill", "original", "latent noise", "latent nothing"

struct ImageRequest {
  std::string prompt;                  // required, non-empty (UTF-8)
  std::string negative_prompt;         // "" = the provider's default (local: SD_NEGATIVE_PROMPT)
  int width = 0;                       // pixels; 0 (with height 0) = the provider's default size
  int height = 0;                      // pixels; local: SD_IMAGE_SIZE, cloud: capabilities.default_size
  int n = 1;                           // images, 1..capabilities.max_n (A1111 batch_size, OpenAI n)
  int steps = 0;                       // 0 = the provider's default (SD_INFERENCE_STEPS)
  float cfg_scale = 0;                 // 0 = the provider's default (SD_GUIDANCE_SCALE)
  std::optional<SamplerKind> sampler;  // unset = SD_SAMPLER
  std::optional<Scheduler> scheduler;  // unset = SD_SCHEDULER
  int64_t seed = -1;                   // < 0: random (local reports the seed used)
  std::optional<RngKind> rng;          // unset = "cuda" (A1111's GPU noise)
  int clip_skip = 0;                   // 0 = 1 (last CLIP layer)

  // img2img: empty = text to image. Any size: fitted to the output size (runtime/image_fit.h);
  // with no size given, the output takes the init image's size (RequestedSize).
  RgbImage init_image;
  float strength = GenerateParams{}.strength;  // denoising strength, 0..1 (A1111 denoising_strength); 1 = the whole schedule
  // Inpainting (needs init_image): white = repaint, black = keep; any size, fitted like init_image.
  RgbImage mask;                       // empty: no inpainting
  int mask_blur = 0;                   // pixels, 0..GenerateParams::kMaxMaskBlur (generate_params.h says how)
  InpaintingFill inpainting_fill = InpaintingFill::kOriginal;  // what the masked area starts from

  bool has_init_image() const { return !init_image.empty(); }
};

struct GeneratedPng {
  std::string png;             // PNG bytes, checked to decode before they are returned
  int width = 0;               // pixels, as decoded (never the request's)
  int height = 0;              // pixels, as decoded
  int64_t seed = -1;           // the seed this image used; -1 when the provider does not say (cloud)
  std::string infotext;        // A1111 "parameters" text (also inside the PNG); "" for cloud images
  std::string revised_prompt;  // the prompt the provider actually used (dall-e-3), else ""
};

struct ImageResult {
  std::vector<GeneratedPng> images;  // n images, in order
  std::string provider;              // "local", "openai", "azure"
  std::string model;                 // local: the model file's stem; cloud: model or deployment
  std::string request_id;            // cloud: the support id of the answering request; else ""
  int attempts = 1;                  // HTTP attempts of the image request (cloud); 1 for local
  double seconds = 0;                // wall time inside the provider
};

// The sampler's current latent, for live previews: a view into the engine's buffer, valid only
// during the progress call (nothing is copied; copy what you keep). Empty for cloud providers.
struct LatentView {
  std::span<const float> data;  // [channels, height, width], channel-major, in the sampler's scale
  int channels = 0;             // 4 for SD 1.x
  int height = 0;               // latent pixels: image height / 8
  int width = 0;                // latent pixels: image width / 8
  bool empty() const { return data.empty(); }
};

// Progress of one local sampler step; cloud providers report one step (1 of 1) per answered
// request. Return false to stop the generation (Cancelled).
struct ImageProgress {
  int image = 0;        // index in the batch
  int step = 0;         // 1-based
  int total_steps = 0;
  double elapsed_s = 0;  // since the provider call began
  LatentView latent;     // local provider only; empty otherwise
  // The TAESD decode of this step's denoised estimate, image-sized: made by a local provider
  // loaded with a TAESD decoder (SD_TAESD_PATH) every SD_PREVIEW_EVERY steps; null otherwise.
  // Valid during the call only.
  const RgbImage* preview = nullptr;
  double preview_ms = 0;  // what decoding `preview` cost
};
using ImageProgressFn = std::function<bool(const ImageProgress&)>;

// What a provider accepts, for validation and for clients (a server's /models, /samplers, ...).
struct ProviderCapabilities {
  std::vector<std::pair<int, int>> sizes;  // the (width, height) accepted; empty = any multiple of 8
  int min_side = 64;                       // pixels, when `sizes` is empty
  int max_side = 2048;                     // pixels, when `sizes` is empty
  std::pair<int, int> default_size{512, 512};
  int max_n = 1;                           // images per request
  bool engine_settings = false;            // honours steps, cfg, sampler, scheduler, seed, negative, clip skip
  std::vector<std::string> samplers;       // names SamplerKind parses (engine_settings only)
  std::vector<std::string> schedulers;     // names Scheduler parses (engine_settings only)
  int max_steps = 0;                       // engine_settings only
  bool image_input = false;                // takes init_image, strength and mask (img2img, inpainting)
  int preview_every = 0;                   // steps between image-sized previews (ImageProgress::preview); 0 = none
};

// InvalidArgument naming the field (and the allowed values) when `request` does not fit `caps`.
// Engine settings are range-checked even where they are ignored.
Status ValidateImageRequest(const ImageRequest& request, const ProviderCapabilities& caps);
// The image-to-image part of it: init_image, mask, strength, mask_blur, inpainting_fill.
Status ValidateImageInput(const ImageRequest& request, const ProviderCapabilities& caps);

// The size the provider will produce for `request`: its own; else, with an init image, the init
// image's size with each side rounded down to a multiple of 8 and clamped to the provider's
// [min_side, max_side] (or the default size where the provider has a fixed list); else the default.
std::pair<int, int> RequestedSize(const ImageRequest& request, const ProviderCapabilities& caps);

}  // namespace sdr
