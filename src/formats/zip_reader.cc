#include "formats/zip_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>

namespace sdr {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint64_t kEocdSize = 22;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kZip64EocdMinSize = 56;
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kMaxCommentLen = 0xffff;
constexpr uint16_t kZip64ExtraId = 0x0001;

uint16_t Le16(const std::byte* p) {
  return static_cast<uint16_t>(std::to_integer<uint16_t>(p[0]) |
                               (std::to_integer<uint16_t>(p[1]) << 8));
}
uint32_t Le32(const std::byte* p) {
  return static_cast<uint32_t>(Le16(p)) | (static_cast<uint32_t>(Le16(p + 2)) << 16);
}
uint64_t Le64(const std::byte* p) {
  return static_cast<uint64_t>(Le32(p)) | (static_cast<uint64_t>(Le32(p + 4)) << 32);
}

// a + b, or nullopt on overflow.
std::optional<uint64_t> Add(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

struct Eocd {
  uint64_t record_start = 0;  // where the central directory region must end
  uint64_t entry_count = 0;
  uint64_t cd_size = 0;
  uint64_t cd_offset = 0;
};

class Parser {
 public:
  explicit Parser(const MappedFile& f) : f_(f), base_(f.data()), size_(f.size()) {}

  Status Corrupt(const std::string& what) const {
    return CorruptData("zip '" + f_.path() + "': " + what);
  }

  Result<Eocd> FindEocd() const {
    if (size_ < kEocdSize) {
      return Corrupt("file is " + std::to_string(size_) +
                     " bytes, too small for an end-of-central-directory record");
    }
    // The EOCD is the last 22 bytes plus a comment of up to 64 KiB; scan backwards.
    const uint64_t lowest = size_ > kEocdSize + kMaxCommentLen ? size_ - kEocdSize - kMaxCommentLen : 0;
    std::optional<uint64_t> found;
    for (uint64_t p = size_ - kEocdSize + 1; p-- > lowest;) {
      if (Le32(base_ + p) != kEocdSig) continue;
      const uint64_t comment_len = Le16(base_ + p + 20);
      if (p + kEocdSize + comment_len <= size_) {
        found = p;
        break;
      }
    }
    if (!found) return Corrupt("no end-of-central-directory record (not a zip archive?)");
    const std::byte* e = base_ + *found;
    const uint16_t disk = Le16(e + 4);
    const uint16_t cd_disk = Le16(e + 6);
    const uint16_t disk_entries = Le16(e + 8);
    Eocd eocd;
    eocd.record_start = *found;
    eocd.entry_count = Le16(e + 10);
    eocd.cd_size = Le32(e + 12);
    eocd.cd_offset = Le32(e + 16);

    const bool has_locator =
        *found >= kZip64LocatorSize && Le32(base_ + *found - kZip64LocatorSize) == kZip64LocatorSig;
    if (has_locator) {
      const std::byte* loc = base_ + *found - kZip64LocatorSize;
      const uint32_t z64_disk = Le32(loc + 4);
      const uint64_t z64_offset = Le64(loc + 8);
      const uint32_t total_disks = Le32(loc + 16);
      if (z64_disk != 0 || total_disks > 1) {
        return Unsupported("zip '" + f_.path() + "': multi-disk archives are not supported");
      }
      const uint64_t locator_start = *found - kZip64LocatorSize;
      if (z64_offset > locator_start || locator_start - z64_offset < kZip64EocdMinSize) {
        return Corrupt("ZIP64 end-of-central-directory offset " + std::to_string(z64_offset) +
                       " is out of range (locator at " + std::to_string(locator_start) + ")");
      }
      const std::byte* z = base_ + z64_offset;
      if (Le32(z) != kZip64EocdSig) {
        return Corrupt("no ZIP64 end-of-central-directory record at offset " +
                       std::to_string(z64_offset));
      }
      if (Le32(z + 16) != 0 || Le32(z + 20) != 0) {
        return Unsupported("zip '" + f_.path() + "': multi-disk archives are not supported");
      }
      const uint64_t this_disk_entries = Le64(z + 24);
      eocd.entry_count = Le64(z + 32);
      eocd.cd_size = Le64(z + 40);
      eocd.cd_offset = Le64(z + 48);
      eocd.record_start = z64_offset;
      if (this_disk_entries != eocd.entry_count) {
        return Unsupported("zip '" + f_.path() + "': multi-disk archives are not supported");
      }
    } else {
      if (disk != 0 || cd_disk != 0 || disk_entries != eocd.entry_count) {
        return Unsupported("zip '" + f_.path() + "': multi-disk archives are not supported");
      }
    }
    const auto cd_end = Add(eocd.cd_offset, eocd.cd_size);
    if (!cd_end || *cd_end > eocd.record_start) {
      return Corrupt("central directory (offset " + std::to_string(eocd.cd_offset) + ", " +
                     std::to_string(eocd.cd_size) + " bytes) does not end before the " +
                     "end-of-central-directory record at " + std::to_string(eocd.record_start));
    }
    if (eocd.entry_count > eocd.cd_size / kCentralHeaderSize) {
      return Corrupt(std::to_string(eocd.entry_count) + " entries cannot fit in a " +
                     std::to_string(eocd.cd_size) + "-byte central directory");
    }
    return eocd;
  }

  // Parses the central directory entry at `*pos` (inside [.., cd_end)), advancing `*pos`.
  Result<ZipEntry> ParseCentral(uint64_t* pos, uint64_t cd_end, const Eocd& eocd) const {
    const uint64_t p = *pos;
    if (cd_end - p < kCentralHeaderSize) {
      return Corrupt("central directory entry at " + std::to_string(p) + " is truncated");
    }
    const std::byte* h = base_ + p;
    if (Le32(h) != kCentralHeaderSig) {
      return Corrupt("bad central directory signature " + Hex(Le32(h)) + " at offset " +
                     std::to_string(p));
    }
    ZipEntry e;
    e.flags = Le16(h + 8);
    e.method = Le16(h + 10);
    e.crc32 = Le32(h + 16);
    e.compressed_size = Le32(h + 20);
    e.uncompressed_size = Le32(h + 24);
    const uint64_t name_len = Le16(h + 28);
    const uint64_t extra_len = Le16(h + 30);
    const uint64_t comment_len = Le16(h + 32);
    uint32_t disk_start = Le16(h + 34);
    e.local_header_offset = Le32(h + 42);
    const uint64_t total = kCentralHeaderSize + name_len + extra_len + comment_len;
    if (cd_end - p < total) {
      return Corrupt("central directory entry at " + std::to_string(p) +
                     " runs past the end of the directory");
    }
    e.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);

    // ZIP64 extended information: the 8-byte values replace the saturated 32-bit ones, in
    // the fixed order usize, csize, offset, disk.
    const std::byte* x = h + kCentralHeaderSize + name_len;
    uint64_t xi = 0;
    while (extra_len - xi >= 4) {
      const uint16_t id = Le16(x + xi);
      const uint64_t len = Le16(x + xi + 2);
      xi += 4;
      if (len > extra_len - xi) {
        return Corrupt("entry '" + e.name + "': extra field runs past its end");
      }
      if (id == kZip64ExtraId) {
        const std::byte* z = x + xi;
        uint64_t zi = 0;
        auto take64 = [&](uint64_t* v) -> bool {
          if (len - zi < 8) return false;
          *v = Le64(z + zi);
          zi += 8;
          return true;
        };
        if (e.uncompressed_size == 0xffffffffu && !take64(&e.uncompressed_size)) {
          return Corrupt("entry '" + e.name + "': ZIP64 extra field is too short");
        }
        if (e.compressed_size == 0xffffffffu && !take64(&e.compressed_size)) {
          return Corrupt("entry '" + e.name + "': ZIP64 extra field is too short");
        }
        if (e.local_header_offset == 0xffffffffu && !take64(&e.local_header_offset)) {
          return Corrupt("entry '" + e.name + "': ZIP64 extra field is too short");
        }
        if (disk_start == 0xffff) {
          if (len - zi < 4) return Corrupt("entry '" + e.name + "': ZIP64 extra field is too short");
          disk_start = Le32(z + zi);
        }
      }
      xi += len;
    }
    if (disk_start != 0) {
      return Unsupported("zip '" + f_.path() + "': entry '" + e.name +
                         "' is on another disk (multi-disk archives are not supported)");
    }
    *pos = p + total;
    SDR_RETURN_IF_ERROR(ValidateLocal(&e, eocd));
    return e;
  }

  // Checks the local header of `e` and sets e->data_offset.
  Status ValidateLocal(ZipEntry* e, const Eocd& eocd) const {
    const std::string who = "entry '" + e->name + "'";
    if ((e->flags & 0x1) != 0 || (e->flags & 0x40) != 0) {
      return Unsupported("zip '" + f_.path() + "': " + who + " is encrypted");
    }
    if (e->method != 0 && e->method != 8) {
      return Unsupported("zip '" + f_.path() + "': " + who + " uses compression method " +
                         std::to_string(e->method) + " (only stored and deflate are supported)");
    }
    if (e->method == 0 && e->compressed_size != e->uncompressed_size) {
      return Corrupt(who + " is stored but its sizes differ (" +
                     std::to_string(e->compressed_size) + " vs " +
                     std::to_string(e->uncompressed_size) + ")");
    }
    // Local headers precede the central directory.
    const auto header_end = Add(e->local_header_offset, kLocalHeaderSize);
    if (!header_end || *header_end > eocd.cd_offset) {
      return Corrupt(who + ": local header offset " + std::to_string(e->local_header_offset) +
                     " is past the central directory at " + std::to_string(eocd.cd_offset));
    }
    const std::byte* l = base_ + e->local_header_offset;
    if (Le32(l) != kLocalHeaderSig) {
      return Corrupt(who + ": bad local header signature " + Hex(Le32(l)) + " at offset " +
                     std::to_string(e->local_header_offset));
    }
    const uint16_t local_method = Le16(l + 8);
    const uint64_t name_len = Le16(l + 26);
    const uint64_t extra_len = Le16(l + 28);
    const uint64_t data_offset = *header_end + name_len + extra_len;
    if (data_offset > eocd.cd_offset) {
      return Corrupt(who + ": local header at " + std::to_string(e->local_header_offset) +
                     " runs into the central directory");
    }
    const std::string_view local_name(reinterpret_cast<const char*>(l + kLocalHeaderSize), name_len);
    if (local_name != e->name) {
      return Corrupt(who + ": local header names it '" + std::string(local_name) +
                     "' (central directory and local header disagree)");
    }
    if (local_method != e->method) {
      return Corrupt(who + ": local header says method " + std::to_string(local_method) +
                     ", central directory says " + std::to_string(e->method));
    }
    const auto data_end = Add(data_offset, e->compressed_size);
    if (!data_end || *data_end > eocd.cd_offset) {
      return Corrupt(who + ": " + std::to_string(e->compressed_size) + " bytes at offset " +
                     std::to_string(data_offset) + " run past the central directory at " +
                     std::to_string(eocd.cd_offset) + " (file is " + std::to_string(size_) +
                     " bytes)");
    }
    e->data_offset = data_offset;
    return Status::Ok();
  }

 private:
  const MappedFile& f_;
  const std::byte* base_;
  uint64_t size_;
};

}  // namespace

Result<ZipReader> ZipReader::Open(std::shared_ptr<const MappedFile> file) {
  SDR_CHECK(file != nullptr);
  Parser parser(*file);
  SDR_ASSIGN_OR_RETURN(Eocd eocd, parser.FindEocd());
  ZipReader reader;
  reader.file_ = std::move(file);
  reader.entries_.reserve(static_cast<size_t>(eocd.entry_count));
  uint64_t pos = eocd.cd_offset;
  const uint64_t cd_end = eocd.cd_offset + eocd.cd_size;  // checked by FindEocd
  for (uint64_t i = 0; i < eocd.entry_count; ++i) {
    SDR_ASSIGN_OR_RETURN(ZipEntry e, parser.ParseCentral(&pos, cd_end, eocd));
    if (!reader.by_name_.emplace(e.name, reader.entries_.size()).second) {
      return parser.Corrupt("entry '" + e.name + "' appears twice");
    }
    reader.entries_.push_back(std::move(e));
  }
  return reader;
}

const ZipEntry* ZipReader::Find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

Result<ZipBytes> ZipReader::Read(const ZipEntry& entry) const {
  const std::string who = "zip '" + path() + "': entry '" + entry.name + "'";
  ZipBytes out;
  const std::byte* src = file_->data() + entry.data_offset;
  if (entry.method == 0) {
    out.data = src;
    out.size = entry.uncompressed_size;
    out.keepalive = file_;
    return out;
  }
  SDR_CHECK(entry.method == 8);  // Open() refuses other methods

  const uint64_t ratio_cap = file_->size() > kMaxInflatedBytes / kMaxInflateRatio
                                 ? kMaxInflatedBytes
                                 : file_->size() * kMaxInflateRatio;
  const uint64_t cap = std::min(kMaxInflatedBytes, ratio_cap);
  if (entry.uncompressed_size > cap || entry.uncompressed_size > SIZE_MAX / 2) {
    return CorruptData(who + " declares " + std::to_string(entry.uncompressed_size) +
                       " uncompressed bytes from " + std::to_string(entry.compressed_size) +
                       ", more than the " + std::to_string(cap) + "-byte limit (zip bomb?)");
  }
  const uint64_t declared = entry.uncompressed_size;

  // Grow the output as data actually arrives, so a lying header cannot make us allocate.
  auto buffer = std::make_shared<std::vector<std::byte>>();
  const uint64_t first = std::min<uint64_t>(
      declared, std::max<uint64_t>(uint64_t{1} << 16, entry.compressed_size * 4));
  buffer->resize(static_cast<size_t>(first));

  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return InternalError(who + ": inflateInit2 failed");
  struct Ender {
    z_stream* s;
    ~Ender() { inflateEnd(s); }
  } ender{&zs};

  constexpr uint64_t kChunk = uint64_t{1} << 30;  // zlib counts in 32-bit uInt
  uint64_t in_left = entry.compressed_size;
  uint64_t produced = 0;
  bool ended = false;
  while (!ended) {
    if (zs.avail_in == 0 && in_left > 0) {
      const uint64_t n = std::min(in_left, kChunk);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(src));
      zs.avail_in = static_cast<uInt>(n);
      src += n;
      in_left -= n;
    }
    if (produced == buffer->size()) {
      if (produced == declared) {
        // Full: the stream must end without another byte of output.
        Bytef extra;
        zs.next_out = &extra;
        zs.avail_out = 1;
        const int rc = inflate(&zs, Z_NO_FLUSH);
        if (zs.avail_out == 0) {
          return CorruptData(who + " inflates to more than its declared " +
                             std::to_string(declared) + " bytes");
        }
        if (rc == Z_STREAM_END) break;
        if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) {
          return CorruptData(who + ": deflate stream is truncated");
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
          return CorruptData(who + ": bad deflate data (" + std::string(zs.msg ? zs.msg : "?") + ")");
        }
        continue;
      }
      buffer->resize(static_cast<size_t>(std::min(declared, produced * 2)));
    }
    const uint64_t room = std::min<uint64_t>(buffer->size() - produced, kChunk);
    zs.next_out = reinterpret_cast<Bytef*>(buffer->data() + produced);
    zs.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (rc == Z_STREAM_END) {
      ended = true;
    } else if (rc == Z_BUF_ERROR) {
      if (zs.avail_in == 0 && in_left == 0) {
        return CorruptData(who + ": deflate stream is truncated after " +
                           std::to_string(produced) + " bytes");
      }
    } else if (rc != Z_OK) {
      return CorruptData(who + ": bad deflate data (" + std::string(zs.msg ? zs.msg : "?") + ")");
    }
  }
  if (produced != declared) {
    return CorruptData(who + " inflates to " + std::to_string(produced) +
                       " bytes, but its header declares " + std::to_string(declared));
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for (uint64_t off = 0; off < produced;) {
    const uint64_t n = std::min(produced - off, kChunk);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buffer->data() + off), static_cast<uInt>(n));
    off += n;
  }
  if (static_cast<uint32_t>(crc) != entry.crc32) {
    return CorruptData(who + ": CRC-32 mismatch (" + Hex(crc) + " vs " + Hex(entry.crc32) + ")");
  }
  out.data = buffer->data();
  out.size = produced;
  out.owned = true;
  out.keepalive = std::shared_ptr<const void>(buffer, buffer->data());
  return out;
}

}  // namespace sdr
