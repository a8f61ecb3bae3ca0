#include "runtime/config.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "backends/registry.h"
#include "core/enum_names.h"
#include "core/thread_pool.h"

namespace sdr {

int DefaultConfigThreads() {
  static const int n = ThreadPool::DefaultThreadCount();
  return n;
}

namespace {

constexpr size_t kMaxQuoted = 200;  // characters of a bad value echoed in an error

// `text` as a double-quoted literal with \" \\ \n \t \xNN escapes, cut at kMaxQuoted.
std::string Quote(std::string_view text) {
  std::string s = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxQuoted; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      s += '\\';
      s += static_cast<char>(c);
    } else if (c == '\n') {
      s += "\\n";
    } else if (c == '\t') {
      s += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      s += buf;
    } else {
      s += static_cast<char>(c);
    }
  }
  s += '"';
  if (text.size() > kMaxQuoted) s += "...";
  return s;
}

// `label="text" <what>`: the value is not of the right form.
Status NotA(std::string_view label, std::string_view text, std::string_view what) {
  return InvalidArgument(std::string(label) + "=" + Quote(text) + " " + std::string(what));
}

// `label=text: <rule>`: well-formed but out of range (text is a number, shown as given).
Status OutOfRange(std::string_view label, std::string_view text, std::string_view rule) {
  return InvalidArgument(std::string(label) + "=" + std::string(text.substr(0, kMaxQuoted)) + ": " +
                         std::string(rule));
}

std::string_view Trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

enum class NumParse { kOk, kMalformed, kOverflow };

NumParse ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty()) return NumParse::kMalformed;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  if (ec == std::errc::result_out_of_range) return NumParse::kOverflow;
  if (ec != std::errc() || ptr != s.data() + s.size()) return NumParse::kMalformed;
  return NumParse::kOk;
}

NumParse ParseDouble(std::string_view s, double* out) {
  if (s.empty()) return NumParse::kMalformed;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, std::chars_format::general);
  if (ec == std::errc::result_out_of_range) return NumParse::kOverflow;
  if (ec != std::errc() || ptr != s.data() + s.size()) return NumParse::kMalformed;
  return NumParse::kOk;
}

// An integer in [lo, hi].
Status ParseIntIn(std::string_view label, std::string_view raw, int lo, int hi, int* out) {
  const std::string_view text = Trim(raw);
  int64_t v = 0;
  const NumParse r = ParseInt64(text, &v);
  if (r == NumParse::kMalformed) return NotA(label, raw, "is not an integer");
  if (r == NumParse::kOverflow || v < lo || v > hi) {
    return OutOfRange(label, text, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  *out = static_cast<int>(v);
  return Status::Ok();
}

// A finite number accepted by `in_range`; `rule` describes the range.
Status ParseNumberIn(std::string_view label, std::string_view raw, bool (*in_range)(double),
                     std::string_view rule, double* out) {
  const std::string_view text = Trim(raw);
  double v = 0;
  const NumParse r = ParseDouble(text, &v);
  if (r == NumParse::kMalformed) return NotA(label, raw, "is not a number");
  if (r == NumParse::kOverflow || !std::isfinite(v) || !in_range(v)) return OutOfRange(label, text, rule);
  *out = v;
  return Status::Ok();
}

Status ParseBool(std::string_view label, std::string_view raw, bool* out) {
  const std::string v = Lower(Trim(raw));
  if (v == "true" || v == "1" || v == "yes" || v == "on") {
    *out = true;
  } else if (v == "false" || v == "0" || v == "no" || v == "off") {
    *out = false;
  } else {
    return NotA(label, raw, "is not a boolean (true/false, 1/0, yes/no, on/off)");
  }
  return Status::Ok();
}

// A path that exists (file or folder), taken verbatim.
Status ParseExistingPath(std::string_view label, std::string_view text, std::string* out) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(std::filesystem::path(text), ec);
  if (ec) return NotA(label, text, "cannot be checked: " + ec.message());
  if (!exists) return NotA(label, text, "does not exist");
  *out = std::string(text);
  return Status::Ok();
}

// An http:// or https:// URL without blanks, taken verbatim (a trailing '/' is dropped when used).
Status ParseUrl(std::string_view label, std::string_view text, std::string* out) {
  const bool scheme = text.substr(0, 7) == "http://" || text.substr(0, 8) == "https://";
  const bool blanks = text.find_first_of(" \t\r\n") != std::string_view::npos;
  const size_t host = text.find("//") + 2;
  if (!scheme || blanks || host >= text.size() || text[host] == '/') {
    return NotA(label, text, "is not an http:// or https:// URL");
  }
  *out = std::string(text);
  return Status::Ok();
}

// A name sent to a provider (model, deployment, API version): non-blank, no '/', '?', '#' or blanks.
Status ParseName(std::string_view label, std::string_view raw, std::string* out) {
  const std::string_view text = Trim(raw);
  if (text.empty() || text.find_first_of("/?#& \t\r\n") != std::string_view::npos) {
    return NotA(label, raw, "is not a name (no blanks, '/', '?', '#' or '&')");
  }
  *out = std::string(text);
  return Status::Ok();
}

// A secret (API key), taken verbatim; never echoed in errors.
Status ParseSecret(std::string_view label, std::string_view text, std::string* out) {
  if (text.find_first_of("\r\n") != std::string_view::npos) {
    return InvalidArgument(std::string(label) + " contains a line break (value not shown)");
  }
  *out = std::string(text);
  return Status::Ok();
}

bool ValidSide(int64_t v) { return v >= RuntimeConfig::kMinSide && v <= RuntimeConfig::kMaxSide && v % 8 == 0; }

// "N" or "WxH" (x or X), each side a multiple of 8 in [kMinSide, kMaxSide].
Status ParseImageSize(std::string_view label, std::string_view raw, RuntimeConfig& c) {
  const std::string_view text = Trim(raw);
  const size_t x = text.find_first_of("xX");
  const std::string_view w_text = text.substr(0, x);
  const std::string_view h_text = x == std::string_view::npos ? text : text.substr(x + 1);
  int64_t w = 0, h = 0;
  const NumParse rw = ParseInt64(w_text, &w);
  const NumParse rh = ParseInt64(h_text, &h);
  if (rw == NumParse::kMalformed || rh == NumParse::kMalformed) {
    return NotA(label, raw, "is not a size: N (square) or WxH, e.g. 512 or 768x512");
  }
  const std::string rule = "must be a multiple of 8 in [" + std::to_string(RuntimeConfig::kMinSide) + ", " +
                           std::to_string(RuntimeConfig::kMaxSide) + "]";
  const bool w_ok = rw == NumParse::kOk && ValidSide(w);
  const bool h_ok = rh == NumParse::kOk && ValidSide(h);
  if (x == std::string_view::npos) {
    if (!w_ok) return OutOfRange(label, text, rule);
  } else if (!w_ok || !h_ok) {
    return OutOfRange(label, text, std::string(!w_ok ? "width" : "height") + " " + rule);
  }
  c.width = static_cast<int>(w);
  c.height = static_cast<int>(h);
  return Status::Ok();
}

std::string FormatInt(int v) { return std::to_string(v); }

// Shortest text that parses back to the same value ("7.5", "120", "1e-05").
template <typename T>
std::string FormatFloat(T v) {
  std::array<char, 64> buf;
  const auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  if (ec != std::errc()) return "nan";
  return std::string(buf.data(), ptr);
}

std::string FormatBool(bool v) { return v ? "true" : "false"; }

// One side of the image size ("-W 768"): a multiple of 8 in [kMinSide, kMaxSide].
Status ParseSide(std::string_view label, std::string_view raw, int* out) {
  const std::string_view text = Trim(raw);
  int64_t v = 0;
  const NumParse r = ParseInt64(text, &v);
  if (r == NumParse::kMalformed) return NotA(label, raw, "is not an integer");
  if (r == NumParse::kOverflow || !ValidSide(v)) {
    return OutOfRange(label, text, "must be a multiple of 8 in [" + std::to_string(RuntimeConfig::kMinSide) + ", " +
                                       std::to_string(RuntimeConfig::kMaxSide) + "]");
  }
  *out = static_cast<int>(v);
  return Status::Ok();
}

// The table. Help texts state ranges; tests check they match the parsers.
std::vector<ConfigField> MakeFields() {
  return {
    {"model_path", "SD_MODEL_PATH", "",
     "checkpoint (.safetensors, .ckpt, .gguf) or diffusers folder (checked when loading: model_not_found)",
     ConfigKind::kPath,
     [](std::string_view, std::string_view t, RuntimeConfig& c) {
       c.model_path = std::string(t);
       return Status::Ok();
     },
     [](const RuntimeConfig& c) { return c.model_path; },
     {{"-m,--model", "model file or diffusers folder", nullptr}}},
    {"vae_path", "SD_VAE_PATH", "", "external VAE replacing the model's (optional; checked when loading)",
     ConfigKind::kPath,
     [](std::string_view, std::string_view t, RuntimeConfig& c) {
       c.vae_path = std::string(t);
       return Status::Ok();
     },
     [](const RuntimeConfig& c) { return c.vae_path; },
     {{"--vae", "external VAE file", nullptr}}},
    {"tokenizer_path", "SD_TOKENIZER_PATH", "", "CLIP merges.txt, or a folder holding it; must exist",
     ConfigKind::kPath,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) {
       return ParseExistingPath(l, t, &c.tokenizer_path);
     },
     [](const RuntimeConfig& c) { return c.tokenizer_path; },
     {{"--tokenizer", "CLIP merges.txt (or a folder holding it); default: the model's own, else the embedded one",
       nullptr}}},
    {"taesd_path", "SD_TAESD_PATH", "", "TAESD decoder (taesd_decoder.safetensors) for fast per-step previews",
     ConfigKind::kPath,
     [](std::string_view, std::string_view t, RuntimeConfig& c) {
       c.taesd_path = std::string(t);
       return Status::Ok();
     },
     [](const RuntimeConfig& c) { return c.taesd_path; },
     {{"--taesd", "TAESD decoder file for per-step previews", nullptr}}},
    {"preview_every", "SD_PREVIEW_EVERY", "5",
     "with a TAESD decoder, `sdr serve` sends a TAESD preview every N sampler steps, 1..1000 (each costs a small "
     "decode)",
     ConfigKind::kInt,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) {
       return ParseIntIn(l, t, 1, RuntimeConfig::kMaxSteps, &c.preview_every);
     },
     [](const RuntimeConfig& c) { return FormatInt(c.preview_every); },
     {{"--preview-every", "", nullptr}}},
    {"lora_dir", "SD_LORA_DIR", "", "folder of LoRA .safetensors files named by <lora:NAME:WEIGHT> prompt tags",
     ConfigKind::kPath,
     [](std::string_view, std::string_view t, RuntimeConfig& c) {
       c.lora_dir = std::string(t);
       return Status::Ok();
     },
     [](const RuntimeConfig& c) { return c.lora_dir; },
     {{"--lora-dir", "folder of LoRA .safetensors for <lora:NAME:WEIGHT> prompt tags", nullptr}}},
    {"image_size", "SD_IMAGE_SIZE", "512", "image size in pixels: N (square) or WxH, multiples of 8 in [64, 2048]",
     ConfigKind::kImageSize, ParseImageSize,
     [](const RuntimeConfig& c) {
       return c.width == c.height ? FormatInt(c.width) : FormatInt(c.width) + "x" + FormatInt(c.height);
     },
     {{"-W,--width", "width in pixels (multiple of 8)",
       [](std::string_view l, std::string_view t, RuntimeConfig& c) { return ParseSide(l, t, &c.width); }},
      {"-H,--height", "height in pixels (multiple of 8)",
       [](std::string_view l, std::string_view t, RuntimeConfig& c) { return ParseSide(l, t, &c.height); }}}},
    {"steps", "SD_INFERENCE_STEPS", "20", "sampler steps, 1..1000", ConfigKind::kInt,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) {
       return ParseIntIn(l, t, 1, RuntimeConfig::kMaxSteps, &c.steps);
     },
     [](const RuntimeConfig& c) { return FormatInt(c.steps); },
     {{"--steps", "", nullptr}}},
    {"guidance_scale", "SD_GUIDANCE_SCALE", "7.5", "classifier-free guidance scale, 0..100 (1 skips the uncond pass)",
     ConfigKind::kFloat,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) {
       double v = 0;
       SDR_RETURN_IF_ERROR(ParseNumberIn(
           l, t, [](double g) { return g >= 0 && g <= RuntimeConfig::kMaxGuidance; },
           "must be a finite number in [0, 100]", &v));
       c.guidance_scale = static_cast<float>(v);
       return Status::Ok();
     },
     [](const RuntimeConfig& c) { return FormatFloat(c.guidance_scale); },
     {{"--cfg-scale", "", nullptr}}},
    {"negative_prompt", "SD_NEGATIVE_PROMPT", "", "negative prompt used when a request gives none",
     ConfigKind::kString,
     [](std::string_view, std::string_view t, RuntimeConfig& c) {
       c.negative_prompt = std::string(t);
       return Status::Ok();
     },
     [](const RuntimeConfig& c) { return c.negative_prompt; },
     {{"-n,--negative-prompt", "negative prompt", nullptr}}},
    {"sampler", "SD_SAMPLER", ToString(GenerateParams{}.sampler),
     "sampler: " + JoinNames(AllSamplerKinds()) + " (or the A1111 names)", ConfigKind::kChoice,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) {
       const auto kind = ParseSamplerKind(Trim(t));
       if (!kind) return NotA(l, t, "is not a sampler (" + JoinNames(AllSamplerKinds()) + ")");
       c.sampler = *kind;
       return Status::Ok();
     },
     [](const RuntimeConfig& c) { return std::string(ToString(c.sampler)); },
     {{"--sampler", "", nullptr}}},
    {"scheduler", "SD_SCHEDULER", ToString(GenerateParams{}.scheduler),
     "sigma schedule: " + JoinNames(AllSchedulers()), ConfigKind::kChoice,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) {
       const auto s = ParseScheduler(Trim(t));
       if (!s) return NotA(l, t, "is not a scheduler (" + JoinNames(AllSchedulers()) + ")");
       c.scheduler = *s;
       return Status::Ok();
     },
     [](const RuntimeConfig& c) { return std::string(ToString(c.scheduler)); },
     {{"--scheduler", "", nullptr}}},
    {"timeout_seconds", "SD_TIMEOUT_SECONDS", "120", "seconds one generation may run, (0, 86400]", ConfigKind::kFloat,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) {
       return ParseNumberIn(
           l, t, [](double s) { return s > 0 && s <= RuntimeConfig::kMaxTimeoutSeconds; },
           "must be a number of seconds in (0, 86400]", &c.timeout_seconds);
     },
     [](const RuntimeConfig& c) { return FormatFloat(c.timeout_seconds); },
     {{"--timeout", "seconds one generation may run (sdr generate: none unless this or SD_TIMEOUT_SECONDS is set)",
       nullptr}}},
    {"max_concurrent", "SD_MAX_CONCURRENT", "2", "generations run at once, 1..64", ConfigKind::kInt,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) {
       return ParseIntIn(l, t, 1, RuntimeConfig::kMaxConcurrent, &c.max_concurrent);
     },
     [](const RuntimeConfig& c) { return FormatInt(c.max_concurrent); },
     {{"--max-concurrent", "", nullptr}}},
    {"vae_tiling", "SD_VAE_TILING", "false", "decode the VAE in tiles: less memory, slower", ConfigKind::kBool,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) { return ParseBool(l, t, &c.vae_tiling); },
     [](const RuntimeConfig& c) { return FormatBool(c.vae_tiling); },
     {{"--vae-tiling", "", nullptr}}},
    {"free_params", "SD_FREE_PARAMS", "false", "free each component's weights once used: less memory, reload per run",
     ConfigKind::kBool,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) { return ParseBool(l, t, &c.free_params); },
     [](const RuntimeConfig& c) { return FormatBool(c.free_params); },
     {{"--free-params", "", nullptr}}},
    {"threads", "SD_THREADS", "physical cores", "CPU worker threads, 1..256", ConfigKind::kInt,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) {
       return ParseIntIn(l, t, 1, RuntimeConfig::kMaxThreads, &c.threads);
     },
     [](const RuntimeConfig& c) { return FormatInt(c.threads); },
     {{"--threads", "", nullptr}}},
    {"device", "SD_DEVICE", "auto", "compute device: auto (the best available), cpu, cpu-blas, reference, cuda or cuda:N",
     ConfigKind::kChoice,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) {
       const std::string_view v = Trim(t);
       if (!ValidateDeviceName(v).ok()) return NotA(l, t, "is not a device (auto, cpu, cpu-blas, reference, cuda, cuda:N)");
       c.device = std::string(v);
       return Status::Ok();
     },
     [](const RuntimeConfig& c) { return c.device; },
     {{"--device", "", nullptr}}},
    {"cuda_precision", "SD_CUDA_PRECISION", "f16",
     "what a GPU holds activations and weights in: f16 (tensor cores, f32 accumulation), bf16, or f32 (no TF32; "
     "for checking)",
     ConfigKind::kChoice,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) {
       const std::string v = Lower(Trim(t));
       GpuPrecision p;
       if (!ParseGpuPrecision(v, &p)) return NotA(l, t, "is not a GPU precision (f16, bf16, f32)");
       c.cuda_precision = v;
       return Status::Ok();
     },
     [](const RuntimeConfig& c) { return c.cuda_precision; },
     {{"--cuda-precision", "", nullptr}}},
    // The HTTP server (`sdr serve`, src/server).
    {"host", "SD_HOST", kDefaultServerHost,
     "address `sdr serve` binds (loopback by default; another address without SD_API_KEY logs a warning)",
     ConfigKind::kString,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) { return ParseName(l, t, &c.host); },
     [](const RuntimeConfig& c) { return c.host; },
     {{"--host", "", nullptr}}},
    {"port", "SD_PORT", "7860", "TCP port `sdr serve` listens on, 0..65535 (0 = any free port)", ConfigKind::kInt,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) {
       return ParseIntIn(l, t, 0, RuntimeConfig::kMaxPort, &c.port);
     },
     [](const RuntimeConfig& c) { return FormatInt(c.port); },
     {{"--port", "", nullptr}}},
    {"api_key", "SD_API_KEY", "",
     "key clients of `sdr serve` send as Authorization: Bearer KEY (every endpoint but /health; never shown)",
     ConfigKind::kSecret,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) { return ParseSecret(l, t, &c.api_key); },
     [](const RuntimeConfig& c) { return c.api_key; },
     {{"--api-key", "", nullptr}}},
    {"max_queue", "SD_MAX_QUEUE", "16",
     "jobs `sdr serve` queues while every context is busy, 0..1024 (a full queue answers 429)", ConfigKind::kInt,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) {
       return ParseIntIn(l, t, 0, RuntimeConfig::kMaxQueue, &c.max_queue);
     },
     [](const RuntimeConfig& c) { return FormatInt(c.max_queue); },
     {{"--max-queue", "", nullptr}}},
    // Cloud image providers (src/imagegen/selection.h): chosen when no local model loads, Azure
    // before OpenAI.
    {"azure_endpoint", "AZURE_OPENAI_ENDPOINT", "",
     "Azure OpenAI resource URL (https://NAME.openai.azure.com); with AZURE_OPENAI_API_KEY selects Azure",
     ConfigKind::kUrl,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) { return ParseUrl(l, t, &c.azure_endpoint); },
     [](const RuntimeConfig& c) { return c.azure_endpoint; },
     {}},
    {"azure_api_key", "AZURE_OPENAI_API_KEY", "", "Azure OpenAI key, sent as the api-key header (never shown)",
     ConfigKind::kSecret,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) { return ParseSecret(l, t, &c.azure_api_key); },
     [](const RuntimeConfig& c) { return c.azure_api_key; },
     {}},
    {"azure_deployment", "AZURE_OPENAI_DEPLOYMENT", kDefaultAzureDeployment,
     "Azure OpenAI image deployment name", ConfigKind::kString,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) { return ParseName(l, t, &c.azure_deployment); },
     [](const RuntimeConfig& c) { return c.azure_deployment; },
     {}},
    {"azure_api_version", "AZURE_OPENAI_API_VERSION", kDefaultAzureApiVersion,
     "Azure OpenAI api-version query parameter", ConfigKind::kString,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) { return ParseName(l, t, &c.azure_api_version); },
     [](const RuntimeConfig& c) { return c.azure_api_version; },
     {}},
    {"openai_api_key", "OPENAI_API_KEY", "", "OpenAI API key, sent as Bearer token; selects OpenAI (never shown)",
     ConfigKind::kSecret,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) { return ParseSecret(l, t, &c.openai_api_key); },
     [](const RuntimeConfig& c) { return c.openai_api_key; },
     {}},
    {"openai_base_url", "OPENAI_BASE_URL", kDefaultOpenAiBaseUrl,
     "OpenAI API base URL, /v1 included; images are POSTed to {base}/images/generations", ConfigKind::kUrl,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) { return ParseUrl(l, t, &c.openai_base_url); },
     [](const RuntimeConfig& c) { return c.openai_base_url; },
     {}},
    {"openai_image_model", "OPENAI_IMAGE_MODEL", kDefaultOpenAiImageModel,
     "OpenAI image model (dall-e-2, dall-e-3, gpt-image-1, ...)", ConfigKind::kString,
     [](std::string_view l, std::string_view t, RuntimeConfig& c) { return ParseName(l, t, &c.openai_image_model); },
     [](const RuntimeConfig& c) { return c.openai_image_model; },
     {}},
  };
}

const std::vector<ConfigField>& Fields() {
  static const std::vector<ConfigField> fields = MakeFields();
  return fields;
}

// One InvalidArgument for all `errors` (each a one-line message), or OK when there are none.
Status JoinErrors(const std::vector<Status>& errors, std::string_view what) {
  if (errors.empty()) return Status::Ok();
  if (errors.size() == 1) return errors.front();
  std::string m = std::to_string(errors.size()) + " invalid " + std::string(what) + ":";
  for (const Status& e : errors) m += "\n  " + e.message();
  return InvalidArgument(std::move(m));
}

}  // namespace

std::optional<std::string> EnvValue(const EnvLookup& env, std::string_view var) {
  if (!env) return std::nullopt;
  auto v = env(std::string(var).c_str());
  if (!v || v->empty()) return std::nullopt;
  return v;
}

double InteractiveTimeoutSeconds(const RuntimeConfig& config, const EnvLookup& env, bool flag_given) {
  const bool asked = flag_given || EnvValue(env, FindConfigField("timeout_seconds")->env_var).has_value();
  return asked ? config.timeout_seconds : 0;
}

GenerateParams ParamsFromConfig(const RuntimeConfig& c) {
  GenerateParams p;
  p.width = c.width;
  p.height = c.height;
  p.steps = c.steps;
  p.cfg_scale = c.guidance_scale;
  p.negative_prompt = c.negative_prompt;
  p.sampler = c.sampler;
  p.scheduler = c.scheduler;
  p.vae_tiling = c.vae_tiling;
  p.lora_dir = c.lora_dir;
  return p;
}

std::span<const ConfigField> ConfigFields() { return Fields(); }

const ConfigField* FindConfigField(std::string_view name_or_env_var) {
  for (const ConfigField& f : Fields()) {
    if (f.name == name_or_env_var || f.env_var == name_or_env_var) return &f;
  }
  return nullptr;
}

EnvLookup ProcessEnv() {
  return [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Result<RuntimeConfig> LoadConfigFromEnv(const EnvLookup& env) {
  RuntimeConfig config;
  std::vector<Status> errors;
  for (const ConfigField& f : Fields()) {
    const auto value = EnvValue(env, f.env_var);
    if (!value) continue;
    Status s = f.parse(f.env_var, *value, config);
    if (!s.ok()) errors.push_back(std::move(s));
  }
  SDR_RETURN_IF_ERROR(JoinErrors(errors, "environment variables"));
  return config;
}

Status ValidateConfig(const RuntimeConfig& config) {
  RuntimeConfig scratch;
  std::vector<Status> errors;
  for (const ConfigField& f : Fields()) {
    const std::string text = f.format(config);
    if (text.empty()) continue;  // unset text or path
    Status s = f.parse(f.name, text, scratch);
    if (!s.ok()) errors.push_back(std::move(s));
  }
  return JoinErrors(errors, "settings");
}

std::vector<ConfigEntry> DescribeConfig(const RuntimeConfig& config, const EnvLookup& env) {
  std::vector<ConfigEntry> entries;
  entries.reserve(Fields().size());
  for (const ConfigField& f : Fields()) {
    const bool from_env = EnvValue(env, f.env_var).has_value();
    std::string value = f.format(config);
    if (f.kind == ConfigKind::kSecret) value = MaskSecret(value);
    entries.push_back({&f, std::move(value), from_env ? "env " + std::string(f.env_var) : "default"});
  }
  return entries;
}

std::string MaskSecret(std::string_view secret) {
  if (secret.empty()) return "";
  return "<set: " + std::to_string(secret.size()) + " characters>";
}

}  // namespace sdr
