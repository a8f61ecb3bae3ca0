// Checks that bytes a provider returned are an image we can hand on: the format is sniffed from
// the signature and a PNG is decoded in full with libspng (so a truncated or corrupt file never
// reaches the caller), giving its real size.
//
// Only PNG is accepted. We ask every provider for PNG (the OpenAI images API's default; gpt-image
// models return JPEG/WebP only when asked via output_format, which we never send), so a JPEG or
// WebP answer is refused with a clear error rather than decoded by another library.
//
// Thread-safety: plain functions.
#pragma once

#include <string_view>

#include "core/result.h"

namespace sdr {

enum class ImageFormat { kUnknown, kPng, kJpeg, kWebp, kGif };
std::string_view ToString(ImageFormat f);  // "png", "jpeg", ... "unknown"

ImageFormat SniffImageFormat(std::string_view bytes);

struct ImageSize {
  int width = 0;   // pixels
  int height = 0;  // pixels
};

// The PNG's size after a full decode. CorruptData naming what is wrong (not PNG: the format
// found; truncated; bad CRC; larger than max_side on a side).
Result<ImageSize> DecodePngSize(std::string_view bytes, int max_side = 16384);

}  // namespace sdr
