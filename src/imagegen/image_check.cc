#include "imagegen/image_check.h"

#include <spng.h>

#include <memory>
#include <string>
#include <vector>

namespace sdr {

std::string_view ToString(ImageFormat f) {
  switch (f) {
    case ImageFormat::kPng: return "png";
    case ImageFormat::kJpeg: return "jpeg";
    case ImageFormat::kWebp: return "webp";
    case ImageFormat::kGif: return "gif";
    case ImageFormat::kUnknown: break;
  }
  return "unknown";
}

ImageFormat SniffImageFormat(std::string_view b) {
  if (b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) return ImageFormat::kPng;
  if (b.size() >= 3 && b.substr(0, 3) == std::string_view("\xff\xd8\xff", 3)) return ImageFormat::kJpeg;
  if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") return ImageFormat::kWebp;
  if (b.substr(0, 4) == "GIF8") return ImageFormat::kGif;
  return ImageFormat::kUnknown;
}

Result<ImageSize> DecodePngSize(std::string_view bytes, int max_side) {
  const ImageFormat f = SniffImageFormat(bytes);
  if (f != ImageFormat::kPng) {
    if (f == ImageFormat::kUnknown) {
      return CorruptData("not an image (" + std::to_string(bytes.size()) + " bytes, no known image signature)");
    }
    return CorruptData("a " + std::string(ToString(f)) + " image: only PNG is accepted");
  }
  std::unique_ptr<spng_ctx, void (*)(spng_ctx*)> ctx(spng_ctx_new(0), spng_ctx_free);
  if (!ctx) return OutOfMemory("spng_ctx_new failed");
  spng_set_image_limits(ctx.get(), static_cast<uint32_t>(max_side), static_cast<uint32_t>(max_side));
  spng_set_chunk_limits(ctx.get(), 1u << 24, 1u << 26);
  spng_set_png_buffer(ctx.get(), bytes.data(), bytes.size());
  spng_ihdr ihdr{};
  if (int rc = spng_get_ihdr(ctx.get(), &ihdr); rc != 0) {
    return CorruptData(std::string("PNG header: ") + spng_strerror(rc));
  }
  size_t size = 0;
  if (int rc = spng_decoded_image_size(ctx.get(), SPNG_FMT_RGBA8, &size); rc != 0) {
    return CorruptData(std::string("PNG: ") + spng_strerror(rc));
  }
  std::vector<unsigned char> pixels(size);
  if (int rc = spng_decode_image(ctx.get(), pixels.data(), pixels.size(), SPNG_FMT_RGBA8, 0); rc != 0) {
    return CorruptData(std::string("PNG does not decode: ") + spng_strerror(rc));
  }
  return ImageSize{static_cast<int>(ihdr.width), static_cast<int>(ihdr.height)};
}

}  // namespace sdr
