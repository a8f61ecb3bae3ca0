// Fuzz entry: GGUF bytes through the real reader (see fuzz_targets.h).
#include "core/check.h"
#include "core/mapped_file.h"
#include "formats/gguf.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/tensor_checks.h"

namespace sdr::fuzz {

Status FuzzGguf(std::string_view input) {
  SDR_ASSIGN_OR_RETURN(auto file, MappedFile::FromBytes(input, "fuzz.gguf"));
  TensorIndex index;
  Status s = ReadGguf(file, &index);
  // The reader commits to the index only once the whole file checked out.
  SDR_CHECK(s.ok() || (index.size() == 0 && index.metadata.empty()));
  CheckTensorIndex(index);
  return s;
}

}  // namespace sdr::fuzz
