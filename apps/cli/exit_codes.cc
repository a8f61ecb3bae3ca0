#include <string>

#include "apps/cli/commands.h"
#include "runtime/errors.h"

namespace sdr::cli {

std::string ExitCodeHelp() {
  std::string s = "Exit codes:\n  " + std::to_string(kUsageExitCode) + "  usage (unknown flag, missing argument)\n";
  for (const ErrorCodeInfo& row : ErrorCodeTable()) {
    s += "  " + std::to_string(row.exit_code) + (row.exit_code < 10 ? "  " : " ") + std::string(row.name) + ": " +
         std::string(row.meaning) + "\n";
  }
  return s;
}

}  // namespace sdr::cli
