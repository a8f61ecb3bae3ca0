// MappedFile::FromBytes and the readers' in-memory entries (ReadSafetensors / ReadGguf /
// ReadCkpt over a MappedFile): the same bytes give the same index as reading the file, tensors
// keep the copy alive, and errors name the given name.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/mapped_file.h"
#include "formats/ckpt.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

using testing::TempDir;

TEST(MappedFileFromBytesTest, CopiesTheBytesAlignedAndNamed) {
  std::string bytes = "some bytes";
  bytes += std::string(1, '\0') + "and a NUL";
  auto f = MappedFile::FromBytes(bytes, "mem:x");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->size(), bytes.size());
  EXPECT_EQ((*f)->path(), "mem:x");
  ASSERT_NE((*f)->data(), nullptr);
  EXPECT_NE(static_cast<const void*>((*f)->data()), static_cast<const void*>(bytes.data()));
  EXPECT_EQ(reinterpret_cast<uintptr_t>((*f)->data()) % 64, 0u);
  EXPECT_EQ(std::memcmp((*f)->data(), bytes.data(), bytes.size()), 0);
  bytes.assign(bytes.size(), 'x');  // the copy is independent of the source
  EXPECT_EQ(static_cast<char>((*f)->data()[0]), 's');
}

// ReleaseMappedPages drops pages of a file mapping (they come back from the file, same bytes) and
// leaves any other memory alone: on a heap copy, MADV_DONTNEED would have zeroed it.
TEST(MappedFileFromBytesTest, ReleasingPagesKeepsTheBytesOfMappingsAndCopies) {
  std::string bytes(64 * 1024, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(1 + i % 251);
  auto copy = MappedFile::FromBytes(bytes, "mem:pages");
  ASSERT_TRUE(copy.ok());
  ReleaseMappedPages((*copy)->data(), (*copy)->size());
  EXPECT_EQ(std::memcmp((*copy)->data(), bytes.data(), bytes.size()), 0) << "a heap copy was released";
  TempDir dir;
  testing::WriteFileBytes(dir.File("pages.bin"), bytes);
  auto mapped = MappedFile::Open(dir.File("pages.bin"));
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ(std::memcmp((*mapped)->data(), bytes.data(), bytes.size()), 0);  // paged in
  ReleaseMappedPages((*mapped)->data() + 100, (*mapped)->size() - 200);
  EXPECT_EQ(std::memcmp((*mapped)->data(), bytes.data(), bytes.size()), 0);  // paged in again
  // A range running past the mapping's end is not released (nothing to check but no crash).
  ReleaseMappedPages((*mapped)->data(), (*mapped)->size() + 8192);
  EXPECT_EQ(std::memcmp((*mapped)->data(), bytes.data(), bytes.size()), 0);
}

TEST(MappedFileFromBytesTest, EmptyInputHasNoData) {
  auto f = MappedFile::FromBytes("", "empty");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->size(), 0u);
  EXPECT_EQ((*f)->data(), nullptr);
}

Tensor Ramp(int n) {
  auto t = Tensor::Allocate(DType::kF32, {n});
  EXPECT_TRUE(t.ok());
  for (int i = 0; i < n; ++i) t->mutable_data<float>()[i] = static_cast<float>(i) + 0.5f;
  return *t;
}

// Reads `path` from disk and from a copy of its bytes; both indexes must agree.
void ExpectSameIndex(const std::string& path, Status (*read_file)(const std::string&, TensorIndex*),
                     Status (*read_mem)(std::shared_ptr<const MappedFile>, TensorIndex*)) {
  TensorIndex from_file, from_mem;
  ASSERT_TRUE(read_file(path, &from_file).ok());
  {
    auto f = MappedFile::FromBytes(testing::ReadFileBytes(path), "mem");
    ASSERT_TRUE(f.ok());
    const Status s = read_mem(*f, &from_mem);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }  // only the tensors keep the copy alive now
  ASSERT_EQ(from_mem.size(), from_file.size());
  EXPECT_EQ(from_mem.metadata, from_file.metadata);
  for (const TensorEntry& e : from_file.entries()) {
    const TensorEntry* m = from_mem.Find(e.name);
    ASSERT_NE(m, nullptr) << e.name;
    EXPECT_EQ(m->tensor.dtype(), e.tensor.dtype());
    EXPECT_EQ(m->tensor.shape(), e.tensor.shape());
    ASSERT_EQ(m->tensor.nbytes(), e.tensor.nbytes());
    EXPECT_EQ(std::memcmp(m->tensor.raw(), e.tensor.raw(), e.tensor.nbytes()), 0) << e.name;
  }
}

TEST(InMemoryReadTest, EveryReaderGivesTheSameIndexAsFromTheFile) {
  TempDir dir;
  const std::vector<NamedTensor> tensors = {{"a", Ramp(6)}, {"b", Ramp(32)}};
  const std::string st = dir.File("m.safetensors"), gg = dir.File("m.gguf"), ck = dir.File("m.ckpt");
  ASSERT_TRUE(WriteSafetensors(st, tensors, {{"k", "v"}}).ok());
  ASSERT_TRUE(WriteGguf(gg, tensors, {{"k", "v"}}).ok());
  ASSERT_TRUE(WriteCkpt(ck, tensors).ok());
  ExpectSameIndex(
      st, [](const std::string& p, TensorIndex* i) { return ReadSafetensors(p, i); },
      [](std::shared_ptr<const MappedFile> f, TensorIndex* i) { return ReadSafetensors(f, i); });
  ExpectSameIndex(
      gg, [](const std::string& p, TensorIndex* i) { return ReadGguf(p, i); },
      [](std::shared_ptr<const MappedFile> f, TensorIndex* i) { return ReadGguf(f, i); });
  ExpectSameIndex(
      ck, [](const std::string& p, TensorIndex* i) { return ReadCkpt(p, i); },
      [](std::shared_ptr<const MappedFile> f, TensorIndex* i) { return ReadCkpt(std::move(f), i); });
}

TEST(InMemoryReadTest, ErrorsNameTheGivenName) {
  auto f = MappedFile::FromBytes("not a model file at all, just text", "mem:upload-7");
  ASSERT_TRUE(f.ok());
  TensorIndex index;
  for (const Status& s : {ReadSafetensors(*f, &index), ReadGguf(*f, &index), ReadCkpt(*f, &index)}) {
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("mem:upload-7"), std::string::npos) << s.ToString();
  }
  EXPECT_EQ(index.size(), 0u);
}

}  // namespace
}  // namespace sdr
