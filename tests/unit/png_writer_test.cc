// PNG output, read back with libspng: pixels, tEXt/iTXt choice, atomic writes and errors.
#include "runtime/png_writer.h"

#include <gtest/gtest.h>
#include <spng.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "runtime/infotext.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

using testing::TempDir;

struct DecodedText {
  std::string keyword;
  int type;  // SPNG_TEXT / SPNG_ITXT / SPNG_ZTXT
  std::string text;
};

struct Decoded {
  uint32_t width = 0, height = 0;
  uint8_t color_type = 0, bit_depth = 0;
  std::vector<uint8_t> rgb;
  std::vector<DecodedText> texts;
};

struct CtxFree {
  void operator()(spng_ctx* c) const { spng_ctx_free(c); }
};

// Decodes with libspng (CRCs checked); fails the test on any libspng error.
Decoded Decode(const std::string& png) {
  Decoded d;
  std::unique_ptr<spng_ctx, CtxFree> ctx(spng_ctx_new(0));
  EXPECT_TRUE(ctx != nullptr);
  EXPECT_EQ(spng_set_png_buffer(ctx.get(), png.data(), png.size()), 0);
  spng_ihdr ihdr{};
  EXPECT_EQ(spng_get_ihdr(ctx.get(), &ihdr), 0);
  d.width = ihdr.width;
  d.height = ihdr.height;
  d.color_type = ihdr.color_type;
  d.bit_depth = ihdr.bit_depth;
  size_t size = 0;
  EXPECT_EQ(spng_decoded_image_size(ctx.get(), SPNG_FMT_RGB8, &size), 0);
  d.rgb.resize(size);
  EXPECT_EQ(spng_decode_image(ctx.get(), d.rgb.data(), size, SPNG_FMT_RGB8, 0), 0);
  uint32_t n = 0;
  const int rc = spng_get_text(ctx.get(), nullptr, &n);
  if (rc == SPNG_ECHUNKAVAIL) return d;
  EXPECT_EQ(rc, 0) << spng_strerror(rc);
  std::vector<spng_text> texts(n);
  EXPECT_EQ(spng_get_text(ctx.get(), texts.data(), &n), 0);
  for (const spng_text& t : texts) d.texts.push_back({t.keyword, t.type, std::string(t.text, t.length)});
  return d;
}

std::vector<uint8_t> Gradient(int w, int h) {
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &rgb[(static_cast<size_t>(y) * w + x) * 3];
      p[0] = static_cast<uint8_t>(x * 7);
      p[1] = static_cast<uint8_t>(y * 13);
      p[2] = static_cast<uint8_t>((x ^ y) * 31);
    }
  }
  return rgb;
}

size_t CountEntries(const std::filesystem::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST(PngWriterTest, WritesPixelsAndParametersText) {
  TempDir dir;
  const std::string path = dir.File("out.png");
  const int w = 37, h = 21;  // odd sizes: no row padding assumptions
  const std::vector<uint8_t> rgb = Gradient(w, h);
  GenerationInfo info;
  info.prompt = "a photo of a cat, (masterpiece:1.2)";
  info.negative_prompt = "blurry";
  info.sampler = "Euler a";
  info.schedule = "Karras";
  info.seed = 42;
  info.width = w;
  info.height = h;
  info.model_hash = "abcd012345";
  info.model_name = "sd15";
  const std::string params = FormatInfotext(info);
  ASSERT_TRUE(WritePng(path, rgb.data(), w, h, {{"parameters", params}}).ok());

  const std::string bytes = testing::ReadFileBytes(path);
  ASSERT_GE(bytes.size(), 8u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  const Decoded d = Decode(bytes);
  EXPECT_EQ(d.width, uint32_t(w));
  EXPECT_EQ(d.height, uint32_t(h));
  EXPECT_EQ(d.color_type, SPNG_COLOR_TYPE_TRUECOLOR);
  EXPECT_EQ(d.bit_depth, 8);
  EXPECT_EQ(d.rgb, rgb);
  ASSERT_EQ(d.texts.size(), 1u);
  EXPECT_EQ(d.texts[0].keyword, "parameters");
  EXPECT_EQ(d.texts[0].type, SPNG_TEXT);
  EXPECT_EQ(d.texts[0].text, params);
  EXPECT_EQ(CountEntries(dir.path()), 1u) << "temporary file left behind";
}

TEST(PngWriterTest, Latin1TextIsStoredAsLatin1TextChunk) {
  const std::vector<uint8_t> rgb = Gradient(4, 4);
  const std::string utf8 = "caf\xc3\xa9 cr\xc3\xa8me\tline\nnext";  // é, è: Latin-1
  auto png = EncodePng(rgb.data(), 4, 4, {{"parameters", utf8}, {"Software", "sdruntime"}});
  ASSERT_TRUE(png.ok()) << png.status().ToString();
  const Decoded d = Decode(*png);
  ASSERT_EQ(d.texts.size(), 2u);
  EXPECT_EQ(d.texts[0].type, SPNG_TEXT);
  EXPECT_EQ(d.texts[0].text, "caf\xe9 cr\xe8me\tline\nnext");
  EXPECT_EQ(d.texts[1].keyword, "Software");
  EXPECT_EQ(d.texts[1].text, "sdruntime");
}

TEST(PngWriterTest, NonLatin1TextGoesThroughITxtIntact) {
  const std::vector<uint8_t> rgb = Gradient(3, 2);
  // Japanese, an emoji (4-byte UTF-8) and a Latin-1 character together.
  const std::string prompt = "\xe7\x8c\xab\xe3\x81\xae\xe5\x86\x99\xe7\x9c\x9f \xf0\x9f\x90\x88 na\xc3\xafve";
  GenerationInfo info;
  info.prompt = prompt;
  const std::string params = FormatInfotext(info);
  auto png = EncodePng(rgb.data(), 3, 2, {{"parameters", params}});
  ASSERT_TRUE(png.ok()) << png.status().ToString();
  const Decoded d = Decode(*png);
  ASSERT_EQ(d.texts.size(), 1u);
  EXPECT_EQ(d.texts[0].type, SPNG_ITXT);
  EXPECT_EQ(d.texts[0].text, params);
  EXPECT_EQ(d.texts[0].text.substr(0, prompt.size()), prompt);
  EXPECT_EQ(d.rgb, rgb);
}

TEST(PngWriterTest, RejectsBadArguments) {
  const std::vector<uint8_t> rgb = Gradient(2, 2);
  EXPECT_EQ(EncodePng(rgb.data(), 0, 2).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodePng(rgb.data(), 2, -1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodePng(nullptr, 2, 2).status().code(), StatusCode::kInvalidArgument);
  for (const std::string& keyword : {std::string(), std::string(80, 'k'), std::string(" lead"),
                                     std::string("two  spaces"), std::string("caf\xc3\xa9")}) {
    auto r = EncodePng(rgb.data(), 2, 2, {{keyword, "x"}});
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << "keyword '" << keyword << "'";
  }
  auto bad_utf8 = EncodePng(rgb.data(), 2, 2, {{"parameters", "\xc3("}});
  EXPECT_EQ(bad_utf8.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_utf8.status().message().find("parameters"), std::string::npos);
  auto nul = EncodePng(rgb.data(), 2, 2, {{"parameters", std::string("a\0b", 3)}});
  EXPECT_EQ(nul.status().code(), StatusCode::kInvalidArgument);
}

TEST(PngWriterTest, UnwritablePathGivesIoErrorNamingIt) {
  TempDir dir;
  const std::vector<uint8_t> rgb = Gradient(2, 2);
  const std::string missing = dir.File("no/such/dir/out.png");
  Status s = WritePng(missing, rgb.data(), 2, 2);
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find(missing), std::string::npos) << s.message();

  // A read-only folder (skipped as root, who may write anyway).
  if (::geteuid() != 0) {
    const std::string ro = dir.File("ro");
    ASSERT_EQ(::mkdir(ro.c_str(), 0555), 0);
    const std::string target = ro + "/out.png";
    Status s2 = WritePng(target, rgb.data(), 2, 2);
    EXPECT_EQ(s2.code(), StatusCode::kIoError);
    EXPECT_NE(s2.message().find(target), std::string::npos) << s2.message();
  }
}

// A write that fails part-way (here: the file size limit, as a full disk would) leaves neither
// a partial file under the target name nor a temporary file, and keeps an older file intact.
TEST(PngWriterTest, FailedWriteLeavesNoPartialFile) {
  TempDir dir;
  const std::string path = dir.File("out.png");
  testing::WriteFileBytes(path, "previous image");
  std::vector<uint8_t> noise(64 * 64 * 3);
  uint32_t state = 12345;
  for (uint8_t& b : noise) b = static_cast<uint8_t>((state = state * 1664525u + 1013904223u) >> 24);

  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of the signal
  rlimit small = old;
  small.rlim_cur = 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  Status s = WritePng(path, noise.data(), 64, 64);
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_EQ(testing::ReadFileBytes(path), "previous image");
  EXPECT_EQ(CountEntries(dir.path()), 1u) << "temporary file left behind";
}

// The rename step fails (the target is a non-empty directory): the temporary file is removed.
TEST(PngWriterTest, FailedRenameLeavesNoTemporaryFile) {
  TempDir dir;
  const std::string target = dir.File("is_a_dir");
  ASSERT_TRUE(std::filesystem::create_directory(target));
  ASSERT_TRUE(std::filesystem::create_directory(target + "/child"));
  const std::vector<uint8_t> rgb = Gradient(2, 2);
  Status s = WritePng(target, rgb.data(), 2, 2);
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find(target), std::string::npos) << s.message();
  EXPECT_EQ(CountEntries(dir.path()), 1u) << "temporary file left behind";
}

TEST(PngWriterTest, OverwritesExistingFileAtomically) {
  TempDir dir;
  const std::string path = dir.File("out.png");
  testing::WriteFileBytes(path, "old contents");
  const std::vector<uint8_t> rgb = Gradient(5, 5);
  ASSERT_TRUE(WritePng(path, rgb.data(), 5, 5).ok());
  EXPECT_EQ(Decode(testing::ReadFileBytes(path)).rgb, rgb);
}

}  // namespace
}  // namespace sdr
