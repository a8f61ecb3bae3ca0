// DeviceScratch: what one context owns on its model's backend — a stream to run ops on and the
// arena its activations live in. The arena's memory is reserved once per plan (grown only when a
// generation's plan needs more) and reused across steps, images and generations.
//
// Thread-safety: none; one context, one thread at a time.
#pragma once

#include <memory>

#include "backends/arena.h"
#include "backends/backend.h"
#include "backends/executor.h"

namespace sdr {

class DeviceScratch {
 public:
  // A stream on `backend`, no arena memory yet.
  static Result<std::unique_ptr<DeviceScratch>> Create(std::shared_ptr<Backend> backend);

  // Makes the arena hold at least `bytes`: keeps the current memory when it is large enough,
  // else frees it and allocates `bytes` (OutOfMemory from the backend naming needed vs available).
  Status Reserve(uint64_t bytes);

  Backend& backend() const { return *backend_; }
  Stream* stream() const { return stream_.get(); }
  Arena* arena() { return &arena_; }
  // The graphs recorded on the stream (Executor::Captured), kept across generations.
  CaptureCache* captures() { return &captures_; }
  uint64_t reserved() const { return memory_ != nullptr ? arena_.capacity() : 0; }

 private:
  DeviceScratch() = default;
  std::shared_ptr<Backend> backend_;
  std::unique_ptr<Stream> stream_;
  std::shared_ptr<void> memory_;
  Arena arena_{0, nullptr};
  CaptureCache captures_;
};

}  // namespace sdr
