// sdr convert IN OUT [--type T] [--ggml-compatible]: rewrite a model in another format and/or
// element type.
#include <cstdio>
#include <string>

#include "apps/cli/commands.h"
#include "apps/cli/write_model.h"
#include "core/convert.h"
#include "formats/model_file.h"
#include "runtime/errors.h"

namespace sdr::cli {
namespace {

struct ConvertOptions {
  std::string in, out, type;
  // Quantize only tensors whose innermost dim is whole blocks (what ggml readers accept); else
  // convolution kernels are quantized by [cout, cin*kh*kw] rows too.
  bool ggml_compatible = false;
};

Status RunConvert(const ConvertOptions& o) {
  auto opened = OpenModelFile(o.in);
  if (!opened.ok()) return TagLoadError(opened.status(), o.in);
  const TensorIndex index = std::move(opened).value();
  std::optional<DType> target;
  if (!o.type.empty()) {
    target = ParseDType(o.type);
    if (!target) return InvalidArgument("unknown --type '" + o.type + "'");
  }
  std::vector<NamedTensor> tensors;
  tensors.reserve(index.size());
  int64_t beyond_ggml = 0;  // quantized tensors ggml cannot read
  for (const TensorEntry& e : index.entries()) {
    DType d = e.tensor.dtype();
    // Only float weights change type; 1-D tensors (biases, norms) stay unquantized as f32.
    if (target && GetDTypeInfo(d).is_float) {
      d = *target;
      const Shape& shape = e.tensor.shape();
      if (GetDTypeInfo(d).is_quantized &&
          (!CanQuantizeRows(d, shape) || (o.ggml_compatible && !GgmlQuantRowsValid(d, shape)))) {
        d = e.tensor.rank() >= 2 ? DType::kF16 : DType::kF32;
      }
      if (!GgmlQuantRowsValid(d, shape)) ++beyond_ggml;
    }
    SDR_ASSIGN_OR_RETURN(Tensor t, ConvertTensor(e.tensor, d));
    tensors.push_back({e.name, std::move(t)});
  }
  SDR_RETURN_IF_ERROR(WriteModelByExtension(o.out, tensors, {{"converted_from", o.in}}));
  std::printf("wrote %s: %zu tensors\n", o.out.c_str(), tensors.size());
  if (beyond_ggml > 0) {
    std::printf("note: %lld convolution kernels quantized by [cout, cin*kh*kw] rows; stable-diffusion.cpp and other "
                "ggml readers cannot load this file (--ggml-compatible keeps them f16)\n",
                static_cast<long long>(beyond_ggml));
  }
  return Status::Ok();
}

}  // namespace

Command RegisterConvert(CLI::App& app) {
  auto opts = std::make_shared<ConvertOptions>();
  CLI::App* sub = app.add_subcommand("convert", "Convert a model to .safetensors, .ckpt or .gguf");
  sub->add_option("in", opts->in, "input model file or diffusers folder")->required();
  sub->add_option("out", opts->out, "output file; its extension names the format")->required();
  sub->add_option("--type", opts->type, "element type of float weights: f32, f16, bf16, q8_0, q4_0, ...");
  sub->add_flag("--ggml-compatible", opts->ggml_compatible,
                "quantize only what ggml readers (stable-diffusion.cpp) can load: convolution kernels stay f16");
  return {sub, [opts] { return RunConvert(*opts); }};
}

}  // namespace sdr::cli
