#include "formats/model_file.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "formats/ckpt.h"
#include "formats/diffusers.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"

namespace sdr {
namespace {

bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// First bytes of a file (fewer when the file is shorter); empty on failure.
std::string Head(const std::string& path, size_t n) {
  std::string buf(n, '\0');
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return {};
  buf.resize(std::fread(buf.data(), 1, n, f));
  std::fclose(f);
  return buf;
}

}  // namespace

ModelFormat DetectModelFormat(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return IsDiffusersFolder(path) ? ModelFormat::kDiffusers : ModelFormat::kUnknown;
  }
  if (EndsWith(path, ".safetensors.index.json")) return ModelFormat::kSafetensors;
  const std::string head = Head(path, 9);
  if (head.size() >= 4 && head.compare(0, 4, "GGUF") == 0) return ModelFormat::kGguf;
  if (head.size() >= 4 && head.compare(0, 4, "PK\x03\x04") == 0) return ModelFormat::kCkpt;
  if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x80) return ModelFormat::kCkpt;  // legacy pickle
  if (head.size() == 9 && head[8] == '{') return ModelFormat::kSafetensors;
  return ModelFormat::kUnknown;
}

Result<TensorIndex> OpenModelFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return NotFound("model path '" + path + "' does not exist");
  TensorIndex index;
  index.path = path;
  const ModelFormat format = DetectModelFormat(path);
  index.format = format;
  Status s;
  switch (format) {
    case ModelFormat::kSafetensors:
      s = EndsWith(path, ".index.json") ? ReadSafetensorsSharded(path, &index) : ReadSafetensors(path, &index);
      break;
    case ModelFormat::kCkpt: s = ReadCkpt(path, &index); break;
    case ModelFormat::kGguf: s = ReadGguf(path, &index); break;
    case ModelFormat::kDiffusers: s = ReadDiffusers(path, &index); break;
    case ModelFormat::kUnknown:
      return Unsupported("'" + path + "' is not a model file we recognise (expected .safetensors, " +
                         "a PyTorch .ckpt/.pt zip, GGUF, or a diffusers folder with model_index.json)");
  }
  SDR_RETURN_IF_ERROR(s);
  index.format = format;  // readers of nested files (diffusers) may have set another
  return index;
}

}  // namespace sdr
