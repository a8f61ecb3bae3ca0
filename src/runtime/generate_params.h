// GenerateParams: the settings of one text-to-image request, each with its default and range
// beside it. This is the one place those defaults live: the configuration table (SD_* variables,
// runtime/config.h), the CLI flags and the C API's sdr_generate_params_default() all start from
// GenerateParams{}.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "sampling/rng.h"
#include "sampling/sampler.h"
#include "sampling/schedule.h"

namespace sdr {

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
  std::string dump_dir;                         // non-empty: write intermediate tensors as .npy (image 0)

  static constexpr int kMinSide = 64;
  static constexpr int kMaxSide = 2048;
  static constexpr int kMaxSteps = 1000;
  static constexpr float kMaxCfg = 100.0f;
  static constexpr int kMaxClipSkip = 12;
  static constexpr int kMaxBatch = 64;
};

// Defaults of the settings of a context pool (PoolOptions / ContextOptions, the SD_* table,
// sdr_pool_params_default), declared once here beside the per-request ones.
inline constexpr double kDefaultTimeoutSeconds = 120.0;  // per generation (SD_TIMEOUT_SECONDS)
inline constexpr int kDefaultMaxConcurrent = 2;          // contexts (SD_MAX_CONCURRENT)

// InvalidArgument naming the field when a setting is out of range (no heavy work done).
Status ValidateParams(const GenerateParams& p);

}  // namespace sdr
