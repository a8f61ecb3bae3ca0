// Context: the run state of generations on a shared SdModel (weights are loaded once and shared
// read-only by every context): its stream and activation arena on the model's backend (planned
// per generation, reserved once and reused), its memory budget, its timeout and its cancel token.
// ContextPool: max_concurrent contexts handed out as RAII leases.
//
//   auto model = SdModel::Load({"/models/sd15.safetensors", "", "/models/merges.txt"});
//   std::shared_ptr<const SdModel> shared = std::move(model).value();
//   auto pool = ContextPool::Create(shared, {.max_concurrent = 2});
//   auto lease = (*pool)->Acquire(std::chrono::seconds(5));   // AcquireTimeout / PoolClosed
//   auto images = (*lease)->Generate(params);                  // on this thread
//   // lease returns the context to the pool when it goes out of scope
//
// Thread-safety: a Context runs one generation at a time (Generate from one thread; Cancel from
// any). ContextPool is fully thread-safe. The pool must outlive its leases.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "core/memory_budget.h"
#include "core/run_control.h"
#include "runtime/device_scratch.h"
#include "runtime/txt2img.h"

namespace sdr {

struct ContextOptions {
  uint64_t memory_budget_bytes = 0;  // cap on a generation's planned activation memory; 0 = unlimited
  double timeout_s = kDefaultTimeoutSeconds;  // per generation (SD_TIMEOUT_SECONDS); <= 0 = none
};

class Context {
 public:
  Context(std::shared_ptr<const SdModel> model, ContextOptions options);

  // Runs one generation. Fails with InvalidArgument (bad params, before any heavy work),
  // Cancelled (Cancel(), `cancel`, or the progress callback returning false),
  // DeadlineExceeded (timeout), OutOfMemory (budget or allocation failure), or another code.
  // Whatever the outcome, the context is clean for the next generation.
  Result<GenerateResult> Generate(const GenerateParams& params, const ProgressFn& progress = {},
                                  const CancelToken* cancel = nullptr);

  // Stops the generation in flight (it returns Cancelled within about one layer), or the next
  // one if none is running.
  void Cancel() { cancel_.Cancel(); }

  // Called once sampling is done, before decoding (SD_FREE_PARAMS uses it).
  void set_after_sampling(std::function<void()> fn) { after_sampling_ = std::move(fn); }
  // TAESD previews every `n` steps through the progress callback (0 = none; the model needs a TAESD).
  void set_preview_every(int n) { preview_every_ = n; }
  // Per-op timings of every generation accumulate into `profile` (benchmarks; null = off).
  void set_profile(OpProfile* profile) { profile_ = profile; }

  const SdModel& model() const { return *model_; }
  const MemoryBudget& budget() const { return *budget_; }
  ContextOptions& options() { return options_; }
  // Activation memory reserved on the device (0 before the first generation).
  uint64_t reserved_bytes() const { return scratch_ != nullptr ? scratch_->reserved() : 0; }

 private:
  std::shared_ptr<const SdModel> model_;
  ContextOptions options_;
  std::shared_ptr<MemoryBudget> budget_;
  CancelToken cancel_;
  std::function<void()> after_sampling_;
  int preview_every_ = 0;
  OpProfile* profile_ = nullptr;
  std::unique_ptr<DeviceScratch> scratch_;  // created on the first generation
};

class ContextPool;

// A context borrowed from a pool; returns it on destruction. Move-only.
class ContextLease {
 public:
  ContextLease() = default;
  ContextLease(ContextPool* pool, std::unique_ptr<Context> ctx) : pool_(pool), ctx_(std::move(ctx)) {}
  ContextLease(ContextLease&& o) noexcept = default;
  ContextLease& operator=(ContextLease&& o) noexcept;
  ~ContextLease();

  Context* operator->() const { return ctx_.get(); }
  Context& operator*() const { return *ctx_; }

 private:
  void Return();
  ContextPool* pool_ = nullptr;
  std::unique_ptr<Context> ctx_;
};

struct PoolOptions {
  int max_concurrent = kDefaultMaxConcurrent;  // contexts (SD_MAX_CONCURRENT)
  ContextOptions context;
};

class ContextPool {
 public:
  static Result<std::unique_ptr<ContextPool>> Create(std::shared_ptr<const SdModel> model, PoolOptions options);
  ~ContextPool();  // Close(kCancel)

  // Waits up to `timeout` for a free context. AcquireTimeout (kDeadlineExceeded) when none
  // frees up in time; PoolClosed (kUnavailable) once Close() was called.
  Result<ContextLease> Acquire(std::chrono::milliseconds timeout);

  enum class CloseMode { kDrain, kCancel };
  // Refuses new acquires, then waits for every lease to come back; kCancel first cancels the
  // generations in flight. Idempotent.
  void Close(CloseMode mode = CloseMode::kDrain);

  int max_concurrent() const { return max_; }
  int available() const;

 private:
  friend class ContextLease;
  ContextPool(int max) : max_(max) {}
  void Return(std::unique_ptr<Context> ctx);

  const int max_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Context>> free_;
  std::vector<Context*> leased_;  // in flight, for Close(kCancel)
  bool closed_ = false;
};

}  // namespace sdr
