// Executor: how model code runs ops on a backend. Each op allocates its output (and any scratch)
// in the context's arena and enqueues the op on the context's stream; outputs are Act handles
// that give their block back when the last handle goes. With no stream the executor is a dry run:
// ops check shapes and allocate, nothing computes, and the arena's high-water mark is what the
// real run will need (the plan). Model code is written once and run both ways.
//
//   Executor ex(backend, stream, &arena, run_control);
//   SDR_ASSIGN_OR_RETURN(Act h, ex.GroupNorm(x, gamma, beta, 32, 1e-5f, /*silu=*/true));
//   SDR_ASSIGN_OR_RETURN(h, ex.Conv2d(h, w, &b, 1, 1));
//
// Thread-safety: one thread at a time (like the stream and arena it uses).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/arena.h"
#include "backends/backend.h"
#include "core/run_control.h"

namespace sdr {

class Executor;

// Time spent per op kind, for benchmarks (Executor::set_profile). Timings are of the op calls on
// the host: exact for synchronous backends (cpu, reference); a GPU stream would need a sync.
struct OpProfile {
  static constexpr size_t kKinds = 15;  // = AllOpKinds().size(), checked in executor.cc
  double seconds[kKinds] = {};
  uint64_t calls[kKinds] = {};
  void Add(OpKind op, double s) {
    seconds[static_cast<size_t>(op)] += s;
    ++calls[static_cast<size_t>(op)];
  }
  // One line per op kind that ran: "conv2d  12.34 s  (n calls)", largest first.
  std::string Format() const;
};

// An activation: a tensor in an executor's arena. Copies share the block (views); the block is
// freed when the last copy goes. An Act must not outlive its executor.
class Act {
 public:
  Act() = default;
  const DeviceTensor& t() const { return t_; }
  const Shape& shape() const { return t_.shape; }
  int64_t dim(size_t i) const { return t_.dim(i); }
  size_t rank() const { return t_.rank(); }
  int64_t numel() const { return t_.numel(); }
  bool defined() const { return block_ != nullptr; }
  // The same elements under another shape of the same count (e.g. [B, L, C] as [B * L, C]).
  Act Reshaped(Shape shape) const;
  // The first n images (n <= dim(0)) as a view: images are outermost in every backend's layout.
  Act FirstImages(int64_t n) const;

 private:
  friend class Executor;
  DeviceTensor t_;
  std::shared_ptr<const uint64_t> block_;  // the arena offset; frees it on release
};

// The recordings Executor::Captured made on one stream: each key's op signature (every op's
// device addresses, shapes and scalars, in order). Lives beside the stream (one per context).
class CaptureCache {
 public:
  struct Entry {
    std::vector<uint64_t> signature;  // empty: nothing recorded
    bool unusable = false;            // the region cannot be captured (it uploads, or failed)
  };
  Entry& Get(const std::string& key) { return entries_[key]; }
  size_t size() const { return entries_.size(); }
  void Clear() { entries_.clear(); }

 private:
  std::map<std::string, Entry> entries_;
};

class Executor {
 public:
  // `stream` null: a dry run (planning). `run` (may be null) is checked by Check().
  Executor(Backend& backend, Stream* stream, Arena* arena, const RunControl* run = nullptr)
      : backend_(backend), stream_(stream), arena_(arena), run_(run) {}

  bool planning() const { return stream_ == nullptr; }
  // Accumulate op timings into `profile` (null: off). Not owned.
  void set_profile(OpProfile* profile) { profile_ = profile; }
  Backend& backend() const { return backend_; }
  DType act_dtype() const { return backend_.info().activation_dtype; }
  // Cancelled / DeadlineExceeded from the run control; OK while planning.
  Status Check() const { return planning() ? Status::Ok() : CheckRun(run_); }

  // An uninitialised activation (of the backend's activation dtype, or `dtype`).
  Result<Act> Alloc(Shape shape);
  Result<Act> Alloc(Shape shape, DType dtype);
  // host: dense f32 -> a new activation (planning: allocation only). With `dtype` f32 the device
  // keeps f32 whatever the activation dtype (e.g. timesteps for TimestepEmbedding).
  Result<Act> Upload(const Tensor& host);
  Result<Act> Upload(const Tensor& host, DType dtype);
  // -> dense f32 host tensor (planning: zeros of the shape).
  Result<Tensor> Download(const Act& a);

  // ---- ops: shapes as in backends/backend.h; leading dims of Linear/LayerNorm/Geglu fold into M
  Result<Act> Linear(const Act& x, const Weight& w, const Weight* b, Activation act = Activation::kNone,
                     const Act* residual = nullptr);
  Result<Act> Conv2d(const Act& x, const Weight& w, const Weight* b, int64_t stride, int64_t pad,
                     const Act* channel_bias = nullptr, const Act* residual = nullptr);
  Result<Act> GroupNorm(const Act& x, const Weight& gamma, const Weight& beta, int64_t groups, float eps, bool silu);
  // GroupNorm written over x when x is the last reference to its block and the backend allows
  // it (BackendInfo::in_place_norm); otherwise as GroupNorm. Saves a feature map of memory.
  Result<Act> GroupNormInPlace(Act x, const Weight& gamma, const Weight& beta, int64_t groups, float eps, bool silu);
  // Conv2d over x upsampled 2x (nearest), the upsampled map never stored where the backend
  // fuses it (Backend::FusesUpsample); else ResizeNearest then Conv2d. Stride 1.
  Result<Act> UpsampleConv2d(const Act& x, const Weight& w, const Weight* b, int64_t pad);
  Result<Act> LayerNorm(const Act& x, const Weight& gamma, const Weight& beta, float eps);
  Result<Act> Attention(const Act& q, const Act& k, const Act& v, int64_t heads, float scale, bool causal);
  Result<Act> Geglu(const Act& x);
  Result<Act> Add(const Act& a, const Act& b);
  Result<Act> Affine(const Act& x, float scale, float shift, bool clamp = false, float lo = 0, float hi = 1);
  Result<Act> ResizeNearest(const Act& x, int64_t ho, int64_t wo);
  Result<Act> ConcatChannels(const Act& a, const Act& b);
  // x [1, ...] -> [n, ...]: n copies of its one image (ConcatChannels of the image's elements
  // viewed as [1, numel, 1, 1], which every backend's layout keeps as one contiguous run).
  Result<Act> RepeatImages(const Act& x, int64_t n);
  Result<Act> ToTokens(const Act& x);                            // [B, C, H, W] -> [B, H*W, C]
  Result<Act> FromTokens(const Act& x, int64_t h, int64_t w);    // [B, H*W, C] -> [B, C, H, W]
  Result<Act> TimestepEmbedding(std::vector<float> t, int64_t dim);  // -> [B, dim]
  Result<Act> TimestepEmbedding(const Act& t, int64_t dim);          // t: [B] f32 on the device
  Result<Act> Embed(std::vector<int32_t> ids, int64_t batch, const Weight& table, const Weight& positions);

  // ---- graphs ----------------------------------------------------------------------------------
  // Lets Captured() record on this executor's stream, keeping the signatures in `cache` (which
  // must outlive the executor and belong to the same stream). Without it Captured() runs live.
  void EnableCapture(CaptureCache* cache) { captures_ = cache; }

  // Runs `body` (Executor& is this one; returns Result<Act>) as one captured graph when the
  // stream can capture (Stream::CanCapture) and EnableCapture was called, else live. The first
  // run records the body's ops under `key` and launches the recording. A later run executes the
  // body's bookkeeping only (shape checks and arena allocations, which are deterministic, so the
  // output lands where it did; nothing is enqueued) while signing every op's arguments, and
  // replays the recording when the signature is identical (same addresses, shapes, scalars and
  // host values), or records again when it is not. So a replay is exactly what running the body
  // live would enqueue. A body that uploads, downloads or fails while recording runs live instead,
  // and `key` is not recorded again. Planning runs the body as a dry run.
  template <typename Body>
  Result<Act> Captured(const std::string& key, Body&& body);

 private:
  enum class Mode { kLive, kRecording, kChecking };  // kChecking: sign only, enqueue nothing

  // Runs `op` on the stream unless planning, with `scratch_bytes` of arena scratch.
  template <typename Args, typename Op>
  Status Run(Args& args, size_t scratch_bytes, Op op);
  Result<std::shared_ptr<const uint64_t>> Block(uint64_t bytes, void** data);
  // Signing (graphs): appends what an op's arguments are to signature_.
  template <typename Args>
  void Sign(const Args& args);
  void BeginSigning(Mode mode);
  bool EndSigning();  // false when the region uploaded or downloaded

  Backend& backend_;
  Stream* stream_;
  Arena* arena_;
  const RunControl* run_;
  OpProfile* profile_ = nullptr;
  CaptureCache* captures_ = nullptr;
  Mode mode_ = Mode::kLive;
  bool spoiled_ = false;            // the signed region touched the host
  std::vector<uint64_t> signature_;
};

template <typename Body>
Result<Act> Executor::Captured(const std::string& key, Body&& body) {
  if (planning() || captures_ == nullptr || mode_ != Mode::kLive || !stream_->CanCapture()) return body();
  CaptureCache::Entry& entry = captures_->Get(key);
  if (entry.unusable) return body();
  if (!entry.signature.empty()) {
    BeginSigning(Mode::kChecking);
    Result<Act> out = body();
    const bool clean = EndSigning();
    if (!out.ok()) return out;  // nothing was enqueued
    if (clean && signature_ == entry.signature) {
      SDR_RETURN_IF_ERROR(stream_->Replay(key));
      return out;
    }
  }  // `out` is gone: the arena is as before the body
  entry.signature.clear();
  if (!stream_->BeginCapture().ok()) {
    entry.unusable = true;
    return body();
  }
  {
    BeginSigning(Mode::kRecording);
    Result<Act> out = body();
    const bool clean = EndSigning();
    const Status end = stream_->EndCapture(key, out.ok() && clean);
    if (clean && !out.ok()) return out;  // a real failure (cancelled, a bad shape): not the capture's
    if (out.ok() && clean && end.ok()) {
      entry.signature = std::move(signature_);
      SDR_RETURN_IF_ERROR(stream_->Replay(key));  // the recorded ops have not run yet
      return out;
    }
  }
  entry.unusable = true;  // the region touches the host, or the device refused the recording
  return body();          // live
}

// One-off use (tests, tools, the models' host-level helpers): runs `body` (Executor& ->
// Result<Act>) as a dry run to size an arena, then for real on a new stream with an arena of
// exactly that size, and returns the output as dense f32 on the host.
template <typename Body>
Result<Tensor> RunPlanned(Backend& backend, const RunControl* run, Body&& body) {
  Arena plan;
  {
    Executor dry(backend, nullptr, &plan, run);
    SDR_ASSIGN_OR_RETURN(Act planned, body(dry));
  }
  SDR_ASSIGN_OR_RETURN(std::shared_ptr<void> memory, backend.AllocateMemory(plan.high_water()));
  Arena arena(plan.high_water(), memory.get());
  SDR_ASSIGN_OR_RETURN(std::unique_ptr<Stream> stream, backend.CreateStream());
  Executor ex(backend, stream.get(), &arena, run);
  SDR_ASSIGN_OR_RETURN(Act out, body(ex));
  return ex.Download(out);
}

}  // namespace sdr
