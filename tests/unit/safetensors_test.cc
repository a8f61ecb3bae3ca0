#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/half.h"
#include "formats/safetensors.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

using testing::TempDir;
using testing::WriteFileBytes;

std::string Le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>(v >> (8 * i));
  return s;
}

std::string FileWith(const std::string& header, const std::string& data) {
  return Le64(header.size()) + header + data;
}

Status ReadBytes(const TempDir& dir, const std::string& bytes, TensorIndex* index) {
  const std::string path = dir.File("m.safetensors");
  WriteFileBytes(path, bytes);
  return ReadSafetensors(path, index);
}

void ExpectError(const std::string& bytes, StatusCode code, const std::string& needle) {
  TempDir dir;
  TensorIndex index;
  Status s = ReadBytes(dir, bytes, &index);
  ASSERT_FALSE(s.ok()) << "expected an error containing '" << needle << "'";
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("m.safetensors"), std::string::npos) << "error must name the file";
}

TEST(SafetensorsTest, RoundTripKeepsNamesDtypesShapesAndBytes) {
  TempDir dir;
  auto a = Tensor::Allocate(DType::kF32, {2, 3});
  auto b = Tensor::Allocate(DType::kF16, {4});
  auto c = Tensor::Allocate(DType::kI64, {2});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  for (int i = 0; i < 6; ++i) a->mutable_data<float>()[i] = static_cast<float>(i) * 0.5f;
  for (int i = 0; i < 4; ++i) b->mutable_data<uint16_t>()[i] = F32ToF16(static_cast<float>(-i));
  c->mutable_data<int64_t>()[0] = 7;
  c->mutable_data<int64_t>()[1] = -1;
  const std::string path = dir.File("rt.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, {{"x.a", *a}, {"x.b", *b}, {"x.c", *c}}, {{"k", "v"}}).ok());
  TensorIndex index;
  ASSERT_TRUE(ReadSafetensors(path, &index, "pre.").ok());
  ASSERT_EQ(index.size(), 3u);
  EXPECT_EQ(index.metadata.at("k"), "v");
  const TensorEntry* ea = index.Find("pre.x.a");
  ASSERT_NE(ea, nullptr);
  EXPECT_EQ(ea->tensor.dtype(), DType::kF32);
  EXPECT_EQ(ea->tensor.shape(), (Shape{2, 3}));
  EXPECT_FALSE(ea->tensor.writable());  // borrowed from the mapping
  EXPECT_EQ(ea->tensor.data<float>()[5], 2.5f);
  EXPECT_EQ(F16ToF32(index.Find("pre.x.b")->tensor.data<uint16_t>()[3]), -3.0f);
  auto cf = ToF32(index.Find("pre.x.c")->tensor);
  ASSERT_TRUE(cf.ok());
  EXPECT_EQ(cf->data<float>()[1], -1.0f);
}

TEST(SafetensorsTest, TensorsOutliveTheIndexThroughTheMapping) {
  TempDir dir;
  auto a = Tensor::Allocate(DType::kF32, {1});
  a->mutable_data<float>()[0] = 42.0f;
  ASSERT_TRUE(WriteSafetensors(dir.File("k.safetensors"), {{"w", *a}}).ok());
  Tensor kept;
  {
    TensorIndex index;
    ASSERT_TRUE(ReadSafetensors(dir.File("k.safetensors"), &index).ok());
    kept = index.Find("w")->tensor;
  }
  EXPECT_EQ(kept.data<float>()[0], 42.0f);
}

// Found by fuzz_safetensors (tests/fuzz/regressions/safetensors/misaligned_i64.safetensors):
// packed tensors after a header of any length need not be aligned for their dtype; they used to
// be borrowed as is and read as misaligned int64_t/float (UB). Misaligned ones are now copied.
TEST(SafetensorsTest, MisalignedTensorsAreCopiedAlignedOnesBorrowed) {
  // 8 + 64 header bytes: the data section starts 8-aligned; "h" (F16) leaves "q" at offset 2
  // and "f" at offset 10, neither naturally aligned, "a" at offset 24 aligned.
  std::string h = R"({"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},)"
                  R"("q":{"dtype":"I64","shape":[1],"data_offsets":[2,10]},)"
                  R"("f":{"dtype":"F32","shape":[1],"data_offsets":[10,14]},)"
                  R"("g":{"dtype":"F16","shape":[5],"data_offsets":[14,24]},)"
                  R"("a":{"dtype":"F32","shape":[1],"data_offsets":[24,28]}})";
  h += std::string((8 - h.size() % 8) % 8, ' ');
  std::string data(28, '\0');
  const int64_t q = -1234567890123;
  const float f = 1.5f, a = -2.25f;
  std::memcpy(&data[2], &q, 8);
  std::memcpy(&data[10], &f, 4);
  std::memcpy(&data[24], &a, 4);
  TempDir dir;
  TensorIndex index;
  const Status s = ReadBytes(dir, FileWith(h, data), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const Tensor& tq = index.Find("q")->tensor;
  const Tensor& tf = index.Find("f")->tensor;
  const Tensor& ta = index.Find("a")->tensor;
  EXPECT_TRUE(tq.writable());  // copied
  EXPECT_TRUE(tf.writable());
  EXPECT_FALSE(ta.writable());  // borrowed
  EXPECT_EQ(reinterpret_cast<uintptr_t>(tq.raw()) % 8, 0u);
  EXPECT_EQ(tq.data<int64_t>()[0], q);
  EXPECT_EQ(tf.data<float>()[0], f);
  EXPECT_EQ(ta.data<float>()[0], a);
}

TEST(SafetensorsTest, IgnoredNamesAreSkippedAndCounted) {
  const std::string h =
      R"({"model_ema.decay":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
      R"("cond_stage_model.transformer.text_model.embeddings.position_ids":{"dtype":"I64","shape":[1,1],"data_offsets":[4,12]},)"
      R"("alphas_cumprod":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},)"
      R"("w":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}})";
  TempDir dir;
  TensorIndex index;
  ASSERT_TRUE(ReadBytes(dir, FileWith(h, std::string(20, '\0')), &index).ok());
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(index.ignored_tensors, 3);
}

TEST(SafetensorsTest, HeaderErrorsAreNamed) {
  ExpectError("", StatusCode::kCorruptData, "too short");
  ExpectError(Le64(1000) + "{}", StatusCode::kCorruptData, "larger than the file");
  ExpectError(Le64(1ull << 62) + "{}", StatusCode::kCorruptData, "exceeds");
  ExpectError(FileWith("{\"a\":", ""), StatusCode::kCorruptData, "not valid JSON");
  ExpectError(FileWith("[1,2]", ""), StatusCode::kCorruptData, "not a JSON object");
  ExpectError(FileWith(R"({"__metadata__":[1]})", ""), StatusCode::kCorruptData, "__metadata__");
  ExpectError(FileWith(std::string(100000, '[') + std::string(100000, ']'), ""), StatusCode::kCorruptData,
              "JSON");
}

TEST(SafetensorsTest, EntryErrorsNameTheTensor) {
  const std::string d8(8, '\0');
  ExpectError(FileWith(R"({"w":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", d8),
              StatusCode::kUnsupported, "'w'");
  ExpectError(FileWith(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", d8),
              StatusCode::kCorruptData, "past the end");
  ExpectError(FileWith(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", d8),
              StatusCode::kCorruptData, "needs 12 bytes");
  ExpectError(FileWith(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", d8),
              StatusCode::kCorruptData, "begin > end");
  ExpectError(FileWith(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", d8),
              StatusCode::kCorruptData, "negative");
  ExpectError(FileWith(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", d8),
              StatusCode::kCorruptData, "overflows");
  ExpectError(FileWith(R"({"w":{"dtype":"F32","shape":[2]}})", d8), StatusCode::kCorruptData, "data_offsets");
  ExpectError(FileWith(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", d8), StatusCode::kCorruptData, "dtype");
  ExpectError(FileWith(R"({"w":7})", d8), StatusCode::kCorruptData, "not an object");
  ExpectError(FileWith(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", d8),
              StatusCode::kCorruptData, "overlap");
}

TEST(SafetensorsTest, TruncationAtAnyOffsetIsAnErrorNotACrash) {
  TempDir dir;
  auto a = Tensor::Zeros(DType::kF32, {8, 8});
  auto b = Tensor::Zeros(DType::kBF16, {16});
  const std::string path = dir.File("full.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, {{"a", *a}, {"b", *b}}).ok());
  const std::string bytes = testing::ReadFileBytes(path);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    TensorIndex index;
    Status s = ReadBytes(dir, bytes.substr(0, cut), &index);
    EXPECT_FALSE(s.ok()) << "cut at " << cut;
  }
}

TEST(SafetensorsTest, MissingFileIsNotFound) {
  TensorIndex index;
  Status s = ReadSafetensors("/nonexistent/x.safetensors", &index);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("/nonexistent/x.safetensors"), std::string::npos);
}

TEST(SafetensorsTest, ShardedIndexJoinsShards) {
  TempDir dir;
  auto a = Tensor::Zeros(DType::kF32, {2});
  auto b = Tensor::Zeros(DType::kF16, {3});
  ASSERT_TRUE(WriteSafetensors(dir.File("m-1.safetensors"), {{"a", *a}}).ok());
  ASSERT_TRUE(WriteSafetensors(dir.File("m-2.safetensors"), {{"b", *b}}).ok());
  WriteFileBytes(dir.File("m.safetensors.index.json"),
                 R"({"metadata":{},"weight_map":{"a":"m-1.safetensors","b":"m-2.safetensors"}})");
  TensorIndex index;
  ASSERT_TRUE(ReadSafetensorsSharded(dir.File("m.safetensors.index.json"), &index).ok());
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(index.Find("b")->tensor.shape(), Shape{3});

  WriteFileBytes(dir.File("bad.safetensors.index.json"),
                 R"({"weight_map":{"a":"m-1.safetensors","c":"m-1.safetensors"}})");
  TensorIndex bad;
  Status s = ReadSafetensorsSharded(dir.File("bad.safetensors.index.json"), &bad);
  EXPECT_EQ(s.code(), StatusCode::kCorruptData);
  EXPECT_NE(s.message().find("'c'"), std::string::npos) << s.ToString();

  WriteFileBytes(dir.File("esc.safetensors.index.json"), R"({"weight_map":{"a":"../etc/passwd"}})");
  TensorIndex esc;
  EXPECT_EQ(ReadSafetensorsSharded(dir.File("esc.safetensors.index.json"), &esc).code(),
            StatusCode::kCorruptData);
}

}  // namespace
}  // namespace sdr
