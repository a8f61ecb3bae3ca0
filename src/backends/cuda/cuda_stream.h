// The cuda backend's Stream: one cudaStream_t (non-blocking) per context, with its own cuBLASLt
// handle and workspace, pinned host staging for uploads and downloads, and its CUDA graphs.
// Ops are enqueued and return at once; only Download and Synchronize wait for the device.
//
// Uploads convert on the host (f32 NCHW -> the activation dtype, NHWC for feature maps) into one
// of kUploadSlots pinned buffers and copy asynchronously; a slot is reused once its copy is done,
// so the uploads of one step (input, timesteps) never wait for each other.
// Downloads copy into a pinned buffer, wait, and convert back.
//
// Thread-safety: one thread at a time (any thread: the device is made current per call).
#pragma once

#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <string>

#include "backends/backend.h"
#include "backends/cuda/device_state.h"
#include "backends/cuda/gemm.h"

namespace sdr::cuda {

// Bytes of the per-stream cuBLASLt workspace (Hopper wants 32 MB for its best kernels).
inline constexpr uint64_t kGemmWorkspaceBytes = 32ull << 20;
// Upper bound of a convolution's im2col scratch; larger convolutions run in row chunks.
inline constexpr uint64_t kConvColumnBudget = 64ull << 20;

// Rows of one im2col chunk for a convolution of `total_rows` output pixels and `kp` columns.
int64_t ConvChunkRows(int64_t total_rows, int64_t kp, size_t elem_bytes);
// The scratch Conv2d needs (a per-sample bias [B, Cout] when there is a channel bias, then the
// im2col chunk), as the backend's ScratchBytes reports it.
size_t ConvScratchBytes(const Conv2dArgs& a, size_t elem_bytes);

class CudaStream final : public Stream {
 public:
  static Result<std::unique_ptr<CudaStream>> Create(std::shared_ptr<DeviceState> state);
  ~CudaStream() override;

  Status Upload(const Tensor& host, const DeviceTensor& dst) override;
  Result<Tensor> Download(const DeviceTensor& src) override;
  Status Synchronize() override;

  Status Linear(const LinearArgs& a) override;
  Status Conv2d(const Conv2dArgs& a) override;
  Status GroupNorm(const GroupNormArgs& a) override;
  Status LayerNorm(const LayerNormArgs& a) override;
  Status Attention(const AttentionArgs& a) override;
  Status Geglu(const GegluArgs& a) override;
  Status Add(const AddArgs& a) override;
  Status Affine(const AffineArgs& a) override;
  Status ResizeNearest(const ResizeNearestArgs& a) override;
  Status ConcatChannels(const ConcatChannelsArgs& a) override;
  Status ToTokens(const TokensArgs& a) override;
  Status FromTokens(const TokensArgs& a) override;
  Status TimestepEmbedding(const TimestepEmbeddingArgs& a) override;
  Status Embed(const EmbedArgs& a) override;
  Status Convert(const ConvertArgs& a) override;

  bool CanCapture() const override { return graphs_enabled_; }
  Status BeginCapture() override;
  Status EndCapture(const std::string& key, bool keep) override;
  Status Replay(const std::string& key) override;

 private:
  explicit CudaStream(std::shared_ptr<DeviceState> state) : state_(std::move(state)) {}
  // A launch's error as a Status naming the op.
  Status Launched(cudaError_t e, const char* op) const;
  Status CheckDtype(const DeviceTensor& t, const char* op) const;
  Status NotCapturing(const char* what) const;
  // Grows a pinned host buffer to `bytes`.
  Status Reserve(void** buffer, size_t* capacity, size_t bytes);

  std::shared_ptr<DeviceState> state_;
  cudaStream_t stream_ = nullptr;
  std::shared_ptr<void> workspace_;  // cuBLASLt's
  std::unique_ptr<LtGemm> gemm_;
  static constexpr int kUploadSlots = 4;
  struct UploadSlot {
    void* buffer = nullptr;  // pinned
    size_t bytes = 0;
    cudaEvent_t done = nullptr;  // recorded after the copy out of buffer
  };
  UploadSlot upload_[kUploadSlots];
  int next_upload_ = 0;
  void* download_ = nullptr;  // pinned
  size_t download_bytes_ = 0;
  bool graphs_enabled_ = true;   // SDR_CUDA_GRAPHS=0 turns graphs off
  bool rows_attention_ = false;  // SDR_CUDA_ATTENTION=rows: never the flash kernel (A/B checks)
  bool capturing_ = false;
  std::map<std::string, cudaGraphExec_t> graphs_;
};

}  // namespace sdr::cuda
