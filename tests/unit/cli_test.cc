// The `sdr` command line end to end on tiny random models: info, convert, generate, and the
// clear errors for bad files and bad settings.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <string>

#include "formats/safetensors.h"
#include "formats/model_file.h"
#include "models/lora/random_lora.h"
#include "models/random_weights.h"
#include "runtime/png_reader.h"
#include "runtime/png_writer.h"
#include "testing/model_cache.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

const std::string kSdr = std::string(SDR_BIN_DIR) + "/sdr";
const std::string kMerges = std::string(SDR_SHARED_DIR) + "/data/clip-vit-l-14-merges.txt";

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    auto w = MakeRandomSd1Weights({});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(WriteSafetensors(dir_->File("tiny.safetensors"), *w).ok());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Model() { return dir_->File("tiny.safetensors"); }
  static int Run(const std::string& args, std::string* out) {
    return testing::RunCommand(kSdr + " " + args, out, /*merge_stderr=*/true);
  }
  static testing::TempDir* dir_;
};
testing::TempDir* CliTest::dir_ = nullptr;

TEST_F(CliTest, InfoJsonDescribesTheTinyModel) {
  std::string out;
  ASSERT_EQ(testing::RunCommand(kSdr + " info --json " + Model(), &out), 0) << out;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["format"], "safetensors");
  EXPECT_EQ(j["version"], "SD 1.x");
  EXPECT_EQ(j["components"]["unet"]["tensors"], 686);
  EXPECT_EQ(j["components"]["vae"]["tensors"], 248);
  EXPECT_EQ(j["widths"]["unet_model_channels"], 32);
}

TEST_F(CliTest, ConvertRoundTripsThroughEveryFormat) {
  for (const char* ext : {"ckpt", "gguf"}) {
    const std::string out_path = dir_->File(std::string("conv.") + ext);
    std::string out;
    ASSERT_EQ(Run("convert " + Model() + " " + out_path + " --type f16", &out), 0) << out;
    std::string info;
    ASSERT_EQ(testing::RunCommand(kSdr + " info --json " + out_path, &info), 0) << info;
    auto j = nlohmann::json::parse(info);
    EXPECT_EQ(j["format"], ext);
    EXPECT_EQ(j["components"]["unet"]["tensors"], 686);
    EXPECT_GT(j["components"]["unet"]["dtypes"]["f16"].get<int>(), 0);
  }
  std::string out;
  ASSERT_EQ(Run("convert " + Model() + " " + dir_->File("q.gguf") + " --type q8_0", &out), 0) << out;
  // Convolution kernels are quantized by [cout, cin*kh*kw] rows, and the converter says that ggml
  // readers cannot load them; --ggml-compatible keeps them f16.
  EXPECT_NE(out.find("--ggml-compatible keeps them f16"), std::string::npos) << out;
  std::string compat_out;
  ASSERT_EQ(Run("convert " + Model() + " " + dir_->File("qc.gguf") + " --type q8_0 --ggml-compatible", &compat_out),
            0)
      << compat_out;
  EXPECT_EQ(compat_out.find("note:"), std::string::npos) << compat_out;
  std::string info, compat_info;
  ASSERT_EQ(testing::RunCommand(kSdr + " info --json " + dir_->File("q.gguf"), &info), 0);
  ASSERT_EQ(testing::RunCommand(kSdr + " info --json " + dir_->File("qc.gguf"), &compat_info), 0);
  const auto unet = nlohmann::json::parse(info)["components"]["unet"]["dtypes"];
  const auto compat_unet = nlohmann::json::parse(compat_info)["components"]["unet"]["dtypes"];
  EXPECT_GT(compat_unet["q8_0"].get<int>(), 0);
  EXPECT_GT(unet["q8_0"].get<int>(), compat_unet["q8_0"].get<int>()) << info << compat_info;
  EXPECT_GT(compat_unet.value("f16", 0), unet.value("f16", 0)) << info << compat_info;
  EXPECT_LT(std::filesystem::file_size(dir_->File("q.gguf")), std::filesystem::file_size(dir_->File("qc.gguf")));
  // The fully quantized file generates, close to the f32 model's image.
  const std::string png = dir_->File("q.png"), ref_png = dir_->File("ref.png");
  ASSERT_EQ(Run("generate -m " + dir_->File("q.gguf") + " --tokenizer " + kMerges + " -p cat -W 64 -H 64 --steps 2 --seed 5 -o " + png, &out), 0)
      << out;
  ASSERT_EQ(Run("generate -m " + Model() + " --tokenizer " + kMerges + " -p cat -W 64 -H 64 --steps 2 --seed 5 -o " + ref_png, &out), 0) << out;
  auto a = ReadPng(png), b = ReadPng(ref_png);
  ASSERT_TRUE(a.ok() && b.ok());
  double diff = 0;
  for (size_t i = 0; i < a->rgb.size(); ++i) diff += std::abs(int(a->rgb[i]) - int(b->rgb[i]));
  EXPECT_LT(diff / static_cast<double>(a->rgb.size()), 8.0) << "mean pixel difference, q8_0 vs f32 weights";
}

TEST_F(CliTest, BadFilesGiveOneLineErrorsAndNonZeroExit) {
  std::string out;
  EXPECT_NE(Run("info /nonexistent/model.safetensors", &out), 0);
  EXPECT_NE(out.find("does not exist"), std::string::npos) << out;
  testing::WriteFileBytes(dir_->File("junk.bin"), "this is not a model at all");
  out.clear();
  EXPECT_NE(Run("info " + dir_->File("junk.bin"), &out), 0);
  EXPECT_NE(out.find("not a model file we recognise"), std::string::npos) << out;
  testing::WriteFileBytes(dir_->File("trunc.safetensors"), testing::ReadFileBytes(Model()).substr(0, 5000));
  out.clear();
  EXPECT_EQ(Run("info " + dir_->File("trunc.safetensors"), &out), 6);  // corrupt_data
  EXPECT_NE(out.find("trunc.safetensors"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

// A file that parses but holds the wrong model: one line naming the tensor, expected vs actual
// shape, exit model_load_failed, no crash (the four cases of the first-contact report).
TEST_F(CliTest, WrongModelFilesGiveOneLineErrorsNamingTheTensor) {
  struct Case {
    std::string file, tensor, needle;
    Shape shape;  // empty: remove the tensor
    Shape bias;   // the matching bias, when it changes too
  };
  const std::string u = "model.diffusion_model.";
  const Case cases[] = {
      {"unet_out3.safetensors", u + "out.2.weight",
       "tensor '" + u + "out.2.weight' has shape [3, 32, 3, 3], expected [4, 32, 3, 3]", {3, 32, 3, 3}, {3}},
      {"vae_out2.safetensors", "first_stage_model.decoder.conv_out.weight",
       "tensor 'first_stage_model.decoder.conv_out.weight' has shape [2, 32, 3, 3], expected [3, 32, 3, 3]",
       {2, 32, 3, 3}, {2}},
      {"no_norm.safetensors", u + "input_blocks.1.1.norm.weight",
       "tensor '" + u + "input_blocks.1.1.norm.weight' is missing from the model (expected shape [32])", {}, {}},
      {"in5.safetensors", u + "input_blocks.0.0.weight",
       "tensor '" + u + "input_blocks.0.0.weight' has shape [32, 5, 3, 3], expected [32, 4, 3, 3]", {32, 5, 3, 3}, {}},
  };
  for (const Case& c : cases) {
    auto w = MakeRandomSd1Weights({});
    ASSERT_TRUE(w.ok());
    std::vector<NamedTensor> tensors;
    const std::string bias = c.tensor.substr(0, c.tensor.size() - 6) + "bias";
    for (NamedTensor& t : *w) {
      if (t.name == c.tensor && c.shape.empty()) continue;
      if (t.name == c.tensor) t.tensor = *Tensor::Zeros(DType::kF32, c.shape);
      if (t.name == bias && !c.bias.empty()) t.tensor = *Tensor::Zeros(DType::kF32, c.bias);
      tensors.push_back(std::move(t));
    }
    ASSERT_TRUE(WriteSafetensors(dir_->File(c.file), tensors).ok());
    std::string out;
    EXPECT_EQ(Run("generate -m " + dir_->File(c.file) + " -p cat -W 64 -H 64 --steps 1", &out), 6) << out;
    EXPECT_NE(out.find(c.needle), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
  // A variant we do not run yet is named as what it is.
  auto w = MakeRandomSd1Weights({});
  ASSERT_TRUE(w.ok());
  for (NamedTensor& t : *w) {
    if (t.name == u + "input_blocks.0.0.weight") t.tensor = *Tensor::Zeros(DType::kF32, {32, 8, 3, 3});
  }
  ASSERT_TRUE(WriteSafetensors(dir_->File("pix2pix.safetensors"), *w).ok());
  std::string out;
  EXPECT_EQ(Run("generate -m " + dir_->File("pix2pix.safetensors") + " -p cat", &out), 6) << out;
  EXPECT_NE(out.find("this is an SD 1.x instruct-pix2pix UNet (8 input channels); it is not supported yet"),
            std::string::npos)
      << out;
  // An inpainting UNet loads, and asks for what it needs when given no mask.
  for (NamedTensor& t : *w) {
    if (t.name == u + "input_blocks.0.0.weight") t.tensor = *Tensor::Zeros(DType::kF32, {32, 9, 3, 3});
  }
  ASSERT_TRUE(WriteSafetensors(dir_->File("inpaint.safetensors"), *w).ok());
  EXPECT_EQ(Run("generate -m " + dir_->File("inpaint.safetensors") + " -p cat -W 64 -H 64 --steps 1", &out), 3) << out;
  EXPECT_NE(out.find("inpainting UNet"), std::string::npos) << out;
}

TEST_F(CliTest, GenerateWritesAPngWithInfotextAndTimings) {
  const std::string png = dir_->File("out.png");
  std::string out;
  ASSERT_EQ(Run("generate -m " + Model() + " --tokenizer " + kMerges +
                    " -p 'a red house' -n 'blurry' -W 64 -H 64 --steps 2 --seed 5 --sampler euler_a -o " + png,
                &out),
            0)
      << out;
  EXPECT_NE(out.find("timings: load "), std::string::npos) << out;
  EXPECT_NE(out.find(", text "), std::string::npos);
  EXPECT_NE(out.find(", sampling "), std::string::npos);
  EXPECT_NE(out.find(", decode "), std::string::npos);
  EXPECT_NE(out.find(", total "), std::string::npos);
  const std::string bytes = testing::ReadFileBytes(png);
  ASSERT_GT(bytes.size(), 100u);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  EXPECT_NE(bytes.find("parameters"), std::string::npos);
  EXPECT_NE(bytes.find("Steps: 2, Sampler: Euler a"), std::string::npos);
  EXPECT_NE(bytes.find("Seed: 5, Size: 64x64"), std::string::npos);
}

// img2img from the command line: the size defaults to the init image's (rounded down to 8s),
// the infotext records the strength, and a missing or non-PNG init image fails by name.
TEST_F(CliTest, GenerateFromAnInitImage) {
  std::vector<uint8_t> rgb(75 * 66 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 13);
  const std::string in = dir_->File("init.png"), png = dir_->File("img2img.png");
  ASSERT_TRUE(WritePng(in, rgb.data(), 75, 66).ok());
  std::string out;
  ASSERT_EQ(Run("generate -m " + Model() + " --tokenizer " + kMerges + " -p 'a red house' --init-image " + in +
                    " --strength 0.5 --steps 2 --seed 5 -o " + png,
                &out),
            0)
      << out;
  EXPECT_NE(out.find(", encode "), std::string::npos) << out;
  const std::string bytes = testing::ReadFileBytes(png);
  EXPECT_NE(bytes.find("Size: 72x64"), std::string::npos);
  EXPECT_NE(bytes.find("Denoising strength: 0.5"), std::string::npos);
  EXPECT_NE(Run("generate -m " + Model() + " -p x --init-image " + dir_->File("none.png") + " -o " + png, &out), 0);
  EXPECT_NE(out.find("none.png"), std::string::npos) << out;
  EXPECT_NE(Run("generate -m " + Model() + " -p x --init-image " + Model() + " --strength 0.5 -o " + png, &out), 0);
  EXPECT_NE(out.find("not a PNG"), std::string::npos) << out;
  EXPECT_NE(Run("generate -m " + Model() + " -p x --init-image " + in + " --strength 2 -o " + png, &out), 0);
  EXPECT_NE(out.find("strength"), std::string::npos) << out;
}

// A LoRA from the command line: --lora-dir, the tag, and A1111's "Lora hashes" in the infotext.
TEST_F(CliTest, GenerateWithALora) {
  auto index = OpenModelFile(Model());
  ASSERT_TRUE(index.ok());
  auto lora = MakeRandomLora(*index, {});
  ASSERT_TRUE(lora.ok());
  ASSERT_TRUE(WriteSafetensors(dir_->File("style.safetensors"), *lora).ok());
  const std::string png = dir_->File("lora.png");
  std::string out;
  ASSERT_EQ(Run("generate -m " + Model() + " --tokenizer " + kMerges + " -p 'a red house <lora:style:0.8>' -W 64 -H 64 " +
                    "--steps 2 --seed 5 --lora-dir " + dir_->path().string() + " -o " + png,
                &out),
            0)
      << out;
  const std::string bytes = testing::ReadFileBytes(png);
  EXPECT_NE(bytes.find("a red house <lora:style:0.8>"), std::string::npos);
  EXPECT_NE(bytes.find("Lora hashes: \"style: "), std::string::npos);
  EXPECT_NE(Run("generate -m " + Model() + " -p 'x <lora:style>' -W 64 -H 64 --steps 1 -o " + png, &out), 0);
  EXPECT_NE(out.find("SD_LORA_DIR"), std::string::npos) << out;
}

// TAESD previews from the command line: written to --preview-path, their cost reported.
TEST_F(CliTest, TaesdPreviewsAreWrittenAndTimed) {
  auto taesd = MakeRandomTaesdDecoder();
  ASSERT_TRUE(taesd.ok());
  ASSERT_TRUE(WriteSafetensors(dir_->File("taesd.safetensors"), *taesd).ok());
  const std::string preview = dir_->File("preview.png"), png = dir_->File("final.png");
  std::string out;
  ASSERT_EQ(Run("generate -m " + Model() + " --tokenizer " + kMerges + " -p 'a red house' -W 64 -H 64 --steps 4 " +
                    "--seed 5 --sampler euler --taesd " + dir_->File("taesd.safetensors") + " --preview-path " +
                    preview + " --preview-every 2 -o " + png,
                &out),
            0)
      << out;
  EXPECT_NE(out.find("previews: 2 TAESD decodes, "), std::string::npos) << out;
  EXPECT_EQ(testing::ReadFileBytes(preview).substr(1, 3), "PNG");
  EXPECT_NE(Run("generate -m " + Model() + " -p x --preview-path " + preview + " -o " + png, &out), 0);
  EXPECT_NE(out.find("--taesd"), std::string::npos) << out;
}

TEST_F(CliTest, InvalidSettingsFailFastNamingTheSetting) {
  struct Case {
    std::string args, needle;
  };
  const Case cases[] = {
      {"-W 100", "--width=100: must be a multiple of 8"},
      {"-H 4096", "--height=4096: must be a multiple of 8"},
      {"--steps 0", "--steps=0: must be in [1, 1000]"},
      {"--sampler ddim", "--sampler=\"ddim\" is not a sampler (euler_a, euler"},
      {"--scheduler linear", "--scheduler=\"linear\" is not a scheduler (discrete, karras)"},
      {"--cfg-scale nan", "--cfg-scale=nan: must be a finite number"},
      {"--rng gpu", "unknown --rng 'gpu' (cuda, cpu)"},
      {"--clip-skip 13", "clip_skip 13 must be in [1, 12]"},
  };
  for (const Case& c : cases) {
    std::string out;
    EXPECT_EQ(Run("generate -m " + Model() + " -p cat " + c.args, &out), 3) << c.args << ": " << out;
    EXPECT_NE(out.find(c.needle), std::string::npos) << c.args << ": " << out;
  }
  std::string out;
  EXPECT_EQ(Run("generate -m /nonexistent.safetensors -p cat", &out), 4) << out;
}

// First contact: a single-file checkpoint with no tokenizer anywhere (no flag, no
// SD_TOKENIZER_PATH, no tokenizer/ folder) generates with the embedded CLIP vocabulary.
TEST_F(CliTest, SingleFileCheckpointGeneratesWithNoTokenizerAnywhere) {
  const std::string png = dir_->File("first.png");
  std::string out;
  ASSERT_EQ(testing::RunCommand("env -u SD_TOKENIZER_PATH -u SD_MODEL_PATH -u SD_TIMEOUT_SECONDS " + kSdr +
                                    " generate -m " + Model() + " -p 'a photograph of an astronaut riding a horse'" +
                                    " -W 64 -H 64 --steps 2 -o " + png,
                                &out, /*merge_stderr=*/true),
            0)
      << out;
  EXPECT_EQ(testing::ReadFileBytes(png).substr(1, 3), "PNG");
  // `sdr info` says which tokenizer that is.
  std::string info;
  ASSERT_EQ(testing::RunCommand("env -u SD_TOKENIZER_PATH " + kSdr + " info " + Model(), &info), 0) << info;
  EXPECT_NE(info.find("tokenizer: the embedded CLIP ViT-L/14 vocabulary"), std::string::npos) << info;
  info.clear();
  ASSERT_EQ(testing::RunCommand(kSdr + " info --json --tokenizer " + kMerges + " " + Model(), &info), 0) << info;
  EXPECT_EQ(nlohmann::json::parse(info)["tokenizer"], "tokenizer '" + kMerges + "'");
}

// Nothing that can fail after the images exist is left until then: the output path is checked
// before the model even loads.
TEST_F(CliTest, UnwritableOutputFailsBeforeAnyWork) {
  for (const std::string& out_path : {dir_->path().string(), std::string("/proc/x.png"),
                                      dir_->File("no/such/folder/x.png")}) {
    std::string out;
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(Run("generate -m " + Model() + " -p cat --steps 50 -o " + out_path, &out), 5) << out;  // io_error
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
    EXPECT_NE(out.find("cannot write '" + out_path + "'"), std::string::npos) << out;
    EXPECT_EQ(out.find("timings:"), std::string::npos) << out;
  }
}

// A prompt with bytes that are not UTF-8 is read as the tokenizer reads it (U+FFFD), and the
// PNG infotext stores that: the image is written.
TEST_F(CliTest, InvalidUtf8PromptStillWritesThePng) {
  const std::string png = dir_->File("utf8.png");
  std::string out;
  // printf's octal escapes (dash, the /bin/sh of popen, has no $'...').
  ASSERT_EQ(Run("generate -m " + Model() + " -p \"$(printf 'a cat \\377\\376 here')\" -W 64 -H 64 --steps 1 -o " + png,
                &out),
            0)
      << out;
  const std::string bytes = testing::ReadFileBytes(png);
  EXPECT_NE(bytes.find("a cat \xef\xbf\xbd\xef\xbf\xbd here"), std::string::npos);  // U+FFFD twice, UTF-8
}

// Command-line usage errors exit 2, as the README says (not CLI11's own 109/114).
TEST_F(CliTest, UsageErrorsExitTwo) {
  std::string out;
  EXPECT_EQ(Run("generate -m " + Model() + " -p cat --no-such-flag", &out), 2) << out;
  EXPECT_EQ(Run("generate -m " + Model(), &out), 2) << out;  // -p is required
  // A malformed value is an invalid setting (3), named by its flag.
  out.clear();
  EXPECT_EQ(Run("generate -m " + Model() + " -p cat --steps many", &out), 3) << out;
  EXPECT_NE(out.find("--steps=\"many\" is not an integer"), std::string::npos) << out;
  EXPECT_EQ(Run("frobnicate", &out), 2) << out;
  EXPECT_EQ(Run("--help", &out), 0) << out;
  EXPECT_NE(out.find("Exit codes:"), std::string::npos) << out;
}

// With an explicit timeout too short for the work, generate fails after the first UNet
// evaluation with the projected time, long before the deadline.
TEST_F(CliTest, TooShortTimeoutFailsEarlyWithTheProjection) {
  std::string out;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Run("generate -m " + Model() + " -p cat -W 256 -H 256 --steps 1000 --timeout 30 -o " +
                    dir_->File("never.png"),
                &out),
            10)  // generation_timeout
      << out;
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(took, 30.0);
  EXPECT_NE(out.find("projected to take about"), std::string::npos) << out;
  EXPECT_NE(out.find("SD_TIMEOUT_SECONDS"), std::string::npos) << out;
  std::printf("[ figures ] refused after %.1f s: %s", took, out.c_str());
}

}  // namespace
}  // namespace sdr
