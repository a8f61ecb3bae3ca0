#include "models/lora/random_lora.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "formats/diffusers_names.h"

namespace sdr {
namespace {

std::string Underscored(std::string s) {
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

bool Wanted(const std::string& ldm) {
  auto ends = [&](std::string_view s) { return ldm.size() >= s.size() && ldm.substr(ldm.size() - s.size()) == s; };
  return ends(".attn1.to_q.weight") || ends(".attn2.to_k.weight") || ends(".ff.net.2.weight") ||
         ends(".proj_in.weight") || ldm == "model.diffusion_model.input_blocks.1.0.in_layers.2.weight" ||
         ldm == "cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight" ||
         ldm == "cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight";
}

}  // namespace

Result<std::vector<NamedTensor>> MakeRandomLora(const TensorIndex& model, const RandomLoraOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<NamedTensor> out;
  struct Table {
    std::vector<DiffusersNamePair> names;
    const char* kohya;
    const char* diffusers;
  };
  const Table tables[] = {{DiffusersUnetNames({}), "lora_unet_", "unet."},
                          {DiffusersTextEncoderNames({}), "lora_te_", "text_encoder."}};
  const int64_t r = o.rank;
  for (const Table& t : tables) {
    for (const DiffusersNamePair& p : t.names) {
      if (!Wanted(p.ldm)) continue;
      const TensorEntry* e = model.Find(p.ldm);
      if (e == nullptr) continue;  // e.g. SD 2.x linear proj_in: not in this table's form
      const Shape& ws = e->tensor.shape();
      const bool conv = ws.size() == 4;
      const int64_t cout = ws[0], cin = ws[1], k = conv ? ws[2] : 1;
      const Shape down_shape = conv ? Shape{r, cin, k, k} : Shape{r, cin};
      const Shape up_shape = conv ? Shape{cout, r, 1, 1} : Shape{cout, r};
      SDR_ASSIGN_OR_RETURN(Tensor down, Tensor::Allocate(DType::kF32, down_shape));
      SDR_ASSIGN_OR_RETURN(Tensor up, Tensor::Allocate(DType::kF32, up_shape));
      const float sd = 1.0f / std::sqrt(static_cast<float>(cin * k * k));
      for (int64_t i = 0; i < down.numel(); ++i) down.mutable_data<float>()[i] = normal(rng) * sd;
      for (int64_t i = 0; i < up.numel(); ++i) up.mutable_data<float>()[i] = normal(rng) * o.scale * 0.1f;
      const std::string module = p.diffusers.substr(0, p.diffusers.size() - 7);  // minus ".weight"
      if (o.form == LoraForm::kKohya) {
        const std::string key = t.kohya + Underscored(module);
        SDR_ASSIGN_OR_RETURN(Tensor alpha, Tensor::Allocate(DType::kF32, {}));
        alpha.mutable_data<float>()[0] = static_cast<float>(r) / 2;
        out.push_back({key + ".lora_down.weight", down});
        out.push_back({key + ".lora_up.weight", up});
        out.push_back({key + ".alpha", alpha});
      } else {
        for (int64_t i = 0; i < up.numel(); ++i) up.mutable_data<float>()[i] *= 0.5f;
        const std::string key = t.diffusers + module;
        out.push_back({key + ".lora_A.weight", down});
        out.push_back({key + ".lora_B.weight", up});
      }
    }
  }
  if (out.empty()) return InvalidArgument("the model has none of the layers a test LoRA covers");
  return out;
}

}  // namespace sdr
