// Fuzz entry: a ZIP archive through ZipReader, reading every entry (see fuzz_targets.h).
#include "core/check.h"
#include "core/mapped_file.h"
#include "formats/zip_reader.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/tensor_checks.h"

namespace sdr::fuzz {

Status FuzzZip(std::string_view input) {
  SDR_ASSIGN_OR_RETURN(auto file, MappedFile::FromBytes(input, "fuzz.zip"));
  SDR_ASSIGN_OR_RETURN(ZipReader zip, ZipReader::Open(file));
  Status first_error;
  for (const ZipEntry& e : zip.entries()) {
    SDR_CHECK(zip.Find(e.name) == &e);
    // Open() promised that the entry's data lies inside the file.
    SDR_CHECK(e.data_offset <= file->size() && e.compressed_size <= file->size() - e.data_offset);
    auto bytes = zip.Read(e);
    if (!bytes.ok()) {
      if (first_error.ok()) first_error = bytes.status();
      continue;
    }
    SDR_CHECK(bytes->size == e.uncompressed_size);
    CheckBytesReadable(bytes->data, static_cast<size_t>(bytes->size));
  }
  return first_error;
}

}  // namespace sdr::fuzz
