#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
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

// Long words against CLIP's reference bpe() (simple_tokenizer.py with the same merges, run once
// over the same pseudo-random words): the number of ids and their FNV-1a hash. 60 words of 1 to
// 1,200 lowercase letters, ASCII symbols or accented letters, one word each, stress the merge
// loop far beyond the golden prompts: ours is O(n log n) where the reference is quadratic, and
// must give the same ids.
TEST(ClipTokenizerTest, LongRandomWordsMatchTheReferenceBpe) {
  const std::u32string alphabets[] = {U"abcdefghijklmnopqrstuvwxyz", U"!#$%*+-./<=>?@^_`|~",
                                      U"aeiou\u00e0\u00e9\u00ee\u00f5\u00fc\u00df\u00e7\u00f1"};
  uint64_t state = 12345;
  auto rnd = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  };
  uint64_t hash = 0xcbf29ce484222325ull;
  size_t count = 0;
  for (int k = 0; k < 60; ++k) {
    const std::u32string& alpha = alphabets[k % 3];
    const uint64_t n = 1 + rnd() % 1200;
    std::u32string word;
    for (uint64_t i = 0; i < n; ++i) word += alpha[rnd() % alpha.size()];
    const std::vector<int32_t> ids = Tok().Encode(EncodeUtf8(word));
    for (int32_t id : ids) {
      for (int b = 0; b < 4; ++b) hash = (hash ^ ((static_cast<uint32_t>(id) >> (8 * b)) & 0xff)) * 0x100000001b3ull;
    }
    count += ids.size();
  }
  EXPECT_EQ(count, 36110u);
  EXPECT_EQ(hash, 0x43a3e86bdeb18212ull);
}

// One 64 KB prompt must not pin a core: the reference's quadratic merge loop took about a minute
// on such a word (Release build); ours takes a small fraction of a second. The bound is loose for
// sanitizer builds.
TEST(ClipTokenizerTest, HugeRandomWordEncodesQuickly) {
  std::string word;
  uint64_t state = 7;
  for (int i = 0; i < 65536; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    word += static_cast<char>('a' + (state >> 33) % 26);
  }
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = Tok().Encode(word);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GT(ids.size(), 10000u);
  EXPECT_LT(seconds, 10.0);
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
