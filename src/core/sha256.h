// SHA-256 (FIPS 180-4): incremental hashing of bytes and of whole files (streamed in chunks, so
// multi-GB model files hash in constant memory). Used for A1111's model hashes.
//
// Thread-safety: a Sha256 object is mutable state; the free functions are thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sdr {

using Sha256Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();

  // Appends `size` bytes. May be called any number of times before Finish().
  void Update(const void* data, size_t size);
  void Update(std::string_view bytes) { Update(bytes.data(), bytes.size()); }

  // Pads, returns the digest and resets the object for a new message.
  Sha256Digest Finish();

 private:
  void Reset();
  void Compress(const uint8_t* block);  // one 64-byte block

  uint32_t h_[8];
  uint8_t buffer_[64];
  size_t buffered_ = 0;      // bytes in buffer_
  uint64_t total_bytes_ = 0;  // message length so far
};

// Lower-case hex of a digest (64 characters).
std::string DigestHex(const Sha256Digest& digest);

// SHA-256 of a byte string.
Sha256Digest Sha256Of(std::string_view bytes);

// SHA-256 of a whole file, read in 1 MiB chunks. NotFound / IoError naming the path.
Result<Sha256Digest> Sha256File(const std::string& path);

}  // namespace sdr
