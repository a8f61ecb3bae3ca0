#include <cstdio>
#include <vector>

#include "apps/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"sdr: local Stable Diffusion runtime"};
  app.require_subcommand(1);
  const std::vector<sdr::cli::Command> commands = {
      sdr::cli::RegisterInfo(app),
      sdr::cli::RegisterMakeTestModel(app),
      sdr::cli::RegisterConvert(app),
      sdr::cli::RegisterGenerate(app),
      sdr::cli::RegisterConfig(app),
  };
  CLI11_PARSE(app, argc, argv);
  for (const auto& cmd : commands) {
    if (!cmd.sub->parsed()) continue;
    const sdr::Status status = cmd.run();
    if (!status.ok()) {
      std::fprintf(stderr, "sdr: error: %s\n", status.ToString().c_str());
      return sdr::cli::ExitCodeFor(status.code());
    }
  }
  return 0;
}
