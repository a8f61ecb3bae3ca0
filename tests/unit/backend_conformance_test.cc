// Backend conformance (llama.cpp's test-backend-ops idea): every op of every available backend,
// over a table of shapes (odd sizes and SD 1.5's widths, head sizes and token counts, at small
// spatial sizes), checked against the `reference` backend with a per-op tolerance. A backend or
// op that is not available is skipped and listed. Adding a backend means adding its name to
// kBackends; nothing else. GPU backends run in each precision: f32 at the CPU's tolerances, f16 and
// bf16 at tolerances widened by their rounding (inputs are rounded when uploaded).
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/executor.h"
#include "backends/host_memory.h"
#include "backends/registry.h"
#include "core/convert.h"
#include "testing/reference_ops.h"

namespace sdr {
namespace {

struct Target {
  const char* device;
  GpuPrecision precision;  // for GPU backends
  double min_tol;          // rel L2 at least this (rounding of the activation dtype)
  const char* label;
};
const Target kBackends[] = {
    {"cpu", GpuPrecision::kF32, 0, "cpu"},
    {"cpu-blas", GpuPrecision::kF32, 0, "cpu-blas"},
    {"cuda", GpuPrecision::kF32, 0, "cuda f32"},
    {"cuda", GpuPrecision::kF16, 5e-3, "cuda f16"},
    {"cuda", GpuPrecision::kBf16, 3e-2, "cuda bf16"},
};

// Inputs of one case, as host tensors; weights are prepared per backend.
struct Case {
  std::string name;
  OpKind op;
  std::vector<Tensor> acts;     // activations, uploaded
  std::vector<Tensor> weights;  // weights, prepared with PrepareWeight
  // Runs the op on the executor over the uploaded activations and prepared weights.
  std::function<Result<Act>(Executor&, const std::vector<Act>&, const std::vector<Weight>&)> run;
  double tol = 1e-5;  // relative L2 against the reference backend
};

Tensor Random(const Shape& shape, uint32_t seed, float scale = 1.0f) {
  auto t = Tensor::Allocate(DType::kF32, shape);
  SDR_CHECK(t.ok());
  const std::vector<float> v = ref::RandomVector(t->numel(), seed, scale);
  std::copy(v.begin(), v.end(), t->mutable_data<float>());
  return *t;
}

// Weights as the model file stores them: f32, f16 or q8_0 (the backend may read them in place).
Result<Tensor> RunCase(Backend& backend, const Case& c, DType weight_dtype) {
  std::vector<Weight> weights;
  for (size_t i = 0; i < c.weights.size(); ++i) {
    const WeightRole role = c.weights[i].rank() == 4 ? WeightRole::kConvKernel
                            : c.weights[i].rank() == 2 ? WeightRole::kMatrix
                                                       : WeightRole::kVector;
    // Quantized: what a converter quantizes (matrices, kernels with whole-block rows); the rest f32.
    const DType dt = !GetDTypeInfo(weight_dtype).is_quantized || CanQuantizeRows(weight_dtype, c.weights[i].shape())
                         ? weight_dtype
                         : DType::kF32;
    SDR_ASSIGN_OR_RETURN(Tensor stored, ConvertTensor(c.weights[i], dt));
    SDR_ASSIGN_OR_RETURN(Weight w, backend.PrepareWeight(stored, role));
    weights.push_back(std::move(w));
  }
  return RunPlanned(backend, nullptr, [&](Executor& ex) -> Result<Act> {
    std::vector<Act> acts;
    for (const Tensor& t : c.acts) {
      SDR_ASSIGN_OR_RETURN(Act a, ex.Upload(t));
      acts.push_back(std::move(a));
    }
    return c.run(ex, acts, weights);
  });
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  uint32_t seed = 1;
  auto add = [&](std::string name, OpKind op, std::vector<Tensor> acts, std::vector<Tensor> weights,
                 decltype(Case::run) run, double tol = 1e-5) {
    cases.push_back({std::move(name), op, std::move(acts), std::move(weights), std::move(run), tol});
  };
  // Linear: odd sizes, CLIP/UNet widths, each activation, a residual.
  struct Lin {
    int64_t m, k, n;
    Activation act;
    bool bias, residual;
  };
  for (const Lin& l : {Lin{7, 13, 5, Activation::kNone, true, false}, Lin{77, 768, 768, Activation::kNone, true, true},
                       Lin{2 * 77, 768, 320, Activation::kNone, false, false},
                       Lin{64, 320, 2560, Activation::kNone, true, false}, Lin{2, 320, 1280, Activation::kSilu, true, false},
                       Lin{33, 64, 256, Activation::kQuickGelu, true, false}, Lin{9, 40, 24, Activation::kGelu, true, true}}) {
    std::vector<Tensor> acts = {Random({l.m, l.k}, seed++)};
    if (l.residual) acts.push_back(Random({l.m, l.n}, seed++));
    std::vector<Tensor> w = {Random({l.n, l.k}, seed++, 1.0f / std::sqrt(static_cast<float>(l.k)))};
    if (l.bias) w.push_back(Random({l.n}, seed++, 0.1f));
    add("linear " + std::to_string(l.m) + "x" + std::to_string(l.k) + "->" + std::to_string(l.n), OpKind::kLinear, acts,
        w, [l](Executor& ex, const std::vector<Act>& a, const std::vector<Weight>& w) {
          return ex.Linear(a[0], w[0], l.bias ? &w[1] : nullptr, l.act, l.residual ? &a[1] : nullptr);
        });
  }
  // Conv2d: 3x3 and 1x1, stride 2, odd sizes, SD widths, per-sample channel bias and residual.
  struct Conv {
    int64_t b, cin, h, w, cout, k, stride;
    bool extras;
  };
  for (const Conv& c : {Conv{1, 4, 8, 8, 32, 3, 1, false}, Conv{2, 320, 8, 8, 320, 3, 1, true},
                        Conv{1, 32, 9, 7, 16, 3, 2, false}, Conv{2, 64, 5, 6, 32, 1, 1, true},
                        Conv{1, 3, 11, 13, 8, 3, 1, false}, Conv{1, 640, 4, 4, 320, 1, 1, false},
                        // 32 x 32 and up: the Winograd path (odd sizes, channels not multiples of 8)
                        Conv{2, 32, 32, 32, 32, 3, 1, true}, Conv{1, 21, 35, 33, 19, 3, 1, true},
                        Conv{1, 16, 64, 64, 8, 3, 1, false},
                        // im2col larger than a GPU's 64 MB column budget: several row chunks
                        Conv{1, 64, 256, 256, 8, 3, 1, false}, Conv{2, 16, 9, 9, 24, 3, 2, true}}) {
    const int64_t ho = (c.h + 2 * (c.k / 2) - c.k) / c.stride + 1, wo = (c.w + 2 * (c.k / 2) - c.k) / c.stride + 1;
    std::vector<Tensor> acts = {Random({c.b, c.cin, c.h, c.w}, seed++)};
    if (c.extras) {
      acts.push_back(Random({c.b, c.cout}, seed++));
      acts.push_back(Random({c.b, c.cout, ho, wo}, seed++));
    }
    add("conv2d " + std::to_string(c.cin) + "->" + std::to_string(c.cout) + " k" + std::to_string(c.k) + " s" +
            std::to_string(c.stride) + " " + std::to_string(c.h) + "x" + std::to_string(c.w) + " b" + std::to_string(c.b),
        OpKind::kConv2d, acts,
        {Random({c.cout, c.cin, c.k, c.k}, seed++, 1.0f / std::sqrt(static_cast<float>(c.cin * c.k * c.k))),
         Random({c.cout}, seed++, 0.1f)},
        [c](Executor& ex, const std::vector<Act>& a, const std::vector<Weight>& w) {
          return ex.Conv2d(a[0], w[0], &w[1], c.stride, c.k / 2, c.extras ? &a[1] : nullptr, c.extras ? &a[2] : nullptr);
        });
  }
  // Conv2d over x upsampled 2x (the VAE decoder's upsample): fused where the backend reads the
  // small map in place (cpu: the Winograd path, from 32 x 32 outputs), resize + conv elsewhere.
  struct UpConv {
    int64_t b, cin, h, w, cout;
  };
  for (const UpConv& c : {UpConv{2, 32, 16, 16, 24}, UpConv{1, 21, 17, 18, 19}, UpConv{1, 8, 4, 4, 8}}) {
    add("upsample conv2d " + std::to_string(c.cin) + "->" + std::to_string(c.cout) + " " + std::to_string(c.h) + "x" +
            std::to_string(c.w) + " b" + std::to_string(c.b),
        OpKind::kConv2d, {Random({c.b, c.cin, c.h, c.w}, seed++)},
        {Random({c.cout, c.cin, 3, 3}, seed++, 1.0f / std::sqrt(static_cast<float>(c.cin * 9))),
         Random({c.cout}, seed++, 0.1f)},
        [](Executor& ex, const std::vector<Act>& a, const std::vector<Weight>& w) {
          return ex.UpsampleConv2d(a[0], w[0], &w[1], 1);
        });
  }
  // GroupNorm written over its input (a fresh copy handed over, so the block is the last one).
  add("group_norm in place [2, 64, 9, 5] silu", OpKind::kGroupNorm, {Random({2, 64, 9, 5}, seed++, 3.0f)},
      {Random({64}, seed++), Random({64}, seed++)},
      [](Executor& ex, const std::vector<Act>& a, const std::vector<Weight>& w) -> Result<Act> {
        SDR_ASSIGN_OR_RETURN(Act fresh, ex.Affine(a[0], 1.0f, 0.0f));
        return ex.GroupNormInPlace(std::move(fresh), w[0], w[1], 32, 1e-5f, true);
      },
      1e-4);
  for (const bool silu : {false, true}) {
    for (const Shape& s : {Shape{2, 64, 5, 7}, Shape{1, 320, 8, 8}, Shape{1, 32, 1, 1}}) {
      add(std::string("group_norm ") + ShapeToString(s) + (silu ? " silu" : ""), OpKind::kGroupNorm,
          {Random(s, seed++, 3.0f)}, {Random({s[1]}, seed++), Random({s[1]}, seed++)},
          [silu](Executor& ex, const std::vector<Act>& a, const std::vector<Weight>& w) {
            return ex.GroupNorm(a[0], w[0], w[1], 32, 1e-5f, silu);
          },
          1e-4);  // one value per group ([1, 32, 1, 1]): x - mean is rounding noise over sqrt(eps)
    }
  }
  for (const Shape& s : {Shape{77, 768}, Shape{5, 13}, Shape{2, 64, 320}}) {
    add("layer_norm " + ShapeToString(s), OpKind::kLayerNorm, {Random(s, seed++, 2.0f)},
        {Random({s.back()}, seed++), Random({s.back()}, seed++)},
        [](Executor& ex, const std::vector<Act>& a, const std::vector<Weight>& w) {
          return ex.LayerNorm(a[0], w[0], w[1], 1e-5f);
        });
  }
  // Attention: SD's head sizes (40, 80, 160 with 8 heads), self and 77-token cross attention,
  // CLIP's causal 12 x 64, the VAE's single head, odd lengths.
  struct Att {
    int64_t b, lq, lk, c, heads;
    bool causal;
  };
  // Longer ones cross several key tiles of a fused kernel (online softmax), with ragged ends.
  for (const Att& t : {Att{2, 64, 64, 320, 8, false}, Att{2, 64, 77, 320, 8, false}, Att{1, 16, 77, 640, 8, false},
                       Att{2, 4, 77, 1280, 8, false}, Att{1, 77, 77, 768, 12, true}, Att{1, 64, 64, 128, 1, false},
                       Att{1, 300, 7, 24, 3, false}, Att{1, 9, 9, 16, 2, true},
                       Att{1, 64, 64, 512, 1, false}, Att{1, 70, 300, 40, 1, false}, Att{1, 300, 300, 48, 2, true},
                       Att{2, 200, 200, 320, 8, false}, Att{1, 130, 130, 1280, 8, false}, Att{1, 150, 150, 128, 2, true},
                       Att{1, 100, 100, 512, 1, false}, Att{1, 70, 90, 640, 8, false}}) {
    add("attention b" + std::to_string(t.b) + " " + std::to_string(t.lq) + "x" + std::to_string(t.lk) + " c" +
            std::to_string(t.c) + " h" + std::to_string(t.heads) + (t.causal ? " causal" : ""),
        OpKind::kAttention,
        {Random({t.b, t.lq, t.c}, seed++), Random({t.b, t.lk, t.c}, seed++), Random({t.b, t.lk, t.c}, seed++)}, {},
        [t](Executor& ex, const std::vector<Act>& a, const std::vector<Weight>&) {
          return ex.Attention(a[0], a[1], a[2], t.heads,
                              1.0f / std::sqrt(static_cast<float>(t.c / t.heads)), t.causal);
        });
  }
  add("geglu 33x(2x40)", OpKind::kGeglu, {Random({33, 80}, seed++, 2.0f)}, {},
      [](Executor& ex, const std::vector<Act>& a, const std::vector<Weight>&) { return ex.Geglu(a[0]); });
  add("add", OpKind::kAdd, {Random({2, 3, 5, 7}, seed++), Random({2, 3, 5, 7}, seed++)}, {},
      [](Executor& ex, const std::vector<Act>& a, const std::vector<Weight>&) { return ex.Add(a[0], a[1]); });
  add("affine clamp", OpKind::kAffine, {Random({1, 3, 9, 11}, seed++, 2.0f)}, {},
      [](Executor& ex, const std::vector<Act>& a, const std::vector<Weight>&) {
        return ex.Affine(a[0], 0.5f, 0.5f, true, 0.0f, 1.0f);
      });
  for (const Shape& out : {Shape{18, 14}, Shape{9, 7}, Shape{13, 20}}) {
    add("resize_nearest 9x7->" + std::to_string(out[0]) + "x" + std::to_string(out[1]), OpKind::kResizeNearest,
        {Random({2, 3, 9, 7}, seed++)}, {},
        [out](Executor& ex, const std::vector<Act>& a, const std::vector<Weight>&) {
          return ex.ResizeNearest(a[0], out[0], out[1]);
        });
  }
  add("concat_channels", OpKind::kConcatChannels, {Random({2, 5, 3, 4}, seed++), Random({2, 7, 3, 4}, seed++)}, {},
      [](Executor& ex, const std::vector<Act>& a, const std::vector<Weight>&) { return ex.ConcatChannels(a[0], a[1]); });
  add("to_tokens", OpKind::kToTokens, {Random({2, 40, 5, 3}, seed++)}, {},
      [](Executor& ex, const std::vector<Act>& a, const std::vector<Weight>&) { return ex.ToTokens(a[0]); });
  add("from_tokens", OpKind::kFromTokens, {Random({2, 15, 40}, seed++)}, {},
      [](Executor& ex, const std::vector<Act>& a, const std::vector<Weight>&) { return ex.FromTokens(a[0], 5, 3); });
  for (const int64_t dim : {320, 7}) {
    add("timestep_embedding dim " + std::to_string(dim), OpKind::kTimestepEmbedding, {}, {},
        [dim](Executor& ex, const std::vector<Act>&, const std::vector<Weight>&) {
          return ex.TimestepEmbedding({999.0f, 0.0f, 421.7f}, dim);
        },
        1e-4);  // sin/cos of ~1000 in float
  }
  add("timestep_embedding device t", OpKind::kTimestepEmbedding, {}, {},
      [](Executor& ex, const std::vector<Act>&, const std::vector<Weight>&) -> Result<Act> {
        SDR_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kF32, {3}));
        const float values[] = {999.0f, 0.0f, 421.7f};
        std::copy(values, values + 3, t.mutable_data<float>());
        SDR_ASSIGN_OR_RETURN(Act ta, ex.Upload(t, DType::kF32));
        return ex.TimestepEmbedding(ta, 320);
      },
      1e-4);
  add("embed", OpKind::kEmbed, {}, {Random({100, 16}, seed++), Random({77, 16}, seed++)},
      [](Executor& ex, const std::vector<Act>&, const std::vector<Weight>& w) {
        std::vector<int32_t> ids(2 * 77);
        for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 37) % 100);
        return ex.Embed(ids, 2, w[0], w[1]);
      });
  return cases;
}

TEST(BackendConformanceTest, EveryOpOfEveryBackendMatchesTheReference) {
  SetPoisonHostMemoryForTesting(true);  // an op reading arena memory it never wrote gives NaN
  auto reference = OpenBackend("reference");
  ASSERT_TRUE(reference.ok()) << reference.status().ToString();
  const std::vector<Case> cases = Cases();
  // Every op kind the seam defines has at least one case (Convert is covered by Upload/Download
  // on f32-only backends).
  std::map<OpKind, int> per_op;
  for (const Case& c : cases) ++per_op[c.op];
  for (OpKind op : AllOpKinds()) {
    if (op != OpKind::kConvert) {
      EXPECT_GT(per_op[op], 0) << "no case for " << OpKindName(op);
    }
  }
  int checked = 0;
  std::map<size_t, Tensor> wants;  // the reference's outputs, by case index
  for (const Target& target : kBackends) {
    BackendOptions options;
    options.precision = target.precision;
    auto backend = OpenBackend(target.device, options);
    if (!backend.ok()) {
      std::printf("[ skipped ] backend %s: %s\n", target.label, backend.status().message().c_str());
      continue;
    }
    double worst = 0;
    std::string worst_case;
    for (size_t i = 0; i < cases.size(); ++i) {
      const Case& c = cases[i];
      if (!(*backend)->Supports(c.op, (*backend)->info().activation_dtype)) {
        std::printf("[ skipped ] %s: %s unsupported\n", target.label, c.name.c_str());
        continue;
      }
      const DType weight_dtypes[] = {DType::kF32, DType::kF16, DType::kQ8_0};
      for (size_t wi = 0; wi < std::size(weight_dtypes); ++wi) {
        const DType wd = weight_dtypes[wi];
        if (wd != DType::kF32 && c.weights.empty()) continue;
        const size_t key = std::size(weight_dtypes) * i + wi;
        auto cached = wants.find(key);
        if (cached == wants.end()) {
          auto want = RunCase(**reference, c, wd);
          ASSERT_TRUE(want.ok()) << c.name << ": " << want.status().ToString();
          cached = wants.emplace(key, std::move(want).value()).first;
        }
        const Tensor& want = cached->second;
        auto got = RunCase(**backend, c, wd);
        ASSERT_TRUE(got.ok()) << target.label << " " << c.name << ": " << got.status().ToString();
        ASSERT_EQ(got->shape(), want.shape()) << target.label << " " << c.name;
        const double err = ref::RelL2(want.data<float>(), got->data<float>(), want.numel());
        EXPECT_LE(err, std::max(c.tol, target.min_tol))
            << target.label << " " << c.name << " with " << DTypeName(wd) << " weights";
        if (!(err <= worst)) {
          worst = err;
          worst_case = c.name + " (" + std::string(DTypeName(wd)) + " weights)";
        }
        ++checked;
      }
    }
    std::printf("[ figures ] backend %s (%s): %zu op cases checked against the reference, worst rel L2 %.2e (%s)\n",
                target.label, (*backend)->info().description.c_str(), cases.size(), worst, worst_case.c_str());
  }
  EXPECT_GT(checked, 0);
}

// The cpu backend convolves a batch (the CFG pair) in one GEMM outside Winograd's range: each
// image's output must equal that image convolved alone, bit for bit (same dot products, same
// order; the biases and residual applied as the per-image epilogue did).
TEST(CpuBatchedConvTest, EqualsEachImageAlone) {
  auto backend = OpenBackend("cpu");
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  struct Conv {
    int64_t cin, h, w, cout, k, stride;
    bool extras;
    DType wdt;
  };
  uint32_t seed = 900;
  for (const Conv& c : {Conv{320, 8, 8, 320, 3, 1, true, DType::kF16}, Conv{64, 5, 6, 32, 1, 1, true, DType::kF32},
                        Conv{32, 9, 7, 16, 3, 2, false, DType::kQ8_0}, Conv{16, 9, 9, 24, 3, 2, true, DType::kF32}}) {
    const int64_t b = 2, ho = (c.h + 2 * (c.k / 2) - c.k) / c.stride + 1, wo = (c.w + 2 * (c.k / 2) - c.k) / c.stride + 1;
    const Tensor x = Random({b, c.cin, c.h, c.w}, seed++), cb = Random({b, c.cout}, seed++),
                 res = Random({b, c.cout, ho, wo}, seed++);
    auto wt = ConvertTensor(Random({c.cout, c.cin, c.k, c.k}, seed++, 0.1f), c.wdt);
    ASSERT_TRUE(wt.ok());
    auto w = (*backend)->PrepareWeight(*wt, WeightRole::kConvKernel);
    auto bias = (*backend)->PrepareWeight(Random({c.cout}, seed++, 0.1f), WeightRole::kVector);
    ASSERT_TRUE(w.ok() && bias.ok());
    // Images [i0, i0 + n) of x, cb and res, convolved together.
    auto run = [&](int64_t i0, int64_t n) {
      auto slice = [&](const Tensor& t) {
        Shape s = t.shape();
        s[0] = n;
        const int64_t per = t.numel() / t.dim(0);
        Tensor out = *Tensor::Allocate(DType::kF32, s);
        std::copy_n(t.data<float>() + i0 * per, n * per, out.mutable_data<float>());
        return out;
      };
      return RunPlanned(**backend, nullptr, [&](Executor& ex) -> Result<Act> {
        SDR_ASSIGN_OR_RETURN(Act xa, ex.Upload(slice(x)));
        SDR_ASSIGN_OR_RETURN(Act cba, ex.Upload(slice(cb)));
        SDR_ASSIGN_OR_RETURN(Act ra, ex.Upload(slice(res)));
        return ex.Conv2d(xa, *w, &*bias, c.stride, c.k / 2, c.extras ? &cba : nullptr, c.extras ? &ra : nullptr);
      });
    };
    auto both = run(0, 2);
    ASSERT_TRUE(both.ok()) << both.status().ToString();
    const int64_t per = both->numel() / b;
    for (int64_t i = 0; i < b; ++i) {
      auto one = run(i, 1);
      ASSERT_TRUE(one.ok()) << one.status().ToString();
      EXPECT_EQ(std::memcmp(one->data<float>(), both->data<float>() + i * per, static_cast<size_t>(per) * 4), 0)
          << c.cin << "->" << c.cout << " k" << c.k << " s" << c.stride << " image " << i;
    }
  }
}

}  // namespace
}  // namespace sdr
