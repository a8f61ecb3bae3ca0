// NumPy .npy files (format version 1.0/2.0; little-endian float32 only, C order), used for
// --dump-dir debugging output and for reading reference activations in tests.
#pragma once

#include <string>

#include "core/tensor.h"

namespace sdr {

// t must be f32; written as '<f4' with its shape.
Status WriteNpy(const std::string& path, const Tensor& t);

// Reads a '<f4' (or '<f8', converted) C-order array into an owned f32 tensor.
Result<Tensor> ReadNpy(const std::string& path);

}  // namespace sdr
