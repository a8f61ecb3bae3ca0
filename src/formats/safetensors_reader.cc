// Reading .safetensors files (format in formats/safetensors.h).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/mapped_file.h"
#include "formats/safetensors.h"

namespace sdr {
namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the reference implementation's limit
constexpr size_t kMaxRank = 8;

Result<DType> ParseSafetensorsDType(const std::string& s) {
  static const std::pair<const char*, DType> kTable[] = {
      {"F32", DType::kF32}, {"F16", DType::kF16}, {"BF16", DType::kBF16}, {"F64", DType::kF64},
      {"I8", DType::kI8},   {"U8", DType::kU8},   {"I16", DType::kI16},   {"I32", DType::kI32},
      {"I64", DType::kI64}, {"BOOL", DType::kBool},
  };
  for (const auto& [name, dtype] : kTable) {
    if (s == name) return dtype;
  }
  return Unsupported("unknown dtype '" + s + "'");
}

struct RawEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;  // byte range within the data section
};

Result<RawEntry> ParseEntry(const std::string& name, const json& v, uint64_t data_size) {
  auto fail = [&](const std::string& what) { return CorruptData("tensor '" + name + "': " + what); };
  if (!v.is_object()) return fail("header entry is not an object");
  auto dt = v.find("dtype");
  auto sh = v.find("shape");
  auto off = v.find("data_offsets");
  if (dt == v.end() || !dt->is_string()) return fail("missing string 'dtype'");
  if (sh == v.end() || !sh->is_array()) return fail("missing array 'shape'");
  if (off == v.end() || !off->is_array() || off->size() != 2) return fail("'data_offsets' is not [begin, end]");
  RawEntry e;
  e.name = name;
  auto dtype = ParseSafetensorsDType(dt->get<std::string>());
  if (!dtype.ok()) return dtype.status().WithContext("tensor '" + name + "'");
  e.dtype = *dtype;
  if (sh->size() > kMaxRank) return fail("rank " + std::to_string(sh->size()) + " is too large");
  for (const json& d : *sh) {
    if (!d.is_number_unsigned()) return fail("shape has a non-integer or negative dim");
    const uint64_t dim = d.get<uint64_t>();
    if (dim > static_cast<uint64_t>(INT64_MAX)) return fail("dim too large");
    e.shape.push_back(static_cast<int64_t>(dim));
  }
  for (const json& o : *off) {
    if (!o.is_number_unsigned()) return fail("data_offsets are not non-negative integers");
  }
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  if (e.begin > e.end) return fail("data_offsets begin > end");
  if (e.end > data_size) {
    return fail("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                "] run past the end of the data (" + std::to_string(data_size) + " bytes)");
  }
  auto numel = CheckedNumElements(e.shape);
  auto bytes = numel ? DTypeBytes(e.dtype, static_cast<uint64_t>(*numel)) : std::nullopt;
  if (!bytes) return fail("shape " + ShapeToString(e.shape) + " overflows");
  if (*bytes != e.end - e.begin) {
    return fail("shape " + ShapeToString(e.shape) + " of " + std::string(DTypeName(e.dtype)) + " needs " +
                std::to_string(*bytes) + " bytes but data_offsets give " + std::to_string(e.end - e.begin));
  }
  return e;
}

Status ReadSafetensorsImpl(const std::shared_ptr<const MappedFile>& file, TensorIndex* index,
                           const std::string& prefix) {
  const uint64_t size = file->size();
  if (size < 8) return CorruptData("file is " + std::to_string(size) + " bytes, too short for a header");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(file->data()[i]);
  if (header_len > kMaxHeaderBytes) {
    return CorruptData("header length " + std::to_string(header_len) + " exceeds the 100 MiB limit");
  }
  if (header_len > size - 8) {
    return CorruptData("header length " + std::to_string(header_len) + " is larger than the file (" +
                       std::to_string(size) + " bytes)");
  }
  const char* hdr = reinterpret_cast<const char*>(file->data() + 8);
  json header = json::parse(hdr, hdr + header_len, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) return CorruptData("header is not valid JSON");
  if (!header.is_object()) return CorruptData("header is not a JSON object");
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = size - data_start;

  std::vector<RawEntry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) return CorruptData("__metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        index->metadata[m.key()] = m->is_string() ? m->get<std::string>() : m->dump(-1, ' ', false, json::error_handler_t::replace);
      }
      continue;
    }
    SDR_ASSIGN_OR_RETURN(RawEntry e, ParseEntry(it.key(), *it, data_size));
    entries.push_back(std::move(e));
  }
  // Overlap check over the sorted byte ranges (empty tensors cannot overlap).
  std::vector<const RawEntry*> sorted;
  for (const auto& e : entries) {
    if (e.end > e.begin) sorted.push_back(&e);
  }
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i]->begin < sorted[i - 1]->end) {
      return CorruptData("tensors '" + sorted[i - 1]->name + "' and '" + sorted[i]->name +
                         "' overlap in the data section");
    }
  }
  for (auto& e : entries) {
    if (IsIgnoredTensorName(e.name)) {
      ++index->ignored_tensors;
      continue;
    }
    // Tensors are read as T and need natural alignment, which the format does not promise
    // (tensors are packed in any order after a header of any length): copy misaligned ones.
    // Their bytes lie in the file without overlap, so copies total at most the file size.
    const std::byte* data = file->data() + data_start + e.begin;
    const auto natural = static_cast<uintptr_t>(GetDTypeInfo(e.dtype).block_bytes);
    if (e.end == e.begin || reinterpret_cast<uintptr_t>(data) % natural == 0) {
      SDR_RETURN_IF_ERROR(index->Add(prefix + e.name, Tensor::Borrow(e.dtype, std::move(e.shape), data, file)));
    } else {
      auto owned = Tensor::Allocate(e.dtype, std::move(e.shape));
      if (!owned.ok()) return owned.status().WithContext("copying misaligned tensor '" + e.name + "'");
      std::memcpy(owned->mutable_raw(), data, owned->nbytes());
      SDR_RETURN_IF_ERROR(index->Add(prefix + e.name, std::move(owned).value()));
    }
  }
  return Status::Ok();
}

}  // namespace

Status ReadSafetensors(const std::string& path, TensorIndex* index, const std::string& name_prefix) {
  auto file = MappedFile::Open(path);
  if (!file.ok()) return file.status().WithContext("reading safetensors '" + path + "'");
  return ReadSafetensors(*file, index, name_prefix);
}

Status ReadSafetensors(const std::shared_ptr<const MappedFile>& file, TensorIndex* index,
                       const std::string& name_prefix) {
  SDR_CHECK(file != nullptr && index != nullptr);
  return ReadSafetensorsImpl(file, index, name_prefix).WithContext("reading safetensors '" + file->path() + "'");
}

Status ReadSafetensorsSharded(const std::string& index_json_path, TensorIndex* index,
                             const std::string& name_prefix) {
  const std::string ctx = "reading sharded safetensors index '" + index_json_path + "'";
  SDR_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(index_json_path));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return CorruptData("not a JSON object").WithContext(ctx);
  auto wm = j.find("weight_map");
  if (wm == j.end() || !wm->is_object()) return CorruptData("missing object 'weight_map'").WithContext(ctx);
  std::set<std::string> shards;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it->is_string()) return CorruptData("weight_map['" + it.key() + "'] is not a string").WithContext(ctx);
    const std::string shard = it->get<std::string>();
    if (shard.find('/') != std::string::npos || shard == "..") {
      return CorruptData("shard name '" + shard + "' must be a file beside the index").WithContext(ctx);
    }
    shards.insert(shard);
  }
  const std::filesystem::path dir = std::filesystem::path(index_json_path).parent_path();
  TensorIndex shard_index;
  for (const std::string& shard : shards) {
    SDR_RETURN_IF_ERROR(ReadSafetensors((dir / shard).string(), &shard_index, name_prefix).WithContext(ctx));
  }
  // Every tensor the weight map names must be in the shard it names.
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!IsIgnoredTensorName(it.key()) && shard_index.Find(name_prefix + it.key()) == nullptr) {
      return CorruptData("tensor '" + it.key() + "' listed in weight_map is missing from shard '" +
                         it->get<std::string>() + "'").WithContext(ctx);
    }
  }
  index->ignored_tensors += shard_index.ignored_tensors;
  for (auto& [k, v] : shard_index.metadata) index->metadata[k] = v;
  for (const TensorEntry& e : shard_index.entries()) SDR_RETURN_IF_ERROR(index->Add(e.name, e.tensor));
  return Status::Ok();
}

}  // namespace sdr
