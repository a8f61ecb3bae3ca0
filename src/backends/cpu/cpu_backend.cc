#include "backends/cpu/cpu_backend.h"

#include <atomic>

#include "backends/cpu/cpu_stream.h"
#include "backends/cpu/ops.h"
#include "backends/cpu/tile_gemm.h"
#include "backends/cpu/tile_gemm_kernel.h"
#include "backends/host_memory.h"

namespace sdr {
namespace {

class CpuBackend final : public Backend {
 public:
  CpuBackend(std::string name, cpu::CpuOptions options) : options_(options) {
    info_.name = std::move(name);
    info_.description =
        options_.tile_gemm
            ? std::string("CPU, ") + cpu::tile::KernelIsaName(cpu::tile::BestKernelIsa()) +
                  " tile GEMM (weights read in their stored dtype)"
            : std::string("CPU, ") + cpu::BlasDescription();
    info_.activation_dtype = DType::kF32;
    info_.in_place_norm = true;  // statistics first, then each element from itself
  }

  const BackendInfo& info() const override { return info_; }

  Result<std::shared_ptr<void>> AllocateMemory(uint64_t bytes) override {
    return AllocateHostMemory(bytes, &in_use_);
  }
  uint64_t bytes_in_use() const override { return in_use_.load(std::memory_order_relaxed); }
  uint64_t bytes_available() const override { return HostMemoryAvailable(); }

  // Weights the kernels read as stored (f32; f16/bf16/quantized under TileGemm) are borrowed
  // from the model file: nothing is converted at load and nothing is copied.
  Result<Weight> PrepareWeight(const Tensor& host, WeightRole role) override {
    if (!cpu::CpuKeepsWeightDtype(options_, host.dtype(), role)) return HostF32Weight(host);
    auto holder = std::make_shared<const Tensor>(host);
    Weight w;
    w.t.dtype = host.dtype();
    w.t.shape = host.shape();
    w.t.data = const_cast<void*>(holder->raw());
    w.keepalive = holder;
    return w;
  }

  Result<std::unique_ptr<Stream>> CreateStream() override { return cpu::MakeCpuStream(options_); }

  bool Supports(OpKind op, DType dtype) const override { return dtype == DType::kF32; }

  bool FusesUpsample(const Conv2dArgs& a) const override { return cpu::CpuFusesUpsample(options_, a); }
  size_t ScratchBytes(const LinearArgs& a) const override { return cpu::CpuScratchBytes(options_, a); }
  size_t ScratchBytes(const Conv2dArgs& a) const override { return cpu::CpuScratchBytes(options_, a); }
  size_t ScratchBytes(const AttentionArgs& a) const override { return cpu::CpuScratchBytes(options_, a); }

 private:
  BackendInfo info_;
  cpu::CpuOptions options_;
  std::atomic<uint64_t> in_use_{0};
};

}  // namespace

std::unique_ptr<Backend> MakeCpuBackend() {
  return std::make_unique<CpuBackend>("cpu", cpu::CpuOptions{.tile_gemm = cpu::TileGemmAvailable()});
}

std::unique_ptr<Backend> MakeCpuBlasBackend() {
  return std::make_unique<CpuBackend>("cpu-blas", cpu::CpuOptions{.tile_gemm = false});
}

}  // namespace sdr
