// Fuzz entry: .safetensors bytes through the real reader (see fuzz_targets.h).
#include "core/mapped_file.h"
#include "formats/safetensors.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/tensor_checks.h"

namespace sdr::fuzz {

Status FuzzSafetensors(std::string_view input) {
  SDR_ASSIGN_OR_RETURN(auto file, MappedFile::FromBytes(input, "fuzz.safetensors"));
  TensorIndex index;
  Status s = ReadSafetensors(file, &index);
  CheckTensorIndex(index);  // also on error: whatever was added must be sound
  return s;
}

}  // namespace sdr::fuzz
