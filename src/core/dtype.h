// Element types of tensors as stored in model files and in memory. Quantized types are stored
// in blocks (GGUF/ggml layouts): `block_elems` values take `block_bytes` bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sdr {

enum class DType : uint8_t {
  kF32, kF16, kBF16, kF64,
  kI8, kU8, kI16, kI32, kI64, kBool,
  kQ4_0, kQ4_1, kQ5_0, kQ5_1, kQ8_0,
  kQ4_K, kQ5_K, kQ6_K,
};

struct DTypeInfo {
  DType dtype;
  std::string_view name;  // "f32", "q8_0", ...
  int64_t block_elems;    // 1 for plain types
  int64_t block_bytes;    // bytes per block (element size for plain types)
  bool is_float;          // f32/f16/bf16/f64
  bool is_quantized;
};

const DTypeInfo& GetDTypeInfo(DType dtype);
inline std::string_view DTypeName(DType d) { return GetDTypeInfo(d).name; }
std::optional<DType> ParseDType(std::string_view name);  // by DTypeName, case-insensitive

// Bytes taken by `elems` values of `dtype`; nullopt when `elems` is not a whole number of blocks
// or the product overflows.
std::optional<uint64_t> DTypeBytes(DType dtype, uint64_t elems);

}  // namespace sdr
