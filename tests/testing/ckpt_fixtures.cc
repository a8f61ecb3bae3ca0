#include "testing/ckpt_fixtures.h"

#include <sys/wait.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "testing/temp_dir.h"

namespace sdr::testing {
namespace {

void Put16(std::string* s, uint16_t v) {
  s->push_back(static_cast<char>(v & 0xff));
  s->push_back(static_cast<char>(v >> 8));
}
void Put32(std::string* s, uint32_t v) {
  Put16(s, static_cast<uint16_t>(v));
  Put16(s, static_cast<uint16_t>(v >> 16));
}
void Put64(std::string* s, uint64_t v) {
  Put32(s, static_cast<uint32_t>(v));
  Put32(s, static_cast<uint32_t>(v >> 32));
}

std::string RawDeflate(const std::string& in) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::string out(deflateBound(&zs, in.size()) + 16, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

int ExitCode(int raw) { return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128; }

}  // namespace

int RunPython(const std::string& script, std::string* output) {
  TempDir dir;
  const std::string py = dir.File("script.py");
  const std::string log = dir.File("log.txt");
  WriteFileBytes(py, script);
  const std::string cmd = "/usr/bin/python3 '" + py + "' > '" + log + "' 2>&1";
  const int rc = ExitCode(std::system(cmd.c_str()));
  if (output != nullptr) *output = ReadFileBytes(log);
  return rc;
}

bool HavePython() {
  static const bool have = ExitCode(std::system("/usr/bin/python3 -c 'pass' > /dev/null 2>&1")) == 0;
  return have;
}

bool HaveTorch() {
  static const bool have =
      HavePython() && ExitCode(std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1")) == 0;
  return have;
}

PickleBytes& PickleBytes::Proto(int version) {
  bytes_ += '\x80';
  bytes_ += static_cast<char>(version);
  return *this;
}
PickleBytes& PickleBytes::Op(uint8_t op) {
  bytes_ += static_cast<char>(op);
  return *this;
}
PickleBytes& PickleBytes::Raw(std::string_view b) {
  bytes_ += b;
  return *this;
}
PickleBytes& PickleBytes::Global(std::string_view module, std::string_view name) {
  bytes_ += 'c';
  bytes_ += module;
  bytes_ += '\n';
  bytes_ += name;
  bytes_ += '\n';
  return *this;
}
PickleBytes& PickleBytes::Str(std::string_view s) {
  bytes_ += 'X';
  Put32(&bytes_, static_cast<uint32_t>(s.size()));
  bytes_ += s;
  return *this;
}
PickleBytes& PickleBytes::ShortStr(std::string_view s) {
  bytes_ += '\x8c';
  bytes_ += static_cast<char>(s.size());
  bytes_ += s;
  return *this;
}
PickleBytes& PickleBytes::Int(int64_t v) {
  if (v >= 0 && v <= 0xff) {
    bytes_ += 'K';
    bytes_ += static_cast<char>(v);
  } else if (v >= 0 && v <= 0xffff) {
    bytes_ += 'M';
    Put16(&bytes_, static_cast<uint16_t>(v));
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    bytes_ += 'J';
    Put32(&bytes_, static_cast<uint32_t>(static_cast<int32_t>(v)));
  } else {
    bytes_ += '\x8a';
    bytes_ += '\x08';
    Put64(&bytes_, static_cast<uint64_t>(v));
  }
  return *this;
}
PickleBytes& PickleBytes::Put(uint32_t index) {
  if (index < 256) {
    bytes_ += 'q';
    bytes_ += static_cast<char>(index);
  } else {
    bytes_ += 'r';
    Put32(&bytes_, index);
  }
  return *this;
}
PickleBytes& PickleBytes::Get(uint32_t index) {
  if (index < 256) {
    bytes_ += 'h';
    bytes_ += static_cast<char>(index);
  } else {
    bytes_ += 'j';
    Put32(&bytes_, index);
  }
  return *this;
}

std::string FakeTensorCall(const FakeTensor& t) {
  PickleBytes p;
  if (t.as_parameter) p.Global("torch._utils", "_rebuild_parameter").Op('(');
  p.Global("torch._utils", "_rebuild_tensor_v2").Op('(');
  p.Op('(').Str("storage").Global("torch", t.storage_class).Str(t.key).Str("cpu")
      .Int(t.storage_numel).Op('t').Op('Q');
  p.Int(t.offset);
  p.Op('(');
  for (int64_t d : t.size) p.Int(d);
  p.Op('t').Op('(');
  for (int64_t s : t.stride) p.Int(s);
  p.Op('t').Op(0x89).Global("collections", "OrderedDict").Op(')').Op('R').Op('t').Op('R');
  if (t.as_parameter) {
    p.Op(0x88).Global("collections", "OrderedDict").Op(')').Op('R').Op('t').Op('R');
  }
  return p.bytes();
}

std::string FakeStateDictPickle(const std::vector<FakeTensor>& tensors, bool wrap) {
  PickleBytes p;
  p.Proto(2);
  if (wrap) p.Op('}').Str("state_dict");
  p.Global("collections", "OrderedDict").Op(')').Op('R');
  p.Op('(');
  for (const FakeTensor& t : tensors) p.Str(t.name).Raw(FakeTensorCall(t));
  p.Op('u');
  if (wrap) p.Op('s');
  p.Stop();
  return p.bytes();
}

std::string BuildZip(const std::vector<ZipSpecEntry>& entries, bool force_zip64,
                     ZipLayout* layout) {
  ZipLayout lay;
  std::string out;
  struct Meta {
    uint32_t crc;
    uint64_t csize, usize;
    uint16_t method;
  };
  std::vector<Meta> metas;
  for (const ZipSpecEntry& e : entries) {
    const std::string payload = e.deflate ? RawDeflate(e.data) : e.data;
    Meta m;
    m.crc = e.crc ? *e.crc
                  : static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(e.data.data()),
                                                static_cast<uInt>(e.data.size())));
    m.csize = payload.size();
    m.usize = e.declared_size ? *e.declared_size : e.data.size();
    m.method = e.deflate ? 8 : 0;
    metas.push_back(m);
    lay.local_offsets.push_back(out.size());
    const std::string& lname = e.local_name ? *e.local_name : e.name;
    std::string extra;
    if (force_zip64) {
      Put16(&extra, 1);
      Put16(&extra, 16);
      Put64(&extra, m.usize);
      Put64(&extra, m.csize);
    }
    Put32(&out, 0x04034b50);
    Put16(&out, 45);
    Put16(&out, 0);
    Put16(&out, m.method);
    Put16(&out, 0);
    Put16(&out, 0x21);
    Put32(&out, m.crc);
    Put32(&out, force_zip64 ? 0xffffffffu : static_cast<uint32_t>(m.csize));
    Put32(&out, force_zip64 ? 0xffffffffu : static_cast<uint32_t>(m.usize));
    Put16(&out, static_cast<uint16_t>(lname.size()));
    Put16(&out, static_cast<uint16_t>(extra.size()));
    out += lname;
    out += extra;
    out += payload;
  }
  lay.cd_offset = out.size();
  for (size_t i = 0; i < entries.size(); ++i) {
    const Meta& m = metas[i];
    lay.central_offsets.push_back(out.size());
    std::string extra;
    if (force_zip64) {
      Put16(&extra, 1);
      Put16(&extra, 28);
      Put64(&extra, m.usize);
      Put64(&extra, m.csize);
      Put64(&extra, lay.local_offsets[i]);
      Put32(&extra, 0);
    }
    Put32(&out, 0x02014b50);
    Put16(&out, 45);
    Put16(&out, 45);
    Put16(&out, 0);
    Put16(&out, m.method);
    Put16(&out, 0);
    Put16(&out, 0x21);
    Put32(&out, m.crc);
    Put32(&out, force_zip64 ? 0xffffffffu : static_cast<uint32_t>(m.csize));
    Put32(&out, force_zip64 ? 0xffffffffu : static_cast<uint32_t>(m.usize));
    Put16(&out, static_cast<uint16_t>(entries[i].name.size()));
    Put16(&out, static_cast<uint16_t>(extra.size()));
    Put16(&out, 0);
    Put16(&out, force_zip64 ? 0xffff : 0);
    Put16(&out, 0);
    Put32(&out, 0);
    Put32(&out, force_zip64 ? 0xffffffffu : static_cast<uint32_t>(lay.local_offsets[i]));
    out += entries[i].name;
    out += extra;
  }
  lay.cd_size = out.size() - lay.cd_offset;
  if (force_zip64) {
    lay.zip64_eocd_offset = out.size();
    Put32(&out, 0x06064b50);
    Put64(&out, 44);
    Put16(&out, 45);
    Put16(&out, 45);
    Put32(&out, 0);
    Put32(&out, 0);
    Put64(&out, entries.size());
    Put64(&out, entries.size());
    Put64(&out, lay.cd_size);
    Put64(&out, lay.cd_offset);
    Put32(&out, 0x07064b50);
    Put32(&out, 0);
    Put64(&out, lay.zip64_eocd_offset);
    Put32(&out, 1);
  }
  lay.eocd_offset = out.size();
  Put32(&out, 0x06054b50);
  Put16(&out, 0);
  Put16(&out, 0);
  Put16(&out, force_zip64 ? 0xffff : static_cast<uint16_t>(entries.size()));
  Put16(&out, force_zip64 ? 0xffff : static_cast<uint16_t>(entries.size()));
  Put32(&out, force_zip64 ? 0xffffffffu : static_cast<uint32_t>(lay.cd_size));
  Put32(&out, force_zip64 ? 0xffffffffu : static_cast<uint32_t>(lay.cd_offset));
  Put16(&out, 0);
  if (layout != nullptr) *layout = lay;
  return out;
}

std::string TorchLikeZip(const std::string& data_pkl, const std::map<std::string, std::string>& storages,
                         const std::string& root, const std::optional<std::string>& byteorder) {
  std::vector<ZipSpecEntry> entries;
  entries.push_back({root + "/data.pkl", data_pkl});
  if (byteorder) entries.push_back({root + "/byteorder", *byteorder});
  for (const auto& [key, bytes] : storages) entries.push_back({root + "/data/" + key, bytes});
  entries.push_back({root + "/version", "3\n"});
  return BuildZip(entries);
}

void Patch16(std::string* bytes, uint64_t at, uint16_t v) {
  std::string s;
  Put16(&s, v);
  bytes->replace(at, 2, s);
}
void Patch32(std::string* bytes, uint64_t at, uint32_t v) {
  std::string s;
  Put32(&s, v);
  bytes->replace(at, 4, s);
}
void Patch64(std::string* bytes, uint64_t at, uint64_t v) {
  std::string s;
  Put64(&s, v);
  bytes->replace(at, 8, s);
}

std::string F32Bytes(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

}  // namespace sdr::testing
