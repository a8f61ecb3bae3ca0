#include "formats/npy.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/mapped_file.h"

namespace sdr {

Status WriteNpy(const std::string& path, const Tensor& t) {
  if (t.dtype() != DType::kF32) return InvalidArgument("WriteNpy needs an f32 tensor");
  std::string shape = "(";
  for (size_t i = 0; i < t.rank(); ++i) shape += std::to_string(t.dim(i)) + (t.rank() == 1 || i + 1 < t.rank() ? "," : "");
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string pre("\x93NUMPY\x01\x00", 8);
  pre += static_cast<char>(header.size() & 0xff);
  pre += static_cast<char>((header.size() >> 8) & 0xff);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return IoError("cannot create '" + path + "': " + std::strerror(errno));
  bool ok = std::fwrite(pre.data(), 1, pre.size(), f) == pre.size() &&
            std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
            std::fwrite(t.raw(), 1, t.nbytes(), f) == t.nbytes();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) return IoError("cannot write '" + path + "'");
  return Status::Ok();
}

Result<Tensor> ReadNpy(const std::string& path) {
  SDR_ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> file, MappedFile::Open(path));
  const auto* p = reinterpret_cast<const unsigned char*>(file->data());
  const uint64_t size = file->size();
  auto bad = [&](const std::string& why) { return CorruptData("'" + path + "' is not a supported .npy: " + why); };
  if (size < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0) return bad("bad magic");
  uint64_t hlen, hstart;
  if (p[6] == 1) {
    hlen = p[8] | (p[9] << 8);
    hstart = 10;
  } else if (p[6] == 2 || p[6] == 3) {
    if (size < 12) return bad("truncated");
    hlen = p[8] | (p[9] << 8) | (static_cast<uint64_t>(p[10]) << 16) | (static_cast<uint64_t>(p[11]) << 24);
    hstart = 12;
  } else {
    return bad("version " + std::to_string(p[6]));
  }
  if (hlen > size - hstart) return bad("header past the end");
  const std::string h(reinterpret_cast<const char*>(p + hstart), hlen);
  const bool f8 = h.find("'<f8'") != std::string::npos;
  if (h.find("'<f4'") == std::string::npos && !f8) return bad("dtype is not <f4 or <f8");
  if (h.find("'fortran_order': False") == std::string::npos) return bad("fortran order");
  const size_t s0 = h.find("'shape': (");
  const size_t s1 = h.find(')', s0);
  if (s0 == std::string::npos || s1 == std::string::npos) return bad("no shape");
  Shape shape;
  std::string dims = h.substr(s0 + 10, s1 - s0 - 10);
  size_t i = 0;
  while (i < dims.size()) {
    while (i < dims.size() && (dims[i] == ' ' || dims[i] == ',')) ++i;
    if (i >= dims.size()) break;
    int64_t v = 0;
    size_t j = i;
    while (j < dims.size() && dims[j] >= '0' && dims[j] <= '9') {
      v = v * 10 + (dims[j] - '0');
      if (v > (int64_t{1} << 40)) return bad("absurd dim");
      ++j;
    }
    if (j == i) return bad("bad shape '" + dims + "'");
    shape.push_back(v);
    i = j;
  }
  auto n = CheckedNumElements(shape, int64_t{1} << 40);
  if (!n) return bad("shape overflows");
  const uint64_t data_bytes = static_cast<uint64_t>(*n) * (f8 ? 8 : 4);
  if (data_bytes > size - hstart - hlen) return bad("data shorter than the shape says");
  SDR_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kF32, shape));
  const unsigned char* data = p + hstart + hlen;
  if (f8) {
    for (int64_t k = 0; k < *n; ++k) {
      double d;
      std::memcpy(&d, data + 8 * k, 8);
      t.mutable_data<float>()[k] = static_cast<float>(d);
    }
  } else {
    std::memcpy(t.mutable_raw(), data, data_bytes);
  }
  return t;
}

}  // namespace sdr
