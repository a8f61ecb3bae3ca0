#include "fuzz/fuzz_seeds.h"

#include <cstring>
#include <filesystem>
#include <functional>

#include "core/check.h"
#include "core/half.h"
#include "core/mapped_file.h"
#include "core/quant.h"
#include "formats/ckpt.h"
#include "formats/gguf.h"
#include "formats/gguf_types.h"
#include "formats/safetensors.h"
#include "formats/zip_reader.h"
#include "imagegen/base64.h"
#include "runtime/config.h"
#include "runtime/png_writer.h"
#include "testing/ckpt_fixtures.h"

namespace sdr::fuzz {
namespace {

using testing::FakeTensor;
using testing::PickleBytes;
using testing::ZipSpecEntry;

// A tensor of `dtype` and `shape` holding a small ramp (quantized from f32 for quantized dtypes).
Result<Tensor> Ramp(DType dtype, Shape shape) {
  SDR_ASSIGN_OR_RETURN(Tensor f, Tensor::Allocate(DType::kF32, shape));
  float* src = f.mutable_data<float>();
  for (int64_t i = 0; i < f.numel(); ++i) src[i] = static_cast<float>(i % 17) * 0.25f - 2.0f;
  if (dtype == DType::kF32) return f;
  SDR_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, std::move(shape)));
  void* dst = t.mutable_raw();
  if (GetDTypeInfo(dtype).is_quantized) {
    SDR_RETURN_IF_ERROR(Quantize(dtype, src, f.numel(), dst));
    return t;
  }
  for (int64_t i = 0; i < f.numel(); ++i) {
    switch (dtype) {
      case DType::kF16: static_cast<uint16_t*>(dst)[i] = F32ToF16(src[i]); break;
      case DType::kBF16: static_cast<uint16_t*>(dst)[i] = F32ToBF16(src[i]); break;
      case DType::kI64: static_cast<int64_t*>(dst)[i] = i - 3; break;
      default: return InternalError("Ramp: no seed values for " + std::string(DTypeName(dtype)));
    }
  }
  return t;
}

Result<std::vector<NamedTensor>> Tensors(const std::vector<std::tuple<std::string, DType, Shape>>& specs) {
  std::vector<NamedTensor> out;
  for (const auto& [name, dtype, shape] : specs) {
    SDR_ASSIGN_OR_RETURN(Tensor t, Ramp(dtype, shape));
    out.push_back({name, std::move(t)});
  }
  return out;
}

// The bytes a writer puts in a file.
Result<std::string> Written(const std::string& scratch_dir, const std::function<Status(const std::string&)>& write) {
  const std::string path = (std::filesystem::path(scratch_dir) / "seed.tmp").string();
  SDR_RETURN_IF_ERROR(write(path));
  auto bytes = ReadSmallFile(path);
  std::error_code ec;
  std::filesystem::remove(path, ec);
  return bytes;
}

Result<std::vector<FuzzSeed>> SafetensorsSeeds(const std::string& scratch) {
  std::vector<FuzzSeed> seeds;
  SDR_ASSIGN_OR_RETURN(auto mixed, Tensors({{"model.a.weight", DType::kF32, {2, 3}},
                                            {"model.b", DType::kF16, {4}},
                                            {"model.c", DType::kBF16, {2, 1}},
                                            {"model.d", DType::kI64, {2}},
                                            {"model.empty", DType::kF32, {0, 3}},
                                            {"model_ema.decay", DType::kF32, {}}}));
  SDR_ASSIGN_OR_RETURN(std::string a, Written(scratch, [&](const std::string& p) {
                         return WriteSafetensors(p, mixed, {{"format", "pt"}, {"note", "seed"}});
                       }));
  seeds.push_back({"mixed_dtypes.safetensors", a});
  SDR_ASSIGN_OR_RETURN(std::string b, Written(scratch, [&](const std::string& p) {
                         return WriteSafetensors(p, {}, {{"only", "metadata"}});
                       }));
  seeds.push_back({"metadata_only.safetensors", b});
  return seeds;
}

// A hand-built GGUF with metadata of every value type (the writer stores strings only).
std::string GgufAllValueTypes() {
  std::string s;
  auto put = [&s](const auto& v) { s.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  auto str = [&](std::string_view v) { put(uint64_t{v.size()}); s.append(v); };
  auto key = [&](std::string_view k, gguf::ValueType t) { str(k); put(static_cast<uint32_t>(t)); };
  using VT = gguf::ValueType;
  put(gguf::kMagic); put(uint32_t{3}); put(uint64_t{1}); put(uint64_t{14});
  key("u8", VT::kU8); put(uint8_t{7});
  key("i8", VT::kI8); put(int8_t{-7});
  key("u16", VT::kU16); put(uint16_t{700});
  key("i16", VT::kI16); put(int16_t{-700});
  key("u32", VT::kU32); put(uint32_t{70000});
  key("i32", VT::kI32); put(int32_t{-70000});
  key("f32", VT::kF32); put(0.5f);
  key("bool", VT::kBool); put(uint8_t{1});
  key("u64", VT::kU64); put(uint64_t{1} << 40);
  key("i64", VT::kI64); put(int64_t{-1} << 40);
  key("f64", VT::kF64); put(0.25);
  key("general.alignment", VT::kU32); put(uint32_t{16});
  key("tokens", VT::kArray); put(static_cast<uint32_t>(VT::kString)); put(uint64_t{2}); str("a"); str("bc");
  key("nested", VT::kArray); put(static_cast<uint32_t>(VT::kArray)); put(uint64_t{1});
  put(static_cast<uint32_t>(VT::kI32)); put(uint64_t{2}); put(int32_t{1}); put(int32_t{2});
  str("t"); put(uint32_t{2}); put(uint64_t{2}); put(uint64_t{2}); put(uint32_t{0}); put(uint64_t{0});  // f32 [2, 2]
  while (s.size() % 16 != 0) s.push_back('\0');
  for (float v : {1.0f, 2.0f, 3.0f, 4.0f}) put(v);
  return s;
}

Result<std::vector<FuzzSeed>> GgufSeeds(const std::string& scratch) {
  std::vector<FuzzSeed> seeds;
  SDR_ASSIGN_OR_RETURN(auto mixed, Tensors({{"a", DType::kF32, {2, 4}},
                                            {"b", DType::kF16, {8}},
                                            {"c", DType::kQ8_0, {1, 32}},
                                            {"d", DType::kQ4_0, {2, 32}},
                                            {"e", DType::kQ4_K, {1, 256}},
                                            {"f", DType::kBF16, {3}}}));
  SDR_ASSIGN_OR_RETURN(std::string a, Written(scratch, [&](const std::string& p) {
                         return WriteGguf(p, mixed, {{"general.name", "seed"}});
                       }));
  seeds.push_back({"mixed_dtypes.gguf", a});
  seeds.push_back({"all_value_types.gguf", GgufAllValueTypes()});
  return seeds;
}

Result<std::string> SmallCkpt(const std::string& scratch, bool wrap) {
  SDR_ASSIGN_OR_RETURN(auto tensors, Tensors({{"model.w", DType::kF32, {2, 3}},
                                              {"model.h", DType::kF16, {4}},
                                              {"model.b", DType::kBF16, {2}},
                                              {"model.i", DType::kI64, {2}}}));
  return Written(scratch, [&](const std::string& p) { return WriteCkpt(p, tensors, wrap); });
}

// A hand-made torch-like archive: a parameter-wrapped tensor, a transposed (non-contiguous)
// view and an offset view sharing one storage, byteorder "little".
std::string HandMadeCkpt() {
  std::vector<FakeTensor> ts(3);
  ts[0] = {"p", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}, true};
  ts[1] = {"t", "FloatStorage", "0", 6, 0, {3, 2}, {1, 3}, false};
  ts[2] = {"o", "FloatStorage", "0", 6, 2, {2}, {1}, false};
  const std::string pkl = testing::FakeStateDictPickle(ts, /*wrap=*/true);
  return testing::TorchLikeZip(pkl, {{"0", testing::F32Bytes({1, 2, 3, 4, 5, 6})}}, "archive", "little");
}

Result<std::vector<FuzzSeed>> ZipSeeds(const std::string& scratch) {
  std::vector<ZipSpecEntry> entries = {{"a/stored.txt", "hello zip"}, {"a/deflated.txt", std::string(300, 'z')}};
  entries[1].deflate = true;
  std::vector<FuzzSeed> seeds;
  seeds.push_back({"stored_and_deflated.zip", testing::BuildZip(entries)});
  seeds.push_back({"zip64.zip", testing::BuildZip(entries, /*force_zip64=*/true)});
  SDR_ASSIGN_OR_RETURN(std::string ckpt, SmallCkpt(scratch, true));
  seeds.push_back({"torch_save.zip", ckpt});
  return seeds;
}

Result<std::vector<FuzzSeed>> CkptSeeds(const std::string& scratch) {
  std::vector<FuzzSeed> seeds;
  SDR_ASSIGN_OR_RETURN(std::string wrapped, SmallCkpt(scratch, true));
  seeds.push_back({"state_dict.ckpt", wrapped});
  SDR_ASSIGN_OR_RETURN(std::string bare, SmallCkpt(scratch, false));
  seeds.push_back({"bare_dict.ckpt", bare});
  seeds.push_back({"views.ckpt", HandMadeCkpt()});
  std::vector<ZipSpecEntry> deflated = {{"m/data.pkl", testing::FakeStateDictPickle(
                                             {{"x", "HalfStorage", "k", 4, 0, {4}, {1}, false}}, false)},
                                        {"m/data/k", std::string(8, '\x3c')}};
  deflated[1].deflate = true;
  seeds.push_back({"deflated_storage.ckpt", testing::BuildZip(deflated)});
  return seeds;
}

// Pickle opcodes beyond what the checkpoint seeds use.
std::string PlainDataPickle() {
  PickleBytes p;
  p.Proto(4).Op(0x95).Raw(std::string("\x00\x00\x00\x00\x00\x00\x00\x00", 8));  // FRAME (length unchecked)
  p.Op('}').Op(0x94).Op('(');
  p.ShortStr("ints").Op('(').Int(1).Int(300).Int(-5).Int(int64_t{1} << 40).Op('N').Op(0x88).Op(0x89).Op('l');
  p.ShortStr("float").Op('G').Raw(std::string("\x3f\xf8\x00\x00\x00\x00\x00\x00", 8));
  p.ShortStr("bytes").Op('C').Raw(std::string("\x03" "abc", 4));
  p.ShortStr("tuples").Int(1).Op(0x85).Int(2).Int(3).Op(0x86).Op(')').Op(0x87);
  p.ShortStr("set").Op(0x8f).Op('(').Int(4).Int(5).Op(0x90);
  p.ShortStr("frozen").Op('(').Str("x").Op(0x91);
  p.ShortStr("memo").Op(']').Put(1).Op('(').Get(1).Op('2').Op('0').Op('e');
  p.ShortStr("long").Op('N').Put(400).Op('0').Get(400);
  p.ShortStr("pid").ShortStr("storage").Op(0x85).Op('Q');
  p.ShortStr("global").ShortStr("collections").ShortStr("OrderedDict").Op(0x93).Op(')').Op('R').Op('}').Op('b');
  p.Op('u').Stop();
  return p.bytes();
}

Result<std::vector<FuzzSeed>> PickleSeeds(const std::string& scratch) {
  std::vector<FuzzSeed> seeds;
  SDR_ASSIGN_OR_RETURN(std::string ckpt, SmallCkpt(scratch, true));
  SDR_ASSIGN_OR_RETURN(auto file, MappedFile::FromBytes(ckpt, "seed.ckpt"));
  SDR_ASSIGN_OR_RETURN(ZipReader zip, ZipReader::Open(file));
  const ZipEntry* pkl = zip.Find("archive/data.pkl");
  if (pkl == nullptr) return InternalError("WriteCkpt wrote no archive/data.pkl");
  SDR_ASSIGN_OR_RETURN(ZipBytes bytes, zip.Read(*pkl));
  seeds.push_back({"write_ckpt_data.pkl", std::string(bytes.view())});
  seeds.push_back({"views.pkl", testing::FakeStateDictPickle(
                                    {{"p", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}, true},
                                     {"t", "HalfStorage", "1", 6, 1, {2, 2}, {1, 2}, false}},
                                    true)});
  seeds.push_back({"plain_data.pkl", PlainDataPickle()});
  return seeds;
}

std::vector<FuzzSeed> TokenizerSeeds() {
  // Byte 0 picks the chunk options (fuzz_targets.h): 0 = defaults, 1 = pad with 0, 2 = 1 chunk.
  const std::pair<const char*, std::string> prompts[] = {
      {"plain.txt", std::string("\0", 1) + "a photo of a cat"},
      {"weights.txt", std::string("\0", 1) + "(masterpiece:1.2), ((best quality)), [blurry:0.5], [[low]] (open"},
      {"break.txt", std::string("\x01", 1) + "landscape BREAK (mountains:1.3) BREAKfast BREAK"},
      {"escapes.txt", std::string("\0", 1) + "\\(not weighted\\) \\[x\\] \\\\ a \\b : ) ]"},
      {"unicode.txt", std::string("\0", 1) + "caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x8e\x89 \xff\xfe bad"},
      {"html_specials.txt", std::string("\0", 1) + "&amp; &lt;b&gt; &#x41;&#66; it's <|startoftext|>x<|endoftext|>"},
      {"digits_symbols.txt", std::string("\0", 1) + "1girl, 8k uhd!!! ---- 3.14 @#$% \t\n spaces"},
      {"too_long.txt", [] {
         std::string s = "\x02";
         for (int i = 0; i < 40; ++i) s.append("word").append(std::to_string(i)).append(" ");
         return s;
       }()},
  };
  std::vector<FuzzSeed> seeds;
  for (const auto& [name, text] : prompts) seeds.push_back({name, text});
  return seeds;
}

std::vector<FuzzSeed> ConfigSeeds() {
  auto env = [](std::initializer_list<std::string> entries) {
    std::string s;
    for (const std::string& e : entries) s += e + std::string("\0", 1);
    return s;
  };
  return {
      {"all_numbers.env", env({"SD_IMAGE_SIZE=768x512", "SD_INFERENCE_STEPS= 30 ", "SD_GUIDANCE_SCALE=7.5",
                               "SD_TIMEOUT_SECONDS=1e2", "SD_MAX_CONCURRENT=4", "SD_THREADS=2"})},
      {"choices.env", env({"SD_SAMPLER=euler_a", "SD_SCHEDULER=karras", "SD_VAE_TILING=yes",
                           "SD_FREE_PARAMS=Off", "SD_NEGATIVE_PROMPT=blurry, (bad hands:1.2)"})},
      {"paths.env", env({"SD_MODEL_PATH=.", "SD_TOKENIZER_PATH=/", "SD_IMAGE_SIZE=64"})},
      {"empty_values.env", env({"SD_SAMPLER=", "SD_INFERENCE_STEPS=", "OTHER=1"})},
  };
}

// A png-info body: a 2x2 PNG with an A1111 infotext, as a data URI.
std::string PngInfoBody() {
  const uint8_t rgb[12] = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110};
  auto png = EncodePng(rgb, 2, 2, {{"parameters", "a cat\nNegative prompt: blur\nSteps: 3, Sampler: Euler a, Size: 2x2"}});
  SDR_CHECK(png.ok());
  return R"({"image": "data:image/png;base64,)" + EncodeBase64(*png) + R"("})";
}

std::vector<FuzzSeed> ServerRequestSeeds() {
  // Byte 0 picks the endpoint (fuzz_targets.h): 0 images, 1 jobs, 2 txt2img, 3 png-info.
  return {
      {"openai.json", std::string("\x00", 1) + R"({"model": "m", "prompt": "a cat", "n": 2, "size": "64x64",)"
                                             R"( "response_format": "url", "output_format": "png", "user": "u",)"
                                             R"( "stream": true, "partial_images": 2, "quality": "hd"})"},
      {"openai_extensions.json",
       std::string("\x00", 1) + R"j({"prompt": "caf\u00e9 (x:1.2)", "negative_prompt": "blur", "steps": 20,)j"
                                R"( "cfg_scale": 7.5, "seed": -1, "sampler": "DPM++ 2M Karras", "clip_skip": 2})"},
      {"jobs.json", std::string("\x01", 1) + R"({"prompt": "a dog", "width": 128, "height": 64, "steps": 5,)"
                                             R"( "sampler": "euler_a", "scheduler": "karras"})"},
      {"txt2img.json",
       std::string("\x02", 1) + R"({"prompt": "a fox", "negative_prompt": "", "steps": 3, "cfg_scale": 6,)"
                                R"( "width": 64, "height": 64, "sampler_name": "Euler a", "scheduler": "Karras",)"
                                R"( "seed": 5, "batch_size": 2, "n_iter": 2, "send_images": true,)"
                                R"( "override_settings": {"CLIP_stop_at_last_layers": 2}})"},
      {"png_info.json", std::string("\x03", 1) + PngInfoBody()},
  };
}

// One libFuzzer dictionary line: "text" with \xNN escapes.
std::string DictLine(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string s = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      s += "\\x";
      s += kHex[u >> 4];
      s += kHex[u & 15];
    } else {
      s += c;
    }
  }
  return s + "\"\n";
}

}  // namespace

std::string FuzzDictionary(const std::string& target) {
  std::string d;
  if (target == "config") {
    for (const ConfigField& f : ConfigFields()) d += DictLine(std::string(f.env_var) + "=");
    for (SamplerKind k : AllSamplerKinds()) d += DictLine(ToString(k));
    for (Scheduler k : AllSchedulers()) d += DictLine(ToString(k));
    for (const char* w : {"true", "false", "yes", "off", "x", "1e308", "nan", "inf", "-0", "2048"}) d += DictLine(w);
    d += DictLine(std::string("\0", 1));
  } else if (target == "server_request") {
    for (const char* w : {"\"prompt\"", "\"negative_prompt\"", "\"n\"", "\"size\"", "\"width\"", "\"height\"",
                          "\"steps\"", "\"cfg_scale\"", "\"seed\"", "\"sampler\"", "\"sampler_name\"",
                          "\"scheduler\"", "\"clip_skip\"", "\"batch_size\"", "\"n_iter\"", "\"stream\"",
                          "\"partial_images\"", "\"response_format\"", "\"override_settings\"",
                          "\"CLIP_stop_at_last_layers\"", "\"image\"", "data:image/png;base64,", "64x64", "null",
                          "true", "1e999", "NaN", "-1", "\\ud800"}) {
      d += DictLine(w);
    }
  } else if (target == "pickle" || target == "ckpt") {
    for (const char* w : {"collections\nOrderedDict\n", "torch._utils\n_rebuild_tensor_v2\n",
                          "torch._utils\n_rebuild_parameter\n", "torch\nFloatStorage\n", "torch\nHalfStorage\n",
                          "storage", "state_dict", "cpu"}) {
      d += DictLine(w);
    }
    if (target == "ckpt") {
      for (const char* w : {"archive/data.pkl", "archive/data/0", "archive/byteorder", "little", "PK\x03\x04",
                            "PK\x01\x02", "PK\x05\x06"}) {
        d += DictLine(w);
      }
    }
  }
  return d;
}

Result<std::vector<FuzzSeed>> MakeFuzzSeeds(const std::string& target, const std::string& scratch_dir) {
  if (target == "safetensors") return SafetensorsSeeds(scratch_dir);
  if (target == "gguf") return GgufSeeds(scratch_dir);
  if (target == "zip") return ZipSeeds(scratch_dir);
  if (target == "ckpt") return CkptSeeds(scratch_dir);
  if (target == "pickle") return PickleSeeds(scratch_dir);
  if (target == "tokenizer") return TokenizerSeeds();
  if (target == "config") return ConfigSeeds();
  if (target == "server_request") return ServerRequestSeeds();
  return std::vector<FuzzSeed>{};
}

}  // namespace sdr::fuzz
