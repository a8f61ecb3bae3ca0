#include "runtime/context.h"

#include <algorithm>
#include <new>

#include "runtime/errors.h"

namespace sdr {

Context::Context(std::shared_ptr<const SdModel> model, ContextOptions options)
    : model_(std::move(model)),
      options_(options),
      budget_(std::make_shared<MemoryBudget>(options.memory_budget_bytes)) {}

Result<GenerateResult> Context::Generate(const GenerateParams& params, const ProgressFn& progress,
                                         const CancelToken* cancel) {
  budget_->set_limit(options_.memory_budget_bytes);
  budget_->ResetPeak();
  const RunControl run = RunControl::WithTimeout(&cancel_, options_.timeout_s, cancel);
  GenerateControl control;
  control.run = &run;
  control.progress = progress;
  control.after_sampling = after_sampling_;
  control.preview_every = preview_every_;
  control.memory_budget_bytes = options_.memory_budget_bytes;
  control.profile = profile_;
  ScopedMemoryBudget scope(budget_);
  Result<GenerateResult> r = InternalError("not run");
  try {
    if (scratch_ == nullptr) {
      auto s = DeviceScratch::Create(model_->backend_ptr());
      if (!s.ok()) return s.status();
      scratch_ = std::move(s).value();
    }
    control.scratch = scratch_.get();
    r = sdr::Generate(*model_, params, control);
  } catch (const std::bad_alloc&) {
    // Containers inside kernels (im2col, attention scratch) allocate through the standard
    // library; its failure is an out-of-memory, never a crash.
    r = OutOfMemory("allocation failed during generation");
  }
  // A cancel raised before or during this generation applies to it only.
  cancel_.Reset();
  return r;
}

ContextLease& ContextLease::operator=(ContextLease&& o) noexcept {
  if (this != &o) {
    Return();
    pool_ = o.pool_;
    ctx_ = std::move(o.ctx_);
    o.pool_ = nullptr;
  }
  return *this;
}

ContextLease::~ContextLease() { Return(); }

void ContextLease::Return() {
  if (pool_ != nullptr && ctx_ != nullptr) pool_->Return(std::move(ctx_));
  pool_ = nullptr;
}

Result<std::unique_ptr<ContextPool>> ContextPool::Create(std::shared_ptr<const SdModel> model, PoolOptions options) {
  if (model == nullptr) return InvalidArgument("ContextPool needs a loaded model");
  if (options.max_concurrent < 1 || options.max_concurrent > 64) {
    return InvalidArgument("max_concurrent " + std::to_string(options.max_concurrent) + " must be in [1, 64]");
  }
  auto pool = std::unique_ptr<ContextPool>(new ContextPool(options.max_concurrent));
  for (int i = 0; i < options.max_concurrent; ++i) {
    pool->free_.push_back(std::make_unique<Context>(model, options.context));
  }
  return pool;
}

ContextPool::~ContextPool() { Close(CloseMode::kCancel); }

Result<ContextLease> ContextPool::Acquire(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool got = cv_.wait_for(lock, timeout, [&] { return closed_ || !free_.empty(); });
  if (closed_) return PoolClosedError("the context pool is closed");
  if (!got) {
    return AcquireTimeoutError("no context became free within " + std::to_string(timeout.count()) + " ms (" +
                               std::to_string(max_) + " in use)");
  }
  std::unique_ptr<Context> ctx = std::move(free_.back());
  free_.pop_back();
  leased_.push_back(ctx.get());
  return ContextLease(this, std::move(ctx));
}

void ContextPool::Return(std::unique_ptr<Context> ctx) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    leased_.erase(std::remove(leased_.begin(), leased_.end(), ctx.get()), leased_.end());
    free_.push_back(std::move(ctx));
  }
  cv_.notify_all();
}

void ContextPool::Close(CloseMode mode) {
  std::unique_lock<std::mutex> lock(mu_);
  closed_ = true;
  if (mode == CloseMode::kCancel) {
    for (Context* c : leased_) c->Cancel();
  }
  cv_.notify_all();
  cv_.wait(lock, [&] { return leased_.empty(); });
}

int ContextPool::available() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_ ? 0 : static_cast<int>(free_.size());
}

}  // namespace sdr
