// Input images of a request (A1111 img2img's init_images and mask, OpenAI edits' image and mask),
// decoded into the RGB the engine takes, each error a 400 naming the field:
//
//   base64 text    a PNG in base64, with or without a "data:image/png;base64," prefix (A1111)
//   PNG bytes      a multipart file part (OpenAI)
//
// Only PNG is read (runtime/png_reader.h): a JPEG, WebP or GIF is refused by name. Masks are
// white = repaint, black = keep; OpenAI's masks mark the area to edit by transparency instead
// (OpenAiMaskToRepaint).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "runtime/png_reader.h"
#include "runtime/rgb_image.h"
#include "server/api_error.h"

namespace sdr {

// The base64 payload of `text`: a data: URI's part after the comma (it must say ;base64), else
// `text` itself.
MaybeError StripDataUri(std::string_view field, std::string_view text, std::string_view* b64);

// Base64 (or a data: URI) -> PNG bytes -> the image, with its alpha when it has one.
MaybeError DecodeBase64Png(std::string_view field, std::string_view text, PngWithAlpha* out);
// PNG bytes -> the image.
MaybeError DecodePngField(std::string_view field, std::string_view bytes, PngWithAlpha* out);

// An OpenAI mask as ours: with an alpha channel, repaint = 255 - alpha (transparent = edit);
// without one, its grey level as it is (white = repaint).
RgbImage OpenAiMaskToRepaint(const PngWithAlpha& mask);

// White <-> black (A1111's inpainting_mask_invert).
void InvertMask(RgbImage* mask);

}  // namespace sdr
