// A golden case of ../shared/golden/sd15-rand/<name>: its folder and the generation its
// case.json describes (prompt, size, steps, seed, CFG, sampler, schedule).
#pragma once

#include <string>

#include "runtime/generate_params.h"

namespace sdr::testing {

std::string GoldenCaseDir(const std::string& name);

// The case's parameters, as the reference engine ran them. Fails the calling test on a bad file.
GenerateParams GoldenCaseParams(const std::string& name);

}  // namespace sdr::testing
