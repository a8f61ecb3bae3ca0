#include "server/latent_preview.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "imagegen/base64.h"
#include "runtime/png_writer.h"

namespace sdr {
namespace {

constexpr int kLatentChannels = 4;
constexpr float kFactors[kLatentChannels][3] = {
    {0.298f, 0.207f, 0.208f},
    {0.187f, 0.286f, 0.173f},
    {-0.158f, 0.189f, 0.264f},
    {-0.184f, -0.271f, -0.473f},
};

}  // namespace

Result<std::string> LatentPreviewPng(const LatentView& latent) {
  if (latent.channels != kLatentChannels || latent.height <= 0 || latent.width <= 0) {
    return InvalidArgument("a preview needs a 4-channel latent, got " + std::to_string(latent.channels) + "x" +
                           std::to_string(latent.height) + "x" + std::to_string(latent.width));
  }
  const size_t plane = static_cast<size_t>(latent.height) * static_cast<size_t>(latent.width);
  if (latent.data.size() != plane * kLatentChannels) {
    return InvalidArgument("latent holds " + std::to_string(latent.data.size()) + " values, expected " +
                           std::to_string(plane * kLatentChannels));
  }
  std::vector<uint8_t> rgb(plane * 3);  // [h, w, 3]
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) {
      float v = 0;
      for (int l = 0; l < kLatentChannels; ++l) v += latent.data[static_cast<size_t>(l) * plane + i] * kFactors[l][c];
      v = (v + 1.0f) * 0.5f;
      if (!(v >= 0.0f)) v = 0.0f;  // NaN too
      v = std::min(v, 1.0f);
      rgb[i * 3 + static_cast<size_t>(c)] = static_cast<uint8_t>(std::lround(v * 255.0f));
    }
  }
  return EncodePng(rgb.data(), latent.width, latent.height);
}

Result<std::string> LatentPreviewDataUri(const LatentView& latent) {
  SDR_ASSIGN_OR_RETURN(std::string png, LatentPreviewPng(latent));
  return "data:image/png;base64," + EncodeBase64(png);
}

}  // namespace sdr
