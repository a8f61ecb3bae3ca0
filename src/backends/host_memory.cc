#include "backends/host_memory.h"

#include <cstdio>
#include <cstring>

#include "core/mapped_file.h"
#include "core/tensor.h"

namespace sdr {

namespace {
std::atomic<bool> g_poison{false};
}  // namespace

void SetPoisonHostMemoryForTesting(bool on) { g_poison.store(on, std::memory_order_relaxed); }

Result<std::shared_ptr<void>> AllocateHostMemory(uint64_t bytes, std::atomic<uint64_t>* in_use) {
  auto t = Tensor::Allocate(DType::kU8, {static_cast<int64_t>(bytes)});
  if (!t.ok()) return t.status().WithContext("activation memory");
  auto holder = std::make_shared<Tensor>(std::move(t).value());
  in_use->fetch_add(bytes, std::memory_order_relaxed);
  void* p = holder->mutable_raw();
  if (g_poison.load(std::memory_order_relaxed)) std::memset(p, 0xFF, bytes);  // 0xFFFFFFFF: a NaN
  return std::shared_ptr<void>(p, [holder, bytes, in_use](void*) mutable {
    in_use->fetch_sub(bytes, std::memory_order_relaxed);
    holder.reset();
  });
}

Result<Weight> HostF32Weight(const Tensor& host) {
  Tensor f = host;
  if (host.dtype() != DType::kF32) {
    SDR_ASSIGN_OR_RETURN(f, ToF32(host));
    if (!host.writable()) ReleaseMappedPages(host.raw(), host.nbytes());
  }
  auto holder = std::make_shared<const Tensor>(std::move(f));
  Weight w;
  w.t.dtype = DType::kF32;
  w.t.shape = holder->shape();
  w.t.data = const_cast<void*>(holder->raw());
  w.keepalive = holder;
  return w;
}

Status UploadHostF32(const Tensor& host, const DeviceTensor& dst) {
  if (host.dtype() != DType::kF32 || dst.dtype != DType::kF32 || host.shape() != dst.shape) {
    return InternalError("upload: host " + ShapeToString(host.shape()) + " -> " + ShapeToString(dst.shape));
  }
  std::memcpy(dst.data, host.raw(), host.nbytes());
  return Status::Ok();
}

Result<Tensor> DownloadHostF32(const DeviceTensor& src) {
  if (src.dtype != DType::kF32) return InternalError("download: not f32");
  SDR_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kF32, src.shape));
  std::memcpy(t.mutable_raw(), src.data, t.nbytes());
  return t;
}

std::vector<float> HostTimesteps(const TimestepEmbeddingArgs& a) {
  if (a.t_device == nullptr) return a.t;
  const float* t = static_cast<const float*>(a.t_device->data);
  return std::vector<float>(t, t + a.t_device->numel());
}

uint64_t HostMemoryAvailable() {
  FILE* f = std::fopen("/proc/meminfo", "r");
  if (f == nullptr) return 0;
  char line[256];
  uint64_t kb = 0;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::sscanf(line, "MemAvailable: %lu kB", &kb) == 1) break;
  }
  std::fclose(f);
  return kb * 1024;
}

}  // namespace sdr
