#include "backends/registry.h"

#include <charconv>
#include <map>
#include <mutex>

#include "backends/cpu/cpu_backend.h"
#include "backends/cuda_loader.h"
#include "backends/reference/reference_backend.h"

namespace sdr {
namespace {

// "cuda" -> 0, "cuda:N" -> N, anything else -> -1.
int CudaIndex(std::string_view device) {
  if (device == "cuda") return 0;
  if (device.substr(0, 5) != "cuda:" || device.size() == 5) return -1;
  int n = -1;
  const auto [p, ec] = std::from_chars(device.data() + 5, device.data() + device.size(), n);
  return ec == std::errc() && p == device.data() + device.size() && n >= 0 ? n : -1;
}

std::mutex& Mu() {
  static std::mutex mu;
  return mu;
}

// Backends by key ("cpu", "reference", "cuda:0/f16"), created once.
std::map<std::string, std::shared_ptr<Backend>>& Backends() {
  static auto* backends = new std::map<std::string, std::shared_ptr<Backend>>();
  return *backends;
}

const CudaProbe& FirstProbe() {
  static std::once_flag once;
  static CudaProbe* probe = nullptr;
  std::call_once(once, [] {
    probe = new CudaProbe();
    const CudaModuleLoad& m = CudaModule();
    if (m.api == nullptr) {
      probe->reason = m.reason;
    } else {
      m.api->probe(probe, /*query_free=*/false);
      if (!probe->available && probe->reason.empty()) probe->reason = "the CUDA module found no usable device";
    }
  });
  return *probe;
}

Result<std::shared_ptr<Backend>> OpenCuda(int index, const BackendOptions& options) {
  const std::string name = "cuda:" + std::to_string(index);
  const std::string reason = CudaUnavailableReason();
  if (!reason.empty()) return Unavailable("device '" + name + "': " + reason);
  const CudaProbe& probe = FirstProbe();
  if (index >= static_cast<int>(probe.devices.size())) {
    return Unavailable("device '" + name + "': there " + (probe.devices.size() == 1 ? "is " : "are ") +
                       std::to_string(probe.devices.size()) + " CUDA device" + (probe.devices.size() == 1 ? "" : "s"));
  }
  const std::string key = name + "/" + std::string(GpuPrecisionName(options.precision));
  std::lock_guard<std::mutex> lock(Mu());
  auto& slot = Backends()[key];
  if (slot == nullptr) {
    CudaBackendOptions o;
    o.device = index;
    o.precision = options.precision;
    auto created = CudaModule().api->create(o);
    if (!created.ok()) return created.status().WithContext("device '" + name + "'");
    slot = std::shared_ptr<Backend>(std::move(created).value());
  }
  return slot;
}

template <typename Make>
std::shared_ptr<Backend> Shared(const std::string& key, Make make) {
  std::lock_guard<std::mutex> lock(Mu());
  auto& slot = Backends()[key];
  if (slot == nullptr) slot = make();
  return slot;
}

}  // namespace

Status ValidateDeviceName(std::string_view device) {
  if (device == "auto" || device == "cpu" || device == "cpu-blas" || device == "reference" || CudaIndex(device) >= 0) {
    return Status::Ok();
  }
  return InvalidArgument("device '" + std::string(device) + "' is not auto, cpu, cpu-blas, reference, cuda or cuda:N");
}

std::string CudaUnavailableReason() { return FirstProbe().available ? "" : FirstProbe().reason; }

CudaProbe ProbeCuda() {
  CudaProbe probe;
  const CudaModuleLoad& m = CudaModule();
  if (m.api == nullptr) {
    probe.reason = m.reason;
    return probe;
  }
  m.api->probe(&probe, /*query_free=*/true);
  if (!probe.available && probe.reason.empty()) probe.reason = "the CUDA module found no usable device";
  probe.libraries.insert(probe.libraries.begin(), "libsdr-cuda.so " + std::string(m.api->version) + " " + m.path);
  return probe;
}

Result<std::shared_ptr<Backend>> OpenBackend(std::string_view device, const BackendOptions& options) {
  SDR_RETURN_IF_ERROR(ValidateDeviceName(device));
  if (device == "auto") {
    if (CudaUnavailableReason().empty()) {
      auto cuda = OpenCuda(0, options);
      if (cuda.ok()) return cuda;
    }
    device = "cpu";
  }
  if (device == "cpu") return Shared("cpu", [] { return std::shared_ptr<Backend>(MakeCpuBackend()); });
  if (device == "cpu-blas") return Shared("cpu-blas", [] { return std::shared_ptr<Backend>(MakeCpuBlasBackend()); });
  if (device == "reference") return Shared("reference", [] { return std::shared_ptr<Backend>(MakeReferenceBackend()); });
  return OpenCuda(CudaIndex(device), options);
}

}  // namespace sdr
