// Tensor shapes in PyTorch order (outermost first), e.g. a conv weight is [out, in, kh, kw].
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sdr {

using Shape = std::vector<int64_t>;

// Product of dims; nullopt on a negative dim or overflow past `limit` elements.
std::optional<int64_t> CheckedNumElements(const Shape& shape, int64_t limit = INT64_MAX);

// Product of dims for a shape already validated (aborts on overflow: a bug).
int64_t NumElements(const Shape& shape);

// Row-major strides (in elements) of a contiguous tensor of `shape`.
std::vector<int64_t> ContiguousStrides(const Shape& shape);

// "[320, 4, 3, 3]"
std::string ShapeToString(const Shape& shape);

}  // namespace sdr
