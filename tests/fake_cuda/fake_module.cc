// Stand-ins for libsdr-cuda.so that exercise every way loading the CUDA module can fail, on any
// machine (tests/unit/cuda_loader_test.cc). Built once per FAKE_KIND:
//   1 wrong_abi   a table from a future ABI
//   2 other_seam  the right ABI from another build of the seam
//   3 no_device   a well-formed module whose probe finds no GPU
//   4 needs_lib   the no_device module linked against a library outside every search path
//   (no_entry: a library without sdr_cuda_module at all, fake_no_entry.cc)
#include "backends/cuda_module.h"

#ifndef FAKE_KIND
#error "FAKE_KIND must be defined"
#endif

#if FAKE_KIND == 4
extern "C" int sdr_fake_cuda_dependency();  // in libsdr_fake_dep.so
#endif

namespace {

void Probe(sdr::CudaProbe* out, bool) {
  out->available = false;
  out->reason = "no CUDA device: fake module";
  out->runtime_version = 13000;
#if FAKE_KIND == 4
  out->driver_version = sdr_fake_cuda_dependency();
#endif
}

sdr::Result<std::unique_ptr<sdr::Backend>> Create(const sdr::CudaBackendOptions&) {
  return sdr::Unavailable("fake module: no device");
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const sdr::CudaModuleApi* sdr_cuda_module() {
#if FAKE_KIND == 1
  static const sdr::CudaModuleApi api{sdr::kCudaModuleAbi + 1000, SDR_SEAM_ID, "9.9.9", &Probe, &Create};
#elif FAKE_KIND == 2
  static const sdr::CudaModuleApi api{sdr::kCudaModuleAbi, "0000000000000000", "0.0.1", &Probe, &Create};
#else
  static const sdr::CudaModuleApi api{sdr::kCudaModuleAbi, SDR_SEAM_ID, "fake", &Probe, &Create};
#endif
  return &api;
}
