#include "testing/image_fixtures.h"

#include <spng.h>

#include <cmath>
#include <cstdlib>
#include <memory>

#include "core/check.h"

namespace sdr::testing {

std::string EncodeRgbaPng(const std::vector<uint8_t>& rgba, int width, int height) {
  SDR_CHECK(rgba.size() == static_cast<size_t>(width) * static_cast<size_t>(height) * 4);
  std::unique_ptr<spng_ctx, void (*)(spng_ctx*)> ctx(spng_ctx_new(SPNG_CTX_ENCODER), spng_ctx_free);
  SDR_CHECK(ctx != nullptr);
  SDR_CHECK(spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1) == 0);
  spng_ihdr ihdr{};
  ihdr.width = static_cast<uint32_t>(width);
  ihdr.height = static_cast<uint32_t>(height);
  ihdr.bit_depth = 8;
  ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR_ALPHA;
  SDR_CHECK(spng_set_ihdr(ctx.get(), &ihdr) == 0);
  SDR_CHECK(spng_encode_image(ctx.get(), rgba.data(), rgba.size(), SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE) == 0);
  size_t len = 0;
  int err = 0;
  void* buf = spng_get_png_buffer(ctx.get(), &len, &err);
  SDR_CHECK(buf != nullptr && err == 0);
  std::string out(static_cast<const char*>(buf), len);
  std::free(buf);
  return out;
}

RgbImage PatternImage(int width, int height) {
  RgbImage img{width, height, std::vector<uint8_t>(static_cast<size_t>(width) * static_cast<size_t>(height) * 3)};
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double dx = x - width * 0.6, dy = y - height * 0.4;
      const bool disc = dx * dx + dy * dy < width * height * 0.04;
      uint8_t* p = &img.rgb[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(disc ? 240 : 40 + 160 * x / std::max(1, width - 1));
      p[1] = static_cast<uint8_t>(disc ? 220 : 60 + 120 * y / std::max(1, height - 1));
      p[2] = static_cast<uint8_t>(disc ? 40 : 150);
    }
  }
  return img;
}

double MeanAbsDiff(const RgbImage& a, const RgbImage& b, bool (*where)(int x, int y, int w, int h)) {
  SDR_CHECK(a.width == b.width && a.height == b.height && a.valid() && b.valid());
  double sum = 0;
  size_t count = 0;
  for (int y = 0; y < a.height; ++y) {
    for (int x = 0; x < a.width; ++x) {
      if (where != nullptr && !where(x, y, a.width, a.height)) continue;
      const size_t i = (static_cast<size_t>(y) * a.width + x) * 3;
      for (int c = 0; c < 3; ++c) sum += std::abs(int{a.rgb[i + c]} - int{b.rgb[i + c]});
      count += 3;
    }
  }
  return count > 0 ? sum / static_cast<double>(count) : 0;
}

std::string MultipartBody(const std::vector<FormPart>& parts) {
  std::string body;
  for (const FormPart& p : parts) {
    body += std::string("--") + kFormBoundary + "\r\n";
    body += "Content-Disposition: form-data; name=\"" + p.name + "\"";
    if (!p.filename.empty()) body += "; filename=\"" + p.filename + "\"";
    body += "\r\n";
    if (!p.content_type.empty()) body += "Content-Type: " + p.content_type + "\r\n";
    body += "\r\n" + p.content + "\r\n";
  }
  body += std::string("--") + kFormBoundary + "--\r\n";
  return body;
}

}  // namespace sdr::testing
