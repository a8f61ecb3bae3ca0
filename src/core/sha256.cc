#include "core/sha256.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "core/check.h"

namespace sdr {
namespace {

constexpr size_t kFileChunk = size_t{1} << 20;

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) throw std::bad_alloc();
  Reset();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::Reset() { SDR_CHECK(EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) == 1); }

void Sha256::Update(const void* data, size_t size) {
  if (size > 0) SDR_CHECK(EVP_DigestUpdate(ctx_, data, size) == 1);
}

Sha256Digest Sha256::Finish() {
  Sha256Digest d{};
  unsigned int len = 0;
  SDR_CHECK(EVP_DigestFinal_ex(ctx_, d.data(), &len) == 1 && len == d.size());
  Reset();
  return d;
}

std::string DigestHex(const Sha256Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * digest.size());
  for (uint8_t b : digest) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

Sha256Digest Sha256Of(std::string_view bytes) {
  Sha256 h;
  h.Update(bytes);
  return h.Finish();
}

Result<Sha256Digest> Sha256File(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    const int err = errno;
    std::string msg = "cannot open '" + path + "' for hashing: " + std::strerror(err);
    if (err == ENOENT) return NotFound(std::move(msg));
    return IoError(std::move(msg));
  }
  std::vector<uint8_t> chunk(kFileChunk);
  Sha256 h;
  while (true) {
    const size_t got = std::fread(chunk.data(), 1, chunk.size(), f.get());
    h.Update(chunk.data(), got);
    if (got < chunk.size()) {
      if (std::ferror(f.get())) return IoError("reading '" + path + "' for hashing failed");
      break;
    }
  }
  return h.Finish();
}

}  // namespace sdr
