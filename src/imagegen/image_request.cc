#include "imagegen/image_request.h"

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

}  // namespace

std::pair<int, int> RequestedSize(const ImageRequest& r, const ProviderCapabilities& caps) {
  if (r.width == 0 && r.height == 0) return caps.default_size;
  return {r.width, r.height};
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
  return Status::Ok();
}

}  // namespace sdr
