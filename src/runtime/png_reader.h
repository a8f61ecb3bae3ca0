// PNG input (img2img init images, masks), decoded by libspng into 8-bit RGB: any PNG colour type
// and bit depth; palette and grey expand to RGB, 16-bit samples are reduced to 8, an alpha
// channel is dropped (as PIL's convert("RGB") does, which A1111 applies to its inputs).
//
//   SDR_ASSIGN_OR_RETURN(RgbImage img, ReadPng("in.png"));
//
// Thread-safety: thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "runtime/rgb_image.h"

namespace sdr {

// IoError naming `path` when it cannot be read; InvalidArgument (an input the user gave, so
// invalid_params) when the bytes are not a decodable PNG, naming JPEG/WebP/GIF when they are one.
Result<RgbImage> ReadPng(const std::string& path);
Result<RgbImage> DecodePng(std::string_view bytes);

// A PNG with its transparency kept (masks that mark areas by alpha, as OpenAI's edits do).
struct PngWithAlpha {
  RgbImage rgb;
  std::vector<uint8_t> alpha;  // [height, width]; empty when the PNG has no alpha channel nor tRNS chunk
};
Result<PngWithAlpha> DecodePngWithAlpha(std::string_view bytes);

}  // namespace sdr
