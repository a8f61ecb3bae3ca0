// Dispatcher for the ggml block formats; the kernels live in quant_legacy.cc (32-value blocks)
// and quant_k.cc (256-value K-quant super-blocks).
#include "core/quant.h"

#include <bit>
#include <string>

#include "core/quant_internal.h"
#include "core/result.h"

namespace sdr {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the ggml block layouts are read as little-endian");

using DequantFn = void (*)(const uint8_t*, int64_t, float*);
using QuantFn = void (*)(const float*, int64_t, uint8_t*);

struct Kernels {
  DequantFn dequantize = nullptr;
  QuantFn quantize = nullptr;
};

Kernels KernelsFor(DType dtype) {
  namespace qi = quant_internal;
  switch (dtype) {
    case DType::kQ4_0: return {qi::DequantizeQ4_0, qi::QuantizeQ4_0};
    case DType::kQ4_1: return {qi::DequantizeQ4_1, qi::QuantizeQ4_1};
    case DType::kQ5_0: return {qi::DequantizeQ5_0, qi::QuantizeQ5_0};
    case DType::kQ5_1: return {qi::DequantizeQ5_1, qi::QuantizeQ5_1};
    case DType::kQ8_0: return {qi::DequantizeQ8_0, qi::QuantizeQ8_0};
    case DType::kQ4_K: return {qi::DequantizeQ4_K, qi::QuantizeQ4_K};
    case DType::kQ5_K: return {qi::DequantizeQ5_K, qi::QuantizeQ5_K};
    case DType::kQ6_K: return {qi::DequantizeQ6_K, qi::QuantizeQ6_K};
    default: return {};
  }
}

// Checks that `dtype` is quantized and `n` a whole, non-negative number of its blocks.
Result<int64_t> BlockCount(DType dtype, int64_t n, const char* what) {
  const DTypeInfo& info = GetDTypeInfo(dtype);
  if (!info.is_quantized) {
    return InvalidArgument(std::string(what) + ": " + std::string(info.name) +
                           " is not a block-quantized dtype");
  }
  if (n < 0 || n % info.block_elems != 0) {
    return InvalidArgument(std::string(what) + " " + std::string(info.name) + ": " +
                           std::to_string(n) + " values is not a whole number of " +
                           std::to_string(info.block_elems) + "-value blocks");
  }
  return n / info.block_elems;
}

}  // namespace

Status Dequantize(DType dtype, const void* src, int64_t n, float* dst) {
  SDR_ASSIGN_OR_RETURN(int64_t nblocks, BlockCount(dtype, n, "dequantize"));
  const Kernels k = KernelsFor(dtype);
  SDR_CHECK(k.dequantize != nullptr);
  if (nblocks > 0) k.dequantize(static_cast<const uint8_t*>(src), nblocks, dst);
  return Status::Ok();
}

Status Quantize(DType dtype, const float* src, int64_t n, void* dst) {
  SDR_ASSIGN_OR_RETURN(int64_t nblocks, BlockCount(dtype, n, "quantize"));
  const Kernels k = KernelsFor(dtype);
  SDR_CHECK(k.quantize != nullptr);
  if (nblocks > 0) k.quantize(src, nblocks, static_cast<uint8_t*>(dst));
  return Status::Ok();
}

}  // namespace sdr
