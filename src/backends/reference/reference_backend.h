// The `reference` backend: every op as the plainest loops over dense f32 (double accumulation,
// one thread), per the op's definition in backends/backend.h. Slow and obviously right: the
// conformance test checks every other backend against it, op by op.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace sdr {

std::unique_ptr<Backend> MakeReferenceBackend();

}  // namespace sdr
