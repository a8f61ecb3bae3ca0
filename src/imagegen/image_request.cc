#include "imagegen/image_request.h"

#include <algorithm>
#include <cmath>

#include "runtime/generate_params.h"

namespace sdr {
namespace {

std::string SizeText(int w, int h) { return std::to_string(w) + "x" + std::to_string(h); }

std::string SizesText(const std::vector<std::pair<int, int>>& sizes) {
  std::string s;
  for (const auto& [w, h] : sizes) s += (s.empty() ? "" : ", ") + SizeText(w, h);
  return s;
}

std::string ImageText(const RgbImage& img) {
  return std::to_string(img.width) + "x" + std::to_string(img.height) + " (" + std::to_string(img.rgb.size()) +
         " bytes)";
}

}  // namespace

std::string_view ToString(InpaintingFill fill) {
  switch (fill) {
    case InpaintingFill::kFill: return "fill";
    case InpaintingFill::kOriginal: return "original";
    case InpaintingFill::kLatentNoise: return "latent noise";
    case InpaintingFill::kLatentNothing: return "latent nothing";
  }
  return "unknown";
}

std::pair<int, int> RequestedSize(const ImageRequest& r, const ProviderCapabilities& caps) {
  if (r.width != 0 || r.height != 0) return {r.width, r.height};
  if (!r.has_init_image() || !caps.sizes.empty()) return caps.default_size;
  const auto side = [&](int v) { return std::clamp(v / 8 * 8, caps.min_side, caps.max_side / 8 * 8); };
  return {side(r.init_image.width), side(r.init_image.height)};
}

Status ValidateImageRequest(const ImageRequest& r, const ProviderCapabilities& caps) {
  if (r.prompt.empty()) return InvalidArgument("prompt is empty");
  if ((r.width == 0) != (r.height == 0)) {
    return InvalidArgument("size " + SizeText(r.width, r.height) + ": give both width and height, or neither");
  }
  const auto [w, h] = RequestedSize(r, caps);
  if (!caps.sizes.empty()) {
    bool found = false;
    for (const auto& s : caps.sizes) found = found || (s.first == w && s.second == h);
    if (!found) return InvalidArgument("size " + SizeText(w, h) + " is not supported (" + SizesText(caps.sizes) + ")");
  } else {
    for (const auto& [name, v] : {std::pair{"width", w}, std::pair{"height", h}}) {
      if (v < caps.min_side || v > caps.max_side || v % 8 != 0) {
        return InvalidArgument(std::string(name) + " " + std::to_string(v) + " must be a multiple of 8 in [" +
                               std::to_string(caps.min_side) + ", " + std::to_string(caps.max_side) + "]");
      }
    }
  }
  if (r.n < 1 || r.n > caps.max_n) {
    return InvalidArgument("n " + std::to_string(r.n) + " must be in [1, " + std::to_string(caps.max_n) + "]");
  }
  // Engine settings: 0 / unset means the provider's default.
  const int max_steps = caps.engine_settings ? caps.max_steps : GenerateParams::kMaxSteps;
  if (r.steps < 0 || r.steps > max_steps) {
    return InvalidArgument("steps " + std::to_string(r.steps) + " must be in [1, " + std::to_string(max_steps) +
                           "] (0 = default)");
  }
  if (!std::isfinite(r.cfg_scale) || r.cfg_scale < 0 || r.cfg_scale > GenerateParams::kMaxCfg) {
    return InvalidArgument("cfg_scale " + std::to_string(r.cfg_scale) + " must be a finite number in [0, 100]");
  }
  if (r.clip_skip < 0 || r.clip_skip > GenerateParams::kMaxClipSkip) {
    return InvalidArgument("clip_skip " + std::to_string(r.clip_skip) + " must be in [1, " +
                           std::to_string(GenerateParams::kMaxClipSkip) + "] (0 = default)");
  }
  return ValidateImageInput(r, caps);
}

Status ValidateImageInput(const ImageRequest& r, const ProviderCapabilities& caps) {
  if (!r.has_init_image()) {
    if (!r.mask.empty()) return InvalidArgument("mask: inpainting needs an init image too");
    return Status::Ok();
  }
  if (!caps.image_input) {
    return InvalidArgument("init_image: this provider does not take input images (image to image, edits)");
  }
  if (!r.init_image.valid()) return InvalidArgument("init_image: " + ImageText(r.init_image) + " is not an RGB image");
  if (!r.mask.empty() && !r.mask.valid()) return InvalidArgument("mask: " + ImageText(r.mask) + " is not an RGB image");
  if (!std::isfinite(r.strength) || r.strength < 0 || r.strength > 1) {
    return InvalidArgument("strength " + std::to_string(r.strength) + " must be a number in [0, 1]");
  }
  if (r.mask_blur < 0 || r.mask_blur > GenerateParams::kMaxMaskBlur) {
    return InvalidArgument("mask_blur " + std::to_string(r.mask_blur) + " must be in [0, " +
                           std::to_string(GenerateParams::kMaxMaskBlur) + "] pixels");
  }
  if (!r.mask.empty() && r.inpainting_fill == InpaintingFill::kFill) {
    return InvalidArgument("inpainting_fill 0 (fill) is not supported: use 1 (original), 2 (latent noise) or 3 "
                           "(latent nothing)");
  }
  return Status::Ok();
}

}  // namespace sdr
