// SHA-256 against the FIPS 180-4 / NIST example vectors, chunking independence, and files.
#include "core/sha256.h"

#include <gtest/gtest.h>

#include <string>

#include "testing/temp_dir.h"

namespace sdr {
namespace {

TEST(Sha256Test, NistVectors) {
  EXPECT_EQ(DigestHex(Sha256Of("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(DigestHex(Sha256Of("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(DigestHex(Sha256Of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 h;
  const std::string thousand(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.Update(thousand);
  EXPECT_EQ(DigestHex(h.Finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, ChunkingDoesNotMatterAndFinishResets) {
  std::string msg;
  for (int i = 0; i < 300; ++i) msg += static_cast<char>(i * 37 + 11);
  const Sha256Digest whole = Sha256Of(msg);
  // Every split point, including the padding boundaries at 55/56/63/64 bytes.
  for (size_t cut = 0; cut <= msg.size(); ++cut) {
    Sha256 h;
    h.Update(msg.substr(0, cut));
    h.Update(msg.substr(cut));
    ASSERT_EQ(h.Finish(), whole) << "cut at " << cut;
  }
  Sha256 h;
  h.Update("garbage");
  (void)h.Finish();
  h.Update("abc");
  EXPECT_EQ(DigestHex(h.Finish()), DigestHex(Sha256Of("abc")));
  // Lengths around the one-block/two-block padding boundary all differ.
  EXPECT_NE(Sha256Of(std::string(55, 'x')), Sha256Of(std::string(56, 'x')));
}

TEST(Sha256Test, HashesFilesLargerThanOneChunk) {
  testing::TempDir dir;
  const std::string path = dir.File("big.bin");
  std::string bytes((3u << 20) + 12345, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
  testing::WriteFileBytes(path, bytes);
  auto d = Sha256File(path);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, Sha256Of(bytes));

  auto missing = Sha256File(dir.File("missing.bin"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("missing.bin"), std::string::npos);
  auto directory = Sha256File(dir.path().string());
  EXPECT_EQ(directory.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace sdr
