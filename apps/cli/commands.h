// The `sdr` command line: one file per subcommand; each registers itself on the CLI11 app and
// reports failures as a Status, which main() prints as one line and maps to an exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

#include "core/status.h"

namespace sdr::cli {

struct Command {
  CLI::App* sub = nullptr;       // the registered subcommand
  std::function<Status()> run;   // runs it with the parsed options
};

Command RegisterInfo(CLI::App& app);
Command RegisterMakeTestModel(CLI::App& app);
Command RegisterConvert(CLI::App& app);
Command RegisterGenerate(CLI::App& app);
Command RegisterConfig(CLI::App& app);

// One table: Status code -> process exit code (0 is success; 2 is CLI11's usage error).
int ExitCodeFor(StatusCode code);

}  // namespace sdr::cli
