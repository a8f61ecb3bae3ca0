// Fitting an input image (img2img init image, inpainting mask) to the generation size, as
// stable-diffusion.cpp's CLI does: when the size differs, first centre-crop to the target aspect
// ratio (the crop's width or height truncated to an integer, offsets (excess) / 2), then resize
// with a box filter (each output pixel the area-weighted mean of the input pixels it covers,
// over 8-bit values; stb's box filter, which sd.cpp uses, averages in linear light instead, so
// resized images can differ from its by a few levels), rounded to 8 bits. Same size: unchanged.
//
// Thread-safety: pure functions.
#pragma once

#include "core/result.h"
#include "runtime/rgb_image.h"
#include "core/tensor.h"

namespace sdr {

// img -> width x height. InvalidArgument for an empty or inconsistent image or target.
Result<RgbImage> FitImage(const RgbImage& img, int width, int height);

// img -> [1, 3, h, w] f32 in [0, 1] (value / 255), the VAE encoder's input.
Result<Tensor> ImageToTensor(const RgbImage& img);

}  // namespace sdr
