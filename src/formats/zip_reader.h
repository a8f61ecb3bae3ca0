// ZipReader: a read-only parser for the ZIP archives torch.save writes (and any other plain,
// single-disk ZIP): the end-of-central-directory record (EOCD, plus the ZIP64 EOCD and its
// locator when present), the central directory, and each entry's local header.
//
//   [local header 30 B + name + extra][data] ... [central directory entries] [ZIP64 EOCD]
//   [ZIP64 locator] [EOCD 22 B + comment]
//
// Sizes and CRCs come from the central directory (torch sets the "data descriptor" flag, so its
// local headers carry zeros). Every offset and length is checked against the file before use:
// Open() validates all entries (local header signature, name equal to the central name, data
// inside the file before the central directory), so later reads cannot run out of bounds.
//
// Reading an entry: a stored (method 0) entry is a zero-copy span into the MappedFile; a
// deflated (method 8) entry is inflated with zlib into owned memory, refusing entries whose
// declared size exceeds min(file size * 1000, 8 GiB) (zip-bomb-like), never producing more than
// the declared size and checking the CRC-32. Encrypted entries, other methods and multi-disk
// archives are Unsupported.
//
// Ownership: a ZipReader shares the MappedFile; ZipBytes keep their storage alive through
// `keepalive` (the MappedFile or the inflated buffer).
// Thread-safety: immutable after Open; Read() may be called from several threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/mapped_file.h"
#include "core/result.h"

namespace sdr {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;            // 0 stored, 8 deflated
  uint16_t flags = 0;             // general-purpose bit flags
  uint32_t crc32 = 0;             // of the uncompressed bytes
  uint64_t compressed_size = 0;   // bytes in the file
  uint64_t uncompressed_size = 0; // declared size after inflating
  uint64_t local_header_offset = 0;
  uint64_t data_offset = 0;       // first data byte (validated: data lies inside the file)
};

// The bytes of one entry. Valid while `keepalive` (or a copy of it) lives.
struct ZipBytes {
  const std::byte* data = nullptr;
  uint64_t size = 0;
  std::shared_ptr<const void> keepalive;
  bool owned = false;  // true when inflated into our own buffer

  std::string_view view() const {
    return {reinterpret_cast<const char*>(data), static_cast<size_t>(size)};
  }
};

class ZipReader {
 public:
  // Hard cap on an inflated entry, whatever the file size.
  static constexpr uint64_t kMaxInflatedBytes = uint64_t{8} << 30;  // 8 GiB
  // ... and on the ratio of the declared uncompressed size to the whole file size.
  static constexpr uint64_t kMaxInflateRatio = 1000;

  // Parses the archive. CorruptData (naming the file and the bad record) when it is not a
  // well-formed ZIP; Unsupported for multi-disk archives.
  static Result<ZipReader> Open(std::shared_ptr<const MappedFile> file);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* Find(std::string_view name) const;  // nullptr when absent
  const std::string& path() const { return file_->path(); }
  uint64_t file_size() const { return file_->size(); }

  // The (uncompressed) bytes of `entry`, which must be one of entries().
  Result<ZipBytes> Read(const ZipEntry& entry) const;

 private:
  std::shared_ptr<const MappedFile> file_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> by_name_;
};

}  // namespace sdr
