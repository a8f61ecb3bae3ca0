#include "backends/cuda/cuda_stream.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "backends/cuda/cuda_util.h"
#include "backends/cuda/kernels.h"
#include "backends/gpu_layout.h"

namespace sdr::cuda {
namespace {

const void* W(const Weight* w) { return w != nullptr ? w->t.data : nullptr; }
const void* D(const DeviceTensor* t) { return t != nullptr ? t->data : nullptr; }
char* AsBytes(void* p) { return static_cast<char*>(p); }
const char* AsBytes(const void* p) { return static_cast<const char*>(p); }
size_t Align256(size_t n) { return (n + 255) / 256 * 256; }

bool Pointwise(const Conv2dArgs& a) { return a.w->t.dim(2) == 1 && a.stride == 1 && a.pad == 0; }

bool EnvOff(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && (std::strcmp(v, "0") == 0 || std::strcmp(v, "off") == 0 || std::strcmp(v, "false") == 0);
}

bool EnvIs(const char* name, const char* value) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, value) == 0;
}

}  // namespace

int64_t ConvChunkRows(int64_t total_rows, int64_t kp, size_t elem_bytes) {
  const int64_t row_bytes = std::max<int64_t>(1, kp * static_cast<int64_t>(elem_bytes));
  const int64_t rows = std::max<int64_t>(1, static_cast<int64_t>(kConvColumnBudget) / row_bytes);
  return std::min(rows, std::max<int64_t>(total_rows, 1));
}

size_t ConvScratchBytes(const Conv2dArgs& a, size_t elem_bytes) {
  const int64_t b = a.x.dim(0), cin = a.x.dim(1), cout = a.y.dim(1), k = a.w->t.dim(2);
  size_t bytes = 0;
  if (a.channel_bias != nullptr) bytes += Align256(static_cast<size_t>(b * cout) * elem_bytes);
  if (!Pointwise(a)) {
    const int64_t p = a.y.dim(2) * a.y.dim(3), kp = ConvKernelColumns(cin, k);
    const int64_t rows = ConvChunkRows(a.channel_bias != nullptr ? p : b * p, kp, elem_bytes);
    bytes += Align256(static_cast<size_t>(rows * kp) * elem_bytes);
  }
  return bytes;
}

Result<std::unique_ptr<CudaStream>> CudaStream::Create(std::shared_ptr<DeviceState> state) {
  DeviceGuard guard(state->device);
  auto s = std::unique_ptr<CudaStream>(new CudaStream(state));
  SDR_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&s->stream_, cudaStreamNonBlocking),
                           state->name + ": creating a stream");
  for (UploadSlot& slot : s->upload_) {
    SDR_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&slot.done, cudaEventDisableTiming),
                             state->name + ": creating an event");
  }
  SDR_ASSIGN_OR_RETURN(s->workspace_,
                       DeviceState::Allocate(state, kGemmWorkspaceBytes, "the cuBLASLt workspace of a context"));
  SDR_ASSIGN_OR_RETURN(s->gemm_, LtGemm::Create(state->dt, s->workspace_.get(), kGemmWorkspaceBytes));
  s->graphs_enabled_ = !EnvOff("SDR_CUDA_GRAPHS");
  s->rows_attention_ = EnvIs("SDR_CUDA_ATTENTION", "rows");
  return s;
}

CudaStream::~CudaStream() {
  DeviceGuard guard(state_->device);
  if (stream_ != nullptr) cudaStreamSynchronize(stream_);
  for (auto& [key, exec] : graphs_) cudaGraphExecDestroy(exec);
  gemm_.reset();
  for (UploadSlot& slot : upload_) {
    if (slot.buffer != nullptr) cudaFreeHost(slot.buffer);
    if (slot.done != nullptr) cudaEventDestroy(slot.done);
  }
  if (download_ != nullptr) cudaFreeHost(download_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
  cudaGetLastError();
}

Status CudaStream::Launched(cudaError_t e, const char* op) const {
  if (e == cudaSuccess) return Status::Ok();
  return CudaError(e, state_->name + " " + op);
}

Status CudaStream::CheckDtype(const DeviceTensor& t, const char* op) const {
  if (t.dtype == state_->dtype) return Status::Ok();
  return InternalError(std::string(op) + ": a " + std::string(DTypeName(t.dtype)) + " tensor on a " +
                       std::string(DTypeName(state_->dtype)) + " " + state_->name + " backend");
}

Status CudaStream::NotCapturing(const char* what) const {
  if (!capturing_) return Status::Ok();
  return Unsupported(state_->name + ": " + what + " while recording a graph");
}

Status CudaStream::Reserve(void** buffer, size_t* capacity, size_t bytes) {
  if (*capacity >= bytes && *buffer != nullptr) return Status::Ok();
  if (*buffer != nullptr) cudaFreeHost(*buffer);
  *buffer = nullptr;
  *capacity = 0;
  const size_t size = std::max<size_t>((bytes + (1 << 20) - 1) / (1 << 20) * (1 << 20), 1 << 20);
  const cudaError_t e = cudaHostAlloc(buffer, size, cudaHostAllocDefault);
  if (e != cudaSuccess) {
    cudaGetLastError();
    *buffer = nullptr;
    return OutOfMemory(state_->name + ": pinned host memory for transfers (" + cuda::Bytes(size) + "): " +
                       cudaGetErrorString(e));
  }
  *capacity = size;
  return Status::Ok();
}

// ---- transfers ----------------------------------------------------------------------------------

Status CudaStream::Upload(const Tensor& host, const DeviceTensor& dst) {
  SDR_RETURN_IF_ERROR(NotCapturing("upload"));
  if (host.dtype() != DType::kF32 || host.shape() != dst.shape ||
      (dst.dtype != DType::kF32 && dst.dtype != state_->dtype)) {
    return InternalError("upload: host " + ShapeToString(host.shape()) + " -> " + ShapeToString(dst.shape) + " " +
                         std::string(DTypeName(dst.dtype)));
  }
  DeviceGuard guard(state_->device);
  const size_t bytes = static_cast<size_t>(dst.numel()) * (dst.dtype == DType::kF32 ? 4 : 2);
  if (bytes == 0) return Status::Ok();
  UploadSlot& slot = upload_[next_upload_];
  next_upload_ = (next_upload_ + 1) % kUploadSlots;
  // The copy that last used this slot (kUploadSlots uploads ago) must be done before it is refilled.
  SDR_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(slot.done), state_->name + ": an earlier upload");
  SDR_RETURN_IF_ERROR(Reserve(&slot.buffer, &slot.bytes, bytes));
  PackActivation(host.data<float>(), dst.shape, dst.dtype, slot.buffer);
  SDR_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst.data, slot.buffer, bytes, cudaMemcpyHostToDevice, stream_),
                           state_->name + ": upload");
  SDR_CUDA_RETURN_IF_ERROR(cudaEventRecord(slot.done, stream_), state_->name + ": upload");
  return Status::Ok();
}

Result<Tensor> CudaStream::Download(const DeviceTensor& src) {
  SDR_RETURN_IF_ERROR(NotCapturing("download"));
  if (src.dtype != DType::kF32 && src.dtype != state_->dtype) return InternalError("download: unexpected dtype");
  DeviceGuard guard(state_->device);
  SDR_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kF32, src.shape));
  const size_t bytes = static_cast<size_t>(src.numel()) * (src.dtype == DType::kF32 ? 4 : 2);
  if (bytes == 0) return t;
  SDR_RETURN_IF_ERROR(Reserve(&download_, &download_bytes_, bytes));
  SDR_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(download_, src.data, bytes, cudaMemcpyDeviceToHost, stream_),
                           state_->name + ": download");
  SDR_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_), state_->name + ": running the ops before a download");
  UnpackActivation(download_, src.shape, src.dtype, t.mutable_data<float>());
  return t;
}

Status CudaStream::Synchronize() {
  SDR_RETURN_IF_ERROR(NotCapturing("synchronize"));
  DeviceGuard guard(state_->device);
  SDR_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_), state_->name + ": running the ops");
  return Status::Ok();
}

// ---- GEMM-based ops -------------------------------------------------------------------------------

Status CudaStream::Linear(const LinearArgs& a) {
  SDR_RETURN_IF_ERROR(CheckArgs(a));
  SDR_RETURN_IF_ERROR(CheckDtype(a.x, "linear"));
  DeviceGuard guard(state_->device);
  const int64_t m = a.x.dim(0), k = a.x.dim(1), n = a.y.dim(1);
  // y = act(x w^T + b) + residual: the residual rides in the GEMM (beta = 1) unless an
  // activation comes between.
  const bool fused = a.act == Activation::kNone;
  SDR_RETURN_IF_ERROR(
      gemm_->Run(a.x.data, k, W(a.w), k, W(a.b), fused ? D(a.residual) : nullptr, a.y.data, m, n, k, stream_)
          .WithContext(state_->name + " linear"));
  if (fused) return Status::Ok();
  return Launched(ActResidual(state_->dt, a.y.data, D(a.residual), m, n, static_cast<Act>(a.act), stream_),
                  "linear epilogue");
}

Status CudaStream::Conv2d(const Conv2dArgs& a) {
  SDR_RETURN_IF_ERROR(CheckArgs(a));
  if (a.upsample != 1) return InternalError("conv2d: upsample is not fused on cuda (the executor resizes first)");
  SDR_RETURN_IF_ERROR(CheckDtype(a.x, "conv2d"));
  DeviceGuard guard(state_->device);
  const Dt dt = state_->dt;
  const size_t elt = DtBytes(dt);
  const int64_t b = a.x.dim(0), cin = a.x.dim(1), h = a.x.dim(2), w = a.x.dim(3);
  const int64_t cout = a.y.dim(1), k = a.w->t.dim(2), ho = a.y.dim(2), wo = a.y.dim(3), p = ho * wo;
  const int64_t kp = ConvKernelColumns(cin, k);
  if (a.scratch.size() < ConvScratchBytes(a, elt)) return InternalError("conv2d: scratch smaller than ScratchBytes");
  char* scratch = reinterpret_cast<char*>(a.scratch.data());
  char* sample_bias = nullptr;
  char* col = scratch;
  if (a.channel_bias != nullptr) {
    // bias + channel_bias[i] per sample: the GEMM's BIAS epilogue adds it.
    sample_bias = scratch;
    col = scratch + Align256(static_cast<size_t>(b * cout) * elt);
    for (int64_t i = 0; i < b; ++i) {
      SDR_RETURN_IF_ERROR(Launched(AddVectors(dt, W(a.b), AsBytes(a.channel_bias->data) + i * cout * elt,
                                              sample_bias + i * cout * elt, cout, stream_),
                                   "conv2d bias"));
    }
  }
  const char* res = AsBytes(D(a.residual));
  char* y = AsBytes(a.y.data);
  const int64_t groups = a.channel_bias != nullptr ? b : 1;  // runs of rows sharing one bias
  const int64_t group_rows = a.channel_bias != nullptr ? p : b * p;
  const int64_t chunk = Pointwise(a) ? group_rows : ConvChunkRows(group_rows, kp, elt);
  for (int64_t g = 0; g < groups; ++g) {
    const void* bias = a.channel_bias != nullptr ? static_cast<const void*>(sample_bias + g * cout * elt) : W(a.b);
    for (int64_t r0 = 0; r0 < group_rows; r0 += chunk) {
      const int64_t rows = std::min(chunk, group_rows - r0), row = g * group_rows + r0;  // first output pixel
      const void* operand = AsBytes(a.x.data) + row * cin * elt;  // 1x1: the input rows themselves
      if (!Pointwise(a)) {
        SDR_RETURN_IF_ERROR(Launched(
            Im2colNhwc(dt, a.x.data, col, b, h, w, cin, k, a.stride, a.pad, ho, wo, row, rows, kp, stream_),
            "conv2d im2col"));
        operand = col;
      }
      SDR_RETURN_IF_ERROR(gemm_->Run(operand, kp, W(a.w), kp, bias, res != nullptr ? res + row * cout * elt : nullptr,
                                     y + row * cout * elt, rows, cout, kp, stream_)
                              .WithContext(state_->name + " conv2d"));
    }
  }
  return Status::Ok();
}

// ---- normalisation and attention ----------------------------------------------------------------

Status CudaStream::GroupNorm(const GroupNormArgs& a) {
  SDR_RETURN_IF_ERROR(CheckArgs(a));
  SDR_RETURN_IF_ERROR(CheckDtype(a.x, "group_norm"));
  DeviceGuard guard(state_->device);
  const int64_t b = a.x.dim(0), c = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3);
  if (a.scratch.size() < GroupNormScratchBytes(b, hw, c)) return InternalError("group_norm: scratch too small");
  return Launched(GroupNormNhwc(state_->dt, a.x.data, W(a.gamma), W(a.beta), a.y.data, b, hw, c, a.groups, a.eps,
                                a.silu, a.scratch.data(), stream_),
                  "group_norm");
}

Status CudaStream::LayerNorm(const LayerNormArgs& a) {
  SDR_RETURN_IF_ERROR(CheckArgs(a));
  SDR_RETURN_IF_ERROR(CheckDtype(a.x, "layer_norm"));
  DeviceGuard guard(state_->device);
  return Launched(cuda::LayerNorm(state_->dt, a.x.data, W(a.gamma), W(a.beta), a.y.data, a.x.dim(0), a.x.dim(1),
                                  a.eps, stream_),
                  "layer_norm");
}

Status CudaStream::Attention(const AttentionArgs& a) {
  SDR_RETURN_IF_ERROR(CheckArgs(a));
  SDR_RETURN_IF_ERROR(CheckDtype(a.q, "attention"));
  DeviceGuard guard(state_->device);
  AttentionShape s;
  s.b = a.q.dim(0);
  s.lq = a.q.dim(1);
  s.lk = a.k.dim(1);
  s.heads = a.heads;
  s.d = a.q.dim(2) / a.heads;
  s.scale = a.scale;
  s.causal = a.causal;
  if (!rows_attention_ && FlashAttentionFits(state_->dt, s.d, state_->smem_optin)) {
    return Launched(FlashAttention(state_->dt, a.q.data, a.k.data, a.v.data, a.y.data, s, state_->smem_optin, stream_),
                    "attention (flash)");
  }
  if (s.d > kMaxRowsAttentionD) {
    return Unsupported(state_->name + " attention: head size " + std::to_string(s.d) + " is above " +
                       std::to_string(kMaxRowsAttentionD));
  }
  return Launched(RowsAttention(state_->dt, a.q.data, a.k.data, a.v.data, a.y.data, s, stream_), "attention (rows)");
}

// ---- elementwise and layout -----------------------------------------------------------------------

Status CudaStream::Geglu(const GegluArgs& a) {
  SDR_RETURN_IF_ERROR(CheckArgs(a));
  SDR_RETURN_IF_ERROR(CheckDtype(a.x, "geglu"));
  DeviceGuard guard(state_->device);
  return Launched(cuda::Geglu(state_->dt, a.x.data, a.y.data, a.x.dim(0), a.y.dim(1), stream_), "geglu");
}

Status CudaStream::Add(const AddArgs& a) {
  SDR_RETURN_IF_ERROR(CheckArgs(a));
  SDR_RETURN_IF_ERROR(CheckDtype(a.a, "add"));
  SDR_RETURN_IF_ERROR(CheckDtype(a.b, "add"));
  DeviceGuard guard(state_->device);
  return Launched(cuda::Add(state_->dt, a.a.data, a.b.data, a.y.data, a.y.numel(), stream_), "add");
}

Status CudaStream::Affine(const AffineArgs& a) {
  SDR_RETURN_IF_ERROR(CheckArgs(a));
  SDR_RETURN_IF_ERROR(CheckDtype(a.x, "affine"));
  DeviceGuard guard(state_->device);
  return Launched(
      cuda::Affine(state_->dt, a.x.data, a.y.data, a.y.numel(), a.scale, a.shift, a.clamp, a.lo, a.hi, stream_),
      "affine");
}

Status CudaStream::ResizeNearest(const ResizeNearestArgs& a) {
  SDR_RETURN_IF_ERROR(CheckArgs(a));
  SDR_RETURN_IF_ERROR(CheckDtype(a.x, "resize_nearest"));
  DeviceGuard guard(state_->device);
  return Launched(ResizeNearestNhwc(state_->dt, a.x.data, a.y.data, a.x.dim(0), a.x.dim(2), a.x.dim(3), a.x.dim(1),
                                    a.y.dim(2), a.y.dim(3), stream_),
                  "resize_nearest");
}

Status CudaStream::ConcatChannels(const ConcatChannelsArgs& a) {
  SDR_RETURN_IF_ERROR(CheckArgs(a));
  SDR_RETURN_IF_ERROR(CheckDtype(a.a, "concat_channels"));
  SDR_RETURN_IF_ERROR(CheckDtype(a.b, "concat_channels"));
  DeviceGuard guard(state_->device);
  // NHWC: each pixel's row is a's channels then b's.
  const size_t elt = DtBytes(state_->dt);
  const size_t ca = static_cast<size_t>(a.a.dim(1)) * elt, cb = static_cast<size_t>(a.b.dim(1)) * elt;
  const size_t pixels = static_cast<size_t>(a.a.dim(0) * a.a.dim(2) * a.a.dim(3));
  if (pixels == 0) return Status::Ok();
  if (ca > 0) {
    SDR_CUDA_RETURN_IF_ERROR(
        cudaMemcpy2DAsync(a.y.data, ca + cb, a.a.data, ca, ca, pixels, cudaMemcpyDeviceToDevice, stream_),
        state_->name + " concat_channels");
  }
  if (cb > 0) {
    SDR_CUDA_RETURN_IF_ERROR(
        cudaMemcpy2DAsync(AsBytes(a.y.data) + ca, ca + cb, a.b.data, cb, cb, pixels, cudaMemcpyDeviceToDevice, stream_),
        state_->name + " concat_channels");
  }
  return Status::Ok();
}

Status CudaStream::ToTokens(const TokensArgs& a) {
  SDR_RETURN_IF_ERROR(CheckArgs(a, /*to_tokens=*/true));
  SDR_RETURN_IF_ERROR(CheckDtype(a.x, "to_tokens"));
  DeviceGuard guard(state_->device);
  // [B, C, H, W] is held as [B, H, W, C]: the bytes of [B, H*W, C] already.
  const size_t bytes = static_cast<size_t>(a.x.numel()) * DtBytes(state_->dt);
  if (bytes == 0) return Status::Ok();
  SDR_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(a.y.data, a.x.data, bytes, cudaMemcpyDeviceToDevice, stream_),
                           state_->name + " to_tokens");
  return Status::Ok();
}

Status CudaStream::FromTokens(const TokensArgs& a) {
  SDR_RETURN_IF_ERROR(CheckArgs(a, /*to_tokens=*/false));
  SDR_RETURN_IF_ERROR(CheckDtype(a.x, "from_tokens"));
  DeviceGuard guard(state_->device);
  const size_t bytes = static_cast<size_t>(a.x.numel()) * DtBytes(state_->dt);
  if (bytes == 0) return Status::Ok();
  SDR_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(a.y.data, a.x.data, bytes, cudaMemcpyDeviceToDevice, stream_),
                           state_->name + " from_tokens");
  return Status::Ok();
}

// ---- embeddings and conversion ---------------------------------------------------------------------

Status CudaStream::TimestepEmbedding(const TimestepEmbeddingArgs& a) {
  SDR_RETURN_IF_ERROR(CheckArgs(a));
  SDR_RETURN_IF_ERROR(CheckDtype(a.y, "timestep_embedding"));
  DeviceGuard guard(state_->device);
  const int64_t b = a.y.dim(0), dim = a.y.dim(1);
  const size_t row = static_cast<size_t>(dim) * DtBytes(state_->dt);
  if (a.t_device != nullptr) {
    return Launched(cuda::TimestepEmbedding(state_->dt, static_cast<const float*>(a.t_device->data), nullptr, b, dim,
                                            a.y.data, stream_),
                    "timestep_embedding");
  }
  for (int64_t i = 0; i < b; i += kMaxHostTimesteps) {
    const int64_t n = std::min<int64_t>(kMaxHostTimesteps, b - i);
    SDR_RETURN_IF_ERROR(Launched(cuda::TimestepEmbedding(state_->dt, nullptr, a.t.data() + i, n, dim,
                                                         AsBytes(a.y.data) + i * row, stream_),
                                 "timestep_embedding"));
  }
  return Status::Ok();
}

Status CudaStream::Embed(const EmbedArgs& a) {
  SDR_RETURN_IF_ERROR(CheckArgs(a));
  SDR_RETURN_IF_ERROR(CheckDtype(a.y, "embed"));
  DeviceGuard guard(state_->device);
  const int64_t n = static_cast<int64_t>(a.ids.size()), l = a.y.dim(1), c = a.y.dim(2);
  for (int64_t i = 0; i < n; i += kMaxEmbedIds) {
    const int64_t count = std::min<int64_t>(kMaxEmbedIds, n - i);
    SDR_RETURN_IF_ERROR(Launched(
        cuda::Embed(state_->dt, a.ids.data() + i, count, i, l, c, W(a.table), W(a.positions), a.y.data, stream_),
        "embed"));
  }
  return Status::Ok();
}

Status CudaStream::Convert(const ConvertArgs& a) {
  SDR_RETURN_IF_ERROR(CheckArgs(a));
  DeviceGuard guard(state_->device);
  for (const DeviceTensor* t : {&a.x, &a.y}) {
    if (t->dtype != DType::kF32 && t->dtype != DType::kF16 && t->dtype != DType::kBF16) {
      return Unsupported(state_->name + " convert: " + std::string(DTypeName(t->dtype)));
    }
  }
  return Launched(cuda::Convert(ToDt(a.x.dtype), a.x.data, ToDt(a.y.dtype), a.y.data, a.x.numel(), stream_),
                  "convert");
}

// ---- graphs ---------------------------------------------------------------------------------------

Status CudaStream::BeginCapture() {
  SDR_RETURN_IF_ERROR(NotCapturing("begin capture"));
  if (!graphs_enabled_) return Unsupported("graphs are off (SDR_CUDA_GRAPHS=0)");
  DeviceGuard guard(state_->device);
  SDR_CUDA_RETURN_IF_ERROR(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal),
                           state_->name + ": starting a graph capture");
  capturing_ = true;
  return Status::Ok();
}

Status CudaStream::EndCapture(const std::string& key, bool keep) {
  if (!capturing_) return InternalError("EndCapture without BeginCapture");
  DeviceGuard guard(state_->device);
  cudaGraph_t graph = nullptr;
  const cudaError_t e = cudaStreamEndCapture(stream_, &graph);
  capturing_ = false;
  if (e != cudaSuccess || graph == nullptr || !keep) {
    if (graph != nullptr) cudaGraphDestroy(graph);
    cudaGetLastError();
    if (!keep) return Status::Ok();
    return e != cudaSuccess ? CudaError(e, state_->name + ": ending a graph capture")
                            : InternalError(state_->name + ": the graph capture recorded nothing");
  }
  cudaGraphExec_t exec = nullptr;
  const cudaError_t ie = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (ie != cudaSuccess) return CudaError(ie, state_->name + ": instantiating a graph");
  auto it = graphs_.find(key);
  if (it != graphs_.end()) {
    cudaGraphExecDestroy(it->second);
    it->second = exec;
  } else {
    graphs_.emplace(key, exec);
  }
  return Status::Ok();
}

Status CudaStream::Replay(const std::string& key) {
  SDR_RETURN_IF_ERROR(NotCapturing("replay"));
  auto it = graphs_.find(key);
  if (it == graphs_.end()) return InternalError(state_->name + ": no graph '" + key + "'");
  DeviceGuard guard(state_->device);
  SDR_CUDA_RETURN_IF_ERROR(cudaGraphLaunch(it->second, stream_), state_->name + ": launching graph '" + key + "'");
  return Status::Ok();
}

}  // namespace sdr::cuda
