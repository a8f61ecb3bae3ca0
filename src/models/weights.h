// Fetching model weights from a TensorIndex for a backend, checked: every tensor a layer reads
// must exist with the dtype kind and the shape that layer needs, so that a file holding another
// model (or a damaged one) gives one clear error at load time and never reaches a kernel. The
// backend then prepares each weight once (its layout and dtype), shared by every context.
//
// Errors name the tensor and say what was expected:
//   NotFound         "tensor 'x.weight' is missing from the model (expected shape [320, 4, 3, 3])"
//   InvalidArgument  "tensor 'x.weight' has shape [3, 32, 3, 3], expected [4, 32, 3, 3]"
//   InvalidArgument  "tensor 'x.weight' has dtype i32; weights must be f32, f16, bf16, f64 or quantized"
#pragma once

#include <string>

#include "backends/backend.h"
#include "formats/tensor_index.h"

namespace sdr {

// The entry `name` of rank `rank`, its values of a weight type (float or quantized).
// `expected` (may be empty) is only used to describe the shape in the NotFound message.
Result<const TensorEntry*> RequireTensor(const TensorIndex& index, const std::string& name, size_t rank,
                                         const Shape& expected = {});

// Loads weights for one backend (which must outlive the loader and the weights' users).
class WeightLoader {
 public:
  WeightLoader(const TensorIndex& index, Backend& backend) : index_(index), backend_(backend) {}

  const TensorIndex& index() const { return index_; }
  Backend& backend() const { return backend_; }

  // The tensor `name`, which must have exactly `expected` shape, prepared for the backend.
  // `as_shape` (optional, same element count) is the logical shape the backend gets (e.g. a
  // [cout, cin] projection used as a 1x1 convolution [cout, cin, 1, 1]).
  Result<Weight> Load(const std::string& name, const Shape& expected, WeightRole role,
                      const Shape& as_shape = {}) const;

 private:
  const TensorIndex& index_;
  Backend& backend_;
};

// True when any tensor's name starts with `prefix` (a layer is present even if one tensor is not).
bool HasTensorsUnder(const TensorIndex& index, const std::string& prefix);

// How many numbered layers "<prefix>0.", "<prefix>1.", ... hold tensors. NotFound for a gap
// (layer i absent while i + 1 is there), so a damaged file never silently loses a layer.
Result<int> CountNumbered(const TensorIndex& index, const std::string& prefix);

}  // namespace sdr
