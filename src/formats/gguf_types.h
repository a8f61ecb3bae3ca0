// GGUF type tables shared by the reader and the writer: the ggml tensor type ids (as stored in
// a tensor info) <-> our DType, and the metadata value types (as stored in a key/value pair).
//
// Facts from the GGUF spec (ggml docs/gguf.md): all integers little-endian; a string is a u64
// byte length followed by the bytes (no terminator); an array is a u32 element value type, a
// u64 element count and the elements (arrays may nest).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/dtype.h"

namespace sdr::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr uint32_t kVersionWritten = 3;  // we read v2 and v3, write v3
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr int kMaxDims = 4;              // ggml tensors have at most 4 dims
inline constexpr std::string_view kAlignmentKey = "general.alignment";
inline constexpr std::string_view kArchitectureKey = "general.architecture";
inline constexpr std::string_view kDefaultArchitecture = "stable-diffusion";

// Metadata value types, numbered as stored in the file.
enum class ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

// nullopt for an id outside 0..12.
std::optional<ValueType> ParseValueType(uint32_t id);
std::string_view ValueTypeName(ValueType t);  // "u8", ..., "string", "array", "f64"

// Bytes of one value of a fixed-size type (u8..f64, bool); 0 for string and array.
uint64_t FixedValueSize(ValueType t);

// The fewest bytes one value of `t` can take in a file (a string: its u64 length; an array:
// its u32 type + u64 count). Used to reject counts that cannot fit in the remaining bytes.
uint64_t MinValueSize(ValueType t);

// ggml tensor type id -> DType (F32 0, F16 1, Q4_0 2, Q4_1 3, Q5_0 6, Q5_1 7, Q8_0 8, Q4_K 12,
// Q5_K 13, Q6_K 14, I8 24, I16 25, I32 26, I64 27, F64 28, BF16 30); nullopt for any other id.
std::optional<DType> DTypeFromGgmlType(uint32_t ggml_type);
// DType -> ggml tensor type id; nullopt for dtypes GGUF cannot store (u8, bool).
std::optional<uint32_t> GgmlTypeFromDType(DType dtype);

}  // namespace sdr::gguf
