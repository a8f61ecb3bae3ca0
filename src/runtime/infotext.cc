#include "runtime/infotext.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/sha256.h"
#include "tokenizer/lora_tags.h"
#include "tokenizer/utf8.h"

namespace sdr {
namespace {

constexpr size_t kShortHashDigits = 10;

bool IsPythonWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
         (c >= 0x1c && c <= 0x1f);
}

// Python's str.strip() for the ASCII whitespace A1111's final .strip() removes.
std::string Strip(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && IsPythonWhitespace(s[b])) ++b;
  while (e > b && IsPythonWhitespace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// json.dumps(s, ensure_ascii=False): escapes '"', '\\' and control characters only.
std::string JsonQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace

std::string QuoteInfotextValue(const std::string& value) {
  if (value.find_first_of(",:\n") == std::string::npos) return value;
  return JsonQuote(value);
}

std::string FormatInfotextNumber(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // Python's repr: shortest round-trip digits; scientific below 1e-4 and from 1e16 on.
  const double mag = std::fabs(value);
  const bool scientific = value != 0 && (mag < 1e-4 || mag >= 1e16);
  char buf[64];
  auto res = scientific ? std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific)
                        : std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::fixed);
  // Python prints integral floats as "7.0" and A1111 shows "7": C++ already omits the ".0";
  // exponents are written with a sign and at least two digits by both ("1e-05", "1e+16").
  return std::string(buf, res.ptr);
}

std::string FormatInfotext(const GenerationInfo& info) {
  std::string params;
  const auto add = [&params](const std::string& key, const std::string& value) {
    if (!params.empty()) params += ", ";
    params += key;
    params += ": ";
    params += QuoteInfotextValue(value);
  };
  add("Steps", std::to_string(info.steps));
  add("Sampler", info.sampler);
  if (!info.schedule.empty()) add("Schedule type", info.schedule);
  add("CFG scale", FormatInfotextNumber(info.cfg_scale));
  add("Seed", std::to_string(info.seed));
  add("Size", std::to_string(info.width) + "x" + std::to_string(info.height));
  if (!info.model_hash.empty()) add("Model hash", info.model_hash);
  if (!info.model_name.empty()) add("Model", info.model_name);
  if (info.clip_skip > 1) add("Clip skip", std::to_string(info.clip_skip));
  if (info.rng == RngKind::kCpu) add("RNG", "CPU");
  for (const auto& [key, value] : info.extra) add(key, value);

  std::string text = info.prompt;
  if (!info.negative_prompt.empty()) text += "\nNegative prompt: " + info.negative_prompt;
  text += "\n" + params;
  return Strip(text);
}

Result<std::string> LoraHashes(const GenerateParams& p) {
  SDR_ASSIGN_OR_RETURN(LoraPrompt lp, ExtractLoraTags(p.prompt));
  std::string out;
  std::vector<std::string> seen;
  for (const LoraTag& tag : lp.loras) {
    if (std::find(seen.begin(), seen.end(), tag.name) != seen.end()) continue;
    seen.push_back(tag.name);
    auto digest = Sha256File(p.lora_dir + "/" + tag.name + ".safetensors");
    if (!digest.ok()) return digest.status().WithContext("LoRA hash");
    if (!out.empty()) out += ", ";
    out += tag.name + ": " + DigestHex(*digest).substr(0, 12);
  }
  return out;
}

Result<std::string> ModelHash(const std::string& path) {
  auto digest = Sha256File(path);
  if (!digest.ok()) return digest.status().WithContext("model hash");
  return DigestHex(*digest).substr(0, kShortHashDigits);
}

GenerationInfo MakeGenerationInfo(const GenerateParams& p, uint64_t seed, int width, int height) {
  GenerationInfo info;
  info.prompt = SanitizeUtf8(p.prompt);
  info.negative_prompt = SanitizeUtf8(p.negative_prompt);
  info.steps = p.steps;
  info.sampler = std::string(A1111Name(p.sampler));
  info.schedule = std::string(A1111ScheduleName(p.scheduler));
  info.cfg_scale = p.cfg_scale;
  info.seed = seed;
  info.width = width;
  info.height = height;
  info.clip_skip = p.clip_skip;
  info.rng = p.rng;
  // img2img: A1111 writes the denoising strength (after the model, so among the extras).
  if (!p.init_image.empty()) info.extra.emplace_back("Denoising strength", FormatInfotextNumber(p.strength));
  if (!p.mask.empty()) info.extra.emplace_back("Mask blur", std::to_string(p.mask_blur));
  return info;
}

}  // namespace sdr
