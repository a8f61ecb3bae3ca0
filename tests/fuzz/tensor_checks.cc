#include "fuzz/tensor_checks.h"

#include <cstddef>
#include <cstdint>

#include "core/check.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SDR_FUZZ_HAVE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SDR_FUZZ_HAVE_ASAN 1
#endif
#if defined(SDR_FUZZ_HAVE_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace sdr::fuzz {
namespace {

// Tensors up to this many elements are converted to f32 (bounded work per input).
constexpr int64_t kMaxConvertElems = int64_t{1} << 16;

}  // namespace

void CheckBytesReadable(const void* p, size_t n) {
  if (n == 0) return;
  SDR_CHECK(p != nullptr);
#if defined(SDR_FUZZ_HAVE_ASAN)
  SDR_CHECK(__asan_region_is_poisoned(const_cast<void*>(p), n) == nullptr);
#endif
  const auto* b = static_cast<const volatile std::byte*>(p);
  (void)b[0];
  (void)b[n - 1];
}

void CheckTensorIndex(const TensorIndex& index) {
  for (const TensorEntry& e : index.entries()) {
    const Tensor& t = e.tensor;
    SDR_CHECK(index.Find(e.name) == &e);
    const auto numel = CheckedNumElements(t.shape());
    SDR_CHECK(numel.has_value() && *numel == t.numel());
    const auto bytes = DTypeBytes(t.dtype(), static_cast<uint64_t>(t.numel()));
    SDR_CHECK(bytes.has_value() && *bytes == t.nbytes());
    CheckBytesReadable(t.raw(), t.nbytes());
    if (t.defined() && t.numel() <= kMaxConvertElems) ToF32(t).status().IgnoreError();
  }
}

}  // namespace sdr::fuzz
