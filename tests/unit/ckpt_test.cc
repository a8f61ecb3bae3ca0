#include "formats/ckpt.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/half.h"
#include "formats/zip_reader.h"
#include "testing/ckpt_fixtures.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

using testing::FakeTensor;
using testing::FakeStateDictPickle;
using testing::F32Bytes;
using testing::PickleBytes;
using testing::TempDir;
using testing::TorchLikeZip;
using testing::WriteFileBytes;

// A tensor of `dtype` whose element i is f(i) (converted to the dtype).
Tensor Filled(DType dtype, Shape shape, const std::function<double(int64_t)>& f) {
  auto t = Tensor::Allocate(dtype, std::move(shape));
  SDR_CHECK(t.ok());
  void* p = t->mutable_raw();
  for (int64_t i = 0; i < t->numel(); ++i) {
    const double v = f(i);
    switch (dtype) {
      case DType::kF32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
      case DType::kF16: static_cast<uint16_t*>(p)[i] = F32ToF16(static_cast<float>(v)); break;
      case DType::kBF16: static_cast<uint16_t*>(p)[i] = F32ToBF16(static_cast<float>(v)); break;
      case DType::kF64: static_cast<double*>(p)[i] = v; break;
      case DType::kI64: static_cast<int64_t*>(p)[i] = static_cast<int64_t>(v); break;
      case DType::kI32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v); break;
      case DType::kI16: static_cast<int16_t*>(p)[i] = static_cast<int16_t>(v); break;
      case DType::kI8: static_cast<int8_t*>(p)[i] = static_cast<int8_t>(v); break;
      case DType::kU8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v); break;
      case DType::kBool: static_cast<uint8_t*>(p)[i] = v != 0 ? 1 : 0; break;
      default: SDR_CHECK(false);
    }
  }
  return *t;
}

// Element i of `t` as a double.
double At(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kF32: return t.data<float>()[i];
    case DType::kF16: return F16ToF32(t.data<uint16_t>()[i]);
    case DType::kBF16: return BF16ToF32(t.data<uint16_t>()[i]);
    case DType::kF64: return t.data<double>()[i];
    case DType::kI64: return static_cast<double>(t.data<int64_t>()[i]);
    case DType::kI32: return t.data<int32_t>()[i];
    case DType::kI16: return t.data<int16_t>()[i];
    case DType::kI8: return t.data<int8_t>()[i];
    case DType::kU8: case DType::kBool: return t.data<uint8_t>()[i];
    default: SDR_CHECK(false);
  }
  return 0;
}

std::vector<NamedTensor> SampleTensors() {
  std::vector<NamedTensor> v;
  v.push_back({"model.w", Filled(DType::kF32, {3, 4}, [](int64_t i) { return i * 0.25 - 1; })});
  v.push_back({"model.h", Filled(DType::kF16, {5}, [](int64_t i) { return i * 0.5; })});
  v.push_back({"model.bf", Filled(DType::kBF16, {2, 3}, [](int64_t i) { return i - 2.0; })});
  v.push_back({"model.l", Filled(DType::kI64, {4}, [](int64_t i) { return i * 1e10 - 7; })});
  v.push_back({"model.i", Filled(DType::kI32, {2, 2}, [](int64_t i) { return -i * 100000.0; })});
  v.push_back({"model.c", Filled(DType::kI8, {3}, [](int64_t i) { return i - 1.0; })});
  v.push_back({"model.b", Filled(DType::kU8, {4}, [](int64_t i) { return i * 60.0; })});
  v.push_back({"model.d", Filled(DType::kF64, {2}, [](int64_t i) { return i / 3.0; })});
  v.push_back({"model.s", Filled(DType::kI16, {2}, [](int64_t i) { return i * 1000.0 - 300; })});
  v.push_back({"model.m", Filled(DType::kBool, {3}, [](int64_t i) { return i % 2; })});
  v.push_back({"model.scalar", Filled(DType::kF32, {}, [](int64_t) { return 42.0; })});
  v.push_back({"model.empty", Filled(DType::kF32, {0, 3}, [](int64_t) { return 0.0; })});
  v.push_back({"model.conv", Filled(DType::kF32, {2, 1, 3, 1, 2}, [](int64_t i) { return i * 1.5; })});
  return v;
}

void ExpectSameTensors(const TensorIndex& index, const std::vector<NamedTensor>& want,
                       const std::string& prefix = "") {
  ASSERT_EQ(index.size(), want.size());
  for (const NamedTensor& w : want) {
    const TensorEntry* e = index.Find(prefix + w.name);
    ASSERT_NE(e, nullptr) << w.name;
    EXPECT_EQ(e->tensor.dtype(), w.tensor.dtype()) << w.name;
    EXPECT_EQ(e->tensor.shape(), w.tensor.shape()) << w.name;
    ASSERT_EQ(e->tensor.nbytes(), w.tensor.nbytes()) << w.name;
    EXPECT_EQ(std::memcmp(e->tensor.raw(), w.tensor.raw(), w.tensor.nbytes()), 0) << w.name;
  }
}

class CkptTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string p = dir_.File(name);
    WriteFileBytes(p, bytes);
    return p;
  }
  Status ReadBytes(const std::string& bytes, TensorIndex* index = nullptr) {
    TensorIndex local;
    return ReadCkpt(Write("f" + std::to_string(counter_++) + ".ckpt", bytes),
                    index ? index : &local);
  }
  TempDir dir_;
  int counter_ = 0;
};

TEST_F(CkptTest, RoundTripKeepsNamesDtypesShapesAndValues) {
  const std::vector<NamedTensor> tensors = SampleTensors();
  for (bool wrap : {true, false}) {
    const std::string p = dir_.File(wrap ? "wrapped.ckpt" : "bare.ckpt");
    ASSERT_TRUE(WriteCkpt(p, tensors, wrap).ok());
    TensorIndex index;
    Status s = ReadCkpt(p, &index, "pre.");
    ASSERT_TRUE(s.ok()) << s.ToString();
    ExpectSameTensors(index, tensors, "pre.");
    EXPECT_EQ(index.entries()[0].name, "pre.model.w");  // file order is kept
    for (const TensorEntry& e : index.entries()) {
      if (e.tensor.numel() == 0) continue;
      EXPECT_FALSE(e.tensor.writable()) << e.name << ": contiguous tensors borrow the mapping";
      EXPECT_EQ(reinterpret_cast<uintptr_t>(e.tensor.raw()) % 64, 0u) << e.name;
    }
  }
}

TEST_F(CkptTest, WrittenArchiveHasTorchLayout) {
  const std::string p = dir_.File("layout.ckpt");
  ASSERT_TRUE(WriteCkpt(p, SampleTensors()).ok());
  auto f = MappedFile::Open(p);
  ASSERT_TRUE(f.ok());
  auto z = ZipReader::Open(*f);
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  EXPECT_EQ(z->entries().front().name, "archive/data.pkl");
  EXPECT_EQ(z->Read(*z->Find("archive/version"))->view(), "3\n");
  EXPECT_EQ(z->Read(*z->Find("archive/byteorder"))->view(), "little");
  for (const ZipEntry& e : z->entries()) {
    EXPECT_EQ(e.method, 0) << e.name;
    EXPECT_EQ(e.data_offset % 64, 0u) << e.name;
  }
  EXPECT_NE(z->Find("archive/data/12"), nullptr);
}

TEST_F(CkptTest, ManyTensorsUseBatchesLongMemoAndZip64Records) {
  // 65600 entries > 65535: the writer must add ZIP64 end records; > 1000 items: several
  // SETITEMS batches; > 256 memo slots: LONG_BINPUT/LONG_BINGET.
  std::vector<NamedTensor> tensors;
  for (int i = 0; i < 65600; ++i) {
    tensors.push_back({"t" + std::to_string(i), Filled(DType::kF32, {1}, [i](int64_t) { return i; })});
  }
  const std::string p = dir_.File("many.ckpt");
  ASSERT_TRUE(WriteCkpt(p, tensors, false).ok());
  TensorIndex index;
  Status s = ReadCkpt(p, &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectSameTensors(index, tensors);
  if (testing::HavePython()) {  // an independent ZIP64 reader agrees (torch is too slow here)
    std::string out;
    const int rc = testing::RunPython(
        "import zipfile\n"
        "z = zipfile.ZipFile('" + p + "')\n"
        "assert len(z.read('archive/data.pkl')) > 0\n"  // zipfile checks the CRC
        "names = z.namelist()\n"
        "assert len(names) == 65603, len(names)\n"
        "assert z.read('archive/data/65599') == __import__('struct').pack('<f', 65599.0)\n", &out);
    EXPECT_EQ(rc, 0) << out;
  }
}

// Interop with the real torch (Debian's python3-torch): one Python run for the whole suite,
// since importing torch takes seconds. It checks the files we wrote and writes the files the
// tests read; each part reports into its own "<part>.result" file.
class CkptTorchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    if (!testing::HaveTorch()) return;
    const std::vector<NamedTensor> tensors = SampleTensors();
    SDR_CHECK(WriteCkpt(File("ours_wrapped.ckpt"), tensors, true).ok());
    SDR_CHECK(WriteCkpt(File("ours_bare.ckpt"), tensors, false).ok());
    const std::string d = dir_->path().string() + "/";
    const std::string script =
        "import torch, collections, zipfile, io, os, traceback\n"
        "D = '" + d + "'\n"
        "def part(name):\n"
        "    def wrap(f):\n"
        "        try:\n"
        "            f()\n"
        "            msg = 'ok'\n"
        "        except Exception:\n"
        "            msg = traceback.format_exc()\n"
        "        open(D + name + '.result', 'w').write(msg)\n"
        "    return wrap\n"
        "\n"
        "ar = lambda n: torch.arange(n, dtype=torch.float64)\n"
        "want = collections.OrderedDict()\n"
        "want['model.w'] = (ar(12) * 0.25 - 1).to(torch.float32).reshape(3, 4)\n"
        "want['model.h'] = (ar(5) * 0.5).to(torch.float16)\n"
        "want['model.bf'] = (ar(6) - 2).to(torch.bfloat16).reshape(2, 3)\n"
        "want['model.l'] = torch.tensor([i * 10**10 - 7 for i in range(4)], dtype=torch.int64)\n"
        "want['model.i'] = torch.tensor([-i * 100000 for i in range(4)], dtype=torch.int32).reshape(2, 2)\n"
        "want['model.c'] = torch.tensor([-1, 0, 1], dtype=torch.int8)\n"
        "want['model.b'] = torch.tensor([0, 60, 120, 180], dtype=torch.uint8)\n"
        "want['model.d'] = (ar(2) / 3).to(torch.float64)\n"
        "want['model.s'] = torch.tensor([-300, 700], dtype=torch.int16)\n"
        "want['model.m'] = torch.tensor([False, True, False])\n"
        "want['model.scalar'] = torch.tensor(42.0)\n"
        "want['model.empty'] = torch.zeros(0, 3)\n"
        "want['model.conv'] = (ar(12) * 1.5).to(torch.float32).reshape(2, 1, 3, 1, 2)\n"
        "\n"
        "def check(sd):\n"
        "    assert list(sd.keys()) == list(want.keys()), list(sd.keys())\n"
        "    for k, v in want.items():\n"
        "        got = sd[k]\n"
        "        assert got.dtype == v.dtype, (k, got.dtype, v.dtype)\n"
        "        assert got.shape == v.shape, (k, got.shape, v.shape)\n"
        "        assert torch.equal(got, v), (k, got, v)\n"
        "\n"
        "@part('ours_wrapped')\n"
        "def _():\n"
        "    obj = torch.load(D + 'ours_wrapped.ckpt', weights_only=True)\n"
        "    assert list(obj.keys()) == ['state_dict'], obj.keys()\n"
        "    check(obj['state_dict'])\n"
        "    buf = io.BytesIO()\n"
        "    torch.save({'state_dict': want}, buf)\n"
        "    theirs = zipfile.ZipFile(buf)\n"
        "    tp = [n for n in theirs.namelist() if n.endswith('/data.pkl')][0]\n"
        "    mine = zipfile.ZipFile(D + 'ours_wrapped.ckpt').read('archive/data.pkl')\n"
        "    assert theirs.read(tp) == mine, 'data.pkl differs from torch.save'\n"
        "\n"
        "@part('ours_bare')\n"
        "def _():\n"
        "    check(torch.load(D + 'ours_bare.ckpt', weights_only=True))\n"
        "    buf = io.BytesIO()\n"  // the pickle is the one torch.save writes for this dict
        "    torch.save(want, buf)\n"
        "    theirs = zipfile.ZipFile(buf)\n"
        "    tp = [n for n in theirs.namelist() if n.endswith('/data.pkl')][0]\n"
        "    mine = zipfile.ZipFile(D + 'ours_bare.ckpt').read('archive/data.pkl')\n"
        "    assert theirs.read(tp) == mine, 'data.pkl differs from torch.save'\n"
        "\n"
        "@part('torch_written')\n"
        "def _():\n"
        "    sd = collections.OrderedDict()\n"
        "    sd['w'] = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.5\n"
        "    sd['bf'] = torch.arange(6, dtype=torch.bfloat16).reshape(2, 3) - 2\n"
        "    sd['i64'] = torch.tensor([1, -2, 3000000000], dtype=torch.int64)\n"
        "    sd['t'] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()\n"
        "    assert not sd['t'].is_contiguous()\n"
        "    base = torch.arange(10, dtype=torch.float16)\n"
        "    sd['s1'] = base[2:5]\n"
        "    sd['s2'] = base[6:8]\n"
        "    sd['p'] = torch.nn.Parameter(torch.full((2, 2), 3.0))\n"
        "    sd['nested'] = {'a': torch.full((2,), 7.0),\n"
        "                    'deeper': {'b': torch.tensor([5], dtype=torch.int32)}}\n"
        "    sd['cond_stage_model.transformer.text_model.embeddings.position_ids'] = "
        "torch.arange(77).unsqueeze(0)\n"
        "    sd['model_ema.x'] = torch.ones(3)\n"
        "    sd['u8'] = torch.tensor([0, 255], dtype=torch.uint8)\n"
        "    sd['step'] = torch.arange(20, dtype=torch.float32)[::3]\n"
        "    sd['expanded'] = torch.tensor([1.0, 2.0]).expand(3, 2)\n"
        "    sd['scalar'] = torch.tensor(2.5, dtype=torch.float64)\n"
        "    torch.save({'state_dict': sd, 'epoch': 3, 'global_step': 1000,\n"
        "                'hparams': {'lr': 0.1, 'name': 'x'}}, D + 'torch.ckpt')\n"
        "    torch.save({'x': torch.ones(2), 'epoch': 1, 'names': ['a', 'b'],\n"
        "                'opt': {0: {'lr': 0.5}}}, D + 'bare.pt')\n"
        "\n"
        "@part('legacy')\n"
        "def _():\n"
        "    torch.save({'w': torch.ones(2)}, D + 'legacy.pt', _use_new_zipfile_serialization=False)\n"
        "\n"
        "class Evil:\n"
        "    def __reduce__(self):\n"
        "        return (os.system, ('touch ' + D + 'pwned',))\n"
        "\n"
        "@part('evil')\n"
        "def _():\n"
        "    torch.save({'state_dict': {'w': torch.ones(2)}, 'x': Evil()}, D + 'evil.ckpt')\n";
    python_rc_ = testing::RunPython(script, &python_output_);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!testing::HaveTorch()) GTEST_SKIP() << "/usr/bin/python3 with torch not available";
    ASSERT_EQ(python_rc_, 0) << python_output_;
  }
  static std::string File(const std::string& name) { return dir_->File(name); }
  // "ok", or the Python traceback of that part.
  static std::string PartResult(const std::string& part) {
    const std::string p = File(part + ".result");
    return std::filesystem::exists(p) ? testing::ReadFileBytes(p) : "no result file";
  }

  static TempDir* dir_;
  static int python_rc_;
  static std::string python_output_;
};
TempDir* CkptTorchTest::dir_ = nullptr;
int CkptTorchTest::python_rc_ = -1;
std::string CkptTorchTest::python_output_;

TEST_F(CkptTorchTest, TorchLoadsWhatWeWrite) {
  EXPECT_EQ(PartResult("ours_wrapped"), "ok");
  EXPECT_EQ(PartResult("ours_bare"), "ok");  // includes: data.pkl identical to torch.save's
}

TEST_F(CkptTorchTest, ReadsTorchWrittenCheckpoint) {
  ASSERT_EQ(PartResult("torch_written"), "ok");
  TensorIndex index;
  Status s = ReadCkpt(File("torch.ckpt"), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(index.ignored_tensors, 2);
  std::vector<std::string> names;
  for (const TensorEntry& e : index.entries()) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"w", "bf", "i64", "t", "s1", "s2", "p", "nested.a",
                                              "nested.deeper.b", "u8", "step", "expanded",
                                              "scalar"}));
  auto expect = [&](const std::string& name, DType dtype, const Shape& shape,
                    const std::vector<double>& values) {
    const TensorEntry* e = index.Find(name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(e->tensor.dtype(), dtype) << name;
    EXPECT_EQ(e->tensor.shape(), shape) << name;
    ASSERT_EQ(e->tensor.numel(), static_cast<int64_t>(values.size())) << name;
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_EQ(At(e->tensor, static_cast<int64_t>(i)), values[i]) << name << "[" << i << "]";
    }
  };
  expect("w", DType::kF32, {3, 4}, {0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5});
  expect("bf", DType::kBF16, {2, 3}, {-2, -1, 0, 1, 2, 3});
  expect("i64", DType::kI64, {3}, {1, -2, 3000000000.0});
  expect("t", DType::kF32, {3, 2}, {0, 3, 1, 4, 2, 5});
  expect("s1", DType::kF16, {3}, {2, 3, 4});
  expect("s2", DType::kF16, {2}, {6, 7});
  expect("p", DType::kF32, {2, 2}, {3, 3, 3, 3});
  expect("nested.a", DType::kF32, {2}, {7, 7});
  expect("nested.deeper.b", DType::kI32, {1}, {5});
  expect("u8", DType::kU8, {2}, {0, 255});
  expect("step", DType::kF32, {7}, {0, 3, 6, 9, 12, 15, 18});
  expect("expanded", DType::kF32, {3, 2}, {1, 2, 1, 2, 1, 2});
  expect("scalar", DType::kF64, {}, {2.5});
  EXPECT_FALSE(index.Find("w")->tensor.writable());  // contiguous: zero-copy
  EXPECT_TRUE(index.Find("t")->tensor.writable());   // view: materialised

  TensorIndex bare_index;
  s = ReadCkpt(File("bare.pt"), &bare_index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(bare_index.size(), 1u);
  EXPECT_EQ(bare_index.entries()[0].name, "x");
}

TEST_F(CkptTorchTest, TorchLegacyFormatIsUnsupported) {
  ASSERT_EQ(PartResult("legacy"), "ok");
  TensorIndex index;
  Status s = ReadCkpt(File("legacy.pt"), &index);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported) << s.ToString();
  EXPECT_NE(s.message().find("safetensors"), std::string::npos) << s.message();
}

TEST_F(CkptTorchTest, TorchFileWithMaliciousObjectIsRefusedWithoutRunningIt) {
  ASSERT_EQ(PartResult("evil"), "ok");
  TensorIndex index;
  Status s = ReadCkpt(File("evil.ckpt"), &index);
  EXPECT_EQ(s.code(), StatusCode::kSecurity) << s.ToString();
  EXPECT_NE(s.message().find("pickle global 'posix.system' is not allowed"), std::string::npos)
      << s.message();
  EXPECT_FALSE(std::filesystem::exists(File("pwned")));
}

TEST_F(CkptTest, HandMadeLegacyPickleIsUnsupported) {
  // Pre-1.6 files start with a pickled magic number: PROTO 2, LONG1 0x1950a86a20f9469cfc6c.
  const std::string legacy = std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  Status s = ReadBytes(legacy);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("re-save"), std::string::npos) << s.message();
  EXPECT_EQ(ReadBytes("not a checkpoint at all, just text").code(), StatusCode::kCorruptData);
}

TEST_F(CkptTest, HandBuiltMaliciousPicklesAreRefused) {
  struct Case {
    std::string pickle;
    std::string global;
  };
  const std::vector<Case> cases = {
      {PickleBytes().Proto(2).Global("os", "system").Str("echo pwned").Op(0x85).Op('R').Stop().bytes(),
       "os.system"},
      {PickleBytes().Proto(4).ShortStr("builtins").ShortStr("eval").Op(0x93).ShortStr("print(1)")
           .Op(0x85).Op('R').Stop().bytes(),
       "builtins.eval"},
      {PickleBytes().Proto(2).Op('}').Str("state_dict").Global("subprocess", "Popen").Op(']')
           .Op(0x85).Op('R').Op('s').Stop().bytes(),
       "subprocess.Popen"},
  };
  for (const Case& c : cases) {
    const std::string path = Write("evil.ckpt", TorchLikeZip(c.pickle, {}));
    TensorIndex index;
    Status s = ReadCkpt(path, &index);
    EXPECT_EQ(s.code(), StatusCode::kSecurity) << s.ToString();
    EXPECT_NE(s.message().find("pickle global '" + c.global + "' is not allowed"), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  }
}

TEST_F(CkptTest, HandBuiltArchivesVariants) {
  const std::vector<float> six = {0, 1, 2, 3, 4, 5};
  FakeTensor a{"a", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}};
  FakeTensor b{"b", "FloatStorage", "0", 6, 1, {2, 2}, {1, 3}};  // transposed window
  FakeTensor c{"c", "FloatStorage", "0", 6, 0, {3}, {1}, /*as_parameter=*/true};
  const std::string pkl = FakeStateDictPickle({a, b, c}, true);
  // Another root name, a byteorder record, unaligned (hence copied) data.
  TensorIndex index;
  Status s = ReadBytes(TorchLikeZip(pkl, {{"0", F32Bytes(six)}}, "model", "little"), &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(index.size(), 3u);
  EXPECT_EQ(index.Find("a")->tensor.shape(), (Shape{2, 3}));
  EXPECT_EQ(At(index.Find("a")->tensor, 5), 5.0);
  const Tensor& tb = index.Find("b")->tensor;
  EXPECT_EQ(At(tb, 0), 1.0);  // [[1, 4], [2, 5]]
  EXPECT_EQ(At(tb, 1), 4.0);
  EXPECT_EQ(At(tb, 2), 2.0);
  EXPECT_EQ(At(tb, 3), 5.0);
  EXPECT_EQ(At(index.Find("c")->tensor, 2), 2.0);

  // Deflated storage entries are inflated.
  std::vector<testing::ZipSpecEntry> entries = {{"archive/data.pkl", pkl}};
  testing::ZipSpecEntry data{"archive/data/0", F32Bytes(six)};
  data.deflate = true;
  entries.push_back(data);
  TensorIndex deflated;
  s = ReadBytes(testing::BuildZip(entries), &deflated);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(At(deflated.Find("a")->tensor, 4), 4.0);
}

TEST_F(CkptTest, ByteOrderAndRootErrors) {
  const std::string pkl = FakeStateDictPickle({{"a", "FloatStorage", "0", 1, 0, {1}, {1}}}, false);
  const std::map<std::string, std::string> st = {{"0", F32Bytes({1})}};
  Status s = ReadBytes(TorchLikeZip(pkl, st, "archive", "big"));
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("big"), std::string::npos);
  EXPECT_EQ(ReadBytes(TorchLikeZip(pkl, st, "archive", "middle")).code(), StatusCode::kCorruptData);

  EXPECT_EQ(ReadBytes(testing::BuildZip({{"x/other.pkl", pkl}})).code(), StatusCode::kCorruptData);
  EXPECT_EQ(ReadBytes(testing::BuildZip({{"x/data.pkl", pkl}, {"y/data.pkl", pkl}})).code(),
            StatusCode::kCorruptData);
  Status ts = ReadBytes(testing::BuildZip({{"x/data.pkl", pkl}, {"x/constants.pkl", pkl}}));
  EXPECT_EQ(ts.code(), StatusCode::kUnsupported);
  EXPECT_NE(ts.message().find("TorchScript"), std::string::npos);
  // A list at the top level is not a state dict.
  EXPECT_EQ(ReadBytes(TorchLikeZip(PickleBytes().Proto(2).Op(']').Stop().bytes(), {})).code(),
            StatusCode::kUnsupported);
}

TEST_F(CkptTest, InvalidTensorDescriptionsAreCorruptData) {
  const std::string six = F32Bytes({0, 1, 2, 3, 4, 5});
  struct Case {
    const char* what;
    FakeTensor t;
    std::string storage;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"missing storage", {"x", "FloatStorage", "7", 6, 0, {6}, {1}}, six, "missing"},
      {"storage size mismatch", {"x", "FloatStorage", "0", 5, 0, {5}, {1}}, six, "need"},
      {"dtype size mismatch", {"x", "DoubleStorage", "0", 6, 0, {6}, {1}}, six, "need"},
      {"offset past storage", {"x", "FloatStorage", "0", 6, 4, {3}, {1}}, six, "reaches element"},
      {"stride past storage", {"x", "FloatStorage", "0", 6, 0, {2, 3}, {4, 1}}, six, "reaches element"},
      {"negative dim", {"x", "FloatStorage", "0", 6, 0, {-1, 6}, {6, 1}}, six, "negative"},
      {"negative stride", {"x", "FloatStorage", "0", 6, 5, {6}, {-1}}, six, "negative"},
      {"negative offset", {"x", "FloatStorage", "0", 6, -1, {6}, {1}}, six, "negative"},
      {"rank mismatch", {"x", "FloatStorage", "0", 6, 0, {2, 3}, {1}}, six, "rank"},
      {"huge shape", {"x", "FloatStorage", "0", 6, 0, {int64_t{1} << 40, int64_t{1} << 40}, {1, 1}},
       six, "overflows"},
      {"huge stride", {"x", "FloatStorage", "0", 6, 0, {2, 2}, {int64_t{1} << 62, int64_t{1} << 62}},
       six, "overflows"},
  };
  for (const Case& c : cases) {
    const std::string pkl = FakeStateDictPickle({c.t}, true);
    Status s = ReadBytes(TorchLikeZip(pkl, {{"0", c.storage}}));
    EXPECT_EQ(s.code(), StatusCode::kCorruptData) << c.what << ": " << s.ToString();
    EXPECT_NE(s.message().find("tensor 'x'"), std::string::npos) << c.what << ": " << s.message();
    EXPECT_NE(s.message().find(c.message), std::string::npos) << c.what << ": " << s.message();
  }
  // A storage class torch does not use for state dicts is a refused global.
  Status g = ReadBytes(TorchLikeZip(
      FakeStateDictPickle({{"x", "ComplexFloatStorage", "0", 3, 0, {3}, {1}}}, true), {{"0", six}}));
  EXPECT_EQ(g.code(), StatusCode::kSecurity);
  EXPECT_NE(g.message().find("torch.ComplexFloatStorage"), std::string::npos);
  // Two descriptions of one storage that disagree.
  Status two = ReadBytes(TorchLikeZip(
      FakeStateDictPickle({{"x", "FloatStorage", "0", 6, 0, {6}, {1}},
                           {"y", "IntStorage", "0", 6, 0, {6}, {1}}},
                          true),
      {{"0", six}}));
  EXPECT_EQ(two.code(), StatusCode::kCorruptData);
  EXPECT_NE(two.message().find("described twice"), std::string::npos) << two.message();
}

TEST_F(CkptTest, BroadcastViewsCannotForceHugeAllocations) {
  // One stored float viewed as [2^20, 2^20] with zero strides: 4 TiB if materialised.
  const std::string pkl = FakeStateDictPickle(
      {{"x", "FloatStorage", "0", 1, 0, {int64_t{1} << 20, int64_t{1} << 20}, {0, 0}}}, true);
  Status s = ReadBytes(TorchLikeZip(pkl, {{"0", F32Bytes({1})}}));
  EXPECT_EQ(s.code(), StatusCode::kUnsupported) << s.ToString();
  EXPECT_NE(s.message().find("budget"), std::string::npos) << s.message();
  // A small broadcast is fine.
  TensorIndex index;
  s = ReadBytes(TorchLikeZip(FakeStateDictPickle({{"x", "FloatStorage", "0", 1, 0, {4, 2}, {0, 0}}}, true),
                             {{"0", F32Bytes({9})}}),
                &index);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(At(index.Find("x")->tensor, 7), 9.0);
}

TEST_F(CkptTest, NestingSharingAndDuplicates) {
  // 100 nested dicts: deeper than the reader's 64.
  PickleBytes deep;
  deep.Proto(2);
  for (int i = 0; i < 100; ++i) deep.Op('}').ShortStr("k");
  deep.Op('N');
  for (int i = 0; i < 100; ++i) deep.Op('s');
  Status s = ReadBytes(TorchLikeZip(deep.Stop().bytes(), {}));
  EXPECT_EQ(s.code(), StatusCode::kCorruptData);
  EXPECT_NE(s.message().find("nested deeper"), std::string::npos) << s.message();

  // A dict containing itself.
  s = ReadBytes(TorchLikeZip(PickleBytes().Proto(2).Op('}').Put(0).ShortStr("me").Get(0).Op('s').Stop().bytes(), {}));
  EXPECT_EQ(s.code(), StatusCode::kCorruptData) << s.ToString();

  // 60 levels of {'a': d, 'b': d}: 2^60 paths through shared dicts; refused quickly.
  PickleBytes dag;
  dag.Proto(2).Op('}').Put(0);
  for (uint32_t i = 1; i <= 60; ++i) {
    dag.Op('}').Op('(').ShortStr("a").Get(i - 1).ShortStr("b").Get(i - 1).Op('u').Put(i);
  }
  s = ReadBytes(TorchLikeZip(dag.Stop().bytes(), {}));
  EXPECT_EQ(s.code(), StatusCode::kCorruptData);
  EXPECT_NE(s.message().find("too many times"), std::string::npos) << s.message();

  // "a.b" both nested and flat: two tensors claim one name.
  const FakeTensor one{"unused", "FloatStorage", "0", 1, 0, {1}, {1}};
  PickleBytes dup;
  dup.Proto(2).Op('}').Op('(').ShortStr("a").Op('}').ShortStr("b").Raw(testing::FakeTensorCall(one));
  dup.Op('s').ShortStr("a.b").Raw(testing::FakeTensorCall(one)).Op('u').Stop();
  const std::string dup_pkl = dup.bytes();
  s = ReadBytes(TorchLikeZip(dup_pkl, {{"0", F32Bytes({1})}}));
  EXPECT_EQ(s.code(), StatusCode::kCorruptData);
  EXPECT_NE(s.message().find("appears twice"), std::string::npos) << s.message();
}

TEST_F(CkptTest, TruncatedCheckpointsAreErrors) {
  const std::string p = dir_.File("full.ckpt");
  ASSERT_TRUE(WriteCkpt(p, SampleTensors()).ok());
  const std::string bytes = testing::ReadFileBytes(p);
  std::vector<size_t> cuts;
  for (size_t i = 0; i < 64; ++i) cuts.push_back(bytes.size() * i / 64);
  for (size_t i = 0; i < 100; ++i) {
    cuts.push_back(i);
    cuts.push_back(bytes.size() - 1 - i);
  }
  for (size_t cut : cuts) {
    Status s = ReadBytes(bytes.substr(0, cut));
    EXPECT_FALSE(s.ok()) << "cut at " << cut;
  }
}

TEST_F(CkptTest, CorruptPicklesInsideTheArchive) {
  const std::string good = FakeStateDictPickle({{"x", "FloatStorage", "0", 1, 0, {1}, {1}}}, true);
  const std::map<std::string, std::string> st = {{"0", F32Bytes({1})}};
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, good.size() / 2, good.size() - 1}) {
    Status s = ReadBytes(TorchLikeZip(good.substr(0, n), st));
    EXPECT_EQ(s.code(), StatusCode::kCorruptData) << n << ": " << s.ToString();
    EXPECT_NE(s.message().find("data.pkl"), std::string::npos) << s.message();
  }
  std::string bad = good;
  bad[good.size() / 2] = '\xfe';
  Status s = ReadBytes(TorchLikeZip(bad, st));
  EXPECT_FALSE(s.ok());
  Status deep = ReadBytes(TorchLikeZip(PickleBytes().Proto(2).Raw(std::string(100000, '(')).Stop().bytes(), st));
  EXPECT_EQ(deep.code(), StatusCode::kCorruptData);
}

TEST_F(CkptTest, WriterRejectsBadInput) {
  EXPECT_EQ(WriteCkpt(dir_.File("q.ckpt"), {{"q", *Tensor::Zeros(DType::kQ8_0, {32})}}).code(),
            StatusCode::kUnsupported);
  const Tensor t = Filled(DType::kF32, {1}, [](int64_t) { return 1.0; });
  EXPECT_EQ(WriteCkpt(dir_.File("d.ckpt"), {{"a", t}, {"a", t}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteCkpt(dir_.File("u.ckpt"), {{"a", Tensor()}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteCkpt(dir_.File("no/such/dir/x.ckpt"), {{"a", t}}).code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace sdr
