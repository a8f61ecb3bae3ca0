#include "runtime/generate_params.h"

#include <cmath>
#include <filesystem>
#include <system_error>

namespace sdr {

Status ValidateParams(const GenerateParams& p) {
  auto side = [](const char* name, int v) -> Status {
    if (v < GenerateParams::kMinSide || v > GenerateParams::kMaxSide || v % 8 != 0) {
      return InvalidArgument(std::string(name) + " " + std::to_string(v) + " must be a multiple of 8 in [" +
                             std::to_string(GenerateParams::kMinSide) + ", " + std::to_string(GenerateParams::kMaxSide) +
                             "]");
    }
    return Status::Ok();
  };
  SDR_RETURN_IF_ERROR(side("width", p.width));
  SDR_RETURN_IF_ERROR(side("height", p.height));
  if (p.steps < 1 || p.steps > GenerateParams::kMaxSteps) {
    return InvalidArgument("steps " + std::to_string(p.steps) + " must be in [1, " +
                           std::to_string(GenerateParams::kMaxSteps) + "]");
  }
  if (!std::isfinite(p.cfg_scale) || p.cfg_scale < 0.0f || p.cfg_scale > GenerateParams::kMaxCfg) {
    return InvalidArgument("cfg_scale " + std::to_string(p.cfg_scale) + " must be a finite number in [0, 100]");
  }
  if (p.clip_skip < 1 || p.clip_skip > GenerateParams::kMaxClipSkip) {
    return InvalidArgument("clip_skip " + std::to_string(p.clip_skip) + " must be in [1, " +
                           std::to_string(GenerateParams::kMaxClipSkip) + "]");
  }
  if (p.batch_count < 1 || p.batch_count > GenerateParams::kMaxBatch) {
    return InvalidArgument("batch_count " + std::to_string(p.batch_count) + " must be in [1, " +
                           std::to_string(GenerateParams::kMaxBatch) + "]");
  }
  if (!std::isfinite(p.strength) || p.strength < 0.0f || p.strength > 1.0f) {
    return InvalidArgument("strength " + std::to_string(p.strength) + " must be a number in [0, 1]");
  }
  if (!p.init_image.empty() && !p.init_image.valid()) {
    return InvalidArgument("init_image: " + std::to_string(p.init_image.rgb.size()) + " bytes do not hold a " +
                           std::to_string(p.init_image.width) + "x" + std::to_string(p.init_image.height) +
                           " RGB image");
  }
  if (!p.mask.empty()) {
    if (!p.mask.valid()) {
      return InvalidArgument("mask: " + std::to_string(p.mask.rgb.size()) + " bytes do not hold a " +
                             std::to_string(p.mask.width) + "x" + std::to_string(p.mask.height) + " RGB image");
    }
    if (p.init_image.empty()) return InvalidArgument("mask: inpainting needs an init image too");
  }
  if (p.mask_blur < 0 || p.mask_blur > GenerateParams::kMaxMaskBlur) {
    return InvalidArgument("mask_blur " + std::to_string(p.mask_blur) + " must be in [0, " +
                           std::to_string(GenerateParams::kMaxMaskBlur) + "] pixels");
  }
  if (!p.dump_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(p.dump_dir, ec)) {
      return InvalidArgument("dump dir '" + p.dump_dir + "' is not an existing folder");
    }
  }
  return Status::Ok();
}

}  // namespace sdr
