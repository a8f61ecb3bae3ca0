#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "tokenizer/clip_tokenizer.h"
#include "tokenizer/text_clean.h"
#include "tokenizer/utf8.h"

namespace sdr {
namespace {

const std::string kMerges = std::string(SDR_SHARED_DIR) + "/data/clip-vit-l-14-merges.txt";

const ClipTokenizer& Tok() {
  static const ClipTokenizer* tok = [] {
    auto t = ClipTokenizer::FromMergesFile(kMerges);
    if (!t.ok()) {
      ADD_FAILURE() << t.status().ToString();
      std::abort();
    }
    return new ClipTokenizer(std::move(t).value());
  }();
  return *tok;
}

TEST(ClipTokenizerTest, VocabularyHasTheStandardSizeAndSpecials) {
  EXPECT_EQ(Tok().vocab_size(), 49408u);
  EXPECT_EQ(Tok().bos(), 49406);
  EXPECT_EQ(Tok().eos(), 49407);
}

TEST(ClipTokenizerTest, MatchesEveryGoldenPrompt) {
  std::ifstream in(std::string(SDR_SHARED_DIR) + "/golden/tokens.json");
  ASSERT_TRUE(in) << "missing ../shared/golden/tokens.json";
  std::stringstream ss;
  ss << in.rdbuf();
  auto golden = nlohmann::json::parse(ss.str());
  ASSERT_GE(golden.size(), 10u);
  for (auto it = golden.begin(); it != golden.end(); ++it) {
    const std::vector<int32_t> expected = it.value().get<std::vector<int32_t>>();
    EXPECT_EQ(Tok().EncodeWithSpecials(it.key()), expected) << "prompt: " << it.key();
  }
}

TEST(ClipTokenizerTest, KnownIdsFromTheReference) {
  EXPECT_EQ(Tok().EncodeWithSpecials("a photograph of an astronaut riding a horse"),
            (std::vector<int32_t>{49406, 320, 8853, 539, 550, 18376, 6765, 320, 4558, 49407}));
  EXPECT_EQ(Tok().Encode(""), std::vector<int32_t>{});
  EXPECT_EQ(Tok().Encode("   \t\n "), std::vector<int32_t>{});
  EXPECT_EQ(Tok().Encode("<|endoftext|>"), std::vector<int32_t>{49407});
}

TEST(ClipTokenizerTest, CleaningUnescapesCollapsesAndLowercases) {
  EXPECT_EQ(EncodeUtf8(CleanClipText(U"  A\u00a0\u3000B&amp;amp;C &#x41;&lt;  ")), "a b&c a<");
  EXPECT_EQ(EncodeUtf8(CleanClipText(U"\u00c9COLE \u0130STANBUL \u03a3\u039f\u03a3")), "\u00e9cole i\u0307stanbul \u03c3\u03bf\u03c2");
  EXPECT_EQ(Tok().Encode("CAT"), Tok().Encode("cat"));
}

TEST(ClipTokenizerTest, InvalidUtf8IsReplacedNotACrash) {
  bool invalid = false;
  EXPECT_EQ(DecodeUtf8("a\xff" "b", &invalid), U"a\uFFFDb");
  EXPECT_TRUE(invalid);
  EXPECT_EQ(DecodeUtf8("\xe2\x82"), U"\uFFFD");           // truncated sequence: one replacement
  EXPECT_EQ(DecodeUtf8("\xc0\xaf"), U"\uFFFD\uFFFD");     // overlong: each byte replaced
  EXPECT_EQ(DecodeUtf8("\xed\xa0\x80"), U"\uFFFD\uFFFD\uFFFD");  // surrogate
  EXPECT_EQ(DecodeUtf8("\xf0\x9f\x98\x80"), U"\U0001F600");
  const std::string garbage = "cat \xff\xfe\xfd dog \xc3";
  const auto ids = Tok().Encode(garbage);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), Tok().Encode("cat")[0]);
  EXPECT_EQ(Tok().Encode(garbage), Tok().Encode("cat \uFFFD\uFFFD\uFFFD dog \uFFFD"));
}

TEST(ClipTokenizerTest, BadMergesAreAClearError) {
  EXPECT_EQ(ClipTokenizer::FromMerges("").status().code(), StatusCode::kCorruptData);
  EXPECT_EQ(ClipTokenizer::FromMerges("#version\n").status().code(), StatusCode::kCorruptData);
  auto bad = ClipTokenizer::FromMerges("#version\na b\nnospace\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 3"), std::string::npos) << bad.status().ToString();
  auto missing = ClipTokenizer::FromMergesFile("/nonexistent/merges.txt");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace sdr
