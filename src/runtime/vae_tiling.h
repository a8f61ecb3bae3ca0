// Tiled VAE decoding: the latent is cut into overlapping tiles, each decoded on its own, and
// the decoded tiles are blended with linear ramps across the overlaps. Peak memory is bounded
// by the tile size instead of the image size; the seams are invisible because every output
// pixel near a border is a weighted mix of two decodes of the same content.
#pragma once

#include "backends/executor.h"
#include "models/vae/vae_decoder.h"

namespace sdr {

struct VaeTilingOptions {
  int64_t tile = 32;     // latent pixels per tile side (256 image pixels)
  int64_t overlap = 8;   // latent pixels shared by neighbouring tiles
};

// latent: [1, C, h, w] host -> [1, 3, 8h, 8w] host, each tile decoded on `ex` (so the arena
// holds one tile's activations). Latents no larger than one tile decode untiled.
Result<Tensor> DecodeTiled(Executor& ex, const VaeDecoder& vae, const Tensor& latent, const VaeTilingOptions& opts = {});

}  // namespace sdr
