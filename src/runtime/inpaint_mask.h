// Inpainting masks (white = repaint, black = keep), turned into what sampling needs, as
// stable-diffusion.cpp and A1111 do:
//   pixel mask   the mask image fitted to the generation size (runtime/image_fit.h), grey level
//                = stb's luma (77 R + 150 G + 29 B) >> 8, / 255; blurred when blur > 0 (A1111's
//                mask_blur: a separable Gaussian, sigma = blur px, kernel 2 * int(2.5 blur + 0.5) + 1,
//                borders reflected as OpenCV's default); used for the final overlay
//   binary mask  round(pixel mask): 1 = repaint
//   latent mask  [1, 1, H/8, W/8]: 1 where any pixel of the 8x8 block is repaint (sd.cpp's
//                "nearest-max" resize); the denoiser's output is blended with the clean init
//                latent through it after every call: D = D * m + init * (1 - m)
// Inpainting UNets (9 input channels) get the latent mask dilated by a 3x3 max-pool for the
// blend (sd.cpp), and as extra input channels the latent mask (undilated) and the latent of the
// masked image ((1 - binary) * (image - 0.5) + 0.5: repaint pixels grey).
//
// Thread-safety: pure functions.
#pragma once

#include "core/result.h"
#include "core/tensor.h"
#include "runtime/rgb_image.h"

namespace sdr {

struct InpaintMask {
  Tensor pixel;   // [1, 1, H, W] in [0, 1]: the fitted (and blurred) mask
  Tensor binary;  // [1, 1, H, W] in {0, 1}
  Tensor latent;  // [1, 1, H/8, W/8] in {0, 1}
  int blur = 0;   // pixels; > 0: the final image is the overlay init * (1 - pixel) + generated * pixel
};

// mask: any size (fitted to width x height, multiples of 8). InvalidArgument for an empty mask.
Result<InpaintMask> MakeInpaintMask(const RgbImage& mask, int width, int height, int blur);

// [1, 1, h, w] -> 3x3 max-pool, stride 1, padding 1.
Result<Tensor> DilateMask(const Tensor& latent_mask);

// image [1, 3, H, W] in [0, 1] with repaint pixels set to 0.5 (grey).
Result<Tensor> MaskedImage(const Tensor& image, const InpaintMask& mask);

// rgb [H, W, 3] of the generated image := init * (1 - pixel) + generated * pixel (rounded), when
// mask.blur > 0 (A1111's overlay); unchanged otherwise. init: [1, 3, H, W] in [0, 1].
void OverlayInit(const Tensor& init, const InpaintMask& mask, Tensor* image);

}  // namespace sdr
