// GGUF: writer/reader round trips for every dtype, metadata of every value type from files
// built byte by byte here, and hostile files (truncations, absurd counts and lengths, bad dims,
// types, offsets, alignments and versions), each of which must fail with a clear error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/dequantize.h"
#include "core/half.h"
#include "core/quant.h"
#include "formats/gguf.h"
#include "formats/gguf_types.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

using gguf::ValueType;
using testing::TempDir;

// ggml tensor type ids used in hand-built files.
constexpr uint32_t kGgmlF32 = 0, kGgmlF16 = 1, kGgmlQ4_0 = 2, kGgmlQ8_0 = 8;

// Little-endian byte string builder.
class Bytes {
 public:
  template <typename T>
  Bytes& Put(T v) {
    s.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return *this;
  }
  Bytes& U32(uint32_t v) { return Put(v); }
  Bytes& U64(uint64_t v) { return Put(v); }
  Bytes& Str(std::string_view v) {
    U64(v.size());
    s.append(v);
    return *this;
  }
  Bytes& Key(std::string_view key, ValueType t) { return Str(key).U32(static_cast<uint32_t>(t)); }
  Bytes& ArrayHead(ValueType elem, uint64_t n) {
    return U32(static_cast<uint32_t>(elem)).U64(n);
  }
  std::string s;
};

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> dims;  // innermost first, as stored
  uint32_t type = kGgmlF32;
  uint64_t offset = 0;
  std::string data;            // placed at `offset` in the data section
};

struct FileSpec {
  uint32_t version = 3;
  std::string kvs;             // raw key/value bytes
  uint64_t kv_count = 0;
  uint32_t alignment = 32;     // used to place the data section (write the kv yourself)
  std::vector<TensorSpec> tensors;
  int64_t tensor_count = -1;   // override of the stored count when >= 0
};

std::string Build(const FileSpec& f) {
  Bytes b;
  b.U32(gguf::kMagic).U32(f.version);
  b.U64(f.tensor_count >= 0 ? static_cast<uint64_t>(f.tensor_count) : f.tensors.size());
  b.U64(f.kv_count);
  b.s += f.kvs;
  for (const TensorSpec& t : f.tensors) {
    b.Str(t.name).U32(static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) b.U64(d);
    b.U32(t.type).U64(t.offset);
  }
  while (b.s.size() % f.alignment != 0) b.s.push_back('\0');
  const size_t data_start = b.s.size();
  for (const TensorSpec& t : f.tensors) {
    if (t.data.empty()) continue;
    if (b.s.size() < data_start + t.offset + t.data.size()) {
      b.s.resize(data_start + t.offset + t.data.size(), '\0');
    }
    b.s.replace(data_start + t.offset, t.data.size(), t.data);
  }
  return b.s;
}

std::string F32Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

// Writes `bytes` to a temp file and reads it as GGUF.
// One directory for the whole run: the hostile-file tests read hundreds of files.
Status ReadBytes(const std::string& bytes, TensorIndex* index) {
  static const TempDir dir;  // removed at exit
  const std::string path = dir.File("m.gguf");
  testing::WriteFileBytes(path, bytes);
  return ReadGguf(path, index);
}

void ExpectError(const std::string& bytes, StatusCode code, std::string_view word,
                 const std::string& what) {
  TensorIndex index;
  const Status s = ReadBytes(bytes, &index);
  ASSERT_FALSE(s.ok()) << what;
  EXPECT_EQ(s.code(), code) << what << ": " << s.ToString();
  EXPECT_NE(s.message().find(word), std::string::npos) << what << ": " << s.ToString();
  EXPECT_EQ(index.size(), 0u) << what;
  EXPECT_TRUE(index.metadata.empty()) << what;
}

// A valid file with metadata of several kinds and three tensors; the last tensor's bytes end
// exactly at the end of the file, so that any truncation cuts something the reader needs.
FileSpec ValidSpec() {
  FileSpec f;
  Bytes kv;
  kv.Key("general.architecture", ValueType::kString).Str("stable-diffusion");
  kv.Key("general.alignment", ValueType::kU32).U32(32);
  kv.Key("tokens", ValueType::kArray).ArrayHead(ValueType::kString, 3).Str("a").Str("bc").Str("");
  kv.Key("nested", ValueType::kArray).ArrayHead(ValueType::kArray, 2);
  kv.ArrayHead(ValueType::kI32, 2).Put<int32_t>(1).Put<int32_t>(2);
  kv.ArrayHead(ValueType::kU8, 1).Put<uint8_t>(7);
  kv.Key("scale", ValueType::kF32).Put<float>(0.5f);
  f.kvs = kv.s;
  f.kv_count = 5;
  f.tensors.push_back({"a", {8}, kGgmlF32, 0, F32Bytes({0, 1, 2, 3, 4, 5, 6, 7})});
  std::string q8(34, '\0');
  const uint16_t d = F32ToF16(0.5f);
  std::memcpy(&q8[0], &d, 2);
  for (int j = 0; j < 32; ++j) q8[2 + j] = static_cast<char>(j - 16);
  f.tensors.push_back({"b", {32}, kGgmlQ8_0, 32, q8});
  std::string f16(32, '\0');
  for (int j = 0; j < 16; ++j) {
    const uint16_t h = F32ToF16(static_cast<float>(j) * 0.25f);
    std::memcpy(&f16[2 * j], &h, 2);
  }
  f.tensors.push_back({"c", {4, 4}, kGgmlF16, 96, f16});
  return f;
}

std::vector<float> AsF32(const Tensor& t) {
  auto r = ToF32(t);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return {};
  return std::vector<float>(r->data<float>(), r->data<float>() + r->numel());
}

TEST(GgufReadTest, HandBuiltFileGivesTensorsInPyTorchOrder) {
  TensorIndex index;
  const Status s = ReadBytes(Build(ValidSpec()), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(index.size(), 3u);
  const TensorEntry* a = index.Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->tensor.dtype(), DType::kF32);
  EXPECT_EQ(a->tensor.shape(), (Shape{8}));
  EXPECT_FALSE(a->tensor.writable());  // borrowed from the mapping
  EXPECT_EQ(AsF32(a->tensor), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}));
  const TensorEntry* b = index.Find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->tensor.dtype(), DType::kQ8_0);  // stays quantized in the index
  const auto bv = AsF32(b->tensor);
  ASSERT_EQ(bv.size(), 32u);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(bv[j], (j - 16) * 0.5f);
  const TensorEntry* c = index.Find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->tensor.dtype(), DType::kF16);
  EXPECT_EQ(c->tensor.shape(), (Shape{4, 4}));
  EXPECT_EQ(AsF32(c->tensor)[13], 3.25f);
  EXPECT_EQ(index.metadata["general.architecture"], "stable-diffusion");
  EXPECT_EQ(index.metadata["tokens"], "[array of 3 string]");
  EXPECT_EQ(index.metadata["nested"], "[array of 2 array]");
  EXPECT_EQ(index.metadata["scale"], "0.5");
}

TEST(GgufReadTest, DimsAreReversedIntoPyTorchOrder) {
  FileSpec f;
  f.tensors.push_back({"w", {2, 3, 4, 5}, kGgmlF32, 0, std::string(120 * 4, '\0')});
  f.tensors.push_back({"s", {}, kGgmlF32, 480, F32Bytes({42.0f})});
  TensorIndex index;
  const Status s = ReadBytes(Build(f), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(index.size(), 2u);
  EXPECT_EQ(index.Find("w")->tensor.shape(), (Shape{5, 4, 3, 2}));
  EXPECT_EQ(index.Find("s")->tensor.shape(), Shape{});
  EXPECT_EQ(AsF32(index.Find("s")->tensor), std::vector<float>{42.0f});
}

TEST(GgufReadTest, MetadataOfEveryValueType) {
  Bytes kv;
  kv.Key("u8", ValueType::kU8).Put<uint8_t>(200);
  kv.Key("i8", ValueType::kI8).Put<int8_t>(-5);
  kv.Key("u16", ValueType::kU16).Put<uint16_t>(60000);
  kv.Key("i16", ValueType::kI16).Put<int16_t>(-300);
  kv.Key("u32", ValueType::kU32).Put<uint32_t>(4000000000u);
  kv.Key("i32", ValueType::kI32).Put<int32_t>(-2000000000);
  kv.Key("f32", ValueType::kF32).Put<float>(1.5f);
  kv.Key("bool_t", ValueType::kBool).Put<uint8_t>(1);
  kv.Key("bool_f", ValueType::kBool).Put<uint8_t>(0);
  kv.Key("string", ValueType::kString).Str("hello world");
  kv.Key("empty_string", ValueType::kString).Str("");
  kv.Key("u64", ValueType::kU64).Put<uint64_t>(9223372036854775809ull);
  kv.Key("i64", ValueType::kI64).Put<int64_t>(-1099511627776ll);
  kv.Key("f64", ValueType::kF64).Put<double>(0.1);
  kv.Key("arr_u8", ValueType::kArray).ArrayHead(ValueType::kU8, 3);
  kv.Put<uint8_t>(1).Put<uint8_t>(2).Put<uint8_t>(3);
  kv.Key("arr_bool", ValueType::kArray).ArrayHead(ValueType::kBool, 2).Put<uint8_t>(1).Put<uint8_t>(0);
  kv.Key("arr_f64", ValueType::kArray).ArrayHead(ValueType::kF64, 2).Put<double>(-2.5).Put<double>(1e300);
  kv.Key("arr_i16", ValueType::kArray).ArrayHead(ValueType::kI16, 1).Put<int16_t>(-7);
  kv.Key("arr_empty", ValueType::kArray).ArrayHead(ValueType::kU32, 0);
  kv.Key("arr_long", ValueType::kArray).ArrayHead(ValueType::kU32, 20);
  for (uint32_t i = 0; i < 20; ++i) kv.U32(i);
  kv.Key("arr_str", ValueType::kArray).ArrayHead(ValueType::kString, 4);
  kv.Str("<|startoftext|>").Str("a").Str("").Str("zz");
  // [[1, 2], [], [["x"]]]: nested arrays of different element types.
  kv.Key("arr_nested", ValueType::kArray).ArrayHead(ValueType::kArray, 3);
  kv.ArrayHead(ValueType::kI64, 2).Put<int64_t>(1).Put<int64_t>(2);
  kv.ArrayHead(ValueType::kF32, 0);
  kv.ArrayHead(ValueType::kArray, 1).ArrayHead(ValueType::kString, 1).Str("x");
  kv.Key("after", ValueType::kString).Str("still parsed");
  FileSpec f;
  f.kvs = kv.s;
  f.kv_count = 23;
  f.tensors.push_back({"t", {2}, kGgmlF32, 0, F32Bytes({1, 2})});
  TensorIndex index;
  const Status s = ReadBytes(Build(f), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"u8", "200"}, {"i8", "-5"}, {"u16", "60000"}, {"i16", "-300"}, {"u32", "4000000000"},
      {"i32", "-2000000000"}, {"f32", "1.5"}, {"bool_t", "true"}, {"bool_f", "false"},
      {"string", "hello world"}, {"empty_string", ""}, {"u64", "9223372036854775809"},
      {"i64", "-1099511627776"}, {"f64", "0.1"}, {"arr_u8", "[1, 2, 3]"},
      {"arr_bool", "[true, false]"}, {"arr_f64", "[-2.5, 1e+300]"}, {"arr_i16", "[-7]"},
      {"arr_empty", "[]"}, {"arr_long", "[array of 20 u32]"},
      {"arr_str", "[array of 4 string]"}, {"arr_nested", "[array of 3 array]"},
      {"after", "still parsed"},
  };
  for (const auto& [key, value] : expected) {
    ASSERT_EQ(index.metadata.count(key), 1u) << key;
    EXPECT_EQ(index.metadata[key], value) << key;
  }
  EXPECT_EQ(index.metadata.size(), expected.size());
  ASSERT_NE(index.Find("t"), nullptr);
  EXPECT_EQ(AsF32(index.Find("t")->tensor), (std::vector<float>{1, 2}));
}

TEST(GgufReadTest, CustomAlignmentAndVersion2) {
  FileSpec f;
  f.version = 2;
  f.alignment = 64;
  f.kvs = Bytes().Key("general.alignment", ValueType::kU32).U32(64).s;
  f.kv_count = 1;
  f.tensors.push_back({"x", {4}, kGgmlF32, 0, F32Bytes({1, 2, 3, 4})});
  f.tensors.push_back({"y", {2}, kGgmlF32, 64, F32Bytes({5, 6})});
  TensorIndex index;
  const Status s = ReadBytes(Build(f), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_NE(index.Find("y"), nullptr);
  EXPECT_EQ(AsF32(index.Find("y")->tensor), (std::vector<float>{5, 6}));
  EXPECT_EQ(index.metadata["general.alignment"], "64");
}

TEST(GgufReadTest, UnalignedPlainTensorsAreCopied) {
  // With general.alignment 1, tensors 5 bytes apart cannot both be 4-byte aligned in memory:
  // the reader copies such a tensor instead of handing out a misaligned float pointer.
  FileSpec f;
  f.alignment = 1;
  f.kvs = Bytes().Key("general.alignment", ValueType::kU32).U32(1).s;
  f.kv_count = 1;
  f.tensors.push_back({"x", {1}, kGgmlF32, 0, F32Bytes({1.25f})});
  f.tensors.push_back({"y", {1}, kGgmlF32, 5, F32Bytes({-3.5f})});
  TensorIndex index;
  const Status s = ReadBytes(Build(f), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(index.size(), 2u);
  const Tensor& x = index.Find("x")->tensor;
  const Tensor& y = index.Find("y")->tensor;
  EXPECT_EQ(AsF32(x), std::vector<float>{1.25f});
  EXPECT_EQ(AsF32(y), std::vector<float>{-3.5f});
  EXPECT_TRUE(x.writable() || y.writable());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(x.raw()) % 4, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(y.raw()) % 4, 0u);
}

TEST(GgufReadTest, IgnoredNamesAreSkippedAndCounted) {
  FileSpec f;
  f.tensors.push_back({"model_ema.decay", {1}, kGgmlF32, 0, F32Bytes({0.999f})});
  f.tensors.push_back({"model.diffusion_model.out.2.bias", {1}, kGgmlF32, 32, F32Bytes({1})});
  f.tensors.push_back({"alphas_cumprod", {1}, kGgmlF32, 64, F32Bytes({1})});
  TensorIndex index;
  ASSERT_TRUE(ReadBytes(Build(f), &index).ok());
  EXPECT_EQ(index.size(), 1u);
  EXPECT_NE(index.Find("model.diffusion_model.out.2.bias"), nullptr);
  EXPECT_EQ(index.ignored_tensors, 2);
}

TEST(GgufReadTest, NameAlreadyInIndexLeavesIndexUnchanged) {
  TensorIndex index;
  ASSERT_TRUE(index.Add("b", *Tensor::Zeros(DType::kF32, {1})).ok());
  const Status s = ReadBytes(Build(ValidSpec()), &index);
  EXPECT_EQ(s.code(), StatusCode::kCorruptData);
  EXPECT_NE(s.message().find("'b'"), std::string::npos) << s.message();
  EXPECT_EQ(index.size(), 1u);
  EXPECT_TRUE(index.metadata.empty());
}

TEST(GgufReadTest, MissingFileIsNotFound) {
  TempDir dir;
  TensorIndex index;
  EXPECT_EQ(ReadGguf(dir.File("absent.gguf"), &index).code(), StatusCode::kNotFound);
}

// --- hostile files ------------------------------------------------------------------------

TEST(GgufCorruptTest, TruncatedAnywhere) {
  const std::string full = Build(ValidSpec());
  {
    TensorIndex index;
    ASSERT_TRUE(ReadBytes(full, &index).ok());
  }
  std::vector<size_t> cuts;
  for (size_t k = 0; k < 64; ++k) cuts.push_back(full.size() * k / 64);
  for (size_t n = 0; n < 200 && n < full.size(); ++n) cuts.push_back(n);
  cuts.push_back(full.size() - 1);
  for (size_t n : cuts) {
    ExpectError(full.substr(0, n), StatusCode::kCorruptData, "truncated",
                "truncated to " + std::to_string(n) + " of " + std::to_string(full.size()));
  }
}

TEST(GgufCorruptTest, HugeCountsFailFast) {
  FileSpec f = ValidSpec();
  f.tensor_count = int64_t{1} << 60;
  ExpectError(Build(f), StatusCode::kCorruptData, "tensor count", "tensor_count 2^60");
  f = ValidSpec();
  f.kv_count = uint64_t{1} << 60;
  ExpectError(Build(f), StatusCode::kCorruptData, "metadata count", "kv_count 2^60");
  f = ValidSpec();
  f.kv_count = UINT64_MAX;
  ExpectError(Build(f), StatusCode::kCorruptData, "metadata count", "kv_count 2^64-1");
  // More tensors than the remaining bytes can describe, but passing the first coarse check.
  f = ValidSpec();
  f.tensor_count = 7;
  ExpectError(Build(f), StatusCode::kCorruptData, "truncated", "tensor_count 7 of 3");
}

TEST(GgufCorruptTest, HugeStringAndArrayLengths) {
  FileSpec f = ValidSpec();
  f.kvs = Bytes().U64(uint64_t{1} << 62).s + f.kvs.substr(8);  // first key's length
  ExpectError(Build(f), StatusCode::kCorruptData, "claims", "key length 2^62");
  f = ValidSpec();
  f.kvs += Bytes().Key("s", ValueType::kString).U64(UINT64_MAX).s;
  f.kv_count += 1;
  ExpectError(Build(f), StatusCode::kCorruptData, "claims", "string length 2^64-1");
  for (ValueType elem : {ValueType::kU64, ValueType::kU8, ValueType::kString, ValueType::kArray}) {
    f = ValidSpec();
    f.kvs += Bytes().Key("arr", ValueType::kArray).ArrayHead(elem, uint64_t{1} << 60).s;
    f.kv_count += 1;
    ExpectError(Build(f), StatusCode::kCorruptData, "array length",
                "array length 2^60 of " + std::string(gguf::ValueTypeName(elem)));
  }
  f = ValidSpec();  // tensor name length
  f.tensors[0].name = "x";
  std::string bytes = Build(f);
  const std::string needle = Bytes().Str("x").s;
  const size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos);
  const std::string huge = Bytes().U64(uint64_t{1} << 40).s;
  bytes.replace(at, 8, huge);
  ExpectError(bytes, StatusCode::kCorruptData, "claims", "tensor name length 2^40");
}

TEST(GgufCorruptTest, BadValueTypesAndDeepNesting) {
  FileSpec f = ValidSpec();
  f.kvs += Bytes().Str("k").U32(13).U32(0).s;
  f.kv_count += 1;
  ExpectError(Build(f), StatusCode::kCorruptData, "unknown value type", "value type 13");
  f = ValidSpec();
  f.kvs += Bytes().Key("k", ValueType::kArray).U32(99).U64(1).s;
  f.kv_count += 1;
  ExpectError(Build(f), StatusCode::kCorruptData, "unknown array element type", "elem type 99");
  f = ValidSpec();
  Bytes deep;
  deep.Key("deep", ValueType::kArray);
  for (int i = 0; i < 40; ++i) deep.ArrayHead(ValueType::kArray, 1);
  deep.ArrayHead(ValueType::kU8, 0);
  f.kvs += deep.s;
  f.kv_count += 1;
  ExpectError(Build(f), StatusCode::kCorruptData, "nested", "arrays nested 41 deep");
}

TEST(GgufCorruptTest, BadDims) {
  FileSpec f = ValidSpec();
  f.tensors[0].dims = {2, 2, 2, 1, 1};
  ExpectError(Build(f), StatusCode::kCorruptData, "n_dims", "n_dims 5");
  f = ValidSpec();
  f.tensors[0].dims = {uint64_t{1} << 32, uint64_t{1} << 32, 4};
  ExpectError(Build(f), StatusCode::kCorruptData, "overflows", "dims product 2^66");
  f = ValidSpec();
  f.tensors[0].dims = {UINT64_MAX};
  ExpectError(Build(f), StatusCode::kCorruptData, "dim", "dim 2^64-1");
  f = ValidSpec();
  f.tensors[0].dims = {uint64_t{1} << 62};  // valid count, absurd byte size for f32
  ExpectError(Build(f), StatusCode::kCorruptData, "byte size", "2^62 f32 values");
  f = ValidSpec();
  f.tensors[1].dims = {16, 2};  // q8_0 rows of 16 values
  ExpectError(Build(f), StatusCode::kCorruptData, "blocks", "q8_0 rows of 16");
  f = ValidSpec();
  f.tensors[1].dims = {3, 3, 4, 2};  // a [2, 4, 3, 3] kernel: q8_0 rows of 4*3*3 = 36 values
  ExpectError(Build(f), StatusCode::kCorruptData, "rows of 36", "q8_0 kernel rows of 36");
  f = ValidSpec();
  f.tensors[1].type = kGgmlQ4_0;
  f.tensors[1].dims = {};
  ExpectError(Build(f), StatusCode::kCorruptData, "blocks", "q4_0 scalar");
}

TEST(GgufCorruptTest, UnknownTensorTypeNamesTensorAndId) {
  for (uint32_t id : {4u, 9u, 15u, 19u, 29u, 31u, 1000u}) {
    FileSpec f = ValidSpec();
    f.tensors[2].type = id;
    const std::string what = "ggml type " + std::to_string(id);
    ExpectError(Build(f), StatusCode::kUnsupported, "'c'", what);
    ExpectError(Build(f), StatusCode::kUnsupported, "type id " + std::to_string(id), what);
  }
}

TEST(GgufCorruptTest, BadOffsets) {
  FileSpec f = ValidSpec();
  f.tensors[1].offset = 40;
  ExpectError(Build(f), StatusCode::kCorruptData, "not aligned", "offset 40");
  f = ValidSpec();
  f.tensors[0].offset = uint64_t{1} << 40;
  f.tensors[0].data.clear();
  ExpectError(Build(f), StatusCode::kCorruptData, "past the end", "offset 2^40");
  f = ValidSpec();
  f.tensors[0].offset = UINT64_MAX - 31;  // aligned; offset + size overflows
  f.tensors[0].data.clear();
  ExpectError(Build(f), StatusCode::kCorruptData, "past the end", "offset 2^64-32");
}

TEST(GgufCorruptTest, OverlappingTensorsNameBoth) {
  FileSpec f = ValidSpec();
  f.tensors[0].dims = {24};  // f32 [0, 96) runs over b [32, 66)
  f.tensors[0].data = F32Bytes(std::vector<float>(24, 1.0f));
  f.tensors[1].data.clear();
  ExpectError(Build(f), StatusCode::kCorruptData, "overlap", "a over b");
  ExpectError(Build(f), StatusCode::kCorruptData, "'a'", "a over b");
  ExpectError(Build(f), StatusCode::kCorruptData, "'b'", "a over b");
  // A long tensor that covers two later ones: reported against the first it meets.
  f = ValidSpec();
  f.tensors[2].offset = 0;
  f.tensors[2].dims = {64};  // f16, 128 bytes over a [0, 32) and b [32, 66)
  f.tensors[2].data = std::string(128, '\0');
  f.tensors[0].data.clear();
  f.tensors[1].data.clear();
  ExpectError(Build(f), StatusCode::kCorruptData, "overlap", "c over a and b");
  // Two tensors sharing one offset.
  f = ValidSpec();
  f.tensors[2].offset = 32;
  f.tensors[2].dims = {2};
  ExpectError(Build(f), StatusCode::kCorruptData, "overlap", "b and c at 32");
}

TEST(GgufCorruptTest, DuplicateNamesAndKeys) {
  FileSpec f = ValidSpec();
  f.tensors[2].name = "a";
  ExpectError(Build(f), StatusCode::kCorruptData, "'a' appears twice", "tensor a twice");
  f = ValidSpec();
  f.kvs += Bytes().Key("scale", ValueType::kU8).Put<uint8_t>(1).s;
  f.kv_count += 1;
  ExpectError(Build(f), StatusCode::kCorruptData, "'scale' appears twice", "key twice");
}

TEST(GgufCorruptTest, BadAlignment) {
  for (uint32_t a : {0u, 3u, 48u, 0x80000001u}) {
    FileSpec f = ValidSpec();
    f.kvs = Bytes().Key("general.alignment", ValueType::kU32).U32(a).s;
    f.kv_count = 1;
    ExpectError(Build(f), StatusCode::kCorruptData, "power of two", "alignment " + std::to_string(a));
  }
  FileSpec f = ValidSpec();
  f.kvs = Bytes().Key("general.alignment", ValueType::kU64).U64(32).s;
  f.kv_count = 1;
  ExpectError(Build(f), StatusCode::kCorruptData, "expected u32", "alignment as u64");
}

TEST(GgufCorruptTest, VersionsAndMagic) {
  for (uint32_t v : {0u, 1u, 4u, 0x03000000u}) {
    FileSpec f = ValidSpec();
    f.version = v;
    ExpectError(Build(f), StatusCode::kUnsupported, "version " + std::to_string(v),
                "version " + std::to_string(v));
  }
  std::string bytes = Build(ValidSpec());
  bytes[0] = 'g';
  ExpectError(bytes, StatusCode::kCorruptData, "magic", "bad magic");
  ExpectError("PK\x03\x04 this is a zip", StatusCode::kCorruptData, "magic", "zip");
}

TEST(GgufCorruptTest, RandomByteFlipsNeverCrash) {
  const std::string full = Build(ValidSpec());
  std::mt19937 rng(1234);
  int ok = 0;
  for (int iter = 0; iter < 300; ++iter) {
    std::string bytes = full;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) {
      const size_t at = rng() % bytes.size();
      // Bias towards the header where the structure is.
      const size_t pos = (iter % 2 == 0) ? at % 200 : at;
      bytes[pos] = static_cast<char>(rng() & 0xFF);
    }
    TensorIndex index;
    const Status s = ReadBytes(bytes, &index);
    if (s.ok()) {
      ++ok;
      for (const TensorEntry& e : index.entries()) ASSERT_TRUE(ToF32(e.tensor).ok()) << e.name;
    } else {
      EXPECT_FALSE(s.message().empty());
    }
  }
  EXPECT_LT(ok, 300);  // the flips did hit the structure
}

// --- writer -------------------------------------------------------------------------------

Tensor FromF32(DType dtype, Shape shape, const std::vector<float>& v) {
  auto t = Tensor::Allocate(dtype, std::move(shape));
  EXPECT_TRUE(t.ok());
  const int64_t n = t->numel();
  EXPECT_EQ(static_cast<size_t>(n), v.size());
  void* dst = t->mutable_raw();
  switch (dtype) {
    case DType::kF32: std::memcpy(dst, v.data(), v.size() * 4); break;
    case DType::kF16: for (int64_t i = 0; i < n; ++i) t->mutable_data<uint16_t>()[i] = F32ToF16(v[i]); break;
    case DType::kBF16: for (int64_t i = 0; i < n; ++i) t->mutable_data<uint16_t>()[i] = F32ToBF16(v[i]); break;
    case DType::kF64: for (int64_t i = 0; i < n; ++i) t->mutable_data<double>()[i] = v[i]; break;
    case DType::kI8: for (int64_t i = 0; i < n; ++i) t->mutable_data<int8_t>()[i] = static_cast<int8_t>(v[i]); break;
    case DType::kI16: for (int64_t i = 0; i < n; ++i) t->mutable_data<int16_t>()[i] = static_cast<int16_t>(v[i]); break;
    case DType::kI32: for (int64_t i = 0; i < n; ++i) t->mutable_data<int32_t>()[i] = static_cast<int32_t>(v[i]); break;
    case DType::kI64: for (int64_t i = 0; i < n; ++i) t->mutable_data<int64_t>()[i] = static_cast<int64_t>(v[i]); break;
    default: EXPECT_TRUE(Quantize(dtype, v.data(), n, dst).ok()); break;
  }
  return *t;
}

TEST(GgufWriteTest, RoundTripEveryDType) {
  struct Case { std::string name; DType dtype; Shape shape; };
  const std::vector<Case> cases = {
      {"model.diffusion_model.input_blocks.0.0.weight", DType::kF32, {2, 3}},
      {"f16", DType::kF16, {4}}, {"bf16", DType::kBF16, {2, 2}}, {"f64", DType::kF64, {3}},
      {"i8", DType::kI8, {5}}, {"i16", DType::kI16, {3}}, {"i32", DType::kI32, {2, 2}},
      {"i64", DType::kI64, {2}}, {"scalar", DType::kF32, {}},
      {"q4_0", DType::kQ4_0, {2, 64}}, {"q4_1", DType::kQ4_1, {32}},
      {"q5_0", DType::kQ5_0, {3, 32}}, {"q5_1", DType::kQ5_1, {1, 1, 32}},
      {"q8_0", DType::kQ8_0, {64}}, {"q4_k", DType::kQ4_K, {256}},
      {"q5_k", DType::kQ5_K, {2, 256}}, {"q6_k", DType::kQ6_K, {1, 1, 1, 256}},
      // A 3x3 kernel quantized by [cout, cin*9] rows: blocks span its inner dims.
      {"conv.q8_0", DType::kQ8_0, {4, 32, 3, 3}},
      {"model_ema.decay", DType::kF32, {}},
  };
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<NamedTensor> tensors;
  std::vector<std::vector<float>> originals;
  for (const Case& c : cases) {
    std::vector<float> v(static_cast<size_t>(NumElements(c.shape)));
    const bool integer = !GetDTypeInfo(c.dtype).is_float && !GetDTypeInfo(c.dtype).is_quantized;
    for (float& x : v) x = integer ? std::round(dist(rng) * 10) : dist(rng);
    tensors.push_back({c.name, FromF32(c.dtype, c.shape, v)});
    originals.push_back(v);
  }
  TempDir dir;
  const std::string path = dir.File("rt.gguf");
  Status s = WriteGguf(path, tensors, {{"sd.version", "1.5"}, {"note", "any\nbytes"}});
  ASSERT_TRUE(s.ok()) << s.ToString();
  const std::string bytes = testing::ReadFileBytes(path);
  ASSERT_GE(bytes.size(), 8u);
  EXPECT_EQ(bytes.substr(0, 4), "GGUF");
  uint32_t version;
  std::memcpy(&version, &bytes[4], 4);
  EXPECT_EQ(version, 3u);
  EXPECT_EQ(bytes.size() % 32, 0u);  // every tensor padded to the alignment

  TensorIndex index;
  s = ReadGguf(path, &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(index.size(), cases.size() - 1);
  EXPECT_EQ(index.ignored_tensors, 1);
  EXPECT_EQ(index.metadata["general.architecture"], "stable-diffusion");
  EXPECT_EQ(index.metadata["general.alignment"], "32");
  EXPECT_EQ(index.metadata["sd.version"], "1.5");
  EXPECT_EQ(index.metadata["note"], "any\nbytes");
  for (size_t i = 0; i + 1 < cases.size(); ++i) {
    const Case& c = cases[i];
    const TensorEntry* e = index.Find(c.name);
    ASSERT_NE(e, nullptr) << c.name;
    EXPECT_EQ(index.entries()[i].name, c.name);  // order kept
    EXPECT_EQ(e->tensor.dtype(), c.dtype) << c.name;
    EXPECT_EQ(e->tensor.shape(), c.shape) << c.name;
    ASSERT_EQ(e->tensor.nbytes(), tensors[i].tensor.nbytes()) << c.name;
    EXPECT_EQ(std::memcmp(e->tensor.raw(), tensors[i].tensor.raw(), e->tensor.nbytes()), 0) << c.name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(e->tensor.raw()) % 32, 0u) << c.name;
    const auto got = AsF32(e->tensor);
    const auto want = AsF32(tensors[i].tensor);
    EXPECT_EQ(got, want) << c.name;
    // And close to what was quantized/rounded in the first place.
    const float tol = GetDTypeInfo(c.dtype).is_quantized ? 1.5f : (c.dtype == DType::kBF16 ? 0.05f : 0.01f);
    for (size_t j = 0; j < got.size(); ++j) EXPECT_NEAR(got[j], originals[i][j], tol) << c.name << "[" << j << "]";
  }
}

TEST(GgufWriteTest, GivenArchitectureIsKeptAndEmptyModelIsValid) {
  TempDir dir;
  const std::string path = dir.File("empty.gguf");
  ASSERT_TRUE(WriteGguf(path, {}, {{"general.architecture", "sdxl"}, {"x", ""}}).ok());
  TensorIndex index;
  const Status s = ReadGguf(path, &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.metadata["general.architecture"], "sdxl");
  EXPECT_EQ(index.metadata["x"], "");
  EXPECT_EQ(index.metadata.size(), 3u);
}

TEST(GgufWriteTest, OverwritingAFileStillMappedKeepsTheOldTensorsReadable) {
  TempDir dir;
  const std::string path = dir.File("m.gguf");
  ASSERT_TRUE(WriteGguf(path, {{"w", FromF32(DType::kF32, {4}, {1, 2, 3, 4})}}).ok());
  TensorIndex old_index;
  ASSERT_TRUE(ReadGguf(path, &old_index).ok());
  ASSERT_TRUE(WriteGguf(path, {{"w", FromF32(DType::kF32, {2}, {9, 9})}}).ok());
  EXPECT_EQ(AsF32(old_index.Find("w")->tensor), (std::vector<float>{1, 2, 3, 4}));
  TensorIndex new_index;
  ASSERT_TRUE(ReadGguf(path, &new_index).ok());
  EXPECT_EQ(AsF32(new_index.Find("w")->tensor), (std::vector<float>{9, 9}));
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
}

TEST(GgufWriteTest, RejectsWhatGgufCannotHold) {
  TempDir dir;
  const std::string path = dir.File("bad.gguf");
  auto f32 = *Tensor::Zeros(DType::kF32, {2});
  Status s = WriteGguf(path, {{"u8", *Tensor::Zeros(DType::kU8, {2})}});
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("u8"), std::string::npos) << s.message();
  s = WriteGguf(path, {{"b", *Tensor::Zeros(DType::kBool, {2})}});
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  s = WriteGguf(path, {{"a", f32}, {"a", f32}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("twice"), std::string::npos) << s.message();
  s = WriteGguf(path, {{"r5", *Tensor::Zeros(DType::kF32, {1, 1, 1, 1, 2})}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("dims"), std::string::npos) << s.message();
  s = WriteGguf(path, {{"q", *Tensor::Zeros(DType::kQ4_0, {32, 16})}});  // rows of 16
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("blocks"), std::string::npos) << s.message();
  s = WriteGguf(path, {{"k", *Tensor::Zeros(DType::kQ8_0, {8, 4, 3, 3})}});  // rows of 4*3*3 = 36
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("blocks"), std::string::npos) << s.message();
  s = WriteGguf(path, {{"a", f32}}, {{"general.alignment", "64"}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  s = WriteGguf(path, {{"a", f32}}, {{"k", "1"}, {"k", "2"}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  s = WriteGguf(dir.File("no/such/dir/x.gguf"), {{"a", f32}});
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_FALSE(std::filesystem::exists(path));  // nothing written by the failed calls
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
}

}  // namespace
}  // namespace sdr
