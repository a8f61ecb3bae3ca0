// The AUTOMATIC1111 web UI's API as the server speaks it (/sdapi/v1/...):
//
//   POST txt2img  {prompt, negative_prompt, steps, cfg_scale, width, height, sampler_name (or
//                 sampler_index), scheduler, seed, batch_size, n_iter, override_settings:
//                 {CLIP_stop_at_last_layers}, send_images} (others ignored)
//                 -> {images: [base64 PNG], parameters: {the request, defaults filled in},
//                     info: JSON text {prompt, all_prompts, negative_prompt, all_negative_prompts,
//                     seed, all_seeds, subseed, all_subseeds, width, height, sampler_name,
//                     cfg_scale, steps, batch_size, n_iter, clip_skip, infotexts, job_timestamp, ...}}
//                 batch_size * n_iter images in all (at most max_n), seeds seed, seed + 1, ...
//   POST img2img  txt2img's fields and init_images: [one base64 PNG, a data: URI too],
//                 denoising_strength (0..1, default 0.75), mask (base64 PNG, white = repaint; its
//                 grey level, alpha ignored), mask_blur (pixels, 0..64, default 4 as A1111),
//                 inpainting_fill (1 original, the default; 2 latent noise; 3 latent nothing; 0 fill
//                 is refused by name), inpainting_mask_invert (0/1); without width and
//                 height the output takes the init image's size (multiples of 8). Others
//                 (resize_mode, inpaint_full_res, ...) are ignored: the init image is centre-cropped
//                 to the output's aspect and resized (runtime/image_fit.h).
//                 -> as txt2img; parameters add denoising_strength, mask_blur, inpainting_fill,
//                 inpainting_mask_invert, and init_images / mask as null (as A1111 answers)
//   GET progress  {progress, eta_relative, state {skipped, interrupted, job, job_count,
//                 job_timestamp, job_no, sampling_step, sampling_steps}, current_image, textinfo}
//   POST png-info {image: base64 PNG (a data: URI too)} -> {info, items: {chunk: text},
//                 parameters: {Prompt, Negative prompt, Steps, Sampler, ..., Size-1, Size-2}}
//   GET samplers, schedulers, sd-models, options: lists in A1111's shapes.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/job.h"
#include "server/limits.h"

namespace sdr {

struct A1111Request {
  ImageRequest image;
  int batch_size = 1;
  int n_iter = 1;
  bool send_images = true;
  bool img2img = false;                 // came from /img2img
  bool inpainting_mask_invert = false;  // the mask in `image` is already inverted
};

MaybeError ParseA1111Txt2Img(std::string_view body, const RequestLimits& limits, const ProviderCapabilities& caps,
                             const GenerateParams& defaults, A1111Request* out);
// txt2img's fields and the images: init_images, denoising_strength, mask, ... (above).
MaybeError ParseA1111Img2Img(std::string_view body, const RequestLimits& limits, const ProviderCapabilities& caps,
                             const GenerateParams& defaults, A1111Request* out);

// The answer of txt2img and img2img.
nlohmann::json A1111ImagesResponse(const A1111Request& request, const JobSnapshot& s);

// The running job `s` (or none), and how many are queued besides.
nlohmann::json A1111ProgressResponse(const JobSnapshot* running, const std::string& job_id, int job_count,
                                     bool skip_current_image);

// Body {image} -> the answer, or a 400 naming "image".
MaybeError A1111PngInfo(std::string_view body, const RequestLimits& limits, nlohmann::json* out);

nlohmann::json A1111Samplers();
nlohmann::json A1111Schedulers();
nlohmann::json A1111SdModels(const std::string& model_name, std::string_view provider);
nlohmann::json A1111Options(const std::string& model_name, const GenerateParams& defaults);

}  // namespace sdr
