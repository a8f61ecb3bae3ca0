// Job: one image request the server accepted, from the queue to its result. Every API family
// runs through jobs (the async /v1/jobs API, and the synchronous OpenAI and A1111 endpoints,
// which wait for theirs), so progress, cancellation, previews and metrics work the same for all.
//
// States: queued -> running -> succeeded | failed | cancelled (queued -> cancelled too). A job
// records its events for server-sent events (job_json.h writes their payloads):
//
//   queued     position changes while waiting          (consecutive ones are coalesced)
//   started    a worker took it
//   step       one sampler step, with a live preview now and then (coalesced): the provider's
//              TAESD preview when it makes them (every SD_PREVIEW_EVERY steps), else a latent
//              projection throttled to one per preview_interval_s
//   completed / failed / cancelled   the end; nothing follows
//
// Coalescing keeps the history short (a 150-step, 8-image job does not keep 1200 step events):
// a reader that falls behind gets the latest step, never a backlog.
//
// Thread-safety: every method may be called from any thread. The JobQueue (job_queue.h) makes
// the state transitions; readers take snapshots.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/run_control.h"
#include "imagegen/image_request.h"
#include "server/api_error.h"

namespace sdr {

enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };
std::string_view ToString(JobState state);  // "queued", "running", "succeeded", "failed", "cancelled"
bool IsFinished(JobState state);

struct JobEvent {
  uint64_t seq = 0;  // 1, 2, ... within the job: the SSE id
  std::string name;  // queued, started, step, completed, failed, cancelled
  std::string data;  // the JSON payload; "" for completed (built from the result when sent)
};

struct JobProgress {
  int image = 0;          // index in the batch of the image being sampled
  int n = 1;              // images in the job
  int step = 0;           // 1-based step of that image; 0 before the first
  int total_steps = 0;    // per image
  double fraction = 0;    // of all the job's steps, 0..1
  double elapsed_s = 0;   // since the job started
  double eta_s = -1;      // estimated seconds to the end of sampling; -1 = unknown yet
  std::string preview;    // the latest live preview, a PNG data URI; "" until one is made
  std::string preview_kind;  // "taesd" (the TAESD decode, image-sized) or "latent" (latent_preview.h, latent-sized)
  double preview_ms = 0;  // what making `preview` cost: the decode (taesd) or projection, plus the PNG encoding
  int preview_step = 0;   // the step of `preview` (overall, 1-based)
  int steps_done = 0;     // steps sampled so far, over all images
};

struct JobSnapshot {
  JobState state = JobState::kQueued;
  int queue_position = 0;    // 1 = next to start; 0 when not queued
  double created_at = 0;     // unix seconds
  double started_at = 0;     // unix seconds; 0 = not started
  double finished_at = 0;    // unix seconds; 0 = not finished
  double run_seconds = 0;    // started -> finished
  bool cancel_requested = false;
  JobProgress progress;
  std::shared_ptr<const ImageResult> result;  // succeeded only
  std::optional<ApiError> error;              // failed and cancelled
};

class Job {
 public:
  // `origin` names the API that made it ("jobs", "openai", "a1111"): logs and A1111's interrupt.
  // `image_previews`: the provider sends image previews (ImageProgress::preview, TAESD); they
  // replace the latent projection.
  Job(std::string id, ImageRequest request, std::string origin, double preview_interval_s,
      bool image_previews = false);

  const std::string& id() const { return id_; }
  // The request; once the job has finished, its input images keep their size but not their pixels.
  const ImageRequest& request() const { return request_; }
  const std::string& origin() const { return origin_; }
  const CancelToken* cancel_token() const { return &cancel_; }

  JobSnapshot Snapshot() const;
  // Events with seq > after_seq; waits up to `wait` when there are none yet. Empty when none.
  std::vector<JobEvent> EventsAfter(uint64_t after_seq, std::chrono::milliseconds wait) const;
  // True once finished; waits up to `wait`.
  bool WaitFinished(std::chrono::milliseconds wait) const;

  // Transitions, made by the JobQueue.
  void SetQueuePosition(int position, int queue_length);
  void MarkStarted();
  void RecordProgress(const ImageProgress& p);
  void Finish(const Result<ImageResult>& result);  // succeeded, failed, or cancelled (a Cancelled status)
  void RequestCancel();                             // raises the token; the worker then finishes it

 private:
  void PostLocked(std::string name, std::string data);  // mu_ held
  void FinishLocked(JobState state, std::shared_ptr<const ImageResult> result, std::optional<ApiError> error);

  const std::string id_;
  ImageRequest request_;  // only the input images' pixels change (released on Finish)
  const std::string origin_;
  const double preview_interval_s_;
  const bool image_previews_;
  CancelToken cancel_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  JobSnapshot s_;
  std::chrono::steady_clock::time_point started_{};
  std::chrono::steady_clock::time_point last_preview_{};
  std::vector<JobEvent> events_;
  uint64_t next_seq_ = 1;
};

// "job_" + 24 random hex digits (96 bits from the OS): unguessable, so a job's id (and its image
// URLs) can be handed out as a capability.
std::string NewJobId();

// Wall-clock unix seconds (fractional).
double UnixNow();

}  // namespace sdr
