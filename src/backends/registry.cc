#include "backends/registry.h"

#include <charconv>
#include <mutex>

#include "backends/cpu/cpu_backend.h"
#include "backends/reference/reference_backend.h"

namespace sdr {
namespace {

constexpr std::string_view kCudaMissing = "this build has no CUDA backend (CPU only)";

// "cuda" -> 0, "cuda:N" -> N, anything else -> -1.
int CudaIndex(std::string_view device) {
  if (device == "cuda") return 0;
  if (device.substr(0, 5) != "cuda:" || device.size() == 5) return -1;
  int n = -1;
  const auto [p, ec] = std::from_chars(device.data() + 5, device.data() + device.size(), n);
  return ec == std::errc() && p == device.data() + device.size() && n >= 0 ? n : -1;
}

template <typename Make>
std::shared_ptr<Backend> Shared(std::shared_ptr<Backend>* slot, Make make) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (*slot == nullptr) *slot = make();
  return *slot;
}

}  // namespace

Status ValidateDeviceName(std::string_view device) {
  if (device == "auto" || device == "cpu" || device == "cpu-blas" || device == "reference" || CudaIndex(device) >= 0) {
    return Status::Ok();
  }
  return InvalidArgument("device '" + std::string(device) + "' is not auto, cpu, cpu-blas, reference, cuda or cuda:N");
}

std::string CudaUnavailableReason() { return std::string(kCudaMissing); }

Result<std::shared_ptr<Backend>> OpenBackend(std::string_view device) {
  SDR_RETURN_IF_ERROR(ValidateDeviceName(device));
  static std::shared_ptr<Backend> cpu, cpu_blas, reference;
  if (device == "auto" || device == "cpu") return Shared(&cpu, [] { return std::shared_ptr<Backend>(MakeCpuBackend()); });
  if (device == "cpu-blas") return Shared(&cpu_blas, [] { return std::shared_ptr<Backend>(MakeCpuBlasBackend()); });
  if (device == "reference") {
    return Shared(&reference, [] { return std::shared_ptr<Backend>(MakeReferenceBackend()); });
  }
  return Unavailable("device '" + std::string(device) + "': " + CudaUnavailableReason());
}

}  // namespace sdr
