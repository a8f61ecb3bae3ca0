// The image settings every API family shares, read from a request body and checked against
// RequestLimits (server_options.h) and the provider's capabilities, each error naming its field:
//
//   prompt            string, 1..max_prompt_bytes UTF-8 bytes (required)
//   negative_prompt   string, 0..max_prompt_bytes
//   steps             integer, 1..max_steps (absent: the server's default, SD_INFERENCE_STEPS)
//   cfg_scale         number, 0..100
//   seed              integer; negative = random
//   sampler           a sampler: "dpm++2m" or A1111's "DPM++ 2M"; A1111's old " Karras" suffix
//                     ("DPM++ 2M Karras") also sets the scheduler
//   scheduler         "discrete" / "Automatic", "karras" / "Karras"
//   clip_skip         integer, 1..12
//   width, height     integers, multiples of 8 in [min_side, max_side]; "size" is "WxH"
//   n                 integer, 1..max_n
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "imagegen/image_request.h"
#include "runtime/generate_params.h"
#include "server/json_fields.h"
#include "server/server_options.h"

namespace sdr {

// mask_blur (pixels) of an inpainting request that gives none: A1111's API default. Over 0 it also
// pastes the init image back outside the mask (runtime/inpaint_mask.h), so unmasked pixels stay.
inline constexpr int kDefaultServerMaskBlur = 4;

// The prompt field `name` (required: absent, null and "" are errors).
MaybeError ReadPrompt(const JsonFields& f, std::string_view name, const RequestLimits& limits, std::string* out);

// negative_prompt, steps, cfg_scale, seed, clip_skip, and the sampler / scheduler fields named
// `sampler_field` / "scheduler" into `r`.
MaybeError ReadEngineSettings(const JsonFields& f, const RequestLimits& limits, std::string_view sampler_field,
                              ImageRequest* r);

// One side: a multiple of 8 in [min_side, max_side].
MaybeError CheckSide(std::string_view field, int64_t value, const RequestLimits& limits);
// "WxH" (or "auto": the provider's default, width = height = 0).
MaybeError ParseSizeText(std::string_view field, std::string_view text, const RequestLimits& limits, int* width,
                         int* height);

// A sampler by our name or A1111's, with an optional trailing scheduler name ("DPM++ 2M Karras");
// the suffix sets r->scheduler unless `scheduler_given`.
MaybeError ParseSamplerName(std::string_view field, std::string_view name, bool scheduler_given, ImageRequest* r);

// The provider's own rules (cloud sizes, n) as a 400; after the checks above.
MaybeError CheckAgainstProvider(const ImageRequest& r, const ProviderCapabilities& caps);

// Unset fields become what the provider would use, so that jobs, events and answers show the
// real values: the default size (with an init image, its size: RequestedSize); with engine settings also steps, cfg_scale, sampler, scheduler,
// clip_skip and the negative prompt from `defaults` (the configuration's, ParamsFromConfig).
void ResolveDefaults(const ProviderCapabilities& caps, const GenerateParams& defaults, ImageRequest* r);

}  // namespace sdr
