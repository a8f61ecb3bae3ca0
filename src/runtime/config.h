// Runtime configuration from the environment (SD_* variables, and the OPENAI_* / AZURE_OPENAI_*
// variables of the cloud image providers), each setting declared once.
//
// ConfigFields() is the one table of settings: field name, environment variable, default as
// text, help, the command-line flags that set it, and the functions that parse a value into a
// RuntimeConfig and format it back. The CLI (`sdr config`, the flags and help of `sdr generate`),
// the HTTP server and the docs all read this table; adding a setting means one RuntimeConfig
// field plus one table row. The defaults of per-request settings are GenerateParams{}'s.
//
//   auto config = LoadConfigFromEnv();            // the process environment
//   if (!config.ok()) { /* InvalidArgument, one line per bad variable */ }
//   for (const ConfigEntry& e : DescribeConfig(*config)) ...  // value + "default" / "env SD_X"
//
// Rules for every variable: unset or "" means the default. Numbers, booleans and names may
// carry surrounding blanks; text and paths are taken verbatim. Booleans are true/false, 1/0,
// yes/no, on/off (any case). SD_IMAGE_SIZE is "N" (square) or "WxH". SD_TOKENIZER_PATH must exist
// when the configuration is loaded; the model and VAE paths are checked when the model loads
// (ModelNotFound), so that a missing model can fall back to a cloud provider (imagegen). An
// invalid value gives InvalidArgument naming the variable and
// the value, e.g.
//   SD_INFERENCE_STEPS="abc" is not an integer
//   SD_IMAGE_SIZE=100: must be a multiple of 8 in [64, 2048]
// and LoadConfigFromEnv reports every invalid variable, not only the first.
//
// Thread-safety: the table is immutable; all functions are reentrant. ProcessEnv() reads the
// process environment with getenv, which must not race with setenv/putenv.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "runtime/generate_params.h"

namespace sdr {

// ThreadPool::DefaultThreadCount() (physical cores), computed once per process.
int DefaultConfigThreads();

// Defaults of the cloud settings (the SDKs' and Azure's documented values), declared once.
inline constexpr std::string_view kDefaultOpenAiBaseUrl = "https://api.openai.com/v1";
inline constexpr std::string_view kDefaultOpenAiImageModel = "dall-e-3";
inline constexpr std::string_view kDefaultAzureDeployment = "dall-e-3";   // the name Azure's quickstarts use
inline constexpr std::string_view kDefaultAzureApiVersion = "2024-02-01";  // the images GA api-version

// TAESD previews of a served generation: one every this many steps. A 512x512 preview costs about
// 105 GFLOP (3.6 s on a 2-core CPU), a sizeable part of a UNet step, so not every step.
inline constexpr int kDefaultPreviewEvery = 5;

// Defaults of the HTTP server's settings (`sdr serve`, src/server), declared once.
inline constexpr std::string_view kDefaultServerHost = "127.0.0.1";  // loopback: nothing else reaches it
inline constexpr int kDefaultServerPort = 7860;                      // A1111's port, so its clients just work
inline constexpr int kDefaultMaxQueue = 16;                          // jobs waiting for a context

struct RuntimeConfig {
  static constexpr int kMinSide = GenerateParams::kMinSide;  // pixels
  static constexpr int kMaxSide = GenerateParams::kMaxSide;  // pixels
  static constexpr int kMaxSteps = GenerateParams::kMaxSteps;
  static constexpr float kMaxGuidance = GenerateParams::kMaxCfg;
  static constexpr double kMaxTimeoutSeconds = 86400.0;  // one day
  static constexpr int kMaxConcurrent = 64;
  static constexpr int kMaxThreads = 256;
  static constexpr int kMaxPort = 65535;
  static constexpr int kMaxQueue = 1024;

  std::string model_path;      // SD_MODEL_PATH: checkpoint file or diffusers folder; "" = none
  std::string vae_path;        // SD_VAE_PATH: external VAE replacing the model's; "" = the model's
  std::string tokenizer_path;  // SD_TOKENIZER_PATH: CLIP merges.txt or a folder; "" = search
  std::string taesd_path;      // SD_TAESD_PATH: TAESD decoder for per-step previews; "" = none
  int preview_every = kDefaultPreviewEvery;  // SD_PREVIEW_EVERY: steps between TAESD previews (server), 1..kMaxSteps
  std::string lora_dir;        // SD_LORA_DIR: folder of LoRA .safetensors for <lora:NAME:W> tags; "" = none
  int width = GenerateParams{}.width;    // SD_IMAGE_SIZE: pixels, multiple of 8 in [kMinSide, kMaxSide]
  int height = GenerateParams{}.height;  // SD_IMAGE_SIZE: pixels, same rule
  int steps = GenerateParams{}.steps;    // SD_INFERENCE_STEPS: sampler steps, 1..kMaxSteps
  float guidance_scale = GenerateParams{}.cfg_scale;  // SD_GUIDANCE_SCALE: CFG scale, finite, 0..kMaxGuidance
  std::string negative_prompt;                         // SD_NEGATIVE_PROMPT: used when a request gives none
  SamplerKind sampler = GenerateParams{}.sampler;      // SD_SAMPLER: see sampling/sampler.h
  Scheduler scheduler = GenerateParams{}.scheduler;    // SD_SCHEDULER: sigma spacing
  double timeout_seconds = kDefaultTimeoutSeconds;  // SD_TIMEOUT_SECONDS: per generation, (0, kMaxTimeoutSeconds]
  int max_concurrent = kDefaultMaxConcurrent;       // SD_MAX_CONCURRENT: generations at once, 1..kMaxConcurrent
  bool vae_tiling = GenerateParams{}.vae_tiling;  // SD_VAE_TILING: decode in tiles (less memory, slower)
  bool free_params = false;        // SD_FREE_PARAMS: drop each component's weights after use
  int threads = DefaultConfigThreads();  // SD_THREADS: CPU worker threads, 1..kMaxThreads
  std::string device = "auto";           // SD_DEVICE: auto, cpu, reference, cuda, cuda:N (backends/registry.h)
  std::string cuda_precision = "f16";    // SD_CUDA_PRECISION: GPU activations and weights, f16, bf16 or f32

  // Cloud image providers (src/imagegen), used when no local model loads. The variable names are
  // the ones the OpenAI / Azure OpenAI SDKs read. URLs must start with http:// or https://.
  std::string openai_api_key;                               // OPENAI_API_KEY: secret; "" = OpenAI off
  std::string openai_base_url{kDefaultOpenAiBaseUrl};        // OPENAI_BASE_URL: /v1 included
  std::string openai_image_model{kDefaultOpenAiImageModel};  // OPENAI_IMAGE_MODEL: sent as "model"
  std::string azure_endpoint;     // AZURE_OPENAI_ENDPOINT: https://NAME.openai.azure.com; "" = Azure off
  std::string azure_api_key;      // AZURE_OPENAI_API_KEY: secret; "" = Azure off
  std::string azure_deployment{kDefaultAzureDeployment};     // AZURE_OPENAI_DEPLOYMENT: the deployment's name
  std::string azure_api_version{kDefaultAzureApiVersion};   // AZURE_OPENAI_API_VERSION: sent as api-version

  // The HTTP server (`sdr serve`, src/server).
  std::string host{kDefaultServerHost};  // SD_HOST: address to bind; a non-loopback one without a key warns
  int port = kDefaultServerPort;         // SD_PORT: TCP port, 0..kMaxPort (0 = any free port, printed at start)
  std::string api_key;                   // SD_API_KEY: secret; "" = no auth, else Bearer KEY on all but /health
  int max_queue = kDefaultMaxQueue;      // SD_MAX_QUEUE: jobs waiting for a context, 0..kMaxQueue; full = 429
};

// What a field's formatted value is, so that writers can type it (JSON numbers, booleans).
// For kInt, kFloat and kBool the formatted text is also a valid JSON literal. kSecret values (API
// keys) are never shown: DescribeConfig masks them.
enum class ConfigKind { kString, kPath, kInt, kFloat, kBool, kImageSize, kChoice, kUrl, kSecret };

// Parses non-empty `text` into `config`. `label` names the source in error messages (the
// variable, or a flag); returns InvalidArgument naming label and text.
using ConfigParseFn = Status (*)(std::string_view label, std::string_view text, RuntimeConfig& config);

// A command-line flag that sets a field, e.g. {"-W,--width", "width in pixels", ParseWidth}.
struct ConfigFlag {
  std::string_view spec;   // CLI11 names: "-m,--model", "--steps"
  std::string_view help;   // "" = the field's help
  ConfigParseFn parse;     // nullptr = the field's parse (bool fields: a flag without a value)
};

struct ConfigField {
  std::string_view name;          // stable key, e.g. "steps" (JSON, docs)
  std::string_view env_var;       // e.g. "SD_INFERENCE_STEPS"
  std::string_view default_text;  // the default as documented, e.g. "20" or "physical cores"
  std::string help;               // one line, with the valid range (name lists from their enums)
  ConfigKind kind;
  ConfigParseFn parse;
  // The field's value in the form `parse` accepts ("" for unset text and paths).
  std::string (*format)(const RuntimeConfig& config);
  std::vector<ConfigFlag> flags;  // the flags commands may offer for it (each command picks fields)
};

// Every setting, in display order.
std::span<const ConfigField> ConfigFields();
// By name ("steps") or variable ("SD_INFERENCE_STEPS"), exact; nullptr when unknown.
const ConfigField* FindConfigField(std::string_view name_or_env_var);

// Looks a variable up; nullopt when unset. An empty EnvLookup is an empty environment.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
// The process environment (getenv).
EnvLookup ProcessEnv();
// The variable's value when it is set and non-empty (the rule for every setting), else nullopt.
std::optional<std::string> EnvValue(const EnvLookup& env, std::string_view var);

// The timeout an interactive command (`sdr generate`) applies: the configured one when it was
// asked for (`flag_given`, or SD_TIMEOUT_SECONDS set in `env`), else 0 (none) — a person at a
// terminal can always press Ctrl-C, and the default would cut off every CPU run at 512x512.
// Pools, the Generator and the server always apply config.timeout_seconds.
double InteractiveTimeoutSeconds(const RuntimeConfig& config, const EnvLookup& env, bool flag_given);

// The per-request settings a configuration implies (size, steps, guidance, negative prompt,
// sampler, scheduler, VAE tiling); the rest of GenerateParams keeps its defaults.
GenerateParams ParamsFromConfig(const RuntimeConfig& config);

// The defaults overridden by every set, non-empty variable. InvalidArgument listing every
// invalid variable, one per line, when any is invalid.
Result<RuntimeConfig> LoadConfigFromEnv(const EnvLookup& env = ProcessEnv());

// Checks a configuration built or changed in code against the same rules (ranges, paths
// exist), by formatting each field and parsing it back. Errors as LoadConfigFromEnv's, with
// the field names as labels.
Status ValidateConfig(const RuntimeConfig& config);

struct ConfigEntry {
  const ConfigField* field = nullptr;  // into ConfigFields(), never null
  std::string value;                   // field->format(config); for kSecret "" or MaskSecret's text
  std::string source;                  // "default" or "env SD_X"
};

// One entry per field, in table order. `config` is expected to be LoadConfigFromEnv(env)'s
// result: a field's source is "env <VAR>" when the variable is set and non-empty in `env`.
std::vector<ConfigEntry> DescribeConfig(const RuntimeConfig& config, const EnvLookup& env = ProcessEnv());

// How a secret is shown: "" when unset, else "<set: N characters>" (nothing of the value itself).
std::string MaskSecret(std::string_view secret);

}  // namespace sdr
