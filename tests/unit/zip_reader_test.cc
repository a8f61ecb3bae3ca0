#include "formats/zip_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/ckpt_fixtures.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

using testing::BuildZip;
using testing::Patch16;
using testing::Patch32;
using testing::Patch64;
using testing::TempDir;
using testing::WriteFileBytes;
using testing::ZipLayout;
using testing::ZipSpecEntry;

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
  return s;
}

class ZipReaderTest : public ::testing::Test {
 protected:
  Result<ZipReader> OpenBytes(const std::string& bytes) {
    const std::string p = dir_.File("z" + std::to_string(counter_++) + ".zip");
    WriteFileBytes(p, bytes);
    auto f = MappedFile::Open(p);
    if (!f.ok()) return f.status();
    return ZipReader::Open(*f);
  }
  // Opens and reads every entry; the first error, or OK.
  Status OpenAndReadAll(const std::string& bytes) {
    SDR_ASSIGN_OR_RETURN(ZipReader z, OpenBytes(bytes));
    for (const ZipEntry& e : z.entries()) {
      SDR_ASSIGN_OR_RETURN(ZipBytes b, z.Read(e));
      (void)b;
    }
    return Status::Ok();
  }
  // A zip with stored and deflated entries.
  std::string Sample(ZipLayout* layout = nullptr, bool zip64 = false) {
    std::vector<ZipSpecEntry> entries;
    entries.push_back({"archive/data.pkl", "pickle bytes"});
    ZipSpecEntry big{"archive/data/0", Pattern(100000)};
    big.deflate = true;
    entries.push_back(big);
    entries.push_back({"archive/data/1", Pattern(333)});
    entries.push_back({"archive/empty", ""});
    return BuildZip(entries, zip64, layout);
  }

  TempDir dir_;
  int counter_ = 0;
};

void ExpectSampleContents(const ZipReader& z, const std::string& file_bytes) {
  ASSERT_EQ(z.entries().size(), 4u);
  const ZipEntry* pkl = z.Find("archive/data.pkl");
  ASSERT_NE(pkl, nullptr);
  auto b = z.Read(*pkl);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->view(), "pickle bytes");
  EXPECT_FALSE(b->owned);  // stored: a span into the mapping

  const ZipEntry* big = z.Find("archive/data/0");
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->method, 8);
  EXPECT_LT(big->compressed_size, big->uncompressed_size);
  auto bb = z.Read(*big);
  ASSERT_TRUE(bb.ok()) << bb.status().ToString();
  EXPECT_TRUE(bb->owned);
  EXPECT_EQ(bb->view(), Pattern(100000));

  const ZipEntry* small = z.Find("archive/data/1");
  ASSERT_NE(small, nullptr);
  auto sb = z.Read(*small);
  ASSERT_TRUE(sb.ok());
  EXPECT_EQ(sb->view(), Pattern(333));
  EXPECT_EQ(file_bytes.substr(small->data_offset, 333), Pattern(333));

  const ZipEntry* empty = z.Find("archive/empty");
  ASSERT_NE(empty, nullptr);
  auto eb = z.Read(*empty);
  ASSERT_TRUE(eb.ok());
  EXPECT_EQ(eb->size, 0u);
  EXPECT_EQ(z.Find("archive/nope"), nullptr);
}

TEST_F(ZipReaderTest, ReadsStoredAndDeflatedEntries) {
  const std::string bytes = Sample();
  auto z = OpenBytes(bytes);
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  ExpectSampleContents(*z, bytes);
}

TEST_F(ZipReaderTest, ReadsZip64Records) {
  ZipLayout layout;
  const std::string bytes = Sample(&layout, /*zip64=*/true);
  ASSERT_NE(layout.zip64_eocd_offset, 0u);
  auto z = OpenBytes(bytes);
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  ExpectSampleContents(*z, bytes);
}

TEST_F(ZipReaderTest, ReadsPythonZipfileArchives) {
  if (!testing::HavePython()) GTEST_SKIP() << "/usr/bin/python3 not available";
  const std::string p = dir_.File("py.zip");
  const std::string script =
      "import zipfile\n"
      "data = bytes((i * 7 + i // 251) & 0xff for i in range(100000))\n"
      "with zipfile.ZipFile('" + p + "', 'w') as z:\n"
      "    z.writestr('m/a', b'stored bytes', compress_type=zipfile.ZIP_STORED)\n"
      "    z.writestr('m/b', data, compress_type=zipfile.ZIP_DEFLATED)\n"
      "    with z.open('m/c', 'w', force_zip64=True) as f:\n"
      "        f.write(b'zip64 entry')\n"
      "    z.comment = b'a trailing comment'\n";
  std::string out;
  ASSERT_EQ(testing::RunPython(script, &out), 0) << out;
  auto f = MappedFile::Open(p);
  ASSERT_TRUE(f.ok());
  auto z = ZipReader::Open(*f);
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  ASSERT_EQ(z->entries().size(), 3u);
  EXPECT_EQ(z->Read(*z->Find("m/a"))->view(), "stored bytes");
  EXPECT_EQ(z->Read(*z->Find("m/b"))->view(), Pattern(100000));
  EXPECT_EQ(z->Read(*z->Find("m/c"))->view(), "zip64 entry");
}

TEST_F(ZipReaderTest, TruncationAtAnyOffsetIsAnError) {
  const std::string bytes = Sample();
  std::vector<size_t> cuts;
  for (size_t i = 0; i < 64; ++i) cuts.push_back(bytes.size() * i / 64);
  for (size_t i = 0; i < 100 && i < bytes.size(); ++i) {
    cuts.push_back(i);
    cuts.push_back(bytes.size() - 1 - i);
  }
  for (size_t cut : cuts) {
    Status s = OpenAndReadAll(bytes.substr(0, cut));
    EXPECT_FALSE(s.ok()) << "cut at " << cut;
    EXPECT_EQ(s.code(), StatusCode::kCorruptData) << "cut at " << cut << ": " << s.ToString();
  }
}

TEST_F(ZipReaderTest, NotAZipIsCorruptData) {
  Status s = OpenAndReadAll("");
  EXPECT_EQ(s.code(), StatusCode::kCorruptData);
  s = OpenAndReadAll(std::string(5000, 'x'));
  EXPECT_EQ(s.code(), StatusCode::kCorruptData);
  EXPECT_NE(s.message().find("end-of-central-directory"), std::string::npos) << s.message();
}

TEST_F(ZipReaderTest, EocdOffsetsOutOfRange) {
  ZipLayout lay;
  const std::string good = Sample(&lay);
  const uint64_t e = lay.eocd_offset;
  struct Case {
    const char* what;
    uint64_t at;
    int width;
    uint64_t value;
  };
  const std::vector<Case> cases = {
      {"cd offset past EOF", e + 16, 4, 0xfffffff0u},
      {"cd offset just past the EOCD", e + 16, 4, e + 1},
      {"cd size huge", e + 12, 4, 0xffffff00u},
      {"cd size one too many", e + 12, 4, lay.cd_size + 1},
      {"entry count huge", e + 10, 2, 0xfff0},
      {"comment length past EOF", e + 20, 2, 100},
  };
  for (const Case& c : cases) {
    std::string bad = good;
    if (c.width == 2) {
      Patch16(&bad, c.at, static_cast<uint16_t>(c.value));
      if (c.at == e + 10) Patch16(&bad, e + 8, static_cast<uint16_t>(c.value));
    } else {
      Patch32(&bad, c.at, static_cast<uint32_t>(c.value));
    }
    Status s = OpenAndReadAll(bad);
    EXPECT_EQ(s.code(), StatusCode::kCorruptData) << c.what << ": " << s.ToString();
    EXPECT_NE(s.message().find("zip '"), std::string::npos) << s.message();
  }
}

TEST_F(ZipReaderTest, Zip64EocdOffsetsOutOfRange) {
  ZipLayout lay;
  const std::string good = Sample(&lay, /*zip64=*/true);
  const uint64_t locator = lay.eocd_offset - 20;
  const uint64_t z = lay.zip64_eocd_offset;
  struct Case {
    const char* what;
    uint64_t at;
    uint64_t value;
  };
  const std::vector<Case> cases = {
      {"locator points past EOF", locator + 8, uint64_t{1} << 60},
      {"locator points at the locator", locator + 8, locator},
      {"locator points at data", locator + 8, 0},
      {"zip64 cd offset huge", z + 48, ~uint64_t{0} - 8},
      {"zip64 cd size huge", z + 40, ~uint64_t{0} - 8},
      {"zip64 entry count huge", z + 32, uint64_t{1} << 40},
  };
  for (const Case& c : cases) {
    std::string bad = good;
    Patch64(&bad, c.at, c.value);
    if (c.at == z + 32) Patch64(&bad, z + 24, c.value);
    Status s = OpenAndReadAll(bad);
    EXPECT_EQ(s.code(), StatusCode::kCorruptData) << c.what << ": " << s.ToString();
  }
  // A second disk is refused as unsupported, not misread.
  std::string multi = good;
  Patch32(&multi, locator + 16, 2);
  EXPECT_EQ(OpenAndReadAll(multi).code(), StatusCode::kUnsupported);
}

TEST_F(ZipReaderTest, CentralEntryPointingPastEof) {
  ZipLayout lay;
  const std::string good = Sample(&lay);
  for (uint32_t off : {static_cast<uint32_t>(good.size() + 100), 0xfffffff0u,
                       static_cast<uint32_t>(lay.cd_offset - 10)}) {
    std::string bad = good;
    Patch32(&bad, lay.central_offsets[2] + 42, off);
    Status s = OpenAndReadAll(bad);
    EXPECT_EQ(s.code(), StatusCode::kCorruptData) << off << ": " << s.ToString();
    EXPECT_NE(s.message().find("archive/data/1"), std::string::npos) << s.message();
  }
  // Offset of a different entry's header: the local name disagrees.
  std::string bad = good;
  Patch32(&bad, lay.central_offsets[2] + 42, static_cast<uint32_t>(lay.local_offsets[0]));
  Status s = OpenAndReadAll(bad);
  EXPECT_EQ(s.code(), StatusCode::kCorruptData);
  EXPECT_NE(s.message().find("local header"), std::string::npos) << s.message();
}

TEST_F(ZipReaderTest, HugeDeclaredStoredSizeIsRefused) {
  ZipLayout lay;
  const std::string good = Sample(&lay);
  for (uint32_t size : {0x7fffffffu, 0xfffffffeu, static_cast<uint32_t>(good.size())}) {
    std::string bad = good;
    Patch32(&bad, lay.central_offsets[2] + 20, size);
    Patch32(&bad, lay.central_offsets[2] + 24, size);
    Status s = OpenAndReadAll(bad);
    EXPECT_EQ(s.code(), StatusCode::kCorruptData) << s.ToString();
  }
  // Stored entries must have equal sizes.
  std::string bad = good;
  Patch32(&bad, lay.central_offsets[2] + 24, 334);
  EXPECT_EQ(OpenAndReadAll(bad).code(), StatusCode::kCorruptData);
}

TEST_F(ZipReaderTest, ZipBombLikeDeclaredSizesAreRefused) {
  // Declared size far beyond the file (x1000 cap): refused before inflating.
  for (uint64_t declared : {uint64_t{1} << 40, uint64_t{1} << 33, uint64_t{200} << 20}) {
    ZipSpecEntry e{"a/data/0", Pattern(1000)};
    e.deflate = true;
    e.declared_size = declared;
    auto z = OpenBytes(BuildZip({e}, declared >= (uint64_t{1} << 32)));
    ASSERT_TRUE(z.ok()) << z.status().ToString();
    auto r = z->Read(z->entries()[0]);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kCorruptData);
    EXPECT_NE(r.status().message().find("zip bomb"), std::string::npos) << r.status().message();
  }
  // A real high-ratio stream (zeros compress ~1030:1) is over the x1000 ratio cap.
  ZipSpecEntry zeros{"a/data/0", std::string(20u << 20, '\0')};
  zeros.deflate = true;
  auto z = OpenBytes(BuildZip({zeros}));
  ASSERT_TRUE(z.ok());
  auto r = z->Read(z->entries()[0]);
  EXPECT_FALSE(r.ok());
}

TEST_F(ZipReaderTest, InflateStopsAtTheDeclaredSize) {
  ZipSpecEntry e{"a/x", Pattern(50000)};
  e.deflate = true;
  e.declared_size = 40000;  // smaller than the stream: must not write past it
  auto z = OpenBytes(BuildZip({e}));
  ASSERT_TRUE(z.ok());
  auto r = z->Read(z->entries()[0]);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("more than its declared"), std::string::npos)
      << r.status().message();

  e.declared_size = 60000;  // larger than the stream
  z = OpenBytes(BuildZip({e}));
  ASSERT_TRUE(z.ok());
  r = z->Read(z->entries()[0]);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruptData);
}

TEST_F(ZipReaderTest, DeflateCrcAndStreamErrors) {
  ZipSpecEntry e{"a/x", Pattern(5000)};
  e.deflate = true;
  e.crc = 0x12345678;
  auto z = OpenBytes(BuildZip({e}));
  ASSERT_TRUE(z.ok());
  auto r = z->Read(z->entries()[0]);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("CRC"), std::string::npos) << r.status().message();

  // Garbage where the deflate stream should be.
  ZipLayout lay;
  e.crc.reset();
  std::string bytes = BuildZip({e}, false, &lay);
  const uint64_t data = lay.local_offsets[0] + 30 + 3;
  for (uint64_t i = data; i < lay.cd_offset; ++i) bytes[i] = static_cast<char>(0xff);
  z = OpenBytes(bytes);
  ASSERT_TRUE(z.ok());
  r = z->Read(z->entries()[0]);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruptData);
}

TEST_F(ZipReaderTest, LocalHeaderNameMismatch) {
  ZipSpecEntry e{"archive/data/0", "abcd"};
  e.local_name = "archive/data/9";
  Status s = OpenAndReadAll(BuildZip({{"archive/data.pkl", "x"}, e}));
  EXPECT_EQ(s.code(), StatusCode::kCorruptData);
  EXPECT_NE(s.message().find("archive/data/9"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("local header"), std::string::npos) << s.message();
}

TEST_F(ZipReaderTest, DuplicateEncryptedAndUnknownMethodEntries) {
  Status s = OpenAndReadAll(BuildZip({{"a/x", "1"}, {"a/x", "2"}}));
  EXPECT_EQ(s.code(), StatusCode::kCorruptData);
  EXPECT_NE(s.message().find("twice"), std::string::npos);

  ZipLayout lay;
  std::string enc = BuildZip({{"a/x", "1"}}, false, &lay);
  Patch16(&enc, lay.central_offsets[0] + 8, 1);  // encrypted flag
  EXPECT_EQ(OpenAndReadAll(enc).code(), StatusCode::kUnsupported);

  std::string bz = BuildZip({{"a/x", "1"}}, false, &lay);
  Patch16(&bz, lay.central_offsets[0] + 10, 12);  // bzip2
  Patch16(&bz, lay.local_offsets[0] + 8, 12);
  Status m = OpenAndReadAll(bz);
  EXPECT_EQ(m.code(), StatusCode::kUnsupported);
  EXPECT_NE(m.message().find("method 12"), std::string::npos);
}

TEST_F(ZipReaderTest, CorruptCentralDirectorySignatureAndExtra) {
  ZipLayout lay;
  const std::string good = Sample(&lay);
  std::string bad = good;
  Patch32(&bad, lay.central_offsets[1], 0xdeadbeef);
  EXPECT_EQ(OpenAndReadAll(bad).code(), StatusCode::kCorruptData);

  // Name length running past the central directory.
  bad = good;
  Patch16(&bad, lay.central_offsets[3] + 28, 0xff00);
  EXPECT_EQ(OpenAndReadAll(bad).code(), StatusCode::kCorruptData);

  // Saturated sizes without a ZIP64 extra field.
  bad = good;
  Patch32(&bad, lay.central_offsets[1] + 24, 0xffffffffu);
  EXPECT_EQ(OpenAndReadAll(bad).code(), StatusCode::kCorruptData);
}

}  // namespace
}  // namespace sdr
