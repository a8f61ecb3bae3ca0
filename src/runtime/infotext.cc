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

bool IsWordChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' || u >= 0x80;
}

void AppendUtf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// The body of a JSON string literal (between the quotes) unescaped; malformed escapes are kept
// as written (A1111 keeps the value when json.loads fails).
std::string JsonUnquote(std::string_view body) {
  std::string out;
  const auto hex4 = [&](size_t at, char32_t* v) {
    if (at + 4 > body.size()) return false;
    *v = 0;
    for (size_t k = at; k < at + 4; ++k) {
      const char c = body[k];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return false;
      *v = (*v << 4) | static_cast<char32_t>(d);
    }
    return true;
  };
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out += body[i];
      continue;
    }
    const char e = body[++i];
    switch (e) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'u': {
        char32_t cp = 0, low = 0;
        if (!hex4(i + 1, &cp)) {
          out += "\\u";
          break;
        }
        i += 4;
        if (cp >= 0xd800 && cp < 0xdc00 && i + 2 < body.size() && body[i + 1] == '\\' && body[i + 2] == 'u' &&
            hex4(i + 3, &low) && low >= 0xdc00 && low < 0xe000) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          i += 6;
        }
        if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd;  // a lone surrogate
        AppendUtf8(cp, out);
        break;
      }
      default: out += e;  // \" \\ \/ and anything else: the character itself
    }
  }
  return out;
}

// A1111's re_param: `\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)`, found left to right.
// Written out by hand: no std::regex on untrusted text (its recursion overflows the stack).
std::vector<std::pair<std::string, std::string>> FindParams(std::string_view line) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  const size_t n = line.size();
  const auto is_key_char = [](char c) { return IsWordChar(c) || c == ' ' || c == '-' || c == '/'; };
  while (i < n) {
    while (i < n && IsPythonWhitespace(line[i])) ++i;
    if (i >= n) break;
    const size_t key_begin = i;
    size_t k = i;
    if (IsWordChar(line[k])) {
      ++k;
      while (k < n && is_key_char(line[k])) ++k;
    }
    if (k - key_begin < 2 || k >= n || line[k] != ':') {
      ++i;  // no match starting here
      continue;
    }
    std::string key(line.substr(key_begin, k - key_begin));
    size_t v = k + 1;
    while (v < n && IsPythonWhitespace(line[v])) ++v;
    std::string value;
    bool quoted = false;
    if (v < n && line[v] == '"') {
      size_t q = v + 1;
      while (q < n && line[q] != '"') q += line[q] == '\\' && q + 1 < n ? 2 : 1;
      if (q < n && q > v + 1 && (q + 1 == n || line[q + 1] == ',')) {
        value = JsonUnquote(line.substr(v + 1, q - v - 1));
        v = q + 1;
        quoted = true;
      }
    }
    if (!quoted) {
      const size_t comma = line.find(',', v);
      const size_t end = comma == std::string_view::npos ? n : comma;
      value = std::string(line.substr(v, end - v));
      v = end;
    }
    if (v < n && line[v] == ',') ++v;
    out.emplace_back(std::move(key), std::move(value));
    i = v;
  }
  return out;
}

}  // namespace

ParsedInfotext ParseInfotext(const std::string& text) {
  ParsedInfotext parsed;
  std::vector<std::string> lines;
  const std::string stripped = Strip(text);
  size_t start = 0;
  while (true) {
    const size_t nl = stripped.find('\n', start);
    lines.push_back(stripped.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  auto params = FindParams(lines.back());
  if (params.size() >= 3) {
    parsed.params = std::move(params);
    lines.pop_back();
  }
  bool negative = false;
  for (const std::string& raw : lines) {
    std::string line = Strip(raw);
    if (line.rfind("Negative prompt:", 0) == 0) {
      negative = true;
      line = Strip(line.substr(16));
    }
    std::string& target = negative ? parsed.negative_prompt : parsed.prompt;
    if (!target.empty()) target += '\n';
    target += line;
  }
  return parsed;
}

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
