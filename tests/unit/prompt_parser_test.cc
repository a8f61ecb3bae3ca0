#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/clip_tokenizer.h"
#include "tokenizer/prompt_chunks.h"
#include "tokenizer/prompt_parser.h"

namespace sdr {
namespace {

struct Piece {
  std::string text;
  float weight;
};

void ExpectParse(const std::string& prompt, const std::vector<Piece>& expected) {
  const auto got = ParsePromptAttention(prompt);
  ASSERT_EQ(got.size(), expected.size()) << prompt;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].text, expected[i].text) << prompt << " piece " << i;
    EXPECT_NEAR(got[i].weight, expected[i].weight, 1e-5) << prompt << " piece " << i;
  }
}

// The examples from A1111's parse_prompt_attention documentation.
TEST(PromptParserTest, A1111DocumentedExamples) {
  ExpectParse("normal text", {{"normal text", 1.0f}});
  ExpectParse("an (important) word", {{"an ", 1.0f}, {"important", 1.1f}, {" word", 1.0f}});
  ExpectParse("(unbalanced", {{"unbalanced", 1.1f}});
  ExpectParse("\\(literal\\]", {{"(literal]", 1.0f}});
  ExpectParse("(unnecessary)(parens)", {{"unnecessaryparens", 1.1f}});
  ExpectParse("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
              {{"a ", 1.0f}, {"house", 1.573f}, {" ", 1.1f}, {"on", 1.0f}, {" a ", 1.1f}, {"hill", 0.55f},
               {", sun, ", 1.1f}, {"sky", 1.4641f}, {".", 1.1f}});
}

TEST(PromptParserTest, NestingAndSquareBrackets) {
  ExpectParse("((a))", {{"a", 1.21f}});
  ExpectParse("[[a]]", {{"a", 1.0f / 1.21f}});
  ExpectParse("([a])", {{"a", 1.0f}});
  ExpectParse("(a:1.5) (b:0.25)", {{"a", 1.5f}, {" ", 1.0f}, {"b", 0.25f}});
  ExpectParse("((a:2):0.5)", {{"a", 1.0f}});
  ExpectParse("a lovely cat, (masterpiece:1.2), [blurry]",
              {{"a lovely cat, ", 1.0f}, {"masterpiece", 1.2f}, {", ", 1.0f}, {"blurry", 1.0f / 1.1f}});
}

TEST(PromptParserTest, UnbalancedAndOddInputIsTolerated) {
  ExpectParse("a) b] c:", {{"a) b] c:", 1.0f}});
  ExpectParse("x (y:abc) z", {{"x ", 1.0f}, {"y:abc", 1.1f}, {" z", 1.0f}});
  ExpectParse("(y:1.2.3)", {{"y:1.2.3)", 1.1f}});
  ExpectParse("[unclosed", {{"unclosed", 1.0f / 1.1f}});
  ExpectParse("", {{"", 1.0f}});
  ExpectParse("\\\\ and \\", {{"\\ and ", 1.0f}});
  ExpectParse(std::string(10000, '('), {{"", 1.0f}});
  ExpectParse(std::string(10000, ')'), {{std::string(10000, ')'), 1.0f}});
}

TEST(PromptParserTest, BreakSplitsOnlyWholeWords) {
  const auto p = ParsePromptAttention("cat BREAK dog, BREAKFAST,BREAK");
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0].text, "cat");
  EXPECT_TRUE(p[1].is_break);
  EXPECT_EQ(p[2].text, "dog, BREAKFAST,");
  EXPECT_TRUE(p[3].is_break);
  EXPECT_EQ(p[4].text, "");
}

const ClipTokenizer& Tok() {
  static const ClipTokenizer* tok = new ClipTokenizer(
      std::move(ClipTokenizer::FromMergesFile(std::string(SDR_SHARED_DIR) + "/data/clip-vit-l-14-merges.txt"))
          .value());
  return *tok;
}

TEST(PromptChunksTest, ShortPromptIsOneChunkPaddedWithEos) {
  auto c = TokenizePrompt(Tok(), "a lovely cat, (masterpiece:1.2), [blurry]");
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->num_chunks(), 1);
  EXPECT_EQ(c->ids[0], 49406);
  EXPECT_EQ(c->ids[1], 320);  // "a"
  const int masterpiece_at = 1 + static_cast<int>(Tok().Encode("a lovely cat, ").size());
  EXPECT_EQ(c->ids[static_cast<size_t>(masterpiece_at)], Tok().Encode("masterpiece")[0]);
  EXPECT_FLOAT_EQ(c->weights[static_cast<size_t>(masterpiece_at)], 1.2f);
  EXPECT_EQ(c->ids[76], 49407);
  EXPECT_FLOAT_EQ(c->weights[0], 1.0f);
  EXPECT_FLOAT_EQ(c->weights[76], 1.0f);
}

TEST(PromptChunksTest, EmptyPromptIsBosEosAndPadding) {
  auto c = TokenizePrompt(Tok(), "");
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->num_chunks(), 1);
  EXPECT_EQ(c->ids[0], 49406);
  for (int i = 1; i < 77; ++i) EXPECT_EQ(c->ids[static_cast<size_t>(i)], 49407);
}

TEST(PromptChunksTest, LongPromptSplitsIntoChunksOf75) {
  std::string prompt;
  for (int i = 0; i < 300; ++i) prompt += "cat ";
  auto c = TokenizePrompt(Tok(), prompt);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->num_chunks(), 4);  // 300 tokens = 4 x 75
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(c->ids[static_cast<size_t>(k * 77)], 49406);
    EXPECT_EQ(c->ids[static_cast<size_t>(k * 77 + 1)], Tok().Encode("cat")[0]);
    EXPECT_EQ(c->ids[static_cast<size_t>(k * 77 + 76)], 49407);
  }
  auto c301 = TokenizePrompt(Tok(), prompt + "dog");
  ASSERT_TRUE(c301.ok());
  EXPECT_EQ(c301->num_chunks(), 5);
  EXPECT_EQ(c301->ids[4 * 77 + 1], Tok().Encode("dog")[0]);
  EXPECT_EQ(c301->ids[4 * 77 + 2], 49407);
}

TEST(PromptChunksTest, BreakStartsANewChunkAndPadWithCustomId) {
  ChunkOptions o;
  o.pad_id = 0;
  auto c = TokenizePrompt(Tok(), "cat BREAK dog", o);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->num_chunks(), 2);
  EXPECT_EQ(c->ids[2], 49407);
  EXPECT_EQ(c->ids[3], 0);
  EXPECT_EQ(c->ids[77 + 1], Tok().Encode("dog")[0]);
}

TEST(PromptChunksTest, AbsurdlyLongPromptIsRejected) {
  std::string prompt;
  for (int i = 0; i < 6000; ++i) prompt += "cat ";
  auto c = TokenizePrompt(Tok(), prompt);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sdr
