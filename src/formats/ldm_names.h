// The canonical tensor-name prefixes of the original LDM single-file checkpoints, the names every
// TensorIndex uses whatever the file format (tensor_index.h). Declared once, here.
#pragma once

namespace sdr {

inline constexpr const char* kLdmUnetPrefix = "model.diffusion_model.";
inline constexpr const char* kLdmTextEncoderPrefix = "cond_stage_model.transformer.";  // SD 1.x CLIP (HF layout)
inline constexpr const char* kLdmClipTextPrefix = "cond_stage_model.transformer.text_model.";
inline constexpr const char* kLdmCondStagePrefix = "cond_stage_model.";  // any SD 1.x/2.x text encoder
inline constexpr const char* kLdmSdxlConditionerPrefix = "conditioner.";  // SDXL's text encoders
inline constexpr const char* kLdmVaePrefix = "first_stage_model.";

}  // namespace sdr
