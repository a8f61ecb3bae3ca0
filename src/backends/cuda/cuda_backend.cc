#include "backends/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <cstring>
#include <vector>

#include "backends/cuda/cuda_stream.h"
#include "backends/cuda/cuda_util.h"
#include "backends/cuda/device_state.h"
#include "backends/cuda/gemm.h"
#include "backends/cuda/kernels.h"
#include "backends/gpu_layout.h"
#include "core/mapped_file.h"
#include "core/tensor.h"

namespace sdr::cuda {
namespace {

constexpr int kMinComputeMajor = 8;  // sm_80: bf16 tensor cores, and the oldest code in the module

std::string CcName(int major, int minor) { return "sm_" + std::to_string(major) + std::to_string(minor); }

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(std::shared_ptr<DeviceState> state) : state_(std::move(state)) {
    info_.name = state_->name;
    const size_t lt = LtGemm::Version();
    info_.description = state_->gpu_name + " (" + CcName(state_->cc_major, state_->cc_minor) + ", " +
                        Bytes(state_->total_bytes) + "), cuBLASLt " + std::to_string(lt / 10000) + "." +
                        std::to_string(lt / 100 % 100) + "." + std::to_string(lt % 100) + ", " +
                        std::string(GpuPrecisionName(state_->precision)) + " activations";
    info_.activation_dtype = state_->dtype;
    info_.device_memory = true;
  }

  const BackendInfo& info() const override { return info_; }

  Result<std::shared_ptr<void>> AllocateMemory(uint64_t bytes) override {
    return DeviceState::Allocate(state_, bytes, "context activation memory");
  }
  uint64_t bytes_in_use() const override { return state_->in_use.load(); }
  uint64_t bytes_available() const override { return state_->FreeBytes(); }

  Result<Weight> PrepareWeight(const Tensor& host, WeightRole role) override {
    Tensor f = host;
    if (host.dtype() != DType::kF32) {
      SDR_ASSIGN_OR_RETURN(f, ToF32(host));
    }
    const DType dtype = state_->dtype;
    const size_t elt = dtype == DType::kF32 ? 4 : 2;
    std::vector<std::byte> packed;
    if (role == WeightRole::kConvKernel && f.rank() == 4 && f.dim(2) == f.dim(3)) {
      const int64_t cout = f.dim(0), cin = f.dim(1), k = f.dim(2);
      packed.resize(static_cast<size_t>(cout * ConvKernelColumns(cin, k)) * elt);
      PackConvKernel(f.data<float>(), cout, cin, k, dtype, packed.data());
    } else {
      packed.resize(static_cast<size_t>(f.numel()) * elt);
      PackValues(f.data<float>(), f.numel(), dtype, packed.data());
    }
    SDR_ASSIGN_OR_RETURN(std::shared_ptr<void> memory, DeviceState::Allocate(state_, packed.size(), "weights"));
    {
      DeviceGuard guard(state_->device);
      SDR_CUDA_RETURN_IF_ERROR(cudaMemcpy(memory.get(), packed.data(), packed.size(), cudaMemcpyHostToDevice),
                               state_->name + ": uploading weights");
    }
    if (!host.writable()) ReleaseMappedPages(host.raw(), host.nbytes());  // the file's pages are not needed again
    Weight w;
    w.t.dtype = dtype;
    w.t.shape = host.shape();
    w.t.data = memory.get();
    w.keepalive = std::move(memory);
    return w;
  }

  Result<std::unique_ptr<Stream>> CreateStream() override {
    SDR_ASSIGN_OR_RETURN(std::unique_ptr<CudaStream> s, CudaStream::Create(state_));
    return std::unique_ptr<Stream>(std::move(s));
  }

  bool Supports(OpKind op, DType dtype) const override { return dtype == state_->dtype; }

  size_t ScratchBytes(const Conv2dArgs& a) const override { return ConvScratchBytes(a, DtBytes(state_->dt)); }
  size_t ScratchBytes(const GroupNormArgs& a) const override {
    return GroupNormScratchBytes(a.x.dim(0), a.x.dim(2) * a.x.dim(3), a.x.dim(1));
  }

 private:
  std::shared_ptr<DeviceState> state_;
  BackendInfo info_;
};

}  // namespace

Result<std::unique_ptr<Backend>> CreateCudaBackend(const CudaBackendOptions& options) {
  const std::string name = "cuda:" + std::to_string(options.device);
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return Unavailable(name + ": " + cudaGetErrorString(e));
  }
  if (options.device < 0 || options.device >= count) {
    return Unavailable(name + ": there are " + std::to_string(count) + " CUDA devices");
  }
  DeviceGuard guard(options.device);
  cudaDeviceProp prop{};
  SDR_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, options.device), name + ": reading its properties");
  if (prop.major < kMinComputeMajor) {
    return Unavailable(name + " (" + prop.name + ") has compute capability " + std::to_string(prop.major) + "." +
                       std::to_string(prop.minor) + "; the CUDA backend needs 8.0 (Ampere) or newer");
  }
  auto state = std::make_shared<DeviceState>();
  state->device = options.device;
  state->precision = options.precision;
  state->dtype = ToDType(options.precision);
  state->dt = ToDt(state->dtype);
  state->name = name;
  state->gpu_name = prop.name;
  state->cc_major = prop.major;
  state->cc_minor = prop.minor;
  state->total_bytes = prop.totalGlobalMem;
  int optin = 0;
  if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, options.device) == cudaSuccess &&
      optin > 0) {
    state->smem_optin = optin;
  }
  SDR_CUDA_RETURN_IF_ERROR(cudaFree(nullptr), name + ": creating the CUDA context");
  SDR_CUDA_RETURN_IF_ERROR(PrepareFlashAttention(state->smem_optin), name + ": preparing the attention kernels");
  return std::unique_ptr<Backend>(new CudaBackend(std::move(state)));
}

}  // namespace sdr::cuda
