// JobQueue: the bounded queue in front of the Generator's slots, and the worker threads that run
// it. One worker per Generator slot (SD_MAX_CONCURRENT), so a worker never waits for a slot and
// HTTP threads never run generations: they submit jobs and wait for (or stream) them.
//
//   JobQueue queue(*generator, {.max_queue = 16});
//   auto job = queue.Submit(request, "jobs");   // queue_full (429) when running + waiting is at capacity
//   ... (*job)->WaitFinished(...), (*job)->EventsAfter(...) ...
//   queue.Cancel(id);                           // a queued job ends at once; a running one within a layer
//   queue.Shutdown(30);                         // SIGTERM: refuse, cancel the waiting, drain, cancel the rest
//
// Capacity: at most `workers` jobs run and `max_queue` wait; a Submit beyond that fails with
// queue_full. Finished jobs are kept `result_ttl_s` seconds and at most `max_results` at once
// (the oldest leave first); a job that left answers gone (410) for a while (the last 4096 ids),
// then not_found.
//
// Thread-safety: every method may be called from any thread. Destruction calls Shutdown(0).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "imagegen/generator.h"
#include "server/job.h"

namespace sdr {

struct JobQueueOptions {
  int max_queue = 16;               // jobs waiting (not counting the running ones)
  double result_ttl_s = 600;        // seconds a finished job is kept
  int max_results = 64;             // finished jobs kept at once
  double preview_interval_s = 0.5;  // live previews at most this often per job
  // Called when a job finishes (metrics), on the worker's thread.
  std::function<void(const Job& job, const JobSnapshot& snapshot)> on_finished;
};

class JobQueue {
 public:
  JobQueue(Generator& generator, JobQueueOptions options);
  ~JobQueue();
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  // A new queued job for `request` (already validated). queue_full when at capacity;
  // unavailable once Shutdown began.
  Result<std::shared_ptr<Job>> Submit(ImageRequest request, std::string origin);

  // not_found, or gone for a job whose result expired.
  Result<std::shared_ptr<Job>> Find(const std::string& id);

  // Cancels a queued job (finished at once, cancelled) or a running one (its token raised; the
  // worker finishes it). A finished job is left as it is. Errors as Find.
  Result<std::shared_ptr<Job>> Cancel(const std::string& id);
  void Cancel(const std::shared_ptr<Job>& job);

  // The running jobs, oldest first.
  std::vector<std::shared_ptr<Job>> Running() const;

  int workers() const { return workers_count_; }
  int max_queue() const { return options_.max_queue; }
  int queued() const;
  int running() const;
  // Seconds a client should wait before retrying after queue_full (Retry-After), from the recent
  // run times: about when a place frees up. At least 1.
  int RetryAfterSeconds() const;

  // Refuses new jobs, cancels the queued ones, lets the running ones finish for up to `grace_s`
  // seconds, cancels what still runs, and joins the workers. Idempotent.
  void Shutdown(double grace_s);

 private:
  void Work();
  void UpdatePositionsLocked();  // mu_ held
  void EvictLocked();            // mu_ held
  void Finished(const std::shared_ptr<Job>& job);

  Generator& generator_;
  const JobQueueOptions options_;
  const int workers_count_;

  std::mutex shutdown_mu_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // workers: a job or stop
  std::condition_variable idle_cv_;   // Shutdown: a running job finished
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::shared_ptr<Job>> running_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;  // every kept job, by id
  std::deque<std::pair<double, std::string>> finished_;  // (unix finish time, id), oldest first
  std::deque<std::string> expired_;                       // ids gone, newest last
  std::set<std::string> expired_set_;
  double recent_run_s_ = 0;  // exponential average of run times
  bool closed_ = false;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sdr
