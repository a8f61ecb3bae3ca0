#include "formats/gguf_types.h"

#include <array>

namespace sdr::gguf {
namespace {

struct ValueTypeInfo {
  ValueType type;
  std::string_view name;
  uint64_t fixed_size;  // 0: variable (string, array)
  uint64_t min_size;
};

constexpr std::array<ValueTypeInfo, 13> kValueTypes = {{
    {ValueType::kU8, "u8", 1, 1},
    {ValueType::kI8, "i8", 1, 1},
    {ValueType::kU16, "u16", 2, 2},
    {ValueType::kI16, "i16", 2, 2},
    {ValueType::kU32, "u32", 4, 4},
    {ValueType::kI32, "i32", 4, 4},
    {ValueType::kF32, "f32", 4, 4},
    {ValueType::kBool, "bool", 1, 1},
    {ValueType::kString, "string", 0, 8},   // u64 length
    {ValueType::kArray, "array", 0, 12},    // u32 type + u64 count
    {ValueType::kU64, "u64", 8, 8},
    {ValueType::kI64, "i64", 8, 8},
    {ValueType::kF64, "f64", 8, 8},
}};

const ValueTypeInfo& Info(ValueType t) { return kValueTypes[static_cast<uint32_t>(t)]; }

struct GgmlTypeEntry {
  uint32_t ggml_type;
  DType dtype;
};

constexpr std::array<GgmlTypeEntry, 16> kGgmlTypes = {{
    {0, DType::kF32},   {1, DType::kF16},   {2, DType::kQ4_0},  {3, DType::kQ4_1},
    {6, DType::kQ5_0},  {7, DType::kQ5_1},  {8, DType::kQ8_0},  {12, DType::kQ4_K},
    {13, DType::kQ5_K}, {14, DType::kQ6_K}, {24, DType::kI8},   {25, DType::kI16},
    {26, DType::kI32},  {27, DType::kI64},  {28, DType::kF64},  {30, DType::kBF16},
}};

}  // namespace

std::optional<ValueType> ParseValueType(uint32_t id) {
  if (id >= kValueTypes.size()) return std::nullopt;
  return kValueTypes[id].type;
}

std::string_view ValueTypeName(ValueType t) { return Info(t).name; }
uint64_t FixedValueSize(ValueType t) { return Info(t).fixed_size; }
uint64_t MinValueSize(ValueType t) { return Info(t).min_size; }

std::optional<DType> DTypeFromGgmlType(uint32_t ggml_type) {
  for (const GgmlTypeEntry& e : kGgmlTypes) {
    if (e.ggml_type == ggml_type) return e.dtype;
  }
  return std::nullopt;
}

std::optional<uint32_t> GgmlTypeFromDType(DType dtype) {
  for (const GgmlTypeEntry& e : kGgmlTypes) {
    if (e.dtype == dtype) return e.ggml_type;
  }
  return std::nullopt;
}

}  // namespace sdr::gguf
