// WriteCkpt: a torch.save-compatible archive, byte-for-byte in the shape torch writes it:
//   archive/data.pkl    protocol-2 pickle: [{"state_dict": ] OrderedDict(name -> tensor) [}]
//   archive/byteorder   "little"
//   archive/data/<i>    the bytes of tensor i (one storage per tensor)
//   archive/version     "3\n"
// The zip is uncompressed ("stored") and each entry's data starts on a 64-byte boundary (the
// local header's extra field carries "FB" padding, as torch's writer does), so readers can
// mmap tensors in place. ZIP64 records are added only when sizes, offsets or the entry count
// need them.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "formats/ckpt.h"

namespace sdr {
namespace {

constexpr uint64_t kAlignment = 64;
constexpr uint64_t kMax32 = 0xffffffffu;

const char* StorageClass(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "FloatStorage";
    case DType::kF16: return "HalfStorage";
    case DType::kBF16: return "BFloat16Storage";
    case DType::kF64: return "DoubleStorage";
    case DType::kI64: return "LongStorage";
    case DType::kI32: return "IntStorage";
    case DType::kI16: return "ShortStorage";
    case DType::kI8: return "CharStorage";
    case DType::kU8: return "ByteStorage";
    case DType::kBool: return "BoolStorage";
    default: return nullptr;
  }
}

void Put16(std::string* s, uint16_t v) {
  s->push_back(static_cast<char>(v & 0xff));
  s->push_back(static_cast<char>(v >> 8));
}
void Put32(std::string* s, uint32_t v) {
  Put16(s, static_cast<uint16_t>(v & 0xffff));
  Put16(s, static_cast<uint16_t>(v >> 16));
}
void Put64(std::string* s, uint64_t v) {
  Put32(s, static_cast<uint32_t>(v & kMax32));
  Put32(s, static_cast<uint32_t>(v >> 32));
}

// The subset of Python's protocol-2 pickler that torch.save's output needs, with the same
// memoization (every str, non-empty tuple, global, dict and reduce result gets a memo slot;
// repeated objects are fetched back with BINGET).
class PickleWriter {
 public:
  PickleWriter() { out_ += "\x80\x02"; }  // PROTO 2

  std::string Finish() { return std::move(out_) + "."; }  // STOP

  void Mark() { out_ += '('; }
  void EmptyDict() { out_ += '}'; Memoize(); }
  void SetItems() { out_ += 'u'; }
  void SetItem() { out_ += 's'; }
  void EmptyTuple() { out_ += ')'; }
  void Tuple(size_t n) {  // closes a tuple of n items (MARK already written when n > 3)
    if (n == 0) return;  // EmptyTuple() was written instead
    if (n <= 3) {
      out_ += static_cast<char>(0x84 + n);  // TUPLE1..3
    } else {
      out_ += 't';
    }
    Memoize();
  }
  void Bool(bool b) { out_ += b ? '\x88' : '\x89'; }
  void PersId() { out_ += 'Q'; }
  void Reduce() { out_ += 'R'; Memoize(); }

  void Int(int64_t v) {
    if (v >= 0 && v <= 0xff) {
      out_ += 'K';
      out_ += static_cast<char>(v);
    } else if (v >= 0 && v <= 0xffff) {
      out_ += 'M';
      Put16(&out_, static_cast<uint16_t>(v));
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out_ += 'J';
      Put32(&out_, static_cast<uint32_t>(static_cast<int32_t>(v)));
    } else {  // LONG1: minimal little-endian two's complement
      std::string bytes;
      auto u = static_cast<uint64_t>(v);
      for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
      while (bytes.size() > 1) {
        const auto last = static_cast<unsigned char>(bytes[bytes.size() - 1]);
        const auto prev = static_cast<unsigned char>(bytes[bytes.size() - 2]);
        if ((last == 0x00 && !(prev & 0x80)) || (last == 0xff && (prev & 0x80))) {
          bytes.pop_back();
        } else {
          break;
        }
      }
      out_ += '\x8a';
      out_ += static_cast<char>(bytes.size());
      out_ += bytes;
    }
  }

  // A new str object (memoized under a fresh slot).
  void Str(std::string_view s) {
    out_ += 'X';
    Put32(&out_, static_cast<uint32_t>(s.size()));
    out_ += s;
    Memoize();
  }
  // A str that Python would share (an interned literal such as 'storage'): BINGET on reuse.
  void SharedStr(const std::string& s) {
    auto it = shared_.find("s:" + s);
    if (it != shared_.end()) return Get(it->second);
    Str(s);
    shared_["s:" + s] = next_memo_ - 1;
  }
  void Global(const std::string& module, const std::string& name) {
    const std::string key = "g:" + module + "." + name;
    auto it = shared_.find(key);
    if (it != shared_.end()) return Get(it->second);
    out_ += 'c' + module + '\n' + name + '\n';
    Memoize();
    shared_[key] = next_memo_ - 1;
  }

 private:
  void Memoize() {
    if (next_memo_ < 256) {
      out_ += 'q';
      out_ += static_cast<char>(next_memo_);
    } else {
      out_ += 'r';
      Put32(&out_, next_memo_);
    }
    ++next_memo_;
  }
  void Get(uint32_t id) {
    if (id < 256) {
      out_ += 'h';
      out_ += static_cast<char>(id);
    } else {
      out_ += 'j';
      Put32(&out_, id);
    }
  }

  std::string out_;
  uint32_t next_memo_ = 0;
  std::map<std::string, uint32_t> shared_;
};

void PickleIntTuple(PickleWriter* p, const std::vector<int64_t>& v) {
  if (v.empty()) return p->EmptyTuple();
  if (v.size() > 3) p->Mark();
  for (int64_t x : v) p->Int(x);
  p->Tuple(v.size());
}

std::string MakeDataPkl(const std::vector<NamedTensor>& tensors, bool wrap) {
  PickleWriter p;
  if (wrap) {
    p.EmptyDict();
    p.Str("state_dict");
  }
  // OrderedDict() then its items in batches of 1000, as pickle's _batch_setitems does.
  p.Global("collections", "OrderedDict");
  p.EmptyTuple();
  p.Reduce();
  for (size_t begin = 0; begin < tensors.size(); begin += 1000) {
    const size_t end = std::min(tensors.size(), begin + 1000);
    if (end - begin > 1) p.Mark();
    for (size_t i = begin; i < end; ++i) {
      const Tensor& t = tensors[i].tensor;
      p.Str(tensors[i].name);
      p.Global("torch._utils", "_rebuild_tensor_v2");
      p.Mark();  // args
      p.Mark();  // persistent id ('storage', type, key, 'cpu', numel)
      p.SharedStr("storage");
      p.Global("torch", StorageClass(t.dtype()));
      p.Str(std::to_string(i));
      p.SharedStr("cpu");
      p.Int(t.numel());
      p.Tuple(5);
      p.PersId();
      p.Int(0);  // storage_offset
      PickleIntTuple(&p, t.shape());
      PickleIntTuple(&p, ContiguousStrides(t.shape()));
      p.Bool(false);  // requires_grad
      p.Global("collections", "OrderedDict");  // backward_hooks = OrderedDict()
      p.EmptyTuple();
      p.Reduce();
      p.Tuple(6);
      p.Reduce();
    }
    if (end - begin > 1) {
      p.SetItems();
    } else {
      p.SetItem();
    }
  }
  if (wrap) p.SetItem();
  return p.Finish();
}

uint32_t Crc32(const void* data, uint64_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* b = static_cast<const Bytef*>(data);
  constexpr uint64_t kChunk = uint64_t{1} << 30;
  for (uint64_t off = 0; off < size;) {
    const uint64_t n = std::min(size - off, kChunk);
    crc = crc32(crc, b + off, static_cast<uInt>(n));
    off += n;
  }
  return static_cast<uint32_t>(crc);
}

// Streams stored entries into a file and finishes with the central directory.
class ZipWriter {
 public:
  ZipWriter(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {}

  Status Add(const std::string& name, const void* data, uint64_t size) {
    if (name.size() > 0xffff) return InvalidArgument("zip entry name too long: " + name);
    Entry e{name, Crc32(data, size), size, offset_};
    const bool zip64 = size >= kMax32;
    std::string h;
    Put32(&h, 0x04034b50);
    Put16(&h, zip64 ? 45 : 20);  // version needed
    Put16(&h, 0x0800);           // flags: UTF-8 names
    Put16(&h, 0);                // method: stored
    Put16(&h, 0);                // time
    Put16(&h, 0x21);             // date: 1980-01-01
    Put32(&h, e.crc);
    Put32(&h, zip64 ? static_cast<uint32_t>(kMax32) : static_cast<uint32_t>(size));
    Put32(&h, zip64 ? static_cast<uint32_t>(kMax32) : static_cast<uint32_t>(size));
    std::string extra;
    if (zip64) {
      Put16(&extra, 0x0001);
      Put16(&extra, 16);
      Put64(&extra, size);
      Put64(&extra, size);
    }
    // "FB" padding so that the data starts on a 64-byte boundary.
    const uint64_t before = offset_ + 30 + name.size() + extra.size() + 4;
    const uint64_t pad = kAlignment - before % kAlignment;  // 1..64
    Put16(&extra, 0x4246);
    Put16(&extra, static_cast<uint16_t>(pad));
    extra.append(pad, 'Z');
    Put16(&h, static_cast<uint16_t>(name.size()));
    Put16(&h, static_cast<uint16_t>(extra.size()));
    h += name;
    h += extra;
    SDR_RETURN_IF_ERROR(Write(h.data(), h.size()));
    SDR_RETURN_IF_ERROR(Write(data, size));
    entries_.push_back(std::move(e));
    return Status::Ok();
  }

  Status Finish() {
    const uint64_t cd_offset = offset_;
    for (const Entry& e : entries_) {
      std::string extra;
      const bool big_size = e.size >= kMax32;
      const bool big_offset = e.offset >= kMax32;
      if (big_size || big_offset) {
        Put16(&extra, 0x0001);
        Put16(&extra, static_cast<uint16_t>((big_size ? 16 : 0) + (big_offset ? 8 : 0)));
        if (big_size) {
          Put64(&extra, e.size);  // uncompressed
          Put64(&extra, e.size);  // compressed
        }
        if (big_offset) Put64(&extra, e.offset);
      }
      const bool zip64 = !extra.empty();
      std::string h;
      Put32(&h, 0x02014b50);
      Put16(&h, zip64 ? 45 : 20);  // version made by
      Put16(&h, zip64 ? 45 : 20);  // version needed
      Put16(&h, 0x0800);
      Put16(&h, 0);
      Put16(&h, 0);
      Put16(&h, 0x21);
      Put32(&h, e.crc);
      Put32(&h, big_size ? static_cast<uint32_t>(kMax32) : static_cast<uint32_t>(e.size));
      Put32(&h, big_size ? static_cast<uint32_t>(kMax32) : static_cast<uint32_t>(e.size));
      Put16(&h, static_cast<uint16_t>(e.name.size()));
      Put16(&h, static_cast<uint16_t>(extra.size()));
      Put16(&h, 0);  // comment
      Put16(&h, 0);  // disk
      Put16(&h, 0);  // internal attributes
      Put32(&h, 0);  // external attributes
      Put32(&h, big_offset ? static_cast<uint32_t>(kMax32) : static_cast<uint32_t>(e.offset));
      h += e.name;
      h += extra;
      SDR_RETURN_IF_ERROR(Write(h.data(), h.size()));
    }
    const uint64_t cd_size = offset_ - cd_offset;
    const uint64_t count = entries_.size();
    std::string tail;
    const bool zip64 = count >= 0xffff || cd_size >= kMax32 || cd_offset >= kMax32;
    if (zip64) {
      const uint64_t z64_offset = offset_;
      Put32(&tail, 0x06064b50);
      Put64(&tail, 44);  // size of the rest of this record
      Put16(&tail, 45);
      Put16(&tail, 45);
      Put32(&tail, 0);
      Put32(&tail, 0);
      Put64(&tail, count);
      Put64(&tail, count);
      Put64(&tail, cd_size);
      Put64(&tail, cd_offset);
      Put32(&tail, 0x07064b50);  // locator
      Put32(&tail, 0);
      Put64(&tail, z64_offset);
      Put32(&tail, 1);
    }
    Put32(&tail, 0x06054b50);
    Put16(&tail, 0);
    Put16(&tail, 0);
    Put16(&tail, static_cast<uint16_t>(std::min<uint64_t>(count, 0xffff)));
    Put16(&tail, static_cast<uint16_t>(std::min<uint64_t>(count, 0xffff)));
    Put32(&tail, static_cast<uint32_t>(std::min<uint64_t>(cd_size, kMax32)));
    Put32(&tail, static_cast<uint32_t>(std::min<uint64_t>(cd_offset, kMax32)));
    Put16(&tail, 0);  // comment length
    return Write(tail.data(), tail.size());
  }

 private:
  struct Entry {
    std::string name;
    uint32_t crc;
    uint64_t size;
    uint64_t offset;
  };

  Status Write(const void* data, uint64_t size) {
    if (size > 0 && std::fwrite(data, 1, size, f_) != size) {
      return IoError("cannot write '" + path_ + "': " + std::strerror(errno));
    }
    offset_ += size;
    return Status::Ok();
  }

  std::FILE* f_;
  std::string path_;
  uint64_t offset_ = 0;
  std::vector<Entry> entries_;
};

Status WriteArchive(std::FILE* f, const std::string& path, const std::vector<NamedTensor>& tensors,
                    bool wrap) {
  ZipWriter zip(f, path);
  const std::string pkl = MakeDataPkl(tensors, wrap);
  SDR_RETURN_IF_ERROR(zip.Add("archive/data.pkl", pkl.data(), pkl.size()));
  SDR_RETURN_IF_ERROR(zip.Add("archive/byteorder", "little", 6));
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i].tensor;
    SDR_RETURN_IF_ERROR(zip.Add("archive/data/" + std::to_string(i), t.raw(), t.nbytes()));
  }
  SDR_RETURN_IF_ERROR(zip.Add("archive/version", "3\n", 2));
  return zip.Finish();
}

}  // namespace

Status WriteCkpt(const std::string& path, const std::vector<NamedTensor>& tensors,
                 bool wrap_in_state_dict) {
  std::set<std::string_view> names;
  for (const NamedTensor& nt : tensors) {
    if (!nt.tensor.defined()) return InvalidArgument("WriteCkpt: tensor '" + nt.name + "' is empty");
    if (StorageClass(nt.tensor.dtype()) == nullptr) {
      return Unsupported("WriteCkpt: tensor '" + nt.name + "' has dtype " +
                         std::string(DTypeName(nt.tensor.dtype())) + ", which torch cannot store");
    }
    if (!names.insert(nt.name).second) {
      return InvalidArgument("WriteCkpt: tensor '" + nt.name + "' appears twice");
    }
  }
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return IoError("cannot create '" + path + "': " + std::strerror(errno));
  Status s = WriteArchive(f, path, tensors, wrap_in_state_dict);
  if (std::fclose(f) != 0 && s.ok()) {
    s = IoError("cannot write '" + path + "': " + std::strerror(errno));
  }
  if (!s.ok()) std::remove(path.c_str());
  return s;
}

}  // namespace sdr
