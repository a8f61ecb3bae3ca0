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
#include "sampling/rng.h"
#include "sampling/sampler.h"
#include "sampling/schedule.h"

namespace sdr {

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
};

// InvalidArgument naming the field (and the allowed values) when `request` does not fit `caps`.
// Engine settings are range-checked even where they are ignored.
Status ValidateImageRequest(const ImageRequest& request, const ProviderCapabilities& caps);

// The size the provider will produce for `request` (its own or the default).
std::pair<int, int> RequestedSize(const ImageRequest& request, const ProviderCapabilities& caps);

}  // namespace sdr
