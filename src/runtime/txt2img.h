// Text to image on a loaded SdModel: encode prompt and negative prompt, draw the initial noise,
// run the sampler with classifier-free guidance over the eps-prediction denoiser, decode with
// the VAE, and return the image as floats and 8-bit RGB.
//
//   D(x, sigma) = x - sigma * eps,  eps = eps_u + cfg * (eps_c - eps_u)   (uncond skipped at cfg 1)
//   eps_* = UNet(x / sqrt(sigma^2 + 1), t(sigma), context)
//
// Thread-safety: Generate only reads the model; concurrent calls are safe.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/run_control.h"
#include "runtime/generate_params.h"
#include "runtime/sd_model.h"

namespace sdr {

struct StageTimings {
  double text_s = 0, sampling_s = 0, decode_s = 0;
};

struct GeneratedImage {
  Tensor image;              // [1, 3, H, W] f32 in [0, 1]
  std::vector<uint8_t> rgb;  // [H, W, 3] 8-bit
  uint64_t seed = 0;         // the seed this image used
  // The image's own size (what the decoder produced; writers use this, never the request's).
  int width() const { return static_cast<int>(image.dim(3)); }
  int height() const { return static_cast<int>(image.dim(2)); }
};

struct GenerateResult {
  std::vector<GeneratedImage> images;  // batch_count images, in order
  uint64_t seed = 0;                   // the base seed actually used (image b: seed + b)
  StageTimings timings;                // summed over the batch
};

// Progress of one step. `latent` ([1, 4, H/8, W/8] values) is the sampler's current x, for
// previews. Return false to stop the generation (Cancelled).
struct StepProgress {
  int image = 0;       // index in the batch
  int step = 0;        // 1-based
  int total_steps = 0;
  double elapsed_s = 0;  // since the generation started
  std::span<const float> latent;
};
using ProgressFn = std::function<bool(const StepProgress&)>;

struct GenerateControl {
  ProgressFn progress;                // may be empty
  const RunControl* run = nullptr;    // cancel token + deadline, checked inside every stage
  std::function<void()> after_sampling;  // called once the last latent is sampled, before decoding
};

Result<GenerateResult> Generate(const SdModel& model, const GenerateParams& params,
                                const GenerateControl& control = {});

}  // namespace sdr
