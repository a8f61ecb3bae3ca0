#include "runtime/vae_tiling.h"

#include <algorithm>
#include <vector>

namespace sdr {
namespace {

// Tile starts along one axis of `size` latent pixels: every start but the last is a multiple
// of (tile - overlap); the last tile ends exactly at `size`.
std::vector<int64_t> TileStarts(int64_t size, int64_t tile, int64_t overlap) {
  std::vector<int64_t> starts;
  if (size <= tile) return {0};
  const int64_t stride = tile - overlap;
  for (int64_t s = 0;; s += stride) {
    if (s + tile >= size) {
      starts.push_back(size - tile);
      break;
    }
    starts.push_back(s);
  }
  return starts;
}

// Blend weight of output pixel `i` (image pixels) within a tile spanning [0, len) whose
// neighbours overlap it by `ramp` pixels on the sides that have a neighbour.
float Ramp(int64_t i, int64_t len, int64_t ramp_lo, int64_t ramp_hi) {
  float w = 1.0f;
  if (ramp_lo > 0 && i < ramp_lo) w = std::min(w, (static_cast<float>(i) + 0.5f) / static_cast<float>(ramp_lo));
  if (ramp_hi > 0 && i >= len - ramp_hi) {
    w = std::min(w, (static_cast<float>(len - i) - 0.5f) / static_cast<float>(ramp_hi));
  }
  return w;
}

// One decode of a host latent on `ex`.
Result<Tensor> DecodeOne(Executor& ex, const VaeDecoder& vae, const Tensor& latent) {
  SDR_ASSIGN_OR_RETURN(Act z, ex.Upload(latent));
  SDR_ASSIGN_OR_RETURN(Act img, vae.Decode(ex, z));
  return ex.Download(img);
}

}  // namespace

Result<Tensor> DecodeTiled(Executor& ex, const VaeDecoder& vae, const Tensor& latent, const VaeTilingOptions& opts) {
  if (opts.tile < 8 || opts.overlap < 0 || opts.overlap >= opts.tile) {
    return InvalidArgument("VAE tiling needs tile >= 8 and 0 <= overlap < tile");
  }
  const int64_t h = latent.dim(2), w = latent.dim(3);
  if (h <= opts.tile && w <= opts.tile) return DecodeOne(ex, vae, latent);
  const int64_t lc = latent.dim(1);
  const std::vector<int64_t> ys = TileStarts(h, opts.tile, opts.overlap), xs = TileStarts(w, opts.tile, opts.overlap);
  const int64_t th = std::min(opts.tile, h), tw = std::min(opts.tile, w);
  SDR_ASSIGN_OR_RETURN(Tensor acc, Tensor::Zeros(DType::kF32, {3, 8 * h, 8 * w}));
  SDR_ASSIGN_OR_RETURN(Tensor wsum, Tensor::Zeros(DType::kF32, {8 * h, 8 * w}));
  SDR_ASSIGN_OR_RETURN(Tensor tile, Tensor::Allocate(DType::kF32, {1, lc, th, tw}));
  float* pa = acc.mutable_data<float>();
  float* pw = wsum.mutable_data<float>();
  for (size_t yi = 0; yi < ys.size(); ++yi) {
    for (size_t xi = 0; xi < xs.size(); ++xi) {
      const int64_t y0 = ys[yi], x0 = xs[xi];
      float* pt = tile.mutable_data<float>();
      for (int64_t c = 0; c < lc; ++c)
        for (int64_t r = 0; r < th; ++r)
          std::copy_n(latent.data<float>() + (c * h + y0 + r) * w + x0, tw, pt + (c * th + r) * tw);
      SDR_ASSIGN_OR_RETURN(Tensor img, DecodeOne(ex, vae, tile));
      // Overlap with the neighbour on each side, in image pixels.
      const int64_t up = yi > 0 ? 8 * (ys[yi - 1] + th - y0) : 0;
      const int64_t down = yi + 1 < ys.size() ? 8 * (y0 + th - ys[yi + 1]) : 0;
      const int64_t left = xi > 0 ? 8 * (xs[xi - 1] + tw - x0) : 0;
      const int64_t right = xi + 1 < xs.size() ? 8 * (x0 + tw - xs[xi + 1]) : 0;
      const int64_t ih = 8 * th, iw = 8 * tw;
      const float* pi = img.data<float>();
      for (int64_t r = 0; r < ih; ++r) {
        const float wy = Ramp(r, ih, up, down);
        for (int64_t q = 0; q < iw; ++q) {
          const float wgt = wy * Ramp(q, iw, left, right);
          const int64_t o = (8 * y0 + r) * 8 * w + 8 * x0 + q;
          pw[o] += wgt;
          for (int64_t c = 0; c < 3; ++c) pa[c * 64 * h * w + o] += wgt * pi[(c * ih + r) * iw + q];
        }
      }
    }
  }
  const int64_t npix = 64 * h * w;
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < npix; ++i) pa[c * npix + i] /= pw[i];
  return acc.Reshaped({1, 3, 8 * h, 8 * w});
}

}  // namespace sdr
