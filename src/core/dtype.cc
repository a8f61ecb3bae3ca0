#include "core/dtype.h"

#include <array>
#include <cctype>
#include <string>

#include "core/check.h"

namespace sdr {
namespace {

constexpr std::array<DTypeInfo, 18> kDTypes = {{
    {DType::kF32, "f32", 1, 4, true, false},
    {DType::kF16, "f16", 1, 2, true, false},
    {DType::kBF16, "bf16", 1, 2, true, false},
    {DType::kF64, "f64", 1, 8, true, false},
    {DType::kI8, "i8", 1, 1, false, false},
    {DType::kU8, "u8", 1, 1, false, false},
    {DType::kI16, "i16", 1, 2, false, false},
    {DType::kI32, "i32", 1, 4, false, false},
    {DType::kI64, "i64", 1, 8, false, false},
    {DType::kBool, "bool", 1, 1, false, false},
    {DType::kQ4_0, "q4_0", 32, 18, false, true},
    {DType::kQ4_1, "q4_1", 32, 20, false, true},
    {DType::kQ5_0, "q5_0", 32, 22, false, true},
    {DType::kQ5_1, "q5_1", 32, 24, false, true},
    {DType::kQ8_0, "q8_0", 32, 34, false, true},
    {DType::kQ4_K, "q4_k", 256, 144, false, true},
    {DType::kQ5_K, "q5_k", 256, 176, false, true},
    {DType::kQ6_K, "q6_k", 256, 210, false, true},
}};

}  // namespace

const DTypeInfo& GetDTypeInfo(DType dtype) {
  const auto i = static_cast<size_t>(dtype);
  SDR_CHECK(i < kDTypes.size() && kDTypes[i].dtype == dtype);
  return kDTypes[i];
}

std::optional<DType> ParseDType(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const DTypeInfo& info : kDTypes) {
    if (info.name == lower) return info.dtype;
  }
  return std::nullopt;
}

std::optional<uint64_t> DTypeBytes(DType dtype, uint64_t elems) {
  const DTypeInfo& info = GetDTypeInfo(dtype);
  const auto block = static_cast<uint64_t>(info.block_elems);
  if (elems % block != 0) return std::nullopt;
  const uint64_t blocks = elems / block;
  const auto bytes = static_cast<uint64_t>(info.block_bytes);
  if (blocks != 0 && bytes > UINT64_MAX / blocks) return std::nullopt;
  return blocks * bytes;
}

}  // namespace sdr
