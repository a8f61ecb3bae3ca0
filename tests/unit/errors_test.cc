// The one error table: every code has a name, an exit code and an HTTP status; the README's table
// is this table; statuses are classified by their tag, never by their message text.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "runtime/errors.h"
#include "testing/model_cache.h"
#include "testing/tiny_model.h"

namespace sdr {
namespace {

TEST(ErrorTableTest, EveryCodeHasADistinctNameExitCodeAndHttpStatus) {
  std::set<std::string_view> names;
  std::set<int> exits;
  for (size_t i = 0; i < ErrorCodeTable().size(); ++i) {
    const ErrorCodeInfo& row = ErrorCodeTable()[i];
    EXPECT_EQ(static_cast<size_t>(row.code), i);
    EXPECT_TRUE(names.insert(row.name).second) << row.name;
    EXPECT_TRUE(exits.insert(row.exit_code).second) << row.name << " shares exit code " << row.exit_code;
    EXPECT_NE(row.exit_code, kUsageExitCode) << row.name;
    EXPECT_GE(row.http_status, 200);
    EXPECT_LT(row.http_status, 600);
    EXPECT_FALSE(row.meaning.empty());
  }
  EXPECT_EQ(CliExitCode(ErrorCode::kOk), 0);
  EXPECT_EQ(HttpStatus(ErrorCode::kInvalidParams), 400);
  EXPECT_EQ(HttpStatus(ErrorCode::kRateLimited), 429);
}

TEST(ErrorTableTest, TheReadmeTableIsTheProgramsTable) {
  std::ifstream in(std::string(SDR_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(in.good());
  const std::regex row(R"(^\| (\d+) \| `([a-z_]+)` \| (\d+) \| (\d+) \| (.+) \|$)");
  std::string line;
  size_t seen = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_match(line, m, row)) continue;
    const size_t code = std::stoul(m[1]);
    ASSERT_LT(code, ErrorCodeTable().size()) << line;
    const ErrorCodeInfo& want = ErrorCodeTable()[code];
    EXPECT_EQ(code, seen) << "rows in code order: " << line;
    EXPECT_EQ(m[2].str(), want.name) << line;
    EXPECT_EQ(std::stoi(m[3]), want.exit_code) << line;
    EXPECT_EQ(std::stoi(m[4]), want.http_status) << line;
    EXPECT_EQ(m[5].str(), want.meaning) << line;
    ++seen;
  }
  EXPECT_EQ(seen, ErrorCodeTable().size()) << "the README lists every code once";
  // And `sdr --help` prints the same exit codes.
  std::string help;
  ASSERT_EQ(testing::RunCommand(std::string(SDR_BIN_DIR) + "/sdr --help", &help), 0);
  for (const ErrorCodeInfo& r : ErrorCodeTable()) {
    EXPECT_NE(help.find(std::to_string(r.exit_code) + (r.exit_code < 10 ? "  " : " ") + std::string(r.name) + ":"),
              std::string::npos)
        << r.name << "\n" << help;
  }
}

TEST(ErrorTableTest, ClassificationReadsTagsNotMessages) {
  // A tag decides, whatever the message says.
  EXPECT_EQ(ClassifyError(WithErrorCode(Unavailable("pool closed: looks like a pool error"), ErrorCode::kUnavailable)),
            ErrorCode::kUnavailable);
  EXPECT_EQ(ClassifyError(PoolClosedError("x")), ErrorCode::kPoolClosed);
  EXPECT_EQ(ClassifyError(PoolClosedError("x").WithContext("acquiring")), ErrorCode::kPoolClosed);
  EXPECT_EQ(ClassifyError(AcquireTimeoutError("x"), Operation::kGenerate), ErrorCode::kAcquireTimeout);
  EXPECT_EQ(ClassifyError(WithErrorCode(OutOfMemory("cuda"), ErrorCode::kOutOfVram)), ErrorCode::kOutOfVram);
  // Untagged: by code and operation.
  EXPECT_EQ(ClassifyError(DeadlineExceeded("x"), Operation::kGenerate), ErrorCode::kGenerationTimeout);
  EXPECT_EQ(ClassifyError(DeadlineExceeded("x"), Operation::kAcquire), ErrorCode::kAcquireTimeout);
  EXPECT_EQ(ClassifyError(NotFound("model path 'x' does not exist"), Operation::kLoadModel), ErrorCode::kModelNotFound);
  EXPECT_EQ(ClassifyError(CorruptData("bad"), Operation::kLoadModel), ErrorCode::kModelLoadFailed);
  EXPECT_EQ(ClassifyError(OutOfMemory("x"), Operation::kLoadModel), ErrorCode::kOutOfMemory);
  EXPECT_EQ(ClassifyError(InternalError("x"), Operation::kGenerate), ErrorCode::kGenerationFailed);
  EXPECT_EQ(ClassifyError(IoError("disk full")), ErrorCode::kIoError);
  // With the path known, the filesystem decides: a tensor missing from an existing file is a
  // load failure, not a missing model.
  const std::string model = testing::TinyModelPath();
  EXPECT_EQ(ClassifyLoadError(NotFound("tensor 'x' is missing"), model), ErrorCode::kModelLoadFailed);
  EXPECT_EQ(ClassifyLoadError(NotFound("x"), "/nonexistent/m.safetensors"), ErrorCode::kModelNotFound);
  EXPECT_EQ(ClassifyLoadError(CorruptData("x"), model, "/nonexistent/vae.pt"), ErrorCode::kModelNotFound);
  EXPECT_EQ(ClassifyError(TagLoadError(NotFound("tensor 'x' is missing"), model)), ErrorCode::kModelLoadFailed);
}

}  // namespace
}  // namespace sdr
