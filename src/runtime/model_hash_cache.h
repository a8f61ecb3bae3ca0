// A1111's short model hash (first 10 hex digits of the file's SHA-256) is expensive for
// multi-GB checkpoints, so it is cached per (path, size, mtime) in
// $XDG_CACHE_HOME/sdruntime/model_hashes.txt (default ~/.cache/...). A cache that cannot be
// read or written is simply not used.
#pragma once

#include <future>
#include <string>

#include "core/result.h"

namespace sdr {

// Folders (diffusers) have no single-file hash: returns "".
Result<std::string> CachedModelHash(const std::string& path);

// CachedModelHash on a thread of its own, started now, so that hashing overlaps loading and
// sampling instead of delaying them; get() waits only if the hash is still running when the
// image is written. Dropping the future never blocks (the thread is detached).
std::shared_future<Result<std::string>> CachedModelHashAsync(const std::string& path);

}  // namespace sdr
