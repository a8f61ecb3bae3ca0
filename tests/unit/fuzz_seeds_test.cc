// The fuzzers' seed corpora (tests/fuzz/fuzz_seeds.h) are valid inputs: each target accepts
// every one of its seeds, so fuzzing starts from inputs that reach deep into the parsers. Also
// checks the dictionaries' syntax.
#include <gtest/gtest.h>

#include <string>

#include "fuzz/fuzz_seeds.h"
#include "fuzz/fuzz_targets.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

TEST(FuzzSeedsTest, EveryTargetAcceptsEachOfItsSeeds) {
  testing::TempDir scratch;
  for (const fuzz::FuzzTarget& target : fuzz::FuzzTargets()) {
    SCOPED_TRACE(std::string(target.name));
    auto seeds = fuzz::MakeFuzzSeeds(std::string(target.name), scratch.path().string());
    ASSERT_TRUE(seeds.ok()) << seeds.status().ToString();
    EXPECT_GE(seeds->size(), 2u);
    for (const fuzz::FuzzSeed& seed : *seeds) {
      const Status s = target.run(seed.bytes);
      // The too-long prompt seed exercises the chunk limit on purpose.
      if (seed.name == "too_long.txt") {
        EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
      } else {
        EXPECT_TRUE(s.ok()) << seed.name << ": " << s.ToString();
      }
    }
  }
}

TEST(FuzzSeedsTest, DictionariesAreQuotedLines) {
  for (const char* target : {"config", "pickle", "ckpt"}) {
    const std::string dict = fuzz::FuzzDictionary(target);
    ASSERT_FALSE(dict.empty()) << target;
    size_t start = 0;
    while (start < dict.size()) {
      const size_t end = dict.find('\n', start);
      ASSERT_NE(end, std::string::npos) << target;
      const std::string line = dict.substr(start, end - start);
      EXPECT_TRUE(line.size() >= 3 && line.front() == '"' && line.back() == '"') << target << ": " << line;
      start = end + 1;
    }
  }
  EXPECT_EQ(fuzz::FuzzDictionary("gguf"), "");
}

}  // namespace
}  // namespace sdr
