// ReadCkpt: torch.save zip archives -> TensorIndex.
//
// Layout (the root folder name varies: "archive/", or the file stem in torch < 2.0):
//   <root>/data.pkl     pickle of the saved object
//   <root>/data/<key>   raw little-endian bytes of each storage
//   <root>/byteorder    "little" (torch >= 2.0; absent means little)
//   <root>/version      "3\n"
// In data.pkl a tensor is `torch._utils._rebuild_tensor_v2(storage, storage_offset, size,
// stride, requires_grad, backward_hooks[, metadata])` (optionally wrapped in
// `torch._utils._rebuild_parameter(tensor, requires_grad, backward_hooks)`), where `storage`
// is a persistent id ('storage', torch.<Type>Storage, key, location, numel).
#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <optional>

#include "core/mapped_file.h"
#include "formats/ckpt.h"
#include "formats/pickle.h"
#include "formats/zip_reader.h"

namespace sdr {
namespace {

struct StorageType {
  std::string_view global;  // "torch.FloatStorage"
  DType dtype;
};
constexpr std::array<StorageType, 10> kStorageTypes = {{
    {"torch.FloatStorage", DType::kF32},
    {"torch.HalfStorage", DType::kF16},
    {"torch.BFloat16Storage", DType::kBF16},
    {"torch.DoubleStorage", DType::kF64},
    {"torch.LongStorage", DType::kI64},
    {"torch.IntStorage", DType::kI32},
    {"torch.ShortStorage", DType::kI16},
    {"torch.CharStorage", DType::kI8},
    {"torch.ByteStorage", DType::kU8},
    {"torch.BoolStorage", DType::kBool},
}};
constexpr std::string_view kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr std::string_view kRebuildParameter = "torch._utils._rebuild_parameter";

std::vector<std::string> AllowedGlobals() {
  std::vector<std::string> g = {"collections.OrderedDict", std::string(kRebuildTensor),
                                std::string(kRebuildParameter)};
  for (const StorageType& s : kStorageTypes) g.emplace_back(s.global);
  // Objects real SD checkpoints carry beside the state dict (PyTorch Lightning training state,
  // numpy scalars in it). They become inert values that nothing calls, and the walk skips them;
  // A1111's safe loader accepts the same set.
  for (const char* inert : {"pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint",
                            "pytorch_lightning.callbacks.ModelCheckpoint", "numpy.core.multiarray.scalar",
                            "numpy.dtype", "_codecs.encode", "builtins.set", "__builtin__.set"}) {
    g.emplace_back(inert);
  }
  return g;
}

std::optional<DType> StorageDType(std::string_view global) {
  for (const StorageType& s : kStorageTypes) {
    if (s.global == global) return s.dtype;
  }
  return std::nullopt;
}

constexpr int kMaxDictDepth = 64;     // nested dicts in a state dict
constexpr size_t kMaxRank = 32;
constexpr uint64_t kMaterialiseSlack = uint64_t{256} << 20;  // see budget_

struct TensorSpec {
  DType dtype = DType::kF32;
  std::string key;          // storage key: <root>/data/<key>
  int64_t storage_numel = 0;
  int64_t offset = 0;       // in elements
  Shape shape;
  std::vector<int64_t> stride;  // in elements
};

struct LoadedStorage {
  DType dtype;
  int64_t numel;
  ZipBytes bytes;
};

class CkptReader {
 public:
  CkptReader(ZipReader zip, TensorIndex* index, std::string name_prefix)
      : zip_(std::move(zip)), index_(index), name_prefix_(std::move(name_prefix)) {
    // Owned bytes (inflated storages, copies of non-contiguous views) may not exceed a
    // multiple of the file: the data must really be in the file.
    budget_ = zip_.file_size() > (UINT64_MAX - kMaterialiseSlack) / 4
                  ? UINT64_MAX
                  : zip_.file_size() * 4 + kMaterialiseSlack;
  }

  Status Read() {
    SDR_RETURN_IF_ERROR(FindRoot());
    SDR_RETURN_IF_ERROR(CheckByteOrder());
    const ZipEntry* pkl = zip_.Find(root_ + "data.pkl");
    SDR_CHECK(pkl != nullptr);
    SDR_ASSIGN_OR_RETURN(ZipBytes pkl_bytes, zip_.Read(*pkl));
    UnpickleOptions options;
    options.allowed_globals = AllowedGlobals();
    SDR_ASSIGN_OR_RETURN(graph_, Unpickle(pkl_bytes.view(), options, "'" + zip_.path() + "' " + pkl->name));
    max_visits_ = 4 * static_cast<uint64_t>(graph_.size()) + 4096;

    PickleRef root = graph_.root();
    if (graph_.at(root).kind != PickleKind::kDict) {
      return Unsupported(Who() + "the saved object is a " +
                         std::string(PickleKindName(graph_.at(root).kind)) +
                         ", not a dict (state dict)");
    }
    const PickleRef sd = graph_.DictGet(root, "state_dict");
    if (sd != kNoPickleRef && graph_.at(sd).kind == PickleKind::kDict) root = sd;
    return Walk(root, "", 0);
  }

 private:
  std::string Who() const { return "ckpt '" + zip_.path() + "': "; }
  Status Corrupt(const std::string& name, const std::string& what) const {
    return CorruptData(Who() + "tensor '" + name + "': " + what);
  }

  // Finds the single "<root>/data.pkl" entry.
  Status FindRoot() {
    constexpr std::string_view kPkl = "/data.pkl";
    std::vector<std::string> roots;
    bool torchscript = false;
    for (const ZipEntry& e : zip_.entries()) {
      const std::string& n = e.name;
      if (n.size() > kPkl.size() && n.compare(n.size() - kPkl.size(), kPkl.size(), kPkl) == 0 &&
          n.find('/') == n.size() - kPkl.size()) {
        roots.push_back(n.substr(0, n.size() - kPkl.size() + 1));
      }
      if (n.size() >= 14 && n.compare(n.size() - 14, 14, "/constants.pkl") == 0) torchscript = true;
    }
    if (torchscript) {
      return Unsupported(Who() + "this is a TorchScript archive (torch.jit.save), not a torch.save "
                                 "state dict");
    }
    if (roots.empty()) {
      return CorruptData(Who() + "no '<archive>/data.pkl' entry: not a torch.save file");
    }
    if (roots.size() > 1) {
      return CorruptData(Who() + "several data.pkl entries ('" + roots[0] + "data.pkl', '" +
                         roots[1] + "data.pkl')");
    }
    root_ = roots[0];
    return Status::Ok();
  }

  Status CheckByteOrder() {
    const ZipEntry* e = zip_.Find(root_ + "byteorder");
    if (e == nullptr) return Status::Ok();  // older torch: always little-endian
    if (e->uncompressed_size > 16) return CorruptData(Who() + "byteorder entry is too long");
    SDR_ASSIGN_OR_RETURN(ZipBytes b, zip_.Read(*e));
    std::string_view v = b.view();
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.remove_suffix(1);
    if (v == "little") return Status::Ok();
    if (v == "big") {
      return Unsupported(Who() + "saved on a big-endian machine (byteorder 'big'); re-save it on "
                                 "a little-endian machine or convert it to safetensors");
    }
    return CorruptData(Who() + "byteorder entry says '" + std::string(v) + "'");
  }

  // Flattens the dict `dict` (names joined with '.') into the index.
  Status Walk(PickleRef dict, const std::string& prefix, int depth) {
    if (depth > kMaxDictDepth) {
      return CorruptData(Who() + "dicts nested deeper than " + std::to_string(kMaxDictDepth) +
                         " at '" + prefix + "'");
    }
    const std::vector<PickleRef>& items = graph_.at(dict).items;
    for (size_t i = 0; i + 1 < items.size(); i += 2) {
      if (++visits_ > max_visits_) {
        return CorruptData(Who() + "the pickle references its dicts too many times (" +
                           std::to_string(max_visits_) + " visits): shared or cyclic structure");
      }
      const PickleValue& key = graph_.at(items[i]);
      if (key.kind != PickleKind::kString) continue;  // e.g. optimizer state keyed by int
      const std::string name = prefix.empty() ? key.text : prefix + "." + key.text;
      const PickleRef value = items[i + 1];
      const PickleValue& v = graph_.at(value);
      if (v.kind == PickleKind::kDict) {
        SDR_RETURN_IF_ERROR(Walk(value, name, depth + 1));
      } else if (v.kind == PickleKind::kCall && IsTensorCall(v)) {
        if (IsIgnoredTensorName(name)) {
          ++index_->ignored_tensors;
          continue;
        }
        SDR_ASSIGN_OR_RETURN(TensorSpec spec, ParseTensor(value, name));
        SDR_ASSIGN_OR_RETURN(Tensor t, MakeTensor(spec, name));
        SDR_RETURN_IF_ERROR(index_->Add(name_prefix_ + name, std::move(t)).WithContext(Who()));
      }
      // Anything else (ints, strings, lists, optimizer state, ...) is not a weight: skipped.
    }
    return Status::Ok();
  }

  bool IsTensorCall(const PickleValue& call) const {
    const std::string& f = graph_.at(call.items[0]).text;
    return f == kRebuildTensor || f == kRebuildParameter;
  }

  Result<int64_t> Int(PickleRef r, const std::string& name, const char* what) const {
    const PickleValue& v = graph_.at(r);
    if (v.kind != PickleKind::kInt && v.kind != PickleKind::kBool) {
      return Corrupt(name, std::string(what) + " is a " + std::string(PickleKindName(v.kind)) +
                               ", not an int");
    }
    return v.int_value;
  }
  Result<std::string> Str(PickleRef r, const std::string& name, const char* what) const {
    const PickleValue& v = graph_.at(r);
    if (v.kind != PickleKind::kString) {
      return Corrupt(name, std::string(what) + " is a " + std::string(PickleKindName(v.kind)) +
                               ", not a str");
    }
    return v.text;
  }
  Result<std::vector<int64_t>> IntTuple(PickleRef r, const std::string& name, const char* what) const {
    const PickleValue& v = graph_.at(r);
    if (v.kind != PickleKind::kTuple && v.kind != PickleKind::kList) {
      return Corrupt(name, std::string(what) + " is a " + std::string(PickleKindName(v.kind)) +
                               ", not a tuple");
    }
    if (v.items.size() > kMaxRank) {
      return Corrupt(name, std::string(what) + " has " + std::to_string(v.items.size()) +
                               " dims (more than " + std::to_string(kMaxRank) + ")");
    }
    std::vector<int64_t> out;
    for (PickleRef item : v.items) {
      SDR_ASSIGN_OR_RETURN(int64_t x, Int(item, name, what));
      if (x < 0) return Corrupt(name, std::string(what) + " has a negative entry " + std::to_string(x));
      out.push_back(x);
    }
    return out;
  }

  Result<TensorSpec> ParseTensor(PickleRef call, const std::string& name) const {
    const PickleValue* c = &graph_.at(call);
    if (graph_.at(c->items[0]).text == kRebuildParameter) {
      const PickleValue& args = graph_.at(c->items[1]);
      if (args.items.empty()) return Corrupt(name, "_rebuild_parameter without arguments");
      const PickleValue& inner = graph_.at(args.items[0]);
      if (inner.kind != PickleKind::kCall || graph_.at(inner.items[0]).text != kRebuildTensor) {
        return Corrupt(name, "_rebuild_parameter does not wrap a _rebuild_tensor_v2 call");
      }
      c = &inner;
    }
    const PickleValue& args = graph_.at(c->items[1]);
    if (args.items.size() < 6 || args.items.size() > 7) {
      return Corrupt(name, "_rebuild_tensor_v2 takes 6 or 7 arguments, got " +
                               std::to_string(args.items.size()));
    }
    // Persistent id ('storage', torch.<T>Storage, key, location, numel).
    const PickleValue& pid_wrapper = graph_.at(args.items[0]);
    if (pid_wrapper.kind != PickleKind::kPersistentId) {
      return Corrupt(name, "storage argument is a " + std::string(PickleKindName(pid_wrapper.kind)) +
                               ", not a persistent id");
    }
    const PickleValue& pid = graph_.at(pid_wrapper.items[0]);
    if (pid.kind != PickleKind::kTuple || pid.items.size() != 5) {
      return Corrupt(name, "storage persistent id is not a 5-tuple");
    }
    SDR_ASSIGN_OR_RETURN(std::string tag, Str(pid.items[0], name, "persistent id tag"));
    if (tag != "storage") return Corrupt(name, "persistent id tag is '" + tag + "', not 'storage'");
    const PickleValue& type = graph_.at(pid.items[1]);
    std::optional<DType> dtype;
    if (type.kind == PickleKind::kGlobal) dtype = StorageDType(type.text);
    if (!dtype) {
      return Corrupt(name, "storage type is not a torch storage class (" +
                               std::string(PickleKindName(type.kind)) + " '" + type.text + "')");
    }
    TensorSpec spec;
    spec.dtype = *dtype;
    SDR_ASSIGN_OR_RETURN(spec.key, Str(pid.items[2], name, "storage key"));
    SDR_ASSIGN_OR_RETURN(spec.storage_numel, Int(pid.items[4], name, "storage size"));
    if (spec.storage_numel < 0) return Corrupt(name, "negative storage size");
    SDR_ASSIGN_OR_RETURN(spec.offset, Int(args.items[1], name, "storage offset"));
    if (spec.offset < 0) return Corrupt(name, "negative storage offset");
    SDR_ASSIGN_OR_RETURN(spec.shape, IntTuple(args.items[2], name, "size"));
    SDR_ASSIGN_OR_RETURN(spec.stride, IntTuple(args.items[3], name, "stride"));
    if (spec.shape.size() != spec.stride.size()) {
      return Corrupt(name, "size " + ShapeToString(spec.shape) + " and stride " +
                               ShapeToString(spec.stride) + " differ in rank");
    }
    return spec;
  }

  Result<const LoadedStorage*> GetStorage(const TensorSpec& spec, const std::string& name) {
    auto it = storages_.find(spec.key);
    if (it != storages_.end()) {
      const LoadedStorage& s = it->second;
      if (s.dtype != spec.dtype || s.numel != spec.storage_numel) {
        return Corrupt(name, "storage '" + spec.key + "' is described twice differently (" +
                                 std::string(DTypeName(s.dtype)) + " x " + std::to_string(s.numel) +
                                 " vs " + std::string(DTypeName(spec.dtype)) + " x " +
                                 std::to_string(spec.storage_numel) + ")");
      }
      return &s;
    }
    const std::string entry_name = root_ + "data/" + spec.key;
    const ZipEntry* e = zip_.Find(entry_name);
    if (e == nullptr) return Corrupt(name, "storage entry '" + entry_name + "' is missing");
    const auto want = DTypeBytes(spec.dtype, static_cast<uint64_t>(spec.storage_numel));
    if (!want || *want != e->uncompressed_size) {
      return Corrupt(name, "storage '" + entry_name + "' holds " +
                               std::to_string(e->uncompressed_size) + " bytes, but " +
                               std::to_string(spec.storage_numel) + " " +
                               std::string(DTypeName(spec.dtype)) + " elements need " +
                               (want ? std::to_string(*want) : std::string("more")));
    }
    if (e->method != 0) SDR_RETURN_IF_ERROR(Charge(e->uncompressed_size, name));
    SDR_ASSIGN_OR_RETURN(ZipBytes bytes, zip_.Read(*e));
    auto [pos, inserted] =
        storages_.emplace(spec.key, LoadedStorage{spec.dtype, spec.storage_numel, std::move(bytes)});
    return &pos->second;
  }

  Status Charge(uint64_t bytes, const std::string& name) {
    if (bytes > budget_ || materialised_ > budget_ - bytes) {
      return Unsupported(Who() + "tensor '" + name + "': materialising " + std::to_string(bytes) +
                         " more bytes would exceed the " + std::to_string(budget_) +
                         "-byte budget for copies (4x the file + 256 MiB); broadcast views or "
                         "a compressed archive this large are not supported");
    }
    materialised_ += bytes;
    return Status::Ok();
  }

  Result<Tensor> MakeTensor(const TensorSpec& spec, const std::string& name) {
    const auto numel = CheckedNumElements(spec.shape);
    if (!numel) return Corrupt(name, "shape " + ShapeToString(spec.shape) + " overflows");
    SDR_ASSIGN_OR_RETURN(const LoadedStorage* storage, GetStorage(spec, name));
    const size_t elem = static_cast<size_t>(GetDTypeInfo(spec.dtype).block_bytes);
    if (*numel == 0) {
      if (spec.offset > storage->numel) return Corrupt(name, "storage offset past the storage");
      return Tensor::Allocate(spec.dtype, spec.shape);
    }
    // Last element index: offset + sum((size_i - 1) * stride_i), overflow-checked.
    int64_t last = spec.offset;
    bool contiguous = true;
    int64_t expect = 1;
    for (size_t i = spec.shape.size(); i-- > 0;) {
      int64_t span;
      if (__builtin_mul_overflow(spec.shape[i] - 1, spec.stride[i], &span) ||
          __builtin_add_overflow(last, span, &last)) {
        return Corrupt(name, "size " + ShapeToString(spec.shape) + " with stride " +
                                 ShapeToString(spec.stride) + " overflows");
      }
      if (spec.shape[i] != 1 && spec.stride[i] != expect) contiguous = false;
      expect *= spec.shape[i];  // <= numel: cannot overflow
    }
    if (last >= storage->numel) {
      return Corrupt(name, "view (offset " + std::to_string(spec.offset) + ", size " +
                               ShapeToString(spec.shape) + ", stride " + ShapeToString(spec.stride) +
                               ") reaches element " + std::to_string(last) + " of a storage of " +
                               std::to_string(storage->numel));
    }
    const std::byte* base = storage->bytes.data + static_cast<size_t>(spec.offset) * elem;
    if (contiguous && reinterpret_cast<uintptr_t>(base) % elem == 0) {
      return Tensor::Borrow(spec.dtype, spec.shape, base, storage->bytes.keepalive);
    }
    // Non-contiguous view (or misaligned data): gather into an owned contiguous copy.
    SDR_RETURN_IF_ERROR(Charge(static_cast<uint64_t>(*numel) * elem, name));
    SDR_ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(spec.dtype, spec.shape));
    std::byte* dst = static_cast<std::byte*>(out.mutable_raw());
    if (contiguous) {
      std::memcpy(dst, base, out.nbytes());
      return out;
    }
    const size_t rank = spec.shape.size();
    const int64_t inner = spec.shape[rank - 1];
    const int64_t inner_stride = spec.stride[rank - 1];
    std::vector<int64_t> idx(rank, 0);
    const int64_t rows = *numel / inner;
    for (int64_t row = 0; row < rows; ++row) {
      int64_t src = 0;
      for (size_t d = 0; d + 1 < rank; ++d) src += idx[d] * spec.stride[d];
      if (inner_stride == 1) {
        std::memcpy(dst, base + static_cast<size_t>(src) * elem, static_cast<size_t>(inner) * elem);
        dst += static_cast<size_t>(inner) * elem;
      } else {
        for (int64_t j = 0; j < inner; ++j) {
          std::memcpy(dst, base + static_cast<size_t>(src + j * inner_stride) * elem, elem);
          dst += elem;
        }
      }
      for (size_t d = rank - 1; d-- > 0;) {  // next index over all but the last dim
        if (++idx[d] < spec.shape[d]) break;
        idx[d] = 0;
      }
    }
    return out;
  }

  ZipReader zip_;
  TensorIndex* index_;
  std::string name_prefix_;
  std::string root_;  // "archive/"
  PickleGraph graph_;
  std::map<std::string, LoadedStorage> storages_;
  uint64_t budget_ = 0;
  uint64_t materialised_ = 0;
  uint64_t visits_ = 0;
  uint64_t max_visits_ = 0;
};

}  // namespace

Status ReadCkpt(const std::string& path, TensorIndex* index, const std::string& name_prefix) {
  SDR_CHECK(index != nullptr);
  SDR_ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> file, MappedFile::Open(path));
  return ReadCkpt(std::move(file), index, name_prefix);
}

Status ReadCkpt(std::shared_ptr<const MappedFile> file, TensorIndex* index, const std::string& name_prefix) {
  SDR_CHECK(file != nullptr && index != nullptr);
  if (file->size() >= 2 && file->data()[0] == std::byte{0x80} &&
      std::to_integer<uint8_t>(file->data()[1]) <= 5) {
    return Unsupported("ckpt '" + file->path() + "': legacy (pre-1.6, non-zip) torch serialization; "
                       "re-save it with a newer torch (torch.save(torch.load(p), p)) or convert "
                       "it to safetensors");
  }
  SDR_ASSIGN_OR_RETURN(ZipReader zip, ZipReader::Open(std::move(file)));
  CkptReader reader(std::move(zip), index, name_prefix);
  return reader.Read();
}

}  // namespace sdr
