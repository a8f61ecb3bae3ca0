#include "runtime/png_text_reader.h"

#include <spng.h>

#include <memory>
#include <vector>

#include "tokenizer/utf8.h"

namespace sdr {
namespace {

constexpr size_t kMaxChunkBytes = 16u << 20;  // one chunk; text of a real infotext is a few KB
constexpr size_t kMaxCacheBytes = 64u << 20;  // all the chunks libspng keeps

struct CtxFree {
  void operator()(spng_ctx* ctx) const { spng_ctx_free(ctx); }
};

std::string Latin1ToUtf8(std::string_view latin1) {
  std::string out;
  out.reserve(latin1.size());
  for (char c : latin1) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x80) {
      out += c;
    } else {
      out += static_cast<char>(0xc0 | (b >> 6));
      out += static_cast<char>(0x80 | (b & 0x3f));
    }
  }
  return out;
}

}  // namespace

Result<PngTextChunks> ReadPngTextChunks(std::string_view png) {
  static constexpr unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (png.size() < sizeof(kSignature) || std::string_view(png.data(), 8) !=
                                             std::string_view(reinterpret_cast<const char*>(kSignature), 8)) {
    return InvalidArgument("not a PNG image (" + std::to_string(png.size()) + " bytes without the PNG signature)");
  }
  std::unique_ptr<spng_ctx, CtxFree> ctx(spng_ctx_new(0));
  if (ctx == nullptr) return OutOfMemory("PNG reader: spng_ctx_new failed");
  spng_set_chunk_limits(ctx.get(), kMaxChunkBytes, kMaxCacheBytes);
  spng_set_crc_action(ctx.get(), SPNG_CRC_ERROR, SPNG_CRC_ERROR);
  if (int r = spng_set_png_buffer(ctx.get(), png.data(), png.size()); r != 0) {
    return CorruptData(std::string("PNG: ") + spng_strerror(r));
  }
  if (int r = spng_decode_chunks(ctx.get()); r != 0) return CorruptData(std::string("PNG: ") + spng_strerror(r));
  uint32_t n = 0;
  int r = spng_get_text(ctx.get(), nullptr, &n);
  if (r == SPNG_ECHUNKAVAIL) return PngTextChunks{};
  if (r != 0) return CorruptData(std::string("PNG text: ") + spng_strerror(r));
  std::vector<spng_text> texts(n);
  if (r = spng_get_text(ctx.get(), texts.data(), &n); r != 0) {
    return CorruptData(std::string("PNG text: ") + spng_strerror(r));
  }
  PngTextChunks out;
  for (uint32_t i = 0; i < n; ++i) {
    const spng_text& t = texts[i];
    const std::string_view text(t.text != nullptr ? t.text : "", t.text != nullptr ? t.length : 0);
    out.emplace_back(std::string(t.keyword), t.type == SPNG_ITXT ? SanitizeUtf8(std::string(text)) : Latin1ToUtf8(text));
  }
  return out;
}

}  // namespace sdr
