// PNG output: 8-bit RGB images with text chunks (A1111's "parameters" infotext), encoded by
// libspng. Files are written atomically: the bytes go to a temporary file next to the target,
// which is renamed over it only once complete, so a full disk or a crash never leaves a
// half-written image under the final name.
//
//   std::vector<uint8_t> rgb(w * h * 3);  // [h, w, 3], row-major
//   SDR_RETURN_IF_ERROR(WritePng("out.png", rgb.data(), w, h, {{"parameters", infotext}}));
//
// Text chunks: (keyword, UTF-8 text). A text whose characters all lie in Latin-1 is written as
// tEXt (in Latin-1, as PIL/A1111 do); any other text as an uncompressed iTXt chunk in UTF-8.
// Keywords are 1-79 printable ASCII characters without leading, trailing or double spaces.
//
// Thread-safety: the functions are thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace sdr {

using PngTextChunks = std::vector<std::pair<std::string, std::string>>;  // (keyword, UTF-8 text)

// rgb: [height, width, 3] bytes. InvalidArgument for a bad size, keyword or text (not UTF-8,
// contains NUL); Internal when libspng fails.
Result<std::string> EncodePng(const uint8_t* rgb, int width, int height,
                              const PngTextChunks& text_chunks = {});

// EncodePng, then an atomic write to `path` (temporary file in the same folder, then rename).
// IoError naming `path` when the folder is missing or unwritable or the disk is full.
Status WritePng(const std::string& path, const uint8_t* rgb, int width, int height,
                const PngTextChunks& text_chunks = {});

// Writes `bytes` to `path` atomically (see above). IoError naming `path` on failure.
Status WriteFileAtomically(const std::string& path, std::string_view bytes);

// Checks, before any long work, that a file can be written at `path` (not a folder; its folder
// exists and takes a new file) by creating and removing a temporary file beside it. IoError
// naming `path` otherwise.
Status CheckOutputWritable(const std::string& path);

}  // namespace sdr
