// Builders for the .ckpt tests: hand-made pickles, hand-made (possibly broken) zip archives,
// torch-like archives around a given data.pkl, and a runner for /usr/bin/python3 (used to
// produce reference files with the real torch.save and to check our files with torch.load).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sdr::testing {

// True when /usr/bin/python3 runs / can `import torch` (cached).
bool HavePython();
bool HaveTorch();
// Runs `script` with /usr/bin/python3; returns its exit status and (if given) its combined
// stdout+stderr.
int RunPython(const std::string& script, std::string* output = nullptr);

// Pickle bytes, opcode by opcode.
class PickleBytes {
 public:
  PickleBytes& Proto(int version);
  PickleBytes& Op(uint8_t op);              // any single-byte opcode
  PickleBytes& Raw(std::string_view bytes);
  PickleBytes& Global(std::string_view module, std::string_view name);  // GLOBAL 'c'
  PickleBytes& Str(std::string_view s);       // BINUNICODE
  PickleBytes& ShortStr(std::string_view s);  // SHORT_BINUNICODE
  PickleBytes& Int(int64_t v);                // BININT1/BININT2/BININT/LONG1 like Python
  PickleBytes& Put(uint32_t index);           // BINPUT / LONG_BINPUT
  PickleBytes& Get(uint32_t index);           // BINGET / LONG_BINGET
  PickleBytes& Stop() { return Op('.'); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

// One tensor of a hand-made torch pickle.
struct FakeTensor {
  std::string name;
  std::string storage_class = "FloatStorage";
  std::string key;
  int64_t storage_numel = 0;
  int64_t offset = 0;
  std::vector<int64_t> size;
  std::vector<int64_t> stride;
  bool as_parameter = false;  // wrap in torch._utils._rebuild_parameter
};
// The pickle opcodes that push that tensor (no PROTO/STOP), for composing pickles by hand.
std::string FakeTensorCall(const FakeTensor& t);
// A protocol-2 pickle of {name: tensor} (an OrderedDict), inside {"state_dict": ...} when
// `wrap`.
std::string FakeStateDictPickle(const std::vector<FakeTensor>& tensors, bool wrap);

// Hand-made zip archives.
struct ZipSpecEntry {
  ZipSpecEntry(std::string n, std::string d) : name(std::move(n)), data(std::move(d)) {}
  std::string name;
  std::string data;
  bool deflate = false;
  std::optional<std::string> local_name;       // name written in the local header
  std::optional<uint64_t> declared_size;        // central uncompressed size override
  std::optional<uint32_t> crc;                  // CRC override
};
struct ZipLayout {
  std::vector<uint64_t> local_offsets;
  std::vector<uint64_t> central_offsets;
  uint64_t cd_offset = 0;
  uint64_t cd_size = 0;
  uint64_t eocd_offset = 0;     // the classic EOCD record
  uint64_t zip64_eocd_offset = 0;  // 0 when not written
};
// Entries in order; ZIP64 records (EOCD64 + locator + per-entry extra) when `force_zip64`.
std::string BuildZip(const std::vector<ZipSpecEntry>& entries, bool force_zip64 = false,
                     ZipLayout* layout = nullptr);

// "<root>/data.pkl" + "<root>/data/<key>" for each storage + "<root>/version".
std::string TorchLikeZip(const std::string& data_pkl, const std::map<std::string, std::string>& storages,
                         const std::string& root = "archive",
                         const std::optional<std::string>& byteorder = std::nullopt);

// Little-endian field patches.
void Patch16(std::string* bytes, uint64_t at, uint16_t v);
void Patch32(std::string* bytes, uint64_t at, uint32_t v);
void Patch64(std::string* bytes, uint64_t at, uint64_t v);

// Bytes of a float vector (little-endian f32).
std::string F32Bytes(const std::vector<float>& v);

}  // namespace sdr::testing
