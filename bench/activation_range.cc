// The largest |value| each op kind writes while a model runs one small CFG generation's stages on
// the CPU (text encoder for a prompt and the empty negative, one batch-2 UNet evaluation at
// t = 999 and t = 50 on a 16x16 latent, the VAE decode): whether the model's activations fit f16
// (largest finite 65504) and bf16 before a GPU runs it in them. A numerics lab tool, no GPU needed.
//
// Usage: sdr_activation_range MODEL [--tokenizer merges.txt]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "backends/executor.h"
#include "backends/registry.h"
#include "formats/model_file.h"
#include "models/clip/text_conditioner.h"
#include "models/clip/tokenizer_source.h"
#include "models/unet/unet_model.h"
#include "models/vae/vae_decoder.h"

namespace {

using namespace sdr;

std::map<std::string, double>& Peaks() {
  static std::map<std::string, double> peaks;
  return peaks;
}

void Note(const char* op, const DeviceTensor& y) {
  const float* v = static_cast<const float*>(y.data);
  double m = 0;
  for (int64_t i = 0; i < y.numel(); ++i) m = std::max(m, static_cast<double>(std::fabs(v[i])));
  double& p = Peaks()[op];
  p = std::max(p, m);
}

// Runs every op on the CPU stream, then notes the largest |value| of its output.
class RangeStream final : public Stream {
 public:
  explicit RangeStream(std::unique_ptr<Stream> s) : s_(std::move(s)) {}
  Status Upload(const Tensor& h, const DeviceTensor& d) override { return s_->Upload(h, d); }
  Result<Tensor> Download(const DeviceTensor& d) override { return s_->Download(d); }
  Status Synchronize() override { return s_->Synchronize(); }
#define SDR_RANGE_OP(Name, Args, name) \
  Status Name(const Args& a) override { \
    SDR_RETURN_IF_ERROR(s_->Name(a));  \
    Note(name, a.y);                   \
    return Status::Ok();               \
  }
  SDR_RANGE_OP(Linear, LinearArgs, "linear")
  SDR_RANGE_OP(Conv2d, Conv2dArgs, "conv2d")
  SDR_RANGE_OP(GroupNorm, GroupNormArgs, "group_norm")
  SDR_RANGE_OP(LayerNorm, LayerNormArgs, "layer_norm")
  SDR_RANGE_OP(Attention, AttentionArgs, "attention")
  SDR_RANGE_OP(Geglu, GegluArgs, "geglu")
  SDR_RANGE_OP(Add, AddArgs, "add")
  SDR_RANGE_OP(Affine, AffineArgs, "affine")
  SDR_RANGE_OP(ResizeNearest, ResizeNearestArgs, "resize_nearest")
  SDR_RANGE_OP(ConcatChannels, ConcatChannelsArgs, "concat_channels")
  SDR_RANGE_OP(ToTokens, TokensArgs, "to_tokens")
  SDR_RANGE_OP(FromTokens, TokensArgs, "from_tokens")
  SDR_RANGE_OP(TimestepEmbedding, TimestepEmbeddingArgs, "timestep_embedding")
  SDR_RANGE_OP(Embed, EmbedArgs, "embed")
  SDR_RANGE_OP(Convert, ConvertArgs, "convert")
#undef SDR_RANGE_OP

 private:
  std::unique_ptr<Stream> s_;
};

class RangeBackend final : public Backend {
 public:
  explicit RangeBackend(std::shared_ptr<Backend> b) : b_(std::move(b)) {}
  const BackendInfo& info() const override { return b_->info(); }
  Result<std::shared_ptr<void>> AllocateMemory(uint64_t bytes) override { return b_->AllocateMemory(bytes); }
  uint64_t bytes_in_use() const override { return b_->bytes_in_use(); }
  uint64_t bytes_available() const override { return b_->bytes_available(); }
  Result<Weight> PrepareWeight(const Tensor& host, WeightRole role) override { return b_->PrepareWeight(host, role); }
  Result<std::unique_ptr<Stream>> CreateStream() override {
    SDR_ASSIGN_OR_RETURN(std::unique_ptr<Stream> s, b_->CreateStream());
    return std::unique_ptr<Stream>(new RangeStream(std::move(s)));
  }
  bool Supports(OpKind op, DType dtype) const override { return b_->Supports(op, dtype); }
  size_t ScratchBytes(const LinearArgs& a) const override { return b_->ScratchBytes(a); }
  size_t ScratchBytes(const Conv2dArgs& a) const override { return b_->ScratchBytes(a); }
  size_t ScratchBytes(const GroupNormArgs& a) const override { return b_->ScratchBytes(a); }
  size_t ScratchBytes(const AttentionArgs& a) const override { return b_->ScratchBytes(a); }

 private:
  std::shared_ptr<Backend> b_;
};

Tensor Normal(const Shape& shape, uint32_t seed) {
  auto t = Tensor::Allocate(DType::kF32, shape);
  if (!t.ok()) std::abort();
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < t->numel(); ++i) {  // Box-Muller over a 64-bit LCG
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const double u1 = ((s >> 11) + 1.0) / 9007199254740993.0;
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const double u2 = (s >> 11) / 9007199254740992.0;
    t->mutable_data<float>()[i] = static_cast<float>(std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }
  return *t;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL [--tokenizer merges.txt]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const std::string merges = argc >= 4 && std::string(argv[2]) == "--tokenizer" ? argv[3] : "";
  auto cpu = OpenBackend("cpu");
  if (!cpu.ok()) return Fail(cpu.status());
  RangeBackend backend(*cpu);
  auto index = OpenModelFile(path);
  if (!index.ok()) return Fail(index.status());
  auto tok = LoadClipTokenizer(ResolveTokenizerSource(path, merges));
  if (!tok.ok()) return Fail(tok.status());
  auto clip = ClipTextModel::Load(*index, backend);
  if (!clip.ok()) return Fail(clip.status());
  TextConditioner cond(clip->get(), tok->get());
  auto c = cond.Encode("a photograph of an astronaut riding a horse");
  auto u = cond.Encode("");
  if (!c.ok() || !u.ok()) return Fail(c.ok() ? u.status() : c.status());
  std::printf("text encoder done\n");
  auto unet = UnetModel::Load(*index, backend);
  if (!unet.ok()) return Fail(unet.status());
  for (const float t : {999.0f, 50.0f}) {
    for (const Tensor* ctx : {&*c, &*u}) {
      auto eps = (*unet)->Forward(Normal({1, (*unet)->in_channels(), 16, 16}, 1), t, *ctx);
      if (!eps.ok()) return Fail(eps.status());
    }
  }
  std::printf("UNet done\n");
  auto vae = VaeDecoder::Load(*index, backend);
  if (!vae.ok()) return Fail(vae.status());
  auto img = (*vae)->Decode(Normal({1, (*vae)->latent_channels(), 16, 16}, 2));
  if (!img.ok()) return Fail(img.status());
  double worst = 0;
  std::printf("\n%-20s %14s %s\n", "op", "max |y|", "f16?");
  for (const auto& [op, m] : Peaks()) {
    std::printf("%-20s %14.4g %s\n", op.c_str(), m, m < 65504 ? (m < 8192 ? "ok" : "close") : "OVERFLOWS");
    worst = std::max(worst, m);
  }
  std::printf("largest |activation| %.4g: %s\n", worst,
              worst < 65504 ? "fits f16 (65504) and bf16" : "does NOT fit f16: use bf16 or f32");
  return 0;
}
