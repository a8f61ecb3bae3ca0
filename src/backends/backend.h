// The compute seam: the models (CLIP, UNet, VAE) are written once against this interface and run
// on any backend behind it — `cpu` (our kernels + OpenBLAS), `reference` (plain loops, slow and
// obviously right), later `cuda`. Ops know nothing of the model graph (gemma.cpp); each backend
// says which ops and dtypes it supports (llama.cpp's supports_op) and is checked op by op against
// the reference backend by one conformance test (tests/unit/backend_conformance_test.cc).
//
// Objects:
//   Backend     one device: its memory, the weights prepared for it (shared read-only by every
//               context), and the streams that run ops. Thread-safe.
//   Stream      one context's queue of ops on the device, run in order; Synchronize() waits for
//               them. One thread at a time.
//   DeviceTensor a dtype, a logical shape and a device address (on CPU backends, host memory).
//               Its bytes are owned by someone else: an arena block (activations) or a Weight.
//   Weight      a tensor prepared once at load in the layout and dtype the backend wants.
//
// Logical shapes are PyTorch's (feature maps [B, C, H, W], token rows [B, L, C]); how a backend
// lays them out in memory is its own business, provided its ops agree with each other and
// Upload/Download convert to and from dense row-major f32 on the host. Ops write a caller-owned
// output of the exact logical shape given in their shape comment; a wrong shape is a bug in the
// caller (checked). Scratch memory an op needs comes from the caller too (ScratchBytes), so a
// context plans all of its memory before the first op (backends/executor.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/tensor.h"

namespace sdr {

struct DeviceTensor {
  DType dtype = DType::kF32;
  Shape shape;
  void* data = nullptr;  // device address of the first element (nullptr while planning)

  int64_t numel() const { return NumElements(shape); }
  int64_t dim(size_t i) const { SDR_CHECK(i < shape.size()); return shape[i]; }
  size_t rank() const { return shape.size(); }
  template <typename T> T* as() const { return static_cast<T*>(data); }
};

// How a weight is used, so that a backend can pick its layout (e.g. pre-packed GEMM panels,
// Winograd-transformed kernels). The logical shape stays the checkpoint's.
enum class WeightRole {
  kMatrix,      // Linear weight [out, in]
  kConvKernel,  // Conv2d weight [cout, cin, kh, kw]
  kVector,      // bias, norm scale or shift [c]
  kTable,       // embedding table [rows, c]
};

struct Weight {
  DeviceTensor t;                          // logical shape as in the checkpoint
  std::shared_ptr<const void> keepalive;   // device memory, or the host bytes it borrows
  bool defined() const { return keepalive != nullptr; }
};

enum class Activation { kNone, kSilu, kGelu, kQuickGelu };

// Every op kind, for Supports() and the conformance table.
enum class OpKind {
  kLinear, kConv2d, kGroupNorm, kLayerNorm, kAttention, kGeglu, kAdd, kAffine, kResizeNearest,
  kConcatChannels, kToTokens, kFromTokens, kTimestepEmbedding, kEmbed, kConvert,
};
std::string_view OpKindName(OpKind op);  // "linear", "conv2d", ...
std::span<const OpKind> AllOpKinds();

// ---- op arguments (shapes in the comments; B batch, C channels, L tokens) ----------------------

struct LinearArgs {
  DeviceTensor x;                 // [M, K] (any leading dims folded into M)
  const Weight* w = nullptr;      // [N, K]
  const Weight* b = nullptr;      // [N] or null
  Activation act = Activation::kNone;
  const DeviceTensor* residual = nullptr;  // [M, N] added after the activation, or null
  DeviceTensor y;                 // [M, N]: y = act(x w^T + b) + residual
  std::span<std::byte> scratch;
};

struct Conv2dArgs {
  DeviceTensor x;                 // [B, Cin, H, W]
  const Weight* w = nullptr;      // [Cout, Cin, k, k]
  const Weight* b = nullptr;      // [Cout] or null
  int64_t stride = 1, pad = 0;
  // Nearest upsampling of x by this factor before the convolution (1 or 2), read in place: only
  // where the backend says FusesUpsample (the executor resizes first elsewhere).
  int64_t upsample = 1;
  const DeviceTensor* channel_bias = nullptr;  // [B, Cout] added per sample and channel, or null
  const DeviceTensor* residual = nullptr;      // [B, Cout, Ho, Wo] added last, or null
  DeviceTensor y;                 // [B, Cout, Ho, Wo], Ho = (upsample H + 2 pad - k) / stride + 1
  std::span<std::byte> scratch;
};

struct GroupNormArgs {
  DeviceTensor x;                 // [B, C, H, W]
  const Weight* gamma = nullptr;  // [C]
  const Weight* beta = nullptr;   // [C]
  int64_t groups = 32;
  float eps = 1e-5f;
  bool silu = false;              // y = silu(norm(x)) when set
  DeviceTensor y;                 // [B, C, H, W]
  std::span<std::byte> scratch;   // ScratchBytes(GroupNormArgs) (per-group statistics on GPUs)
};

struct LayerNormArgs {
  DeviceTensor x;                 // [M, C]
  const Weight* gamma = nullptr;  // [C]
  const Weight* beta = nullptr;   // [C]
  float eps = 1e-5f;
  DeviceTensor y;                 // [M, C]
};

struct AttentionArgs {
  DeviceTensor q;                 // [B, Lq, H * D]
  DeviceTensor k, v;              // [B, Lk, H * D]
  int64_t heads = 1;
  float scale = 1.0f;             // multiplies q . k
  bool causal = false;            // mask key j > query i
  DeviceTensor y;                 // [B, Lq, H * D]
  std::span<std::byte> scratch;
};

struct GegluArgs {
  DeviceTensor x;                 // [M, 2F]
  DeviceTensor y;                 // [M, F]: y = x[:, :F] * gelu(x[:, F:])
};

struct AddArgs {
  DeviceTensor a, b;              // same shape
  DeviceTensor y;                 // a + b
};

struct AffineArgs {
  DeviceTensor x;                 // any shape
  float scale = 1.0f, shift = 0.0f;
  bool clamp = false;             // clamp to [lo, hi] after scale and shift
  float lo = 0.0f, hi = 1.0f;
  DeviceTensor y;                 // same shape: y = x * scale + shift (clamped)
};

struct ResizeNearestArgs {
  DeviceTensor x;                 // [B, C, H, W]
  DeviceTensor y;                 // [B, C, Ho, Wo]; src = floor(dst * in / out) (PyTorch "nearest")
};

struct ConcatChannelsArgs {
  DeviceTensor a;                 // [B, Ca, H, W]
  DeviceTensor b;                 // [B, Cb, H, W]
  DeviceTensor y;                 // [B, Ca + Cb, H, W]
};

struct TokensArgs {
  DeviceTensor x;                 // ToTokens: [B, C, H, W]; FromTokens: [B, H*W, C]
  DeviceTensor y;                 // ToTokens: [B, H*W, C]; FromTokens: [B, C, H, W]
};

struct TimestepEmbeddingArgs {
  std::vector<float> t;           // [B] fractional timesteps (host values), unless t_device is set
  // [B] f32 timesteps already on the device (an Upload with dtype f32), or null. With it the op
  // reads no host values, so a captured graph replays with new timesteps (Executor::Captured).
  const DeviceTensor* t_device = nullptr;
  DeviceTensor y;                 // [B, dim]: [cos(t f_j), sin(t f_j)], f_j = exp(-ln(10000) j / (dim/2))
};

struct EmbedArgs {
  std::vector<int32_t> ids;       // [B * L] token ids (host values, each < rows of `table`)
  const Weight* table = nullptr;      // [V, C]
  const Weight* positions = nullptr;  // [P >= L, C]
  DeviceTensor y;                 // [B, L, C]: table[id] + positions[l]
};

struct ConvertArgs {
  DeviceTensor x;                 // any shape and dtype the backend holds activations in
  DeviceTensor y;                 // same shape, another dtype
};

// ---- the interface ----------------------------------------------------------------------------

class Stream {
 public:
  virtual ~Stream() = default;

  // host: dense row-major f32 of dst's logical shape -> dst (in dst.dtype, which is the
  // backend's activation dtype or f32, and the backend's layout).
  virtual Status Upload(const Tensor& host, const DeviceTensor& dst) = 0;
  // src -> a new dense f32 host tensor (waits for the ops before it).
  virtual Result<Tensor> Download(const DeviceTensor& src) = 0;
  // Waits until every op enqueued so far has run; reports a device error if one happened.
  virtual Status Synchronize() = 0;

  virtual Status Linear(const LinearArgs& a) = 0;
  virtual Status Conv2d(const Conv2dArgs& a) = 0;
  virtual Status GroupNorm(const GroupNormArgs& a) = 0;
  virtual Status LayerNorm(const LayerNormArgs& a) = 0;
  virtual Status Attention(const AttentionArgs& a) = 0;
  virtual Status Geglu(const GegluArgs& a) = 0;
  virtual Status Add(const AddArgs& a) = 0;
  virtual Status Affine(const AffineArgs& a) = 0;
  virtual Status ResizeNearest(const ResizeNearestArgs& a) = 0;
  virtual Status ConcatChannels(const ConcatChannelsArgs& a) = 0;
  virtual Status ToTokens(const TokensArgs& a) = 0;
  virtual Status FromTokens(const TokensArgs& a) = 0;
  virtual Status TimestepEmbedding(const TimestepEmbeddingArgs& a) = 0;
  virtual Status Embed(const EmbedArgs& a) = 0;
  virtual Status Convert(const ConvertArgs& a) = 0;

  // Graphs (optional; CUDA graphs on GPUs): the ops enqueued between BeginCapture and EndCapture
  // are recorded instead of run, kept under `key` (replacing what was there), and run by each
  // Replay(key) with the same device addresses. Nothing may be uploaded, downloaded or waited
  // for while capturing. Executor::Captured decides when a recording may be replayed.
  virtual bool CanCapture() const { return false; }
  virtual Status BeginCapture() { return Unsupported("this backend does not capture graphs"); }
  // Stops recording; with keep false (the region failed) the recording is dropped.
  virtual Status EndCapture(const std::string& key, bool keep) { return Unsupported("no graphs"); }
  virtual Status Replay(const std::string& key) { return Unsupported("no graphs"); }
};

struct BackendInfo {
  std::string name;         // "cpu", "reference", "cuda:0"
  std::string description;  // one line: the device and the math library
  DType activation_dtype = DType::kF32;  // what activations are held in
  bool device_memory = false;  // AllocateMemory gives GPU memory: running out of it is out_of_vram
  bool in_place_norm = false;  // GroupNorm may write its output over its input (y aliasing x)
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual const BackendInfo& info() const = 0;

  // Device memory for an arena (activations) of `bytes`; freed when the last pointer goes.
  // OutOfMemory (tagged out_of_vram on GPUs) naming needed vs available bytes.
  virtual Result<std::shared_ptr<void>> AllocateMemory(uint64_t bytes) = 0;
  virtual uint64_t bytes_in_use() const = 0;     // by this backend's allocations (weights, arenas)
  virtual uint64_t bytes_available() const = 0;  // what the device could still give

  // `host` as read from the model file (f32, f16, bf16 or a quantized type; the logical shape
  // its role implies) -> the backend's form. May borrow host's bytes (zero-copy).
  virtual Result<Weight> PrepareWeight(const Tensor& host, WeightRole role) = 0;

  virtual Result<std::unique_ptr<Stream>> CreateStream() = 0;

  // Whether `op` runs on activations of `dtype` here (the conformance test skips the rest and
  // says so).
  virtual bool Supports(OpKind op, DType dtype) const = 0;

  // Scratch an op needs from its caller (0 for ops not listed).
  // Whether Conv2d runs `a` with a.upsample > 1 itself (reading the small input in place).
  virtual bool FusesUpsample(const Conv2dArgs& a) const { return false; }
  virtual size_t ScratchBytes(const LinearArgs& a) const { return 0; }
  virtual size_t ScratchBytes(const Conv2dArgs& a) const { return 0; }
  virtual size_t ScratchBytes(const GroupNormArgs& a) const { return 0; }
  virtual size_t ScratchBytes(const AttentionArgs& a) const { return 0; }
};

// Checks that an op's tensors have the shapes its comment promises; InternalError naming the op
// otherwise (a caller bug). Backends call these first; cheap.
Status CheckArgs(const LinearArgs& a);
Status CheckArgs(const Conv2dArgs& a);
Status CheckArgs(const GroupNormArgs& a);
Status CheckArgs(const LayerNormArgs& a);
Status CheckArgs(const AttentionArgs& a);
Status CheckArgs(const GegluArgs& a);
Status CheckArgs(const AddArgs& a);
Status CheckArgs(const AffineArgs& a);
Status CheckArgs(const ResizeNearestArgs& a);
Status CheckArgs(const ConcatChannelsArgs& a);
Status CheckArgs(const TokensArgs& a, bool to_tokens);
Status CheckArgs(const TimestepEmbeddingArgs& a);
Status CheckArgs(const EmbedArgs& a);
Status CheckArgs(const ConvertArgs& a);

}  // namespace sdr
