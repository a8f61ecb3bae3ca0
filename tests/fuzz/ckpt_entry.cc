// Fuzz entry: a whole torch.save checkpoint through the real reader (see fuzz_targets.h).
#include "core/mapped_file.h"
#include "formats/ckpt.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/tensor_checks.h"

namespace sdr::fuzz {

Status FuzzCkpt(std::string_view input) {
  SDR_ASSIGN_OR_RETURN(auto file, MappedFile::FromBytes(input, "fuzz.ckpt"));
  TensorIndex index;
  Status s = ReadCkpt(file, &index);
  CheckTensorIndex(index);  // also on error: whatever was added must be sound
  return s;
}

}  // namespace sdr::fuzz
