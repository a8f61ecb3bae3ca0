// Helpers of the GPU tests (label `gpu`): they skip with one line when no CUDA device is usable,
// so the suite passes on machines without one (CI, laptops).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "runtime/sd_model.h"
#include "runtime/system_info.h"

// Skips the test with "no CUDA device: <reason>" when CUDA is not usable here.
#define SDR_REQUIRE_CUDA()                                          \
  do {                                                              \
    std::string sdr_why_;                                           \
    if (!::sdr::IsCudaAvailable(&sdr_why_)) GTEST_SKIP() << "no CUDA device: " << sdr_why_; \
  } while (0)

namespace sdr::testing {

// The tiny random model (testing/tiny_model.h) loaded on `device` in `precision`.
std::shared_ptr<const SdModel> TinyModelOn(const std::string& device, const std::string& precision);

// PSNR in dB between two 8-bit RGB images of the same size.
double RgbPsnr(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b);

}  // namespace sdr::testing
