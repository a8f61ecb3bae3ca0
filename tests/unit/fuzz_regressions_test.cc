// Every input a fuzzer ever crashed on, kept under tests/fuzz/regressions/<target>/, replayed
// through the same entry function the fuzzer calls (tests/fuzz/fuzz_targets.h). A crash, an
// abort or a sanitizer report here is the old bug come back; the entries' own checks (SDR_CHECK)
// run too. The Status they return is not checked: most of these inputs are rightly refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz/fuzz_targets.h"
#include "testing/temp_dir.h"

namespace sdr {
namespace {

namespace fs = std::filesystem;

const fs::path kRegressions = fs::path(SDR_SOURCE_DIR) / "tests" / "fuzz" / "regressions";

std::vector<fs::path> FilesIn(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(FuzzRegressionsTest, EveryFolderNamesAFuzzTarget) {
  std::error_code ec;
  if (!fs::is_directory(kRegressions, ec)) GTEST_SKIP() << "no " << kRegressions;
  for (const auto& e : fs::directory_iterator(kRegressions)) {
    EXPECT_TRUE(e.is_directory()) << e.path() << ": regressions live in <target>/ folders";
    EXPECT_NE(fuzz::FindFuzzTarget(e.path().filename().string()), nullptr)
        << e.path() << " is not named after a fuzz target";
  }
}

TEST(FuzzRegressionsTest, EveryCrashingInputIsHandled) {
  for (const fuzz::FuzzTarget& target : fuzz::FuzzTargets()) {
    for (const fs::path& file : FilesIn(kRegressions / std::string(target.name))) {
      SCOPED_TRACE(file.string());
      const std::string bytes = testing::ReadFileBytes(file.string());
      const auto start = std::chrono::steady_clock::now();
      const Status s = target.run(bytes);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      EXPECT_LT(seconds, 2.0) << "slow input (" << s.ToString() << ")";
    }
  }
}

}  // namespace
}  // namespace sdr
