// JobQueue (src/server/job_queue.h) over a scripted provider: capacity and queue_full, queue
// positions, cancellation of queued and running jobs, results kept for a bounded time and count
// (then gone, later not_found), the event history, and Shutdown's grace period.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "runtime/errors.h"
#include "server/job_queue.h"

namespace sdr {
namespace {

using namespace std::chrono_literals;

// Runs `steps` steps of `step_ms` each (reporting progress), honouring cancellation; returns
// one fake image per n.
class ScriptedProvider final : public Provider {
 public:
  explicit ScriptedProvider(int step_ms) : step_ms_(step_ms) {
    caps_.max_n = 8;
    caps_.engine_settings = true;
    caps_.max_steps = 1000;
    caps_.default_size = {64, 64};
  }
  std::string_view name() const override { return "scripted"; }
  const ProviderCapabilities& capabilities() const override { return caps_; }
  Status Ready() const override { return Status::Ok(); }
  Result<ImageResult> Generate(const ImageRequest& request, const ImageProgressFn& progress, const CancelToken* cancel,
                               double) override {
    const int steps = request.steps > 0 ? request.steps : 4;
    for (int image = 0; image < request.n; ++image) {
      for (int step = 1; step <= steps; ++step) {
        std::this_thread::sleep_for(std::chrono::milliseconds(step_ms_));
        if ((cancel != nullptr && cancel->cancelled()) || (progress && !progress({image, step, steps, 0, {}}))) {
          return WithErrorCode(Cancelled("scripted: cancelled at step " + std::to_string(step)), ErrorCode::kCancelled);
        }
      }
    }
    ImageResult r;
    r.provider = "scripted";
    for (int i = 0; i < request.n; ++i) r.images.push_back({"png" + std::to_string(i), 64, 64, i, "", ""});
    return r;
  }

 private:
  ProviderCapabilities caps_;
  const int step_ms_;
};

std::unique_ptr<Generator> MakeGenerator(int step_ms, int slots) {
  GeneratorOptions o;
  o.max_concurrent = slots;
  auto g = Generator::Create(std::make_unique<ScriptedProvider>(step_ms), o);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return std::move(*g);
}

ImageRequest Request(int steps) {
  ImageRequest r;
  r.prompt = "x";
  r.steps = steps;
  r.width = r.height = 64;
  return r;
}

bool WaitState(const Job& job, JobState state, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (job.Snapshot().state == state) return true;
    std::this_thread::sleep_for(2ms);
  }
  return job.Snapshot().state == state;
}

TEST(ServerJobQueueTest, CapacityIsSlotsPlusQueueThenQueueFull) {
  auto gen = MakeGenerator(/*step_ms=*/20, /*slots=*/1);
  JobQueue q(*gen, {.max_queue = 2});
  auto a = q.Submit(Request(1000), "jobs");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(WaitState(**a, JobState::kRunning));
  auto b = q.Submit(Request(1000), "jobs");
  auto c = q.Submit(Request(1000), "jobs");
  ASSERT_TRUE(b.ok() && c.ok());
  EXPECT_EQ((*b)->Snapshot().queue_position, 1);
  EXPECT_EQ((*c)->Snapshot().queue_position, 2);
  auto d = q.Submit(Request(1), "jobs");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(ClassifyError(d.status()), ErrorCode::kQueueFull);
  EXPECT_EQ(HttpStatus(ErrorCode::kQueueFull), 429);
  EXPECT_GE(q.RetryAfterSeconds(), 1);
  EXPECT_EQ(q.queued(), 2);
  EXPECT_EQ(q.running(), 1);

  // Cancelling the first queued job moves the other up; cancelling the running one frees the slot.
  q.Cancel(*b);
  EXPECT_EQ((*b)->Snapshot().state, JobState::kCancelled);
  EXPECT_EQ((*c)->Snapshot().queue_position, 1);
  ASSERT_TRUE(q.Cancel((*a)->id()).ok());
  ASSERT_TRUE(WaitState(**a, JobState::kCancelled));
  EXPECT_EQ((*a)->Snapshot().error->code, ErrorCode::kCancelled);
  ASSERT_TRUE(WaitState(**c, JobState::kRunning));
  q.Cancel(*c);
  ASSERT_TRUE(WaitState(**c, JobState::kCancelled));
}

TEST(ServerJobQueueTest, EventsTellTheWholeStoryInOrder) {
  auto gen = MakeGenerator(/*step_ms=*/5, /*slots=*/1);
  JobQueue q(*gen, {.max_queue = 4});
  auto job = q.Submit(Request(6), "jobs");
  ASSERT_TRUE(job.ok());
  ASSERT_TRUE((*job)->WaitFinished(5s));
  const auto events = (*job)->EventsAfter(0, 0ms);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().name, "queued");
  EXPECT_EQ(events.back().name, "completed");
  uint64_t seq = 0;
  bool started = false;
  for (const JobEvent& e : events) {
    EXPECT_GT(e.seq, seq);
    seq = e.seq;
    started = started || e.name == "started";
  }
  EXPECT_TRUE(started);
  const JobSnapshot s = (*job)->Snapshot();
  EXPECT_EQ(s.state, JobState::kSucceeded);
  ASSERT_NE(s.result, nullptr);
  EXPECT_EQ(s.progress.steps_done, 6);
  EXPECT_DOUBLE_EQ(s.progress.fraction, 1.0);
  // Nothing follows the end: a reader asking for more waits and gets nothing.
  EXPECT_TRUE((*job)->EventsAfter(seq, 20ms).empty());
}

TEST(ServerJobQueueTest, ResultsAreKeptForABoundedCountAndTimeThenGone) {
  auto gen = MakeGenerator(/*step_ms=*/1, /*slots=*/1);
  JobQueue q(*gen, {.max_queue = 4, .result_ttl_s = 600, .max_results = 2});
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto job = q.Submit(Request(1), "jobs");
    ASSERT_TRUE(job.ok());
    ASSERT_TRUE((*job)->WaitFinished(5s));
    ids.push_back((*job)->id());
  }
  // A job is finished for its waiters just before the queue files it among the kept results.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (q.running() > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(q.running(), 0);
  auto oldest = q.Find(ids[0]);
  ASSERT_FALSE(oldest.ok());
  EXPECT_EQ(ClassifyError(oldest.status()), ErrorCode::kGone);
  EXPECT_EQ(HttpStatus(ErrorCode::kGone), 410);
  EXPECT_TRUE(q.Find(ids[1]).ok());
  EXPECT_TRUE(q.Find(ids[2]).ok());
  EXPECT_EQ(ClassifyError(q.Find("job_nope").status()), ErrorCode::kNotFound);

  JobQueue short_lived(*gen, {.max_queue = 4, .result_ttl_s = 0.05, .max_results = 64});
  auto job = short_lived.Submit(Request(1), "jobs");
  ASSERT_TRUE(job.ok());
  ASSERT_TRUE((*job)->WaitFinished(5s));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(ClassifyError(short_lived.Find((*job)->id()).status()), ErrorCode::kGone);
}

TEST(ServerJobQueueTest, ShutdownCancelsTheQueuedAndLetsTheRunningFinishWithinGrace) {
  auto gen = MakeGenerator(/*step_ms=*/10, /*slots=*/1);
  JobQueue q(*gen, {.max_queue = 4});
  auto running = q.Submit(Request(20), "jobs");  // ~200 ms
  ASSERT_TRUE(running.ok());
  ASSERT_TRUE(WaitState(**running, JobState::kRunning));
  auto queued = q.Submit(Request(20), "jobs");
  ASSERT_TRUE(queued.ok());
  q.Shutdown(/*grace_s=*/10);
  EXPECT_EQ((*running)->Snapshot().state, JobState::kSucceeded);
  EXPECT_EQ((*queued)->Snapshot().state, JobState::kCancelled);
  auto late = q.Submit(Request(1), "jobs");
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(ClassifyError(late.status()), ErrorCode::kUnavailable);

  // With no grace, what runs is cancelled.
  JobQueue q2(*gen, {.max_queue = 4});
  auto long_job = q2.Submit(Request(1000), "jobs");  // 10 s: the most steps the provider takes
  ASSERT_TRUE(long_job.ok());
  ASSERT_TRUE(WaitState(**long_job, JobState::kRunning));
  const auto t0 = std::chrono::steady_clock::now();
  q2.Shutdown(/*grace_s=*/0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ((*long_job)->Snapshot().state, JobState::kCancelled);
}

}  // namespace
}  // namespace sdr
