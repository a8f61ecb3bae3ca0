#include "runtime/device_scratch.h"

namespace sdr {

Result<std::unique_ptr<DeviceScratch>> DeviceScratch::Create(std::shared_ptr<Backend> backend) {
  auto s = std::unique_ptr<DeviceScratch>(new DeviceScratch());
  SDR_ASSIGN_OR_RETURN(s->stream_, backend->CreateStream());
  s->backend_ = std::move(backend);
  return s;
}

Status DeviceScratch::Reserve(uint64_t bytes) {
  if (memory_ != nullptr && arena_.capacity() >= bytes) return Status::Ok();
  arena_.Reset(0, nullptr);
  memory_.reset();  // give the old block back before asking for the larger one
  SDR_ASSIGN_OR_RETURN(memory_, backend_->AllocateMemory(bytes));
  arena_.Reset(bytes, memory_.get());
  return Status::Ok();
}

}  // namespace sdr
