#include "server/job_queue.h"

#include <algorithm>
#include <cmath>

#include "core/log.h"
#include "runtime/errors.h"

namespace sdr {
namespace {

constexpr size_t kMaxExpiredIds = 4096;
using Clock = std::chrono::steady_clock;

Status Tagged(Status s, ErrorCode code) { return WithErrorCode(std::move(s), code); }

}  // namespace

JobQueue::JobQueue(Generator& generator, JobQueueOptions options)
    : generator_(generator), options_(std::move(options)),
      workers_count_(std::max(1, generator.options().max_concurrent)) {
  for (int i = 0; i < workers_count_; ++i) threads_.emplace_back([this] { Work(); });
}

JobQueue::~JobQueue() { Shutdown(0); }

Result<std::shared_ptr<Job>> JobQueue::Submit(ImageRequest request, std::string origin) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return Tagged(Unavailable("the server is shutting down: no new jobs"), ErrorCode::kUnavailable);
  EvictLocked();
  const int waiting = static_cast<int>(queue_.size());
  const int busy = static_cast<int>(running_.size());
  if (waiting + busy >= workers_count_ + options_.max_queue) {
    return Tagged(Unavailable("the queue is full: " + std::to_string(busy) + " running, " +
                                    std::to_string(waiting) + " waiting (SD_MAX_QUEUE " +
                                    std::to_string(options_.max_queue) + "); retry later"),
                  ErrorCode::kQueueFull);
  }
  auto job = std::make_shared<Job>(NewJobId(), std::move(request), std::move(origin), options_.preview_interval_s,
                                   generator_.capabilities().preview_every > 0);
  jobs_[job->id()] = job;
  queue_.push_back(job);
  job->SetQueuePosition(static_cast<int>(queue_.size()), static_cast<int>(queue_.size()));
  work_cv_.notify_one();
  return job;
}

Result<std::shared_ptr<Job>> JobQueue::Find(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  EvictLocked();
  const auto it = jobs_.find(id);
  if (it != jobs_.end()) return it->second;
  if (expired_set_.count(id) > 0) {
    return Tagged(NotFound("job " + id + " has finished and its result is no longer kept (results are kept " +
                           std::to_string(static_cast<int>(options_.result_ttl_s)) + " s, at most " +
                           std::to_string(options_.max_results) + ")"),
                  ErrorCode::kGone);
  }
  return Tagged(NotFound("no job " + id.substr(0, 64)), ErrorCode::kNotFound);
}

Result<std::shared_ptr<Job>> JobQueue::Cancel(const std::string& id) {
  SDR_ASSIGN_OR_RETURN(std::shared_ptr<Job> job, Find(id));
  Cancel(job);
  return job;
}

void JobQueue::Cancel(const std::shared_ptr<Job>& job) {
  bool was_queued = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = std::find(queue_.begin(), queue_.end(), job);
    if (it != queue_.end()) {
      queue_.erase(it);
      was_queued = true;
      UpdatePositionsLocked();
      finished_.emplace_back(UnixNow(), job->id());
    }
  }
  if (was_queued) {
    job->Finish(Cancelled("cancelled while queued"));
    if (options_.on_finished) options_.on_finished(*job, job->Snapshot());
    return;
  }
  job->RequestCancel();  // running: the worker finishes it; finished: no effect
}

std::vector<std::shared_ptr<Job>> JobQueue::Running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

int JobQueue::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(queue_.size());
}

int JobQueue::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(running_.size());
}

int JobQueue::RetryAfterSeconds() const {
  std::lock_guard<std::mutex> lock(mu_);
  const double per_job = recent_run_s_ > 0 ? recent_run_s_ : 5.0;
  // A place frees up when one running job ends: on average half a run from now.
  return std::clamp(static_cast<int>(std::ceil(per_job / 2)), 1, 120);
}

void JobQueue::UpdatePositionsLocked() {
  const int n = static_cast<int>(queue_.size());
  for (int i = 0; i < n; ++i) queue_[static_cast<size_t>(i)]->SetQueuePosition(i + 1, n);
}

void JobQueue::EvictLocked() {
  const double now = UnixNow();
  // finished_ is in finish order, so the oldest are in front.
  while (!finished_.empty() &&
         (static_cast<int>(finished_.size()) > options_.max_results || now - finished_.front().first > options_.result_ttl_s)) {
    const std::string id = finished_.front().second;
    finished_.pop_front();
    jobs_.erase(id);
    expired_.push_back(id);
    expired_set_.insert(id);
    if (expired_.size() > kMaxExpiredIds) {
      expired_set_.erase(expired_.front());
      expired_.pop_front();
    }
  }
}

void JobQueue::Work() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      job = queue_.front();
      queue_.pop_front();
      running_.push_back(job);
      job->MarkStarted();
      UpdatePositionsLocked();
    }
    Result<ImageResult> result = [&]() -> Result<ImageResult> {
      try {
        return generator_.Generate(
            job->request(),
            [&job](const ImageProgress& p) {
              job->RecordProgress(p);
              return !job->cancel_token()->cancelled();
            },
            job->cancel_token());
      } catch (const std::bad_alloc&) {
        return OutOfMemory("out of memory while generating");
      } catch (const std::exception& e) {
        return InternalError(std::string("unexpected error while generating: ") + e.what());
      } catch (...) {
        return InternalError("unexpected error while generating");
      }
    }();
    job->Finish(result);
    Finished(job);
  }
}

void JobQueue::Finished(const std::shared_ptr<Job>& job) {
  const JobSnapshot s = job->Snapshot();
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_.erase(std::remove(running_.begin(), running_.end(), job), running_.end());
    finished_.emplace_back(s.finished_at, job->id());
    if (s.state == JobState::kSucceeded) {
      recent_run_s_ = recent_run_s_ > 0 ? 0.7 * recent_run_s_ + 0.3 * s.run_seconds : s.run_seconds;
    }
    EvictLocked();
  }
  idle_cv_.notify_all();
  if (options_.on_finished) options_.on_finished(*job, s);
}

void JobQueue::Shutdown(double grace_s) {
  std::lock_guard<std::mutex> once(shutdown_mu_);  // one Shutdown at a time; later ones return at once
  std::deque<std::shared_ptr<Job>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    closed_ = true;
    dropped.swap(queue_);
  }
  for (const auto& job : dropped) {
    job->Finish(WithErrorCode(Cancelled("cancelled: the server is shutting down"), ErrorCode::kCancelled));
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_.emplace_back(UnixNow(), job->id());
    }
    if (options_.on_finished) options_.on_finished(*job, job->Snapshot());
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(std::max(0.0, grace_s)));
    idle_cv_.wait_until(lock, deadline, [&] { return running_.empty(); });
    if (!running_.empty()) {
      SDR_LOG_WARN("server: {} job(s) still running after {:g} s: cancelling them", running_.size(), grace_s);
      for (const auto& job : running_) job->RequestCancel();
    }
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

}  // namespace sdr
