// A cheap live preview of a generation in progress: the sampler's current SD 1.x latent projected
// to RGB with the published linear latent->RGB factors (the "cheap approximation" A1111,
// ComfyUI and diffusers' callbacks use), no VAE:
//
//   rgb[c] = clamp((sum_l latent[l] * kFactors[l][c] + 1) / 2, 0, 1)
//
//   kFactors (rows: latent channels L1..L4, columns R, G, B)
//     [ 0.298,  0.207,  0.208]
//     [ 0.187,  0.286,  0.173]
//     [-0.158,  0.189,  0.264]
//     [-0.184, -0.271, -0.473]
//
// The preview has the latent's size (image / 8: 64x64 for 512x512), as a PNG; about a
// millisecond and a few KB, so it can go into every throttled progress event.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "core/result.h"
#include "imagegen/image_request.h"

namespace sdr {

// latent: 4 channels (other counts are refused: InvalidArgument). PNG bytes, latent-sized.
Result<std::string> LatentPreviewPng(const LatentView& latent);

// "data:image/png;base64,..." of LatentPreviewPng.
Result<std::string> LatentPreviewDataUri(const LatentView& latent);

}  // namespace sdr
