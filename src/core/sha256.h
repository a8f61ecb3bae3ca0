// SHA-256 (FIPS 180-4) through OpenSSL's EVP interface (its assembly uses the CPU's SHA
// extensions: a 2 GB model file hashes in ~2 s instead of ~10 s with a portable C version):
// incremental hashing of bytes and of whole files (streamed in chunks, so multi-GB model files
// hash in constant memory). Used for A1111's model hashes.
//
// Thread-safety: a Sha256 object is mutable state; the free functions are thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace sdr {

using Sha256Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Appends `size` bytes. May be called any number of times before Finish().
  void Update(const void* data, size_t size);
  void Update(std::string_view bytes) { Update(bytes.data(), bytes.size()); }

  // Pads, returns the digest and resets the object for a new message.
  Sha256Digest Finish();

 private:
  void Reset();

  ::evp_md_ctx_st* ctx_;  // OpenSSL's EVP_MD_CTX (its header kept out of this one)
};

// Lower-case hex of a digest (64 characters).
std::string DigestHex(const Sha256Digest& digest);

// SHA-256 of a byte string.
Sha256Digest Sha256Of(std::string_view bytes);

// SHA-256 of a whole file, read in 1 MiB chunks. NotFound / IoError naming the path.
Result<Sha256Digest> Sha256File(const std::string& path);

}  // namespace sdr
