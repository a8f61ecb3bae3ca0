#include "runtime/png_writer.h"

#include <fcntl.h>
#include <spng.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>

namespace sdr {
namespace {

constexpr int kMaxPngDimension = 0x7fffffff;  // PNG: width and height fit in 31 bits
constexpr size_t kMaxKeywordBytes = 79;

// Decodes UTF-8; nullopt when malformed (overlong forms, surrogates and > U+10FFFF included).
std::optional<std::vector<char32_t>> DecodeUtf8(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    int len;
    char32_t cp;
    if (b0 < 0x80) {
      len = 1;
      cp = b0;
    } else if ((b0 & 0xe0) == 0xc0) {
      len = 2;
      cp = b0 & 0x1f;
    } else if ((b0 & 0xf0) == 0xe0) {
      len = 3;
      cp = b0 & 0x0f;
    } else if ((b0 & 0xf8) == 0xf0) {
      len = 4;
      cp = b0 & 0x07;
    } else {
      return std::nullopt;
    }
    if (s.size() - i < static_cast<size_t>(len)) return std::nullopt;
    for (int k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (b & 0x3f);
    }
    static constexpr char32_t kMinForLength[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return std::nullopt;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

Status CheckKeyword(const std::string& keyword) {
  const auto bad = [&](std::string_view why) {
    return InvalidArgument("PNG text keyword '" + keyword + "' " + std::string(why));
  };
  if (keyword.empty() || keyword.size() > kMaxKeywordBytes) return bad("must be 1-79 characters");
  for (size_t i = 0; i < keyword.size(); ++i) {
    const char c = keyword[i];
    if (c < 0x20 || c > 0x7e) return bad("must be printable ASCII");
    if (c == ' ' && (i == 0 || i + 1 == keyword.size() || keyword[i + 1] == ' ')) {
      return bad("has leading, trailing or consecutive spaces");
    }
  }
  return Status::Ok();
}

// A text chunk ready for libspng: its buffers live as long as this object.
struct PreparedText {
  std::string keyword;
  std::string text;  // Latin-1 for tEXt, UTF-8 for iTXt
  bool itxt = false;
};

Result<PreparedText> PrepareText(const std::string& keyword, const std::string& utf8) {
  SDR_RETURN_IF_ERROR(CheckKeyword(keyword));
  auto cps = DecodeUtf8(utf8);
  if (!cps) return InvalidArgument("PNG text '" + keyword + "' is not valid UTF-8");
  PreparedText p;
  p.keyword = keyword;
  bool latin1 = true;
  for (char32_t cp : *cps) {
    if (cp == 0) return InvalidArgument("PNG text '" + keyword + "' contains a NUL character");
    if (cp > 0xff) latin1 = false;
  }
  if (latin1) {
    p.text.reserve(cps->size());
    for (char32_t cp : *cps) p.text += static_cast<char>(static_cast<unsigned char>(cp));
  } else {
    p.text = utf8;
    p.itxt = true;
  }
  return p;
}

struct SpngCtxDeleter {
  void operator()(spng_ctx* ctx) const { spng_ctx_free(ctx); }
};

Status SpngError(const char* what, int err) {
  return InternalError(std::string("PNG encoding: ") + what + ": " + spng_strerror(err));
}

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

Result<std::string> EncodePng(const uint8_t* rgb, int width, int height,
                              const PngTextChunks& text_chunks) {
  if (width <= 0 || height <= 0 || width > kMaxPngDimension || height > kMaxPngDimension) {
    return InvalidArgument("PNG size " + std::to_string(width) + "x" + std::to_string(height) +
                           " is not positive");
  }
  if (rgb == nullptr) return InvalidArgument("PNG encoding: no pixel data");
  if (text_chunks.size() > 0xffffu) return InvalidArgument("PNG encoding: too many text chunks");

  std::vector<PreparedText> prepared;
  prepared.reserve(text_chunks.size());
  for (const auto& [keyword, text] : text_chunks) {
    SDR_ASSIGN_OR_RETURN(PreparedText p, PrepareText(keyword, text));
    prepared.push_back(std::move(p));
  }

  std::unique_ptr<spng_ctx, SpngCtxDeleter> ctx(spng_ctx_new(SPNG_CTX_ENCODER));
  if (!ctx) return OutOfMemory("PNG encoding: cannot create a libspng context");
  int err = spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1);
  if (err) return SpngError("SPNG_ENCODE_TO_BUFFER", err);

  spng_ihdr ihdr{};
  ihdr.width = static_cast<uint32_t>(width);
  ihdr.height = static_cast<uint32_t>(height);
  ihdr.bit_depth = 8;
  ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
  if ((err = spng_set_ihdr(ctx.get(), &ihdr))) return SpngError("header", err);

  if (!prepared.empty()) {
    // Empty strings for iTXt's language tag and translated keyword; libspng only reads them.
    static char kEmpty[1] = {0};
    std::vector<spng_text> texts(prepared.size());
    for (size_t i = 0; i < prepared.size(); ++i) {
      spng_text& t = texts[i];
      std::memcpy(t.keyword, prepared[i].keyword.c_str(), prepared[i].keyword.size() + 1);
      t.type = prepared[i].itxt ? SPNG_ITXT : SPNG_TEXT;
      t.length = prepared[i].text.size();
      t.text = prepared[i].text.data();
      t.compression_flag = 0;
      t.compression_method = 0;
      t.language_tag = kEmpty;
      t.translated_keyword = kEmpty;
    }
    if ((err = spng_set_text(ctx.get(), texts.data(), static_cast<uint32_t>(texts.size())))) {
      return SpngError("text chunks", err);
    }
  }

  const size_t bytes = static_cast<size_t>(width) * static_cast<size_t>(height) * 3;
  err = spng_encode_image(ctx.get(), rgb, bytes, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
  if (err) return SpngError("image", err);

  size_t len = 0;
  void* buf = spng_get_png_buffer(ctx.get(), &len, &err);
  if (buf == nullptr || err) return SpngError("output buffer", err ? err : SPNG_EINTERNAL);
  std::string out(static_cast<const char*>(buf), len);
  std::free(buf);
  return out;
}

// Creates a new temporary file beside `path`; *tmp receives its name. IoError naming `path`.
Result<int> CreateTempBeside(const std::string& path, std::string* tmp) {
  static std::atomic<uint64_t> counter{0};
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return IoError("cannot write '" + path + "': it is a folder (give a file name, e.g. '" + path + "/out.png')");
  }
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    *tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    fd = ::open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) return IoError("cannot write '" + path + "': creating '" + *tmp + "' failed: " + ErrnoText(errno));
  return fd;
}

Status CheckOutputWritable(const std::string& path) {
  std::string tmp;
  SDR_ASSIGN_OR_RETURN(const int fd, CreateTempBeside(path, &tmp));
  ::close(fd);
  ::unlink(tmp.c_str());
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, std::string_view bytes) {
  std::string tmp;
  SDR_ASSIGN_OR_RETURN(int fd, CreateTempBeside(path, &tmp));
  const auto fail = [&](std::string_view step, int e) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return IoError("cannot write '" + path + "': " + std::string(step) + ": " + ErrnoText(e));
  };
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write", errno);
    }
    if (n == 0) return fail("write", ENOSPC);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync", errno);
  const int close_rc = ::close(fd);
  fd = -1;
  if (close_rc != 0) return fail("close", errno);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename", errno);
  return Status::Ok();
}

Status WritePng(const std::string& path, const uint8_t* rgb, int width, int height,
                const PngTextChunks& text_chunks) {
  auto png = EncodePng(rgb, width, height, text_chunks);
  if (!png.ok()) return png.status().WithContext("writing '" + path + "'");
  return WriteFileAtomically(path, *png);
}

}  // namespace sdr
