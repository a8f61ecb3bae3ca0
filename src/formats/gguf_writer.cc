// WriteGguf: GGUF v3 with general.architecture (default "stable-diffusion") and
// general.alignment = 32 followed by the caller's string metadata, then the tensor infos and
// the data section; every tensor's bytes start on a 32-byte boundary and are padded to one (as
// ggml writes them, so ggml readers that load the padded data section accept the file).
#include <fmt/format.h>

#include <cstdio>
#include <set>
#include <string>
#include <string_view>

#include "core/convert.h"
#include "formats/gguf.h"
#include "formats/gguf_types.h"

namespace sdr {
namespace {

using gguf::ValueType;

class HeaderBuffer {
 public:
  template <typename T>
  void Put(T v) {
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void PutString(std::string_view s) {
    Put<uint64_t>(s.size());
    bytes_.append(s);
  }
  void PutStringKv(std::string_view key, std::string_view value) {
    PutString(key);
    Put<uint32_t>(static_cast<uint32_t>(ValueType::kString));
    PutString(value);
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

uint64_t PadTo(uint64_t n, uint64_t align) { return (n + align - 1) / align * align; }

// Writes `<path>.partial` and renames it over `path` once complete, so that a failed write
// leaves no half file and a reader still mapping an old `path` keeps its (unlinked) bytes.
class OutputFile {
 public:
  explicit OutputFile(std::string path) : path_(std::move(path)), partial_(path_ + ".partial") {}
  ~OutputFile() {
    if (f_ != nullptr) {
      std::fclose(f_);
      std::remove(partial_.c_str());
    }
  }
  Status Open() {
    f_ = std::fopen(partial_.c_str(), "wb");
    if (f_ == nullptr) return IoError("cannot create '" + partial_ + "'");
    return Status::Ok();
  }
  Status Write(const void* p, size_t n) {
    if (n != 0 && std::fwrite(p, 1, n, f_) != n) return IoError("cannot write '" + partial_ + "'");
    return Status::Ok();
  }
  Status Zeros(size_t n) {
    static const char kZeros[64] = {};
    while (n > 0) {
      const size_t k = n < sizeof(kZeros) ? n : sizeof(kZeros);
      SDR_RETURN_IF_ERROR(Write(kZeros, k));
      n -= k;
    }
    return Status::Ok();
  }
  Status Commit() {
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0 || std::rename(partial_.c_str(), path_.c_str()) != 0) {
      std::remove(partial_.c_str());
      return IoError("cannot finish writing '" + path_ + "'");
    }
    return Status::Ok();
  }

 private:
  std::string path_;
  std::string partial_;
  std::FILE* f_ = nullptr;
};

}  // namespace

Status WriteGguf(const std::string& path, const std::vector<NamedTensor>& tensors,
                 const std::vector<std::pair<std::string, std::string>>& metadata) {
  const uint64_t align = gguf::kDefaultAlignment;
  const std::string where = "writing gguf '" + path + "'";

  // Metadata: architecture (unless given) and alignment first, then the caller's keys.
  std::set<std::string, std::less<>> keys;
  bool has_architecture = false;
  for (const auto& [key, value] : metadata) {
    if (!keys.insert(key).second) {
      return InvalidArgument(fmt::format("metadata key '{}' given twice", key)).WithContext(where);
    }
    if (key == gguf::kAlignmentKey) {
      return InvalidArgument(fmt::format("metadata key '{}' is written by WriteGguf itself", key))
          .WithContext(where);
    }
    if (key == gguf::kArchitectureKey) has_architecture = true;
  }
  HeaderBuffer h;
  h.Put<uint32_t>(gguf::kMagic);
  h.Put<uint32_t>(gguf::kVersionWritten);
  h.Put<uint64_t>(tensors.size());
  h.Put<uint64_t>(metadata.size() + (has_architecture ? 1 : 2));
  if (!has_architecture) h.PutStringKv(gguf::kArchitectureKey, gguf::kDefaultArchitecture);
  h.PutString(gguf::kAlignmentKey);
  h.Put<uint32_t>(static_cast<uint32_t>(ValueType::kU32));
  h.Put<uint32_t>(static_cast<uint32_t>(align));
  for (const auto& [key, value] : metadata) h.PutStringKv(key, value);

  // Tensor infos, with offsets into the data section.
  std::set<std::string_view> names;
  uint64_t offset = 0;
  for (const NamedTensor& nt : tensors) {
    const Tensor& t = nt.tensor;
    const std::string label = "tensor '" + nt.name + "'";
    if (!names.insert(nt.name).second) {
      return InvalidArgument(label + " given twice").WithContext(where);
    }
    if (!t.defined()) return InvalidArgument(label + " has no data").WithContext(where);
    const auto ggml_type = gguf::GgmlTypeFromDType(t.dtype());
    if (!ggml_type) {
      return Unsupported(fmt::format("{}: dtype {} cannot be stored in GGUF", label,
                                     DTypeName(t.dtype()))).WithContext(where);
    }
    if (t.rank() > static_cast<size_t>(gguf::kMaxDims)) {
      return InvalidArgument(fmt::format("{} has shape {}; GGUF allows at most {} dims", label,
                                         ShapeToString(t.shape()), gguf::kMaxDims))
          .WithContext(where);
    }
    const DTypeInfo& dt = GetDTypeInfo(t.dtype());
    if (dt.is_quantized && !QuantRowsValid(t.dtype(), t.shape())) {
      return InvalidArgument(fmt::format("{} shape {}: {} rows must be whole {}-value blocks",
                                         label, ShapeToString(t.shape()), dt.name, dt.block_elems))
          .WithContext(where);
    }
    h.PutString(nt.name);
    h.Put<uint32_t>(static_cast<uint32_t>(t.rank()));
    for (size_t d = t.rank(); d-- > 0;) h.Put<uint64_t>(static_cast<uint64_t>(t.shape()[d]));
    h.Put<uint32_t>(*ggml_type);
    h.Put<uint64_t>(offset);
    offset += PadTo(t.nbytes(), align);
  }

  OutputFile out(path);
  Status s = out.Open();
  if (s.ok()) s = out.Write(h.bytes().data(), h.bytes().size());
  if (s.ok()) s = out.Zeros(PadTo(h.bytes().size(), align) - h.bytes().size());
  for (const NamedTensor& nt : tensors) {
    if (!s.ok()) break;
    s = out.Write(nt.tensor.raw(), nt.tensor.nbytes());
    if (s.ok()) s = out.Zeros(PadTo(nt.tensor.nbytes(), align) - nt.tensor.nbytes());
  }
  if (s.ok()) s = out.Commit();
  if (!s.ok()) return s.WithContext(where);
  return Status::Ok();
}

}  // namespace sdr
