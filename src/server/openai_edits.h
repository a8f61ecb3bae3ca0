// POST /v1/images/edits: OpenAI's image edits, a multipart/form-data body:
//
//   image            file part, a PNG (required; "image[]" too, one image). Other formats are
//                    refused by name.
//   mask             file part, a PNG the size of `image` (optional). OpenAI's convention: fully
//                    transparent pixels (alpha 0) are the area to edit, so repaint = 255 - alpha.
//                    A mask without an alpha channel is read by its grey level: white = repaint.
//                    No mask and an `image` with transparency: the image's alpha is the mask (as
//                    OpenAI does); no mask otherwise: the whole image is reworked (img2img).
//   prompt, n, size ("auto" or absent: the image's size, multiples of 8), response_format,
//   stream, partial_images, model, user: as /v1/images/generations (openai_api.h).
//   Our extensions, as text: the engine settings (negative_prompt, steps, cfg_scale, seed, sampler,
//   scheduler, clip_skip), strength (0..1; default 1 with a mask: the masked area is made anew, as
//   OpenAI's edits; 0.75 without), mask_blur (pixels, default 4).
//
// The text parts are read by the same rules as the JSON fields of /v1/images/generations: the
// numeric and boolean ones (n, steps, cfg_scale, seed, clip_skip, partial_images, stream,
// strength, mask_blur) are parsed from their text, every other one is a string.
//
// Answer and stream: as /v1/images/generations (stream events named image_edit.*).
//
// Thread-safety: pure functions.
#pragma once

#include <httplib.h>

#include "server/openai_api.h"

namespace sdr {

// `content_type`: the request's Content-Type (a non-multipart body is a 400 naming image).
MaybeError ParseOpenAiEditRequest(const std::string& content_type, const httplib::MultipartFormDataMap& form,
                                  const RequestLimits& limits, const ProviderCapabilities& caps,
                                  const GenerateParams& defaults, OpenAiImageRequest* out);

}  // namespace sdr
