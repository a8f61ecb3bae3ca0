#include "server/job.h"

#include <random>

#include "imagegen/base64.h"
#include "runtime/png_writer.h"
#include "server/job_json.h"
#include "server/latent_preview.h"

namespace sdr {
namespace {
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

std::string_view ToString(JobState state) {
  switch (state) {
    case JobState::kQueued: return "queued";
    case JobState::kRunning: return "running";
    case JobState::kSucceeded: return "succeeded";
    case JobState::kFailed: return "failed";
    case JobState::kCancelled: return "cancelled";
  }
  return "unknown";
}

bool IsFinished(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kFailed || state == JobState::kCancelled;
}

std::string NewJobId() {
  static std::mutex mu;
  static std::random_device device;  // the OS's generator; one reader at a time
  std::lock_guard<std::mutex> lock(mu);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "job_";
  for (int i = 0; i < 3; ++i) {
    uint32_t v = device();
    for (int k = 0; k < 8; ++k, v >>= 4) id += kHex[v & 0xf];
  }
  return id;
}

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Job::Job(std::string id, ImageRequest request, std::string origin, double preview_interval_s, bool image_previews)
    : id_(std::move(id)), request_(std::move(request)), origin_(std::move(origin)),
      preview_interval_s_(preview_interval_s), image_previews_(image_previews) {
  s_.created_at = UnixNow();
  s_.progress.n = request_.n;
}

JobSnapshot Job::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  JobSnapshot s = s_;
  if (s.state == JobState::kRunning) s.progress.elapsed_s = Seconds(Clock::now() - started_);
  return s;
}

std::vector<JobEvent> Job::EventsAfter(uint64_t after_seq, std::chrono::milliseconds wait) const {
  std::unique_lock<std::mutex> lock(mu_);
  const auto has_new = [&] { return !events_.empty() && events_.back().seq > after_seq; };
  if (!has_new()) cv_.wait_for(lock, wait, has_new);
  std::vector<JobEvent> out;
  for (const JobEvent& e : events_) {
    if (e.seq > after_seq) out.push_back(e);
  }
  return out;
}

bool Job::WaitFinished(std::chrono::milliseconds wait) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, wait, [&] { return IsFinished(s_.state); });
}

void Job::PostLocked(std::string name, std::string data) {
  // Coalesce: a new queued/step event replaces a last event of the same kind.
  if ((name == "step" || name == "queued") && !events_.empty() && events_.back().name == name) events_.pop_back();
  events_.push_back({next_seq_++, std::move(name), std::move(data)});
  cv_.notify_all();
}

void Job::SetQueuePosition(int position, int queue_length) {
  std::lock_guard<std::mutex> lock(mu_);
  if (s_.state != JobState::kQueued || s_.queue_position == position) return;
  s_.queue_position = position;
  PostLocked("queued", QueuedEventJson(id_, position, queue_length));
}

void Job::MarkStarted() {
  std::lock_guard<std::mutex> lock(mu_);
  if (s_.state != JobState::kQueued) return;
  s_.state = JobState::kRunning;
  s_.queue_position = 0;
  s_.started_at = UnixNow();
  started_ = Clock::now();
  PostLocked("started", StartedEventJson(id_, request_, s_));
}

void Job::RecordProgress(const ImageProgress& p) {
  const auto now = Clock::now();
  bool want_latent = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (s_.state != JobState::kRunning) return;
    want_latent = !image_previews_ && !p.latent.empty() && p.step < p.total_steps &&
                  (s_.progress.preview.empty() || Seconds(now - last_preview_) >= preview_interval_s_);
  }
  // Previews are made outside the lock (readers never wait for them); the latent and the TAESD
  // image are only valid during this call, which is where we are. A TAESD preview is always
  // taken: the provider already spaced them (SD_PREVIEW_EVERY) and paid for the decode.
  std::string preview;
  const char* kind = "";
  double cost_ms = 0;
  if (p.preview != nullptr && p.preview->valid()) {
    const auto t0 = Clock::now();
    auto png = EncodePng(p.preview->rgb.data(), p.preview->width, p.preview->height);
    if (png.ok()) {
      preview = "data:image/png;base64," + EncodeBase64(*png);
      kind = "taesd";
      cost_ms = p.preview_ms + Seconds(Clock::now() - t0) * 1000;
    }
  } else if (want_latent) {
    const auto t0 = Clock::now();
    auto uri = LatentPreviewDataUri(p.latent);
    if (uri.ok()) {
      preview = std::move(uri).value();
      kind = "latent";
      cost_ms = Seconds(Clock::now() - t0) * 1000;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (s_.state != JobState::kRunning) return;
  JobProgress& g = s_.progress;
  g.image = p.image;
  g.step = p.step;
  g.total_steps = p.total_steps;
  const int total = std::max(1, g.n * std::max(1, p.total_steps));
  g.steps_done = p.image * p.total_steps + p.step;
  g.fraction = std::min(1.0, static_cast<double>(g.steps_done) / total);
  g.elapsed_s = Seconds(now - started_);
  g.eta_s = g.fraction > 0 ? g.elapsed_s * (1 - g.fraction) / g.fraction : -1;
  const bool fresh_preview = !preview.empty();
  if (fresh_preview) {
    g.preview = std::move(preview);
    g.preview_kind = kind;
    g.preview_ms = cost_ms;
    g.preview_step = g.steps_done;
    last_preview_ = now;
  }
  PostLocked("step", StepEventJson(id_, g, fresh_preview));
}

void Job::FinishLocked(JobState state, std::shared_ptr<const ImageResult> result, std::optional<ApiError> error) {
  s_.state = state;
  s_.queue_position = 0;
  s_.finished_at = UnixNow();
  if (s_.started_at > 0) s_.run_seconds = Seconds(Clock::now() - started_);
  s_.result = std::move(result);
  s_.error = std::move(error);
  if (state == JobState::kSucceeded) {
    s_.progress.fraction = 1;
    s_.progress.eta_s = 0;
    PostLocked("completed", "");
  } else {
    PostLocked(std::string(ToString(state)), FinishedEventJson(id_, state, *s_.error));
  }
}

void Job::Finish(const Result<ImageResult>& result) {
  std::lock_guard<std::mutex> lock(mu_);
  if (IsFinished(s_.state)) return;
  // The input images are not needed any more; a kept result should not keep megabytes of them.
  std::vector<uint8_t>().swap(request_.init_image.rgb);
  std::vector<uint8_t>().swap(request_.mask.rgb);
  if (result.ok()) {
    FinishLocked(JobState::kSucceeded, std::make_shared<const ImageResult>(*result), std::nullopt);
    return;
  }
  ApiError error = ApiError::FromStatus(result.status());
  const JobState state = error.code == ErrorCode::kCancelled ? JobState::kCancelled : JobState::kFailed;
  FinishLocked(state, nullptr, std::move(error));
}

void Job::RequestCancel() {
  cancel_.Cancel();
  std::lock_guard<std::mutex> lock(mu_);
  s_.cancel_requested = true;
}

}  // namespace sdr
