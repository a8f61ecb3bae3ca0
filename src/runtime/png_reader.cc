#include "runtime/png_reader.h"

#include <spng.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace sdr {

Result<PngWithAlpha> DecodePngWithAlpha(std::string_view bytes) {
  static const std::string_view kSignature("\x89PNG\r\n\x1a\n", 8);
  if (bytes.substr(0, 8) != kSignature) {
    if (bytes.substr(0, 3) == std::string_view("\xff\xd8\xff", 3)) {
      return InvalidArgument("a JPEG image: only PNG input images are read");
    }
    if (bytes.size() >= 12 && bytes.substr(0, 4) == "RIFF" && bytes.substr(8, 4) == "WEBP") {
      return InvalidArgument("a WebP image: only PNG input images are read");
    }
    if (bytes.substr(0, 4) == "GIF8") return InvalidArgument("a GIF image: only PNG input images are read");
    return InvalidArgument("not a PNG image (" + std::to_string(bytes.size()) + " bytes, no PNG signature)");
  }
  std::unique_ptr<spng_ctx, void (*)(spng_ctx*)> ctx(spng_ctx_new(0), spng_ctx_free);
  if (!ctx) return OutOfMemory("spng_ctx_new failed");
  spng_set_image_limits(ctx.get(), kMaxInputImageSide, kMaxInputImageSide);
  spng_set_chunk_limits(ctx.get(), 1u << 24, 1u << 26);
  spng_set_png_buffer(ctx.get(), bytes.data(), bytes.size());
  spng_ihdr ihdr{};
  if (int rc = spng_get_ihdr(ctx.get(), &ihdr); rc != 0) {
    return InvalidArgument(std::string("PNG header: ") + spng_strerror(rc));
  }
  size_t size = 0;
  if (int rc = spng_decoded_image_size(ctx.get(), SPNG_FMT_RGBA8, &size); rc != 0) {
    return InvalidArgument(std::string("PNG: ") + spng_strerror(rc));
  }
  std::vector<uint8_t> rgba(size);
  if (int rc = spng_decode_image(ctx.get(), rgba.data(), rgba.size(), SPNG_FMT_RGBA8, SPNG_DECODE_TRNS); rc != 0) {
    return InvalidArgument(std::string("PNG does not decode: ") + spng_strerror(rc));
  }
  spng_trns trns{};
  const bool has_alpha = ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA ||
                         ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA || spng_get_trns(ctx.get(), &trns) == 0;
  PngWithAlpha out;
  RgbImage& img = out.rgb;
  img.width = static_cast<int>(ihdr.width);
  img.height = static_cast<int>(ihdr.height);
  const size_t n = static_cast<size_t>(img.width) * static_cast<size_t>(img.height);
  img.rgb.resize(n * 3);
  for (size_t i = 0; i < n; ++i) {
    img.rgb[i * 3 + 0] = rgba[i * 4 + 0];
    img.rgb[i * 3 + 1] = rgba[i * 4 + 1];
    img.rgb[i * 3 + 2] = rgba[i * 4 + 2];
  }
  if (has_alpha) {
    out.alpha.resize(n);
    for (size_t i = 0; i < n; ++i) out.alpha[i] = rgba[i * 4 + 3];
  }
  return out;
}

Result<RgbImage> DecodePng(std::string_view bytes) {
  SDR_ASSIGN_OR_RETURN(PngWithAlpha png, DecodePngWithAlpha(bytes));
  return std::move(png.rgb);
}

Result<RgbImage> ReadPng(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot open image '" + path + "'");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return IoError("reading image '" + path + "' failed");
  auto img = DecodePng(buf.str());
  if (!img.ok()) return img.status().WithContext("image '" + path + "'");
  return img;
}

}  // namespace sdr
