#include "runtime/image_fit.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace sdr {
namespace {

// Per output index: the input indices [first, first + weights.size()) it covers and their
// overlap weights (summing to 1). in_size input pixels map onto out_size output pixels.
struct Taps {
  std::vector<int> first;
  std::vector<std::vector<double>> weights;
};

Taps BoxTaps(int in_size, int out_size) {
  Taps t;
  const double scale = static_cast<double>(in_size) / out_size;
  for (int o = 0; o < out_size; ++o) {
    const double a = o * scale, b = (o + 1) * scale;
    const int lo = static_cast<int>(std::floor(a));
    const int hi = std::min(in_size, static_cast<int>(std::ceil(b)));
    std::vector<double> w;
    for (int i = lo; i < hi; ++i) w.push_back((std::min<double>(b, i + 1) - std::max<double>(a, i)) / scale);
    t.first.push_back(lo);
    t.weights.push_back(std::move(w));
  }
  return t;
}

}  // namespace

Result<RgbImage> FitImage(const RgbImage& img, int width, int height) {
  if (!img.valid()) {
    return InvalidArgument("input image is empty or its pixel data does not match " + std::to_string(img.width) + "x" +
                           std::to_string(img.height));
  }
  if (width <= 0 || height <= 0) return InvalidArgument("target size must be positive");
  if (img.width == width && img.height == height) return img;
  // Centre crop to the target aspect ratio (stable-diffusion.cpp's load_image_from_file).
  const float dst_aspect = static_cast<float>(width) / static_cast<float>(height);
  const float src_aspect = static_cast<float>(img.width) / static_cast<float>(img.height);
  int cx = 0, cy = 0, cw = img.width, ch = img.height;
  if (src_aspect > dst_aspect) {
    cw = std::max(1, static_cast<int>(static_cast<float>(img.height) * dst_aspect));
    cx = (img.width - cw) / 2;
  } else if (src_aspect < dst_aspect) {
    ch = std::max(1, static_cast<int>(static_cast<float>(img.width) / dst_aspect));
    cy = (img.height - ch) / 2;
  }
  const Taps tx = BoxTaps(cw, width), ty = BoxTaps(ch, height);
  RgbImage out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double acc[3] = {0, 0, 0};
      for (size_t j = 0; j < ty.weights[static_cast<size_t>(y)].size(); ++j) {
        const int sy = cy + ty.first[static_cast<size_t>(y)] + static_cast<int>(j);
        const double wy = ty.weights[static_cast<size_t>(y)][j];
        for (size_t i = 0; i < tx.weights[static_cast<size_t>(x)].size(); ++i) {
          const int sx = cx + tx.first[static_cast<size_t>(x)] + static_cast<int>(i);
          const double w = wy * tx.weights[static_cast<size_t>(x)][i];
          const uint8_t* p = &img.rgb[(static_cast<size_t>(sy) * static_cast<size_t>(img.width) + static_cast<size_t>(sx)) * 3];
          for (int c = 0; c < 3; ++c) acc[c] += w * p[c];
        }
      }
      uint8_t* q = &out.rgb[(static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * 3];
      for (int c = 0; c < 3; ++c) q[c] = static_cast<uint8_t>(std::clamp(std::lround(acc[c]), 0L, 255L));
    }
  }
  return out;
}

Result<Tensor> ImageToTensor(const RgbImage& img) {
  if (!img.valid()) return InvalidArgument("input image is empty or inconsistent");
  const int64_t h = img.height, w = img.width;
  SDR_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kF32, {1, 3, h, w}));
  float* out = t.mutable_data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < h * w; ++i) out[c * h * w + i] = img.rgb[static_cast<size_t>(i * 3 + c)] / 255.0f;
  return t;
}

}  // namespace sdr
