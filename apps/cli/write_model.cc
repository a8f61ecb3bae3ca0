#include "apps/cli/write_model.h"

#include <filesystem>

#include "formats/ckpt.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"

namespace sdr::cli {

Status WriteModelByExtension(const std::string& path, const std::vector<NamedTensor>& tensors,
                             const std::vector<std::pair<std::string, std::string>>& metadata) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".safetensors") return WriteSafetensors(path, tensors, metadata);
  if (ext == ".ckpt" || ext == ".pt") return WriteCkpt(path, tensors);
  if (ext == ".gguf") return WriteGguf(path, tensors, metadata);
  return InvalidArgument("cannot tell the output format of '" + path +
                         "' (use .safetensors, .ckpt, .pt or .gguf)");
}

}  // namespace sdr::cli
