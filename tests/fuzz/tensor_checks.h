// What a model reader promises about the index it built, checked on every index a fuzz entry
// gets back: each tensor's size matches its dtype and shape, and all of its bytes are readable
// (inside the input, or inside memory the tensor owns). Under AddressSanitizer the whole byte
// range is checked against ASan's shadow; elsewhere its first and last bytes are read. Small
// tensors are also converted to f32, which runs the dequantizers over the untrusted bytes.
// A broken promise aborts (SDR_CHECK).
#pragma once

#include <cstddef>

#include "formats/tensor_index.h"

namespace sdr::fuzz {

void CheckTensorIndex(const TensorIndex& index);

// Aborts unless the n bytes at p are readable (the same check, for any byte range).
void CheckBytesReadable(const void* p, size_t n);

}  // namespace sdr::fuzz
