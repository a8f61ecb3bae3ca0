// What backends whose device is the host share: arena memory (64-byte aligned, huge pages for
// large blocks as Tensor::Allocate does, charged to the calling thread's memory budget
// (core/memory_budget.h), counted in the backend's bytes-in-use until released), f32 weights,
// and dense f32 uploads/downloads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "backends/backend.h"
#include "core/result.h"

namespace sdr {

// OutOfMemory naming the size when the budget or the system refuses.
Result<std::shared_ptr<void>> AllocateHostMemory(uint64_t bytes, std::atomic<uint64_t>* in_use);

// Tests: fill every block AllocateHostMemory hands out with NaN bytes from now on (off by
// default), so a kernel that reads activation memory it never wrote shows as NaN, not as a
// result that depends on what the arena held before.
void SetPoisonHostMemoryForTesting(bool on);

// MemAvailable from /proc/meminfo (what the system could still give without swapping), or 0 if
// unknown.
uint64_t HostMemoryAvailable();

// `host` as an f32 weight: borrowed when it is f32 already (zero-copy), else widened once (the
// source's mapped pages are then handed back to the OS).
Result<Weight> HostF32Weight(const Tensor& host);

// The timesteps of `a` on a host backend: a.t, or the f32 values behind a.t_device.
std::vector<float> HostTimesteps(const TimestepEmbeddingArgs& a);

// Dense f32 host <-> a device tensor that lives in host memory as dense f32.
Status UploadHostF32(const Tensor& host, const DeviceTensor& dst);
Result<Tensor> DownloadHostF32(const DeviceTensor& src);

}  // namespace sdr
