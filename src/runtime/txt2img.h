// Text to image (and image to image) on a loaded SdModel: encode prompt and negative prompt, draw
// the initial noise (img2img: added to the encoded init image at the partial schedule's first
// sigma, see GenerateParams::init_image), run the sampler with classifier-free guidance over the eps-prediction denoiser, decode with
// the VAE, and return the image as floats and 8-bit RGB.
//
//   D(x, sigma) = x - sigma * eps,  eps = eps_u + cfg * (eps_c - eps_u)   (uncond skipped at cfg 1)
//   eps_* = UNet(x / sqrt(sigma^2 + 1), t(sigma), context)
//
// The guided pair runs as one batch-2 UNet evaluation when both prompts have as many 77-token
// chunks. Memory is planned before the first op: a dry run of every stage (text, one UNet
// evaluation, the decode) on the model's backend measures the activation arena the generation
// needs (MemoryPlan); a request that does not fit the memory budget or the device fails with
// OutOfMemory before any work, naming needed vs available bytes. On a GPU backend
// (BackendInfo::device_memory) such failures are tagged out_of_vram, the budget is the context's
// VRAM budget, and a whole-image VAE decode that would not fit the free VRAM is tiled instead.
// The UNet evaluation of each step runs through Executor::Captured (one CUDA graph, replayed).
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
  double text_s = 0, encode_s = 0, sampling_s = 0, decode_s = 0;  // encode_s: img2img's init image
  double preview_s = 0;  // TAESD previews (inside sampling_s)
  int previews = 0;
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
  // The TAESD decode of this step's denoised estimate, [1, 3, H, W] in [0, 1], when one was made
  // (GenerateControl::preview_every and a model loaded with a TAESD); else null. Valid during
  // the call only.
  const Tensor* preview = nullptr;
  double preview_s = 0;  // what decoding `preview` took (seconds; 0 without one)
};
using ProgressFn = std::function<bool(const StepProgress&)>;

class DeviceScratch;
struct OpProfile;

struct GenerateControl {
  ProgressFn progress;                // may be empty
  const RunControl* run = nullptr;    // cancel token + deadline, checked inside every stage
  std::function<void()> after_sampling;  // called once the last latent is sampled, before decoding
  DeviceScratch* scratch = nullptr;   // the context's stream and arena; null = a temporary one
  uint64_t memory_budget_bytes = 0;   // cap on the planned activation memory; 0 = none
  OpProfile* profile = nullptr;       // accumulate per-op timings (benchmarks); null = off
  int preview_every = 0;              // TAESD preview every N steps (needs SdModel::has_taesd); 0 = none
};

// Activation memory one generation needs, per stage (each includes what stays live through it,
// e.g. the text context during sampling); total = the arena reserved.
struct MemoryPlan {
  uint64_t text = 0, encode = 0, unet = 0, decode = 0;  // encode: img2img's VAE encoder (else 0)
  uint64_t total = 0;
  bool batched_cfg = false;  // the guided pair runs as one batch-2 evaluation
};

// Whether a GPU generation whose whole-image decode plan `whole` does not fit `available` bytes
// should decode in tiles (plan `tiled`) instead: when tiling lowers the plan.
bool UseVaeTiling(const MemoryPlan& whole, const MemoryPlan& tiled, uint64_t available);

// The dry run alone (no weights read, nothing computed): what Generate would reserve.
Result<MemoryPlan> PlanGeneration(const SdModel& model, const GenerateParams& params);

Result<GenerateResult> Generate(const SdModel& model, const GenerateParams& params,
                                const GenerateControl& control = {});

}  // namespace sdr
