// Which CUDA libraries the module runs on, for `sdr info --system`: cuBLASLt (linked), the
// runtime (linked statically), the driver, and cuDNN when it can be found (optional: looked up by
// the dynamic linker's search, then in SDR_CUDA_LIB_PATH's folders; nothing uses it yet but the
// report, see README "CUDA").
#pragma once

#include <string>
#include <vector>

namespace sdr::cuda {

// "libcublasLt.so.13 13.0.2 /usr/local/cuda/lib64/libcublasLt.so.13", ... one entry per library.
std::vector<std::string> DescribeLibraries();

// The folder-qualified path of the shared object holding `symbol` ("" if unknown).
std::string PathOfSymbol(const void* symbol);

}  // namespace sdr::cuda
