// The flags of configuration settings, registered from the one config table (runtime/config.h):
// a command names the fields it offers; each field's flags, help and parser come from its row,
// and flags given on the command line override the environment (SD_* variables).
//
//   ConfigFlags flags(sub, {"model_path", "steps", "sampler"});
//   ... after parsing:
//   SDR_ASSIGN_OR_RETURN(RuntimeConfig config, LoadConfigFromEnv());
//   SDR_RETURN_IF_ERROR(flags.Apply(config));   // InvalidArgument naming the flag and value
#pragma once

#include <CLI/CLI.hpp>

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/config.h"

namespace sdr::cli {

class ConfigFlags {
 public:
  // Registers the flags of the named fields on `sub` (a name not in the table is a bug).
  ConfigFlags(CLI::App* sub, std::initializer_list<std::string_view> fields);

  // Parses every flag given on the command line into `config`, in table order.
  Status Apply(RuntimeConfig& config) const;

  // True when a flag of `field` was given.
  bool Given(std::string_view field) const;

 private:
  struct Bound {
    const ConfigField* field;
    const ConfigFlag* flag;
    CLI::Option* option;
    std::shared_ptr<std::string> text;  // the value as given ("true" for value-less bool flags)
  };
  std::vector<Bound> bound_;
};

}  // namespace sdr::cli
