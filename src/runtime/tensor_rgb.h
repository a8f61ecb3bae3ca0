// The one conversion of a decoded image (the VAE's or the TAESD's output) to 8-bit RGB, used for
// the final images (txt2img.cc), the CLI's preview PNG and the C API's preview callback.
//
// Thread-safety: a pure function.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace sdr {

// image: [1, 3, H, W] f32 in [0, 1] on the host -> *rgb: [H, W, 3] 8-bit, rounded (resized to fit).
inline void ImageTensorToRgb8(const Tensor& image, std::vector<uint8_t>* rgb) {
  const int64_t h = image.dim(2), w = image.dim(3);
  rgb->resize(static_cast<size_t>(h * w * 3));
  const float* img = image.data<float>();
  for (int64_t ch = 0; ch < 3; ++ch)
    for (int64_t i = 0; i < h * w; ++i)
      (*rgb)[static_cast<size_t>(i * 3 + ch)] = static_cast<uint8_t>(std::lround(img[ch * h * w + i] * 255.0f));
}

}  // namespace sdr
