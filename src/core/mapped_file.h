// MappedFile: a whole file mapped read-only into memory (zero-copy weights). The mapping lives
// as long as the last shared_ptr to it; tensors borrowed from it hold such a pointer.
// FromBytes gives the same read-only view over a private copy of bytes already in memory (the
// readers' in-memory entry: fuzzers, tests), so every reader works on either.
//
// Thread-safety: immutable after Open / FromBytes; safe to share across threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sdr {

class MappedFile {
 public:
  // NotFound when the path does not exist; IoError when it cannot be opened or mapped.
  static Result<std::shared_ptr<const MappedFile>> Open(const std::string& path);
  // A copy of `bytes` in owned memory (64-byte aligned, exactly bytes.size() long), named
  // `name` in place of a path. OutOfMemory when the copy cannot be allocated.
  static Result<std::shared_ptr<const MappedFile>> FromBytes(std::string_view bytes, std::string name);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  const std::byte* data_ = nullptr;  // nullptr for an empty file
  uint64_t size_ = 0;
  bool owned_ = false;  // data_ is our heap copy (FromBytes), not a mapping
};

// Tells the kernel the whole pages inside [p, p + n) of a read-only file mapping (a live
// MappedFile::Open) are not needed now: it drops them from this process's memory (they are
// re-read on demand). No-op for any other memory (FromBytes copies, heap, a range that is not
// wholly inside one mapping).
void ReleaseMappedPages(const void* p, size_t n);

// Reads a whole (small) file into a string; NotFound / IoError on failure. Refuses files larger
// than `max_bytes` (InvalidArgument) so that a wrong path cannot exhaust memory.
Result<std::string> ReadSmallFile(const std::string& path, uint64_t max_bytes = 64u << 20);

}  // namespace sdr
