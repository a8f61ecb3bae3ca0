// A1111 infotext layout and short model hashes.
#include "runtime/infotext.h"

#include <gtest/gtest.h>

#include "core/sha256.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

GenerationInfo Example() {
  GenerationInfo info;
  info.prompt = "a photo of a cat";
  info.negative_prompt = "blurry";
  info.steps = 20;
  info.sampler = "Euler a";
  info.schedule = "Karras";
  info.cfg_scale = 7.0;
  info.seed = 42;
  info.width = 512;
  info.height = 512;
  info.model_hash = "abcd012345";
  info.model_name = "name";
  return info;
}

TEST(InfotextTest, A1111Layout) {
  EXPECT_EQ(FormatInfotext(Example()),
            "a photo of a cat\n"
            "Negative prompt: blurry\n"
            "Steps: 20, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 42, "
            "Size: 512x512, Model hash: abcd012345, Model: name");
}

TEST(InfotextTest, OptionalFields) {
  GenerationInfo info = Example();
  info.negative_prompt.clear();
  info.model_hash.clear();
  info.model_name.clear();
  info.schedule.clear();
  info.cfg_scale = 7.5;
  info.seed = 4294967295u;
  info.width = 768;
  info.clip_skip = 2;
  info.rng = RngKind::kCpu;
  info.extra = {{"Version", "sdruntime 0.1"}};
  EXPECT_EQ(FormatInfotext(info),
            "a photo of a cat\n"
            "Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 4294967295, Size: 768x512, "
            "Clip skip: 2, RNG: CPU, Version: sdruntime 0.1");
  info.clip_skip = 1;
  info.rng = RngKind::kCuda;
  info.extra.clear();
  EXPECT_EQ(FormatInfotext(info),
            "a photo of a cat\n"
            "Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 4294967295, Size: 768x512");
}

TEST(InfotextTest, MultiLinePromptsAndStrip) {
  GenerationInfo info = Example();
  info.prompt = "  line one\nline two";
  info.negative_prompt = "bad\nworse";
  info.model_name.clear();
  info.model_hash.clear();
  EXPECT_EQ(FormatInfotext(info),
            "line one\nline two\nNegative prompt: bad\nworse\n"
            "Steps: 20, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 512x512");
  info.prompt.clear();
  info.negative_prompt.clear();
  EXPECT_EQ(FormatInfotext(info),
            "Steps: 20, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 512x512");
}

TEST(InfotextTest, ValuesWithSeparatorsAreJsonQuoted) {
  EXPECT_EQ(QuoteInfotextValue("plain name"), "plain name");
  EXPECT_EQ(QuoteInfotextValue("a, b"), "\"a, b\"");
  EXPECT_EQ(QuoteInfotextValue("C:\\models\\x \"q\""), "\"C:\\\\models\\\\x \\\"q\\\"\"");
  EXPECT_EQ(QuoteInfotextValue("two\nlines"), "\"two\\nlines\"");
  EXPECT_EQ(QuoteInfotextValue("caf\xc3\xa9: x"), "\"caf\xc3\xa9: x\"");  // UTF-8 kept
  GenerationInfo info = Example();
  info.model_name = "v1-5, pruned";
  const std::string text = FormatInfotext(info);
  EXPECT_EQ(text.substr(text.rfind("Model: ")), "Model: \"v1-5, pruned\"");
}

TEST(InfotextTest, NumbersPrintLikePython) {
  EXPECT_EQ(FormatInfotextNumber(7.0), "7");
  EXPECT_EQ(FormatInfotextNumber(7.5), "7.5");
  EXPECT_EQ(FormatInfotextNumber(0.1), "0.1");
  EXPECT_EQ(FormatInfotextNumber(1.25), "1.25");
  EXPECT_EQ(FormatInfotextNumber(0), "0");
  EXPECT_EQ(FormatInfotextNumber(-3.0), "-3");
  EXPECT_EQ(FormatInfotextNumber(0.0001), "0.0001");
  EXPECT_EQ(FormatInfotextNumber(1e-05), "1e-05");
  EXPECT_EQ(FormatInfotextNumber(1e16), "1e+16");
  EXPECT_EQ(FormatInfotextNumber(30.0), "30");
}

TEST(ModelHashTest, FirstTenHexDigitsOfFileSha256) {
  testing::TempDir dir;
  const std::string path = dir.File("model.safetensors");
  testing::WriteFileBytes(path, "abc");
  auto h = ModelHash(path);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(*h, "ba7816bf8f");
  auto missing = ModelHash(dir.File("none.ckpt"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("none.ckpt"), std::string::npos);
}

}  // namespace
}  // namespace sdr
