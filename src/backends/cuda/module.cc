// The module's one C entry point (backends/cuda_module.h) and its probe of the machine.
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <string>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/library_paths.h"
#include "backends/cuda_module.h"

#ifndef SDR_CUDA_ARCHS
#define SDR_CUDA_ARCHS "?"
#endif
#ifndef SDR_VERSION_STRING
#define SDR_VERSION_STRING "?"
#endif

namespace sdr::cuda {
namespace {

std::string VersionName(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

}  // namespace

void ProbeCudaDevices(CudaProbe* out, bool query_free) {
  out->runtime_version = CUDART_VERSION;
  out->architectures = SDR_CUDA_ARCHS;
  // The driver library first: its absence is the commonest reason, and deserves its own words.
  if (dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    const char* e = dlerror();
    out->reason = std::string("no NVIDIA driver: libcuda.so.1 cannot be loaded (") + (e != nullptr ? e : "?") + ")";
    return;
  }
  int driver = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess) cudaGetLastError();
  out->driver_version = driver;
  out->libraries = DescribeLibraries();
  if (driver == 0) {
    out->reason = "the NVIDIA driver (libcuda.so.1) did not report its CUDA version";
    return;
  }
  if (driver / 1000 < CUDART_VERSION / 1000) {
    out->reason = "driver too old: it supports CUDA " + VersionName(driver) + ", this module was built with CUDA " +
                  VersionName(CUDART_VERSION) + " (update the NVIDIA driver, or build the module with an older toolkit)";
    return;
  }
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    cudaGetLastError();
    if (e == cudaErrorInsufficientDriver) {
      out->reason = "driver too old for CUDA " + VersionName(CUDART_VERSION) + " (driver supports " +
                    VersionName(driver) + ")";
    } else if (e == cudaErrorNoDevice || count == 0) {
      out->reason = "no CUDA device: the driver (CUDA " + VersionName(driver) + ") sees no GPU";
    } else {
      out->reason = std::string("CUDA initialisation failed: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    }
    return;
  }
  int previous = 0;
  cudaGetDevice(&previous);
  bool usable = false;
  std::string old;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    CudaDeviceInfo d;
    d.index = i;
    d.name = p.name;
    d.cc_major = p.major;
    d.cc_minor = p.minor;
    d.total_bytes = p.totalGlobalMem;
    d.multiprocessors = p.multiProcessorCount;
    if (query_free) {
      size_t free = 0, total = 0;
      if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free, &total) == cudaSuccess) d.free_bytes = free;
      cudaGetLastError();
    }
    if (p.major >= 8) {
      usable = true;
    } else {
      old = d.name + " (compute capability " + std::to_string(p.major) + "." + std::to_string(p.minor) + ")";
    }
    out->devices.push_back(d);
  }
  cudaSetDevice(previous);
  cudaGetLastError();
  out->available = usable;
  if (!usable) {
    out->reason = "no supported CUDA device: " + (old.empty() ? std::string("none could be read") : old) +
                  "; the CUDA backend needs compute capability 8.0 or newer";
  }
}

}  // namespace sdr::cuda

namespace {

void Probe(sdr::CudaProbe* out, bool query_free) { sdr::cuda::ProbeCudaDevices(out, query_free); }

sdr::Result<std::unique_ptr<sdr::Backend>> Create(const sdr::CudaBackendOptions& options) {
  return sdr::cuda::CreateCudaBackend(options);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const sdr::CudaModuleApi* sdr_cuda_module() {
  static const sdr::CudaModuleApi api{sdr::kCudaModuleAbi, SDR_SEAM_ID, SDR_VERSION_STRING, &Probe, &Create};
  return &api;
}
