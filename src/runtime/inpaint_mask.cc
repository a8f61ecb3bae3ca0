#include "runtime/inpaint_mask.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/image_fit.h"

namespace sdr {
namespace {

// OpenCV's BORDER_REFLECT_101: ... 2 1 | 0 1 2 ... n-1 | n-2 ...
int Reflect101(int i, int n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

// In place, separable Gaussian over an h x w plane.
void GaussianBlur(std::vector<float>& v, int w, int h, float sigma) {
  const int k = 2 * static_cast<int>(2.5f * sigma + 0.5f) + 1, r = k / 2;
  std::vector<float> kern(static_cast<size_t>(k));
  float sum = 0;
  for (int i = 0; i < k; ++i) sum += kern[static_cast<size_t>(i)] = std::exp(-0.5f * (i - r) * (i - r) / (sigma * sigma));
  for (float& x : kern) x /= sum;
  std::vector<float> tmp(v.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float a = 0;
      for (int i = 0; i < k; ++i) a += kern[static_cast<size_t>(i)] * v[static_cast<size_t>(y * w + Reflect101(x + i - r, w))];
      tmp[static_cast<size_t>(y * w + x)] = a;
    }
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float a = 0;
      for (int i = 0; i < k; ++i) a += kern[static_cast<size_t>(i)] * tmp[static_cast<size_t>(Reflect101(y + i - r, h) * w + x)];
      v[static_cast<size_t>(y * w + x)] = a;
    }
}

}  // namespace

Result<InpaintMask> MakeInpaintMask(const RgbImage& mask, int width, int height, int blur) {
  if (width % 8 != 0 || height % 8 != 0) return InvalidArgument("mask size must be a multiple of 8");
  if (blur < 0 || blur > 64) return InvalidArgument("mask_blur " + std::to_string(blur) + " must be in [0, 64] pixels");
  auto fitted = FitImage(mask, width, height);
  if (!fitted.ok()) return fitted.status().WithContext("mask");
  const size_t n = static_cast<size_t>(width) * static_cast<size_t>(height);
  std::vector<float> grey(n);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = &fitted->rgb[i * 3];
    grey[i] = static_cast<float>((77 * p[0] + 150 * p[1] + 29 * p[2]) >> 8) / 255.0f;
  }
  if (blur > 0) GaussianBlur(grey, width, height, static_cast<float>(blur));
  InpaintMask m;
  m.blur = blur;
  SDR_ASSIGN_OR_RETURN(m.pixel, Tensor::Allocate(DType::kF32, {1, 1, height, width}));
  SDR_ASSIGN_OR_RETURN(m.binary, Tensor::Allocate(DType::kF32, {1, 1, height, width}));
  const int lh = height / 8, lw = width / 8;
  SDR_ASSIGN_OR_RETURN(m.latent, Tensor::Zeros(DType::kF32, {1, 1, lh, lw}));
  float* pix = m.pixel.mutable_data<float>();
  float* bin = m.binary.mutable_data<float>();
  float* lat = m.latent.mutable_data<float>();
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const size_t i = static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x);
      pix[i] = std::clamp(grey[i], 0.0f, 1.0f);
      bin[i] = std::round(pix[i]);
      float& l = lat[(y / 8) * lw + x / 8];
      l = std::max(l, bin[i]);
    }
  return m;
}

Result<Tensor> DilateMask(const Tensor& latent_mask) {
  const int64_t h = latent_mask.dim(2), w = latent_mask.dim(3);
  SDR_ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(DType::kF32, latent_mask.shape()));
  const float* in = latent_mask.data<float>();
  float* o = out.mutable_data<float>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      float v = 0;
      for (int64_t dy = -1; dy <= 1; ++dy)
        for (int64_t dx = -1; dx <= 1; ++dx) {
          const int64_t yy = y + dy, xx = x + dx;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w) v = std::max(v, in[yy * w + xx]);
        }
      o[y * w + x] = v;
    }
  return out;
}

Result<Tensor> MaskedImage(const Tensor& image, const InpaintMask& mask) {
  const int64_t hw = image.dim(2) * image.dim(3);
  if (mask.binary.numel() != hw) return InvalidArgument("mask and image sizes differ");
  SDR_ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(DType::kF32, image.shape()));
  const float* in = image.data<float>();
  const float* m = mask.binary.data<float>();
  float* o = out.mutable_data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < hw; ++i) o[c * hw + i] = (1.0f - m[i]) * (in[c * hw + i] - 0.5f) + 0.5f;
  return out;
}

void OverlayInit(const Tensor& init, const InpaintMask& mask, Tensor* image) {
  if (mask.blur <= 0) return;
  const int64_t hw = image->dim(2) * image->dim(3);
  const float* a = init.data<float>();
  const float* m = mask.pixel.data<float>();
  float* o = image->mutable_data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < hw; ++i) o[c * hw + i] = a[c * hw + i] * (1.0f - m[i]) + o[c * hw + i] * m[i];
}

}  // namespace sdr
