#include <cstdio>
#include <vector>

#include "apps/cli/commands.h"
#include "runtime/errors.h"

int main(int argc, char** argv) {
  CLI::App app{"sdr: local Stable Diffusion runtime"};
  app.require_subcommand(1);
  app.footer(sdr::cli::ExitCodeHelp());
  const std::vector<sdr::cli::Command> commands = {
      sdr::cli::RegisterInfo(app),
      sdr::cli::RegisterMakeTestModel(app),
      sdr::cli::RegisterMakeTestLora(app),
      sdr::cli::RegisterMakeTestTaesd(app),
      sdr::cli::RegisterConvert(app),
      sdr::cli::RegisterGenerate(app),
      sdr::cli::RegisterConfig(app),
      sdr::cli::RegisterServe(app),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end here with 0; every real parse error is a usage error.
    return app.exit(e) == 0 ? 0 : sdr::kUsageExitCode;
  }
  for (const auto& cmd : commands) {
    if (!cmd.sub->parsed()) continue;
    const sdr::Status status = cmd.run();
    if (!status.ok()) {
      std::fprintf(stderr, "sdr: error: %s\n", status.ToString().c_str());
      return sdr::CliExitCode(sdr::ClassifyError(status));
    }
  }
  return 0;
}
