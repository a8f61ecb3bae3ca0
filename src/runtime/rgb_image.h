// RgbImage: an 8-bit RGB picture on the host, the form input images (img2img init images,
// inpainting masks) take between the PNG reader, the C API and a generation.
//
//   RgbImage img{w, h, std::vector<uint8_t>(w * h * 3)};  // rgb: [h, w, 3], row-major
//
// Value type; no shared state.
#pragma once

#include <cstdint>
#include <vector>

namespace sdr {

inline constexpr int kMaxInputImageSide = 16384;  // pixels; larger input images are refused

struct RgbImage {
  int width = 0;              // pixels
  int height = 0;             // pixels
  std::vector<uint8_t> rgb;   // [height, width, 3]
  bool empty() const { return width <= 0 || height <= 0; }
  bool valid() const {
    return !empty() && rgb.size() == static_cast<size_t>(width) * static_cast<size_t>(height) * 3;
  }
};

}  // namespace sdr
