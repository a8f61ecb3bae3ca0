// ReadGguf: parses a GGUF v2/v3 file from an mmapped view. Everything read from the file is
// untrusted: each count and length is checked against the bytes that remain before it is used
// (so an absurd count fails at once instead of allocating or looping), offsets and sizes are
// computed with overflow checks, and the index is only modified once the whole file checked out.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/convert.h"
#include "core/mapped_file.h"
#include "formats/gguf.h"
#include "formats/gguf_types.h"

namespace sdr {
namespace {

using gguf::ValueType;

// Arrays nested deeper than this are refused (real files nest at most once or twice); it bounds
// the recursion of the metadata parser.
constexpr int kMaxArrayDepth = 16;
// Arrays of numbers/bools up to this many elements are stringified in full; longer arrays (and
// arrays of strings or arrays) are summarised as "[array of N <type>]".
constexpr uint64_t kMaxInlineArray = 16;

// A bounds-checked little-endian reader over the file bytes.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  Status Need(uint64_t n, std::string_view what) const {
    if (n > remaining()) {
      return CorruptData(fmt::format("truncated at byte {}: {} needs {} bytes, {} left", pos_,
                                     what, n, remaining()));
    }
    return Status::Ok();
  }

  Status Skip(uint64_t n, std::string_view what) {
    SDR_RETURN_IF_ERROR(Need(n, what));
    pos_ += n;
    return Status::Ok();
  }

  template <typename T>
  Result<T> Read(std::string_view what) {
    SDR_RETURN_IF_ERROR(Need(sizeof(T), what));
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  // A GGUF string: u64 length, then the bytes. The view points into the file.
  Result<std::string_view> String(std::string_view what) {
    SDR_ASSIGN_OR_RETURN(uint64_t len, Read<uint64_t>(what));
    if (len > remaining()) {
      return CorruptData(fmt::format("truncated or corrupt: {} at byte {} claims {} bytes, {} left", what,
                                     pos_ - 8, len, remaining()));
    }
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

  // Fails unless `count` items of at least `min_size` bytes each can fit in what remains.
  Status CheckCount(uint64_t count, uint64_t min_size, std::string_view what) const {
    if (min_size != 0 && count > remaining() / min_size) {
      return CorruptData(fmt::format("truncated or corrupt: {} {} cannot fit in the {} bytes left "
                                     "at byte {}", what, count, remaining(), pos_));
    }
    return Status::Ok();
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

// Reads one fixed-size scalar of type `t` and formats it.
Result<std::string> ReadScalar(Cursor* c, ValueType t) {
  switch (t) {
    case ValueType::kU8: { SDR_ASSIGN_OR_RETURN(uint8_t v, c->Read<uint8_t>("u8")); return std::to_string(v); }
    case ValueType::kI8: { SDR_ASSIGN_OR_RETURN(int8_t v, c->Read<int8_t>("i8")); return std::to_string(v); }
    case ValueType::kU16: { SDR_ASSIGN_OR_RETURN(uint16_t v, c->Read<uint16_t>("u16")); return std::to_string(v); }
    case ValueType::kI16: { SDR_ASSIGN_OR_RETURN(int16_t v, c->Read<int16_t>("i16")); return std::to_string(v); }
    case ValueType::kU32: { SDR_ASSIGN_OR_RETURN(uint32_t v, c->Read<uint32_t>("u32")); return std::to_string(v); }
    case ValueType::kI32: { SDR_ASSIGN_OR_RETURN(int32_t v, c->Read<int32_t>("i32")); return std::to_string(v); }
    case ValueType::kU64: { SDR_ASSIGN_OR_RETURN(uint64_t v, c->Read<uint64_t>("u64")); return std::to_string(v); }
    case ValueType::kI64: { SDR_ASSIGN_OR_RETURN(int64_t v, c->Read<int64_t>("i64")); return std::to_string(v); }
    case ValueType::kF32: { SDR_ASSIGN_OR_RETURN(float v, c->Read<float>("f32")); return fmt::format("{}", v); }
    case ValueType::kF64: { SDR_ASSIGN_OR_RETURN(double v, c->Read<double>("f64")); return fmt::format("{}", v); }
    case ValueType::kBool: {
      SDR_ASSIGN_OR_RETURN(uint8_t v, c->Read<uint8_t>("bool"));
      return std::string(v != 0 ? "true" : "false");
    }
    case ValueType::kString:
    case ValueType::kArray: break;
  }
  return InternalError("ReadScalar called for a variable-size type");
}

Status ReadValue(Cursor* c, ValueType t, int depth, std::string* repr);

// An array: u32 element type, u64 count, elements. `repr` (may be null) receives the summary.
Status ReadArray(Cursor* c, int depth, std::string* repr) {
  if (depth >= kMaxArrayDepth) {
    return CorruptData(fmt::format("arrays nested more than {} deep", kMaxArrayDepth));
  }
  SDR_ASSIGN_OR_RETURN(uint32_t type_id, c->Read<uint32_t>("array element type"));
  const auto elem = gguf::ParseValueType(type_id);
  if (!elem) return CorruptData(fmt::format("unknown array element type {}", type_id));
  SDR_ASSIGN_OR_RETURN(uint64_t count, c->Read<uint64_t>("array length"));
  SDR_RETURN_IF_ERROR(c->CheckCount(count, gguf::MinValueSize(*elem), "array length"));
  const uint64_t fixed = gguf::FixedValueSize(*elem);
  const bool inline_values = repr != nullptr && fixed != 0 && count <= kMaxInlineArray;
  if (inline_values) {
    std::string out = "[";
    for (uint64_t i = 0; i < count; ++i) {
      SDR_ASSIGN_OR_RETURN(std::string v, ReadScalar(c, *elem));
      out += (i == 0 ? "" : ", ") + v;
    }
    *repr = out + "]";
    return Status::Ok();
  }
  if (fixed != 0) {
    SDR_RETURN_IF_ERROR(c->Skip(count * fixed, "array data"));  // count * fixed <= remaining
  } else {
    for (uint64_t i = 0; i < count; ++i) SDR_RETURN_IF_ERROR(ReadValue(c, *elem, depth + 1, nullptr));
  }
  if (repr != nullptr) {
    *repr = fmt::format("[array of {} {}]", count, gguf::ValueTypeName(*elem));
  }
  return Status::Ok();
}

// Reads (or skips, when `repr` is null) one value of type `t`.
Status ReadValue(Cursor* c, ValueType t, int depth, std::string* repr) {
  if (t == ValueType::kArray) return ReadArray(c, depth, repr);
  if (t == ValueType::kString) {
    SDR_ASSIGN_OR_RETURN(std::string_view s, c->String("string value"));
    if (repr != nullptr) *repr = std::string(s);
    return Status::Ok();
  }
  if (repr == nullptr) return c->Skip(gguf::FixedValueSize(t), "value");
  SDR_ASSIGN_OR_RETURN(*repr, ReadScalar(c, t));
  return Status::Ok();
}

struct TensorInfo {
  std::string name;
  DType dtype;
  Shape shape;       // PyTorch order
  uint64_t offset;   // from the start of the data section
  uint64_t nbytes;
};

Result<TensorInfo> ReadTensorInfo(Cursor* c, uint64_t i) {
  TensorInfo info;
  SDR_ASSIGN_OR_RETURN(std::string_view name, c->String(fmt::format("name of tensor #{}", i)));
  info.name = std::string(name);
  const std::string label = "tensor '" + info.name + "'";
  SDR_ASSIGN_OR_RETURN(uint32_t n_dims, c->Read<uint32_t>(label + " n_dims"));
  if (n_dims > static_cast<uint32_t>(gguf::kMaxDims)) {
    return CorruptData(fmt::format("{} has n_dims {}; at most {} are allowed", label, n_dims,
                                   gguf::kMaxDims));
  }
  std::vector<uint64_t> dims(n_dims);  // innermost first
  for (uint32_t d = 0; d < n_dims; ++d) {
    SDR_ASSIGN_OR_RETURN(dims[d], c->Read<uint64_t>(label + " dims"));
    if (dims[d] > static_cast<uint64_t>(INT64_MAX)) {
      return CorruptData(fmt::format("{} has dim {} of size {}", label, d, dims[d]));
    }
  }
  info.shape.assign(dims.rbegin(), dims.rend());
  const auto numel = CheckedNumElements(info.shape);
  if (!numel) {
    return CorruptData(fmt::format("{}: element count of dims {} overflows", label,
                                   ShapeToString(info.shape)));
  }
  SDR_ASSIGN_OR_RETURN(uint32_t type_id, c->Read<uint32_t>(label + " type"));
  const auto dtype = gguf::DTypeFromGgmlType(type_id);
  if (!dtype) return Unsupported(fmt::format("{} has ggml type id {}, which is not supported", label, type_id));
  info.dtype = *dtype;
  const DTypeInfo& dt = GetDTypeInfo(info.dtype);
  // Quantized rows are whole blocks: ggml's rows run along the innermost dim; ours may span a
  // kernel's inner dims (QuantRowsValid: [cout, cin, kh, kw] by rows of cin*kh*kw).
  if (dt.is_quantized && !QuantRowsValid(info.dtype, info.shape)) {
    return CorruptData(fmt::format("{}: {} rows of {} values are not a whole number of {}-value "
                                   "blocks", label, dt.name, info.shape.empty() ? 1 : QuantRowElems(info.shape),
                                   dt.block_elems));
  }
  const auto nbytes = DTypeBytes(info.dtype, static_cast<uint64_t>(*numel));
  if (!nbytes) {
    return CorruptData(fmt::format("{}: {} {} values do not make a valid byte size", label,
                                   *numel, dt.name));
  }
  info.nbytes = *nbytes;
  SDR_ASSIGN_OR_RETURN(info.offset, c->Read<uint64_t>(label + " offset"));
  return info;
}

Status ParseGguf(const std::shared_ptr<const MappedFile>& file, TensorIndex* index) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(file->data());
  const uint64_t file_size = file->size();
  Cursor c(bytes, file_size);

  SDR_ASSIGN_OR_RETURN(uint32_t magic, c.Read<uint32_t>("magic"));
  if (magic != gguf::kMagic) {
    return CorruptData(fmt::format("not a GGUF file: magic is 0x{:08x}, expected \"GGUF\"", magic));
  }
  SDR_ASSIGN_OR_RETURN(uint32_t version, c.Read<uint32_t>("version"));
  if (version != 2 && version != 3) {
    return Unsupported(fmt::format("GGUF version {} is not supported (only versions 2 and 3)", version));
  }
  SDR_ASSIGN_OR_RETURN(uint64_t tensor_count, c.Read<uint64_t>("tensor count"));
  SDR_ASSIGN_OR_RETURN(uint64_t kv_count, c.Read<uint64_t>("metadata count"));
  // The smallest key/value: empty key (8) + type (4) + a u8 (1). The smallest tensor info:
  // empty name (8) + n_dims (4) + type (4) + offset (8).
  SDR_RETURN_IF_ERROR(c.CheckCount(kv_count, 13, "metadata count"));
  SDR_RETURN_IF_ERROR(c.CheckCount(tensor_count, 24, "tensor count"));

  // Metadata.
  std::map<std::string, std::string, std::less<>> metadata;
  uint64_t alignment = gguf::kDefaultAlignment;
  for (uint64_t i = 0; i < kv_count; ++i) {
    SDR_ASSIGN_OR_RETURN(std::string_view key, c.String(fmt::format("key of metadata #{}", i)));
    if (metadata.count(key) != 0) return CorruptData(fmt::format("metadata key '{}' appears twice", key));
    SDR_ASSIGN_OR_RETURN(uint32_t type_id, c.Read<uint32_t>(fmt::format("type of key '{}'", key)));
    const auto type = gguf::ParseValueType(type_id);
    if (!type) return CorruptData(fmt::format("metadata key '{}' has unknown value type {}", key, type_id));
    std::string repr;
    if (key == gguf::kAlignmentKey) {
      if (*type != ValueType::kU32) {
        return CorruptData(fmt::format("{} has type {}, expected u32", key, gguf::ValueTypeName(*type)));
      }
      SDR_ASSIGN_OR_RETURN(uint32_t a, c.Read<uint32_t>(key));
      if (a == 0 || (a & (a - 1)) != 0) {
        return CorruptData(fmt::format("{} is {}; it must be a non-zero power of two", key, a));
      }
      alignment = a;
      repr = std::to_string(a);
    } else {
      Status s = ReadValue(&c, *type, 0, &repr);
      if (!s.ok()) return s.WithContext(fmt::format("metadata key '{}'", key));
    }
    metadata.emplace(std::string(key), std::move(repr));
  }

  // Tensor infos.
  SDR_RETURN_IF_ERROR(c.CheckCount(tensor_count, 24, "tensor count"));
  std::vector<TensorInfo> infos;
  // The count passed a coarse size check only: reserve a bounded amount and grow as infos parse.
  infos.reserve(static_cast<size_t>(std::min<uint64_t>(tensor_count, 4096)));
  std::set<std::string, std::less<>> names;
  for (uint64_t i = 0; i < tensor_count; ++i) {
    SDR_ASSIGN_OR_RETURN(TensorInfo info, ReadTensorInfo(&c, i));
    if (!names.insert(info.name).second) {
      return CorruptData(fmt::format("tensor '{}' appears twice", info.name));
    }
    infos.push_back(std::move(info));
  }

  // The data section starts at the next multiple of the alignment (pos <= file size < 2^63).
  const uint64_t data_start = (c.pos() + alignment - 1) / alignment * alignment;
  for (const TensorInfo& t : infos) {
    if (t.offset % alignment != 0) {
      return CorruptData(fmt::format("tensor '{}' offset {} is not aligned to {} bytes", t.name,
                                     t.offset, alignment));
    }
    const uint64_t available = data_start <= file_size ? file_size - data_start : 0;
    if (t.offset > available || t.nbytes > available - t.offset) {
      return CorruptData(fmt::format(
          "tensor '{}' data (offset {} + {} bytes in the data section at byte {}) lies past the "
          "end of the file ({} bytes): truncated or corrupt", t.name, t.offset, t.nbytes,
          data_start, file_size));
    }
  }

  // Overlaps: walk the tensors by offset, remembering the one that reaches furthest.
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& t : infos) {
    if (t.nbytes > 0) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  const TensorInfo* furthest = nullptr;
  for (const TensorInfo* t : by_offset) {
    if (furthest != nullptr && t->offset < furthest->offset + furthest->nbytes) {
      return CorruptData(fmt::format("tensors '{}' [{}, {}) and '{}' [{}, {}) overlap",
                                     furthest->name, furthest->offset,
                                     furthest->offset + furthest->nbytes, t->name, t->offset,
                                     t->offset + t->nbytes));
    }
    if (furthest == nullptr || t->offset + t->nbytes > furthest->offset + furthest->nbytes) furthest = t;
  }

  // Build the tensors, then commit them to the index.
  std::vector<NamedTensor> tensors;
  int64_t ignored = 0;
  for (const TensorInfo& t : infos) {
    if (IsIgnoredTensorName(t.name)) {
      ++ignored;
      continue;
    }
    if (index->Find(t.name) != nullptr) {
      return CorruptData(fmt::format("tensor '{}' is already in the index", t.name));
    }
    const uint8_t* data = t.nbytes == 0 ? nullptr : bytes + data_start + t.offset;
    const DTypeInfo& dt = GetDTypeInfo(t.dtype);
    // Quantized kernels read bytes; plain types are read as T and need natural alignment,
    // which a file with a small general.alignment may not give: copy those.
    const auto natural = static_cast<uintptr_t>(dt.is_quantized ? 1 : dt.block_bytes);
    if (data != nullptr && reinterpret_cast<uintptr_t>(data) % natural == 0) {
      tensors.push_back({t.name, Tensor::Borrow(t.dtype, t.shape, data,
                                                std::shared_ptr<const void>(file))});
    } else {
      SDR_ASSIGN_OR_RETURN(Tensor owned, Tensor::Allocate(t.dtype, t.shape));
      if (t.nbytes > 0) std::memcpy(owned.mutable_raw(), data, static_cast<size_t>(t.nbytes));
      tensors.push_back({t.name, std::move(owned)});
    }
  }
  for (NamedTensor& t : tensors) SDR_RETURN_IF_ERROR(index->Add(std::move(t.name), std::move(t.tensor)));
  index->ignored_tensors += ignored;
  for (auto& [key, value] : metadata) index->metadata[key] = std::move(value);
  return Status::Ok();
}

}  // namespace

Status ReadGguf(const std::string& path, TensorIndex* index) {
  SDR_ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> file, MappedFile::Open(path));
  return ReadGguf(file, index);
}

Status ReadGguf(const std::shared_ptr<const MappedFile>& file, TensorIndex* index) {
  SDR_CHECK(file != nullptr && index != nullptr);
  Status s = ParseGguf(file, index);
  if (!s.ok()) return s.WithContext("gguf '" + file->path() + "'");
  return Status::Ok();
}

}  // namespace sdr
