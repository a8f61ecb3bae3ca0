// Reading the text chunks of a PNG held in memory (the reverse of png_writer.h's text chunks):
// the server's /sdapi/v1/png-info reads A1111's "parameters" infotext back with it.
//
//   auto chunks = ReadPngTextChunks(png_bytes);   // [("parameters", "a cat\nSteps: 20, ...")]
//
// tEXt and zTXt text is Latin-1 and comes back as UTF-8; iTXt text is UTF-8 already (bytes that
// are not UTF-8 become U+FFFD, so the result always is). Only the chunks before the image data
// are read: where A1111 (PIL), ComfyUI and png_writer.h put them. The input is untrusted: every
// chunk is length- and CRC-checked by libspng, and chunk sizes are capped.
//
// Thread-safety: thread-safe (no shared state).
#pragma once

#include <string_view>

#include "core/result.h"
#include "runtime/png_writer.h"

namespace sdr {

// InvalidArgument when `png` is not a PNG (signature); CorruptData when it is damaged before
// its image data. A PNG without text chunks gives an empty list.
Result<PngTextChunks> ReadPngTextChunks(std::string_view png);

}  // namespace sdr
