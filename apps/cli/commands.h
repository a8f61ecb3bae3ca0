// The `sdr` command line: one file per subcommand; each registers itself on the CLI11 app and
// reports failures as a Status, which main() prints as one line and maps to an exit code through
// the runtime's one error table (runtime/errors.h; a command tags what it knows, e.g. a model
// that failed to load, with WithErrorCode / TagLoadError).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "core/status.h"

namespace sdr::cli {

struct Command {
  CLI::App* sub = nullptr;       // the registered subcommand
  std::function<Status()> run;   // runs it with the parsed options
};

Command RegisterInfo(CLI::App& app);
Command RegisterMakeTestModel(CLI::App& app);
Command RegisterMakeTestLora(CLI::App& app);
Command RegisterMakeTestTaesd(CLI::App& app);
Command RegisterConvert(CLI::App& app);
Command RegisterGenerate(CLI::App& app);
Command RegisterConfig(CLI::App& app);
Command RegisterServe(CLI::App& app);

// The exit codes, for `sdr --help`: the usage code and runtime/errors.h's table.
std::string ExitCodeHelp();

}  // namespace sdr::cli
