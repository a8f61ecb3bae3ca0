#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <new>
#include <sstream>

namespace sdr {
namespace {

constexpr size_t kCopyAlign = 64;  // FromBytes copies, like Tensor storage (a mapping is page aligned)

// The live read-only file mappings [begin, end), so that ReleaseMappedPages touches nothing else
// (MADV_DONTNEED on heap memory, e.g. a FromBytes copy, would zero it).
std::mutex& MapsMutex() {
  static std::mutex mu;
  return mu;
}
std::map<uintptr_t, uintptr_t>& Maps() {
  static std::map<uintptr_t, uintptr_t> maps;
  return maps;
}

Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  std::string msg = what + " '" + path + "': " + std::strerror(err);
  if (err == ENOENT) return NotFound(msg);
  return IoError(msg);
}

}  // namespace

Result<std::shared_ptr<const MappedFile>> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus("cannot stat", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return IoError("not a regular file: '" + path + "'");
  }
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  f->size_ = static_cast<uint64_t>(st.st_size);
  if (f->size_ > 0) {
    void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return ErrnoStatus("cannot mmap", path, err);
    }
    f->data_ = static_cast<const std::byte*>(p);
    std::lock_guard<std::mutex> lock(MapsMutex());
    Maps()[reinterpret_cast<uintptr_t>(p)] = reinterpret_cast<uintptr_t>(p) + f->size_;
  }
  ::close(fd);
  return std::shared_ptr<const MappedFile>(std::move(f));
}

Result<std::shared_ptr<const MappedFile>> MappedFile::FromBytes(std::string_view bytes, std::string name) {
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = std::move(name);
  f->size_ = bytes.size();
  if (!bytes.empty()) {
    // Exactly size bytes (no rounding), so that sanitizers catch any read past the end.
    void* p = ::operator new(bytes.size(), std::align_val_t{kCopyAlign}, std::nothrow);
    if (p == nullptr) {
      return OutOfMemory("cannot allocate " + std::to_string(bytes.size()) + " bytes for a copy of '" +
                         f->path_ + "'");
    }
    std::memcpy(p, bytes.data(), bytes.size());
    f->data_ = static_cast<const std::byte*>(p);
    f->owned_ = true;
  }
  return std::shared_ptr<const MappedFile>(std::move(f));
}

MappedFile::~MappedFile() {
  if (data_ == nullptr) return;
  if (owned_) {
    ::operator delete(const_cast<std::byte*>(data_), std::align_val_t{kCopyAlign});
  } else {
    {
      std::lock_guard<std::mutex> lock(MapsMutex());
      Maps().erase(reinterpret_cast<uintptr_t>(data_));
    }
    ::munmap(const_cast<std::byte*>(data_), size_);
  }
}

void ReleaseMappedPages(const void* p, size_t n) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(p);
  const uintptr_t first = (begin + page - 1) / page * page, last = (begin + n) / page * page;
  if (last <= first) return;
  std::lock_guard<std::mutex> lock(MapsMutex());
  auto it = Maps().upper_bound(begin);  // the mapping starting at or before `begin` precedes it
  if (it == Maps().begin()) return;
  --it;
  if (begin + n > it->second) return;  // not (wholly) inside a file mapping: heap memory, leave it
  ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

Result<std::string> ReadSmallFile(const std::string& path, uint64_t max_bytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return IoError("not a regular file: '" + path + "'");
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return InvalidArgument("file '" + path + "' is " + std::to_string(st.st_size) +
                           " bytes, more than the " + std::to_string(max_bytes) + " expected");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus("cannot open", path, errno);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return IoError("cannot read '" + path + "'");
  return ss.str();
}

}  // namespace sdr
