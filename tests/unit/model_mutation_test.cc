// Mutation test over the tiny model: every tensor of every component removed, each of its
// dimensions changed, and its dtype changed. Each variant must load to one clear error (tagged
// model_load_failed, one line, naming a tensor of the model) or, where the change is genuinely
// harmless (an unused tensor, a float dtype, a wider position table), run every component at a
// small size and give outputs of the right shape. Run under ASan (-DSDR_SANITIZE=ON) this also
// proves that no accepted variant reads past a buffer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/convert.h"
#include "formats/model_file.h"
#include "runtime/errors.h"
#include "runtime/sd_model.h"
#include "runtime/txt2img.h"
#include "testing/tiny_model.h"

namespace sdr {
namespace {

struct Variant {
  std::string what;  // "remove X", "X dim 1 -> 33", "X as i32"
  std::string name;  // the tensor changed
  TensorIndex index;
};

// The base index with entry `skip` left out and, when `replacement` is defined, put back as it.
Result<TensorIndex> Rebuild(const TensorIndex& base, size_t skip, const Tensor* replacement) {
  TensorIndex out;
  out.path = base.path;
  out.format = base.format;
  for (size_t i = 0; i < base.entries().size(); ++i) {
    const TensorEntry& e = base.entries()[i];
    if (i != skip) {
      SDR_RETURN_IF_ERROR(out.Add(e.name, e.tensor));
    } else if (replacement != nullptr) {
      SDR_RETURN_IF_ERROR(out.Add(e.name, *replacement));
    }
  }
  return out;
}

bool AllFinite(const Tensor& t) {
  const float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (!std::isfinite(p[i])) return false;
  }
  return true;
}

// Every component at a small size: text encode, one UNet evaluation on a 2x3 latent, a decode.
void ExpectRuns(const SdModel& m, const std::string& what) {
  auto ctx = m.conditioner().Encode("a red house");
  ASSERT_TRUE(ctx.ok()) << what << ": " << ctx.status().ToString();
  const int64_t c = m.unet().in_channels();
  auto x = Tensor::Zeros(DType::kF32, {1, c, 2, 3});
  ASSERT_TRUE(x.ok());
  auto eps = m.unet().Forward(*x, 500.0f, *ctx);
  ASSERT_TRUE(eps.ok()) << what << ": " << eps.status().ToString();
  EXPECT_EQ(eps->shape(), (Shape{1, c, 2, 3})) << what;
  auto image = m.vae().Decode(*eps);
  ASSERT_TRUE(image.ok()) << what << ": " << image.status().ToString();
  EXPECT_EQ(image->shape(), (Shape{1, 3, 16, 24})) << what;
  EXPECT_TRUE(AllFinite(*image)) << what;
}

TEST(ModelMutationTest, EveryTensorRemovedReshapedOrRetypedFailsClearlyOrStillRuns) {
  auto opened = OpenModelFile(testing::TinyModelPath());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  const TensorIndex& base = *opened;
  const SdModelOptions opts{testing::TinyModelPath(), "", ""};
  {
    auto plain = SdModel::FromIndex(base, opts);
    ASSERT_TRUE(plain.ok()) << plain.status().ToString();
    ExpectRuns(**plain, "unmutated");
  }

  int variants = 0, refused = 0, harmless = 0;
  std::vector<std::string> harmless_examples;
  auto check = [&](const std::string& what, const std::string& name, Result<TensorIndex> index, bool must_fail) {
    ASSERT_TRUE(index.ok()) << what;
    ++variants;
    auto m = SdModel::FromIndex(std::move(index).value(), opts);
    if (!m.ok()) {
      ++refused;
      const Status& s = m.status();
      EXPECT_EQ(ClassifyError(s, Operation::kLoadModel), ErrorCode::kModelLoadFailed) << what << ": " << s.ToString();
      EXPECT_EQ(s.message().find('\n'), std::string::npos) << what << ": " << s.ToString();
      // Names what is wrong: a tensor or layer of the model (quoted).
      const bool names_model_part = s.message().find("'model.diffusion_model.") != std::string::npos ||
                                    s.message().find("'first_stage_model.") != std::string::npos ||
                                    s.message().find("'cond_stage_model.") != std::string::npos;
      EXPECT_TRUE(names_model_part) << what << ": " << s.ToString();
      return;
    }
    EXPECT_FALSE(must_fail) << what << " loaded";
    ++harmless;
    if (harmless_examples.size() < 12) harmless_examples.push_back(what);
    ExpectRuns(**m, what);
  };

  const std::vector<TensorEntry>& entries = base.entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    const TensorEntry& e = entries[i];
    // Removed.
    check("remove " + e.name, e.name, Rebuild(base, i, nullptr), false);
    // Each dimension one larger (values zero: what matters here is shapes and memory).
    for (size_t d = 0; d < e.tensor.rank(); ++d) {
      Shape s = e.tensor.shape();
      s[d] += 1;
      auto t = Tensor::Zeros(DType::kF32, s);
      ASSERT_TRUE(t.ok());
      check(e.name + " dim " + std::to_string(d) + " -> " + std::to_string(s[d]), e.name, Rebuild(base, i, &*t),
            false);
    }
    // Another dtype: an integer type is never a weight; f16 is converted and must still run.
    auto as_i32 = Tensor::Zeros(DType::kI32, e.tensor.shape());
    ASSERT_TRUE(as_i32.ok());
    check(e.name + " as i32", e.name, Rebuild(base, i, &*as_i32), false);
    if (i % 16 == 0) {  // a sample: conversion is one code path for every tensor
      auto as_f16 = ConvertTensor(e.tensor, DType::kF16);
      ASSERT_TRUE(as_f16.ok());
      check(e.name + " as f16", e.name, Rebuild(base, i, &*as_f16), false);
    }
  }
  std::printf("[ figures ] %d variants of %zu tensors: %d refused with a clear error, %d harmless and ran\n", variants,
              entries.size(), refused, harmless);
  for (const std::string& h : harmless_examples) std::printf("            harmless: %s\n", h.c_str());
  EXPECT_GT(refused, harmless);
}

}  // namespace
}  // namespace sdr
