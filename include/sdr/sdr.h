/* sdr.h: the C API of sdruntime, a Stable Diffusion (SD 1.x) text-to-image runtime.
 *
 * A plain C99 interface over the C++ runtime, for C programs and for other languages' bindings
 * (bindings/go is one). Link with -lsdr (libsdr.so).
 *
 * Three objects, as in the C++ API:
 *   sdr_model    the loaded weights, tokenizer and text encoder: immutable, shared by everything
 *   sdr_pool     a fixed number of contexts on one model, handed out one caller at a time
 *   sdr_context  a context borrowed from a pool (a lease): runs one generation at a time
 * and, above them, the one entry point most programs want:
 *   sdr_generator  the local engine when SD_MODEL_PATH loads, else Azure OpenAI or OpenAI, chosen
 *                  from the environment; PNG images out, one error vocabulary whatever the source
 *
 *   sdr_generator* gen = NULL;
 *   if (sdr_generator_create_from_env(&gen, &err) != SDR_OK) { ... err.code, err.message ... }
 *   sdr_generate_params gp = sdr_generator_params_default();   // every setting: the provider's default
 *   gp.prompt = "a photo of a cat";
 *   sdr_png_image* images = NULL;
 *   size_t count = 0;
 *   if (sdr_generator_generate(gen, &gp, NULL, &images, &count, &err) == SDR_OK) {
 *     fwrite(images[0].png, 1, images[0].png_size, file);
 *     sdr_png_images_free(images, count);
 *   } else if (err.code == SDR_ERR_RATE_LIMITED) { ... }
 *   sdr_generator_free(gen);
 *
 * Usage:
 *
 *   sdr_error err;
 *   sdr_model_params mp = sdr_model_params_default();
 *   mp.model_path = "/models/sd15.safetensors";
 *   mp.tokenizer_path = "/models/merges.txt";         // when the model carries no tokenizer
 *   mp.taesd_path = "/models/taesd_decoder.safetensors";  // optional: previews (see sdr_preview_fn)
 *   sdr_model* model = NULL;
 *   if (sdr_model_load(&mp, &model, &err) != SDR_OK) {
 *     fprintf(stderr, "%s: %s\n", sdr_error_code_name(err.code), err.message);
 *     return 1;
 *   }
 *   sdr_pool_params pp = sdr_pool_params_default();   // 2 contexts, 120 s per generation
 *   sdr_pool* pool = NULL;
 *   sdr_pool_create(model, &pp, &pool, &err);
 *   sdr_model_free(model);                             // the pool keeps the weights alive
 *
 *   sdr_context* ctx = NULL;
 *   if (sdr_pool_acquire(pool, 5000, &ctx, &err) == SDR_OK) {   // SDR_ERR_ACQUIRE_TIMEOUT
 *     sdr_generate_params gp = sdr_generate_params_default();
 *     gp.prompt = "a photo of a cat";
 *     gp.seed = 42;
 *     gp.preview = show_preview;                       // optional, needs taesd_path: an RGB image
 *     gp.preview_every = 5;                            //   every 5th step, valid during the call
 *     sdr_image* images = NULL;
 *     size_t count = 0;
 *     if (sdr_generate(ctx, &gp, &images, &count, &err) == SDR_OK) {
 *       uint8_t* png = NULL;
 *       size_t png_size = 0;
 *       sdr_image_encode_png(&images[0], NULL, &png, &png_size, &err);
 *       fwrite(png, 1, png_size, file);
 *       sdr_free(png);
 *       sdr_images_free(images, count);
 *     }
 *     sdr_context_release(ctx);                        // back to the pool
 *   }
 *   sdr_pool_free(pool);
 *
 * Errors. Every fallible function returns an sdr_error_code (SDR_OK = 0 on success) and, when
 * its last argument `err` is not NULL, fills *err with the same code and a one-line message
 * naming what failed (the path, the setting and its allowed range, ...); on success err->code is
 * SDR_OK and err->message is "". `err` may always be NULL. Output arguments are left untouched
 * (or set to NULL / 0) on failure. A NULL where a handle, params struct or output pointer is
 * required gives SDR_ERR_INVALID_PARAMS. No C++ exception ever crosses this interface: an
 * unexpected one becomes SDR_ERR_GENERATION_FAILED (SDR_ERR_OUT_OF_MEMORY for an allocation
 * failure) with its text as the message.
 *
 * Parameter structs (sdr_model_params, sdr_pool_params, sdr_generate_params) grow at their end as
 * settings are added: start from the matching sdr_*_params_default() and set what you need, and
 * build against the sdr.h of the library you link (the structs carry no size field, so a program
 * compiled against an older header must be rebuilt before it uses a newer library).
 *
 * Strings are UTF-8 and NUL-terminated. Strings the caller passes are copied when needed; the
 * library keeps no pointer into caller memory after a call returns. Memory the library returns
 * is freed with the function named in each contract (sdr_images_free, sdr_free).
 *
 * Thread-safety. sdr_model and sdr_pool may be used from any number of threads at once. An
 * sdr_context runs one generation at a time: call sdr_generate* on it from one thread at a time;
 * sdr_context_cancel may be called from any thread while a generation runs. Different contexts
 * generate in parallel. sdr_version, sdr_system_info and sdr_error_code_name are thread-safe.
 */
#ifndef SDR_SDR_H_
#define SDR_SDR_H_

#include <stddef.h>
#include <stdint.h>

#if defined(SDR_BUILDING_LIBRARY)
#define SDR_API __attribute__((visibility("default")))
#else
#define SDR_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------------- */

/* The values equal sdr::ErrorCode (src/runtime/errors.h): one set of codes for the C++ API,
 * this API, the Go binding, the CLI (exit codes) and the server (HTTP statuses); the table in
 * src/runtime/errors.cc (and the README) gives each code's exit code and HTTP status. */
typedef enum sdr_error_code {
  SDR_OK = 0,
  SDR_ERR_MODEL_LOAD_FAILED = 1,   /* the model file is unreadable, corrupt or unsupported */
  SDR_ERR_MODEL_NOT_FOUND = 2,     /* the model path does not exist */
  SDR_ERR_INVALID_PARAMS = 3,      /* a setting is out of range, unknown, or a required argument is NULL */
  SDR_ERR_GENERATION_FAILED = 4,   /* anything else that went wrong (message says what) */
  SDR_ERR_OUT_OF_MEMORY = 5,       /* an allocation failed or the pool's memory budget was exceeded */
  SDR_ERR_GENERATION_TIMEOUT = 6,  /* the pool's per-generation timeout elapsed (or was projected to) */
  SDR_ERR_ACQUIRE_TIMEOUT = 7,     /* no context of the pool became free in time */
  SDR_ERR_CANCELLED = 8,           /* sdr_context_cancel, the progress callback, or sdr_pool_free */
  SDR_ERR_POOL_CLOSED = 9,         /* the pool is being freed */
  SDR_ERR_OUT_OF_VRAM = 10,        /* GPU memory ran out (the message names the device) */
  SDR_ERR_UNAVAILABLE = 11,        /* a provider or device cannot be reached (network, 5xx after retries) */
  SDR_ERR_AUTH_FAILED = 12,        /* a cloud provider refused the credentials (401/403) */
  SDR_ERR_CONTENT_POLICY = 13,     /* a cloud provider refused the prompt under its content policy */
  SDR_ERR_RATE_LIMITED = 14,       /* too many requests now: retry later */
  SDR_ERR_QUOTA_EXHAUSTED = 15,    /* the provider account's quota is used up: do not retry */
  SDR_ERR_PROVIDER_ERROR = 16,     /* any other provider failure (its message and request id) */
  SDR_ERR_IO = 17,                 /* reading an input or writing an output failed */
  /* The HTTP server's own conditions (`sdr serve`); no function of this API returns them. */
  SDR_ERR_QUEUE_FULL = 18,         /* the server's job queue is full: retry later */
  SDR_ERR_NOT_FOUND = 19,          /* no such job, image or route */
  SDR_ERR_GONE = 20,               /* the job's result has expired */
  SDR_ERR_UNAUTHORIZED = 21,       /* the request lacks the server's API key */
  SDR_ERR_PAYLOAD_TOO_LARGE = 22   /* the request body is larger than the server accepts */
} sdr_error_code;

#define SDR_ERROR_MESSAGE_SIZE 512

/* Caller-owned error report. `message` is NUL-terminated UTF-8, truncated (at a character
 * boundary) to SDR_ERROR_MESSAGE_SIZE - 1 bytes. */
typedef struct sdr_error {
  sdr_error_code code;
  char message[SDR_ERROR_MESSAGE_SIZE];
} sdr_error;

/* Stable lower-case name of a code: "ok", "model_load_failed", ..., "io_error"; "unknown"
 * for a value outside the enum. Static storage; never NULL. */
SDR_API const char* sdr_error_code_name(sdr_error_code code);

/* ---------------------------------------------------------------------------------------------
 * Library information
 * ------------------------------------------------------------------------------------------- */

/* The library version, "MAJOR.MINOR.PATCH". Static storage. */
SDR_API const char* sdr_version(void);

/* One line describing the build and the machine, e.g.
 *   "sdruntime 0.1.0 | CPU: AMD EPYC (sse4_2 avx avx2 fma f16c avx512f) | math: OpenBLAS 0.3.21
 *    DYNAMIC_ARCH ... | threads: 8 | CUDA: not available (no NVIDIA driver: libcuda.so.1 ...)"
 * or "... | CUDA: available (NVIDIA H200, 9.0)"
 * (CPU features: those of interest to the kernels; math: the BLAS provider's build; threads: the
 * default compute thread count, the physical cores). Static storage, computed on the first call.
 * The same facts as `sdr info --system` (runtime/system_info.h). */
SDR_API const char* sdr_system_info(void);

/* 1 when the CUDA backend can run here (its module libsdr-cuda.so loads, the NVIDIA driver answers
 * and a GPU of compute capability 8.0 or newer is present), else 0; sdr_backend_info says why
 * not. Probes once per process. Thread-safe. Models load on the best device ("auto": cuda:0 when
 * this is 1, else the CPU); SD_DEVICE and SD_CUDA_PRECISION (f16, bf16, f32) choose otherwise. */
SDR_API int sdr_cuda_available(void);

/* Lines describing the compute backends now, as `sdr info --system` prints them: with CUDA, one
 * line per GPU (name, compute capability, VRAM total and free), the driver and runtime versions,
 * the CUDA libraries in use and SD_MAX_CONCURRENT guidance from the free VRAM; without, the exact
 * reason (no CUDA module in this build, module or library not found, no driver, driver too old,
 * no device, version mismatch). A new NUL-terminated string the caller frees with sdr_free (NULL
 * only when out of memory). Thread-safe. */
SDR_API char* sdr_backend_info(void);

/* Frees memory the library returned as a plain buffer (PNG bytes, infotext). NULL is a no-op. */
SDR_API void sdr_free(void* ptr);

/* ---------------------------------------------------------------------------------------------
 * Model
 * ------------------------------------------------------------------------------------------- */

typedef struct sdr_model sdr_model;

typedef struct sdr_model_params {
  const char* model_path;      /* required: .safetensors / .ckpt / .gguf file or diffusers folder */
  const char* vae_path;        /* optional (NULL or ""): external VAE replacing the model's */
  const char* tokenizer_path;  /* optional (NULL or ""): CLIP merges.txt or a folder holding it;
                                  default: the model's own tokenizer/ folder, else the CLIP vocabulary
                                  built into the library */
  const char* device;          /* optional (NULL or ""): "auto" (default), "cpu", "reference", "cuda",
                                  "cuda:N" (see sdr_backend_info) */
  const char* taesd_path;      /* optional (NULL or "" = none): a TAESD decoder (madebyollin's
                                  taesd_decoder.safetensors), the tiny autoencoder behind
                                  sdr_generate_params.preview and .taesd_decode; SD_TAESD_PATH in the
                                  CLI and server. A missing or wrong file fails the load, naming it */
} sdr_model_params;

/* All fields NULL. */
SDR_API sdr_model_params sdr_model_params_default(void);

/* Loads a model (weights are memory-mapped; the call takes from milliseconds to seconds).
 * On success *out is a new model the caller frees with sdr_model_free.
 * Errors: SDR_ERR_INVALID_PARAMS (NULL params/out/model_path), SDR_ERR_MODEL_NOT_FOUND (the path
 * does not exist), SDR_ERR_MODEL_LOAD_FAILED (unreadable, corrupt, unsupported, or the tokenizer
 * is missing), SDR_ERR_OUT_OF_MEMORY. Thread-safe. */
SDR_API sdr_error_code sdr_model_load(const sdr_model_params* params, sdr_model** out, sdr_error* err);

/* Releases the caller's reference. Pools created from the model keep the weights alive until
 * they are freed, so the model may be freed right after sdr_pool_create. NULL is a no-op. */
SDR_API void sdr_model_free(sdr_model* model);

/* ---------------------------------------------------------------------------------------------
 * Context pool
 * ------------------------------------------------------------------------------------------- */

typedef struct sdr_pool sdr_pool;
typedef struct sdr_context sdr_context;

typedef struct sdr_pool_params {
  int max_concurrent;            /* contexts, 1..64; default 2 (each runs one generation at a time) */
  uint64_t memory_budget_bytes;  /* cap on scratch memory per generation; 0 (default) = unlimited */
  double timeout_s;              /* per generation, seconds; default 120; <= 0 = no timeout */
} sdr_pool_params;

/* max_concurrent 2, memory_budget_bytes 0, timeout_s 120. The library reads no environment
 * variables; map SD_MAX_CONCURRENT / SD_TIMEOUT_SECONDS yourself if you want them. */
SDR_API sdr_pool_params sdr_pool_params_default(void);

/* Creates a pool of params->max_concurrent contexts on `model` (params NULL = defaults). The pool
 * holds its own reference to the model. On success *out is a new pool the caller frees with
 * sdr_pool_free. Errors: SDR_ERR_INVALID_PARAMS (NULL model/out, max_concurrent out of range). */
SDR_API sdr_error_code sdr_pool_create(sdr_model* model, const sdr_pool_params* params, sdr_pool** out,
                                       sdr_error* err);

/* Closes the pool: further acquires fail with SDR_ERR_POOL_CLOSED, generations in flight on other
 * threads are cancelled (they return SDR_ERR_CANCELLED), and the call BLOCKS until every
 * acquired context has been released with sdr_context_release; then frees the pool. So release
 * your own contexts first: freeing a pool while the calling thread still holds one of its
 * contexts never returns. NULL is a no-op. */
SDR_API void sdr_pool_free(sdr_pool* pool);

/* Number of contexts free right now (0 once the pool is closing). Thread-safe; a snapshot. */
SDR_API int sdr_pool_available(const sdr_pool* pool);

/* Borrows a context, waiting up to timeout_ms milliseconds for one to become free (0: do not
 * wait; < 0: wait indefinitely). On success *out is the context, returned with
 * sdr_context_release. Errors: SDR_ERR_INVALID_PARAMS (NULL pool/out), SDR_ERR_ACQUIRE_TIMEOUT
 * (all contexts stayed in use), SDR_ERR_POOL_CLOSED (sdr_pool_free began). Thread-safe. */
SDR_API sdr_error_code sdr_pool_acquire(sdr_pool* pool, int64_t timeout_ms, sdr_context** out, sdr_error* err);

/* Returns the context to its pool. Must not run while a generation on it is in flight, nor
 * concurrently with sdr_context_cancel on the same context. NULL is a no-op. */
SDR_API void sdr_context_release(sdr_context* ctx);

/* Asks the generation in flight on `ctx` to stop: sdr_generate* returns SDR_ERR_CANCELLED within
 * about one network layer. If no generation is running, the next one on this context is
 * cancelled as soon as it starts. Callable from any thread (the context must stay acquired until
 * this call returns). NULL is a no-op. */
SDR_API void sdr_context_cancel(sdr_context* ctx);

/* ---------------------------------------------------------------------------------------------
 * Generation
 * ------------------------------------------------------------------------------------------- */

/* Called on the generating thread after every sampler step of every image:
 * image = index in the batch (0-based), step = 1..total_steps, elapsed_s = seconds since the
 * generation began. Return 0 to continue, non-zero to stop (the generation then fails with
 * SDR_ERR_CANCELLED). Must not call sdr_generate* or sdr_context_release on the same context. */
typedef int (*sdr_progress_fn)(int image, int step, int total_steps, double elapsed_s, void* user);

/* Called on the generating thread every preview_every-th sampler step of every image (steps
 * preview_every, 2 * preview_every, ...), after the progress callback of that step, with the model's
 * TAESD decode of the step's denoised estimate: an RGB image of the generation's width x height
 * (preview->seed is 0). `preview` and its pixels belong to the library and are valid only during
 * the call: copy what you keep. Return 0 to continue, non-zero to stop (the generation then fails
 * with SDR_ERR_CANCELLED). Needs a model loaded with sdr_model_params.taesd_path (there is no
 * TAESD-free approximation in this API); the same restrictions as sdr_progress_fn. A preview whose
 * decode fails is skipped (logged), not an error. Cost: one TAESD decode per preview, about 105
 * GFLOP at 512x512 (seconds on a CPU), so on a CPU preview every few steps. */
struct sdr_image;
typedef int (*sdr_preview_fn)(int image, int step, int total_steps, const struct sdr_image* preview, void* user);

typedef struct sdr_generate_params {
  const char* prompt;           /* UTF-8, A1111 weight syntax "(word:1.2)"; NULL = "" */
  const char* negative_prompt;  /* NULL = "" */
  int width;                    /* pixels, multiple of 8 in [64, 2048]; default 512 */
  int height;                   /* pixels, multiple of 8 in [64, 2048]; default 512 */
  int steps;                    /* sampler steps, 1..1000; default 20 */
  float cfg_scale;              /* classifier-free guidance, 0..100; 1 skips the negative pass; default 7.5 */
  const char* sampler;          /* "euler_a", "euler", "heun", "dpm2", "dpm++2s_a", "dpm++2m",
                                   "dpm++2mv2", "lcm" or the A1111 names ("DPM++ 2M"); NULL = "dpm++2m" */
  const char* scheduler;        /* "discrete" or "karras"; NULL = "discrete" */
  int64_t seed;                 /* >= 0: this seed; < 0 (default -1): a random one (reported back) */
  const char* rng;              /* "cuda" (A1111 GPU noise, default) or "cpu" (ComfyUI); NULL = "cuda" */
  int clip_skip;                /* 1 = last CLIP layer (default), 2 = penultimate, ... up to 12 */
  int batch_count;              /* images per call, 1..64; image b uses seed + b; default 1 */
  int vae_tiling;               /* non-zero: decode in overlapping tiles (bounded memory); default 0 */
  sdr_progress_fn progress;     /* optional (NULL) */
  void* progress_user;          /* passed to `progress` unchanged */
  /* img2img: start from this RGB image (channels 3; any size: centre-cropped to width:height and
   * box-resized; copied during the call). NULL (default) = text to image. sdr_generate only:
   * the Generator refuses it. */
  const struct sdr_image* init_image;
  float strength;               /* img2img denoising strength in [0, 1]; 1 = the whole schedule; default 0.75 */
  /* Inpainting (needs init_image): white = repaint, black = keep; any size, fitted like init_image;
   * copied during the call. NULL (default) = none. Required by inpainting (9-channel) models. */
  const struct sdr_image* mask;
  int mask_blur;                /* pixels 0..64: 0 (default) a hard mask as stable-diffusion.cpp; > 0 Gaussian
                                   blur and the init image pasted back outside the mask, as A1111 */
  const char* lora_dir;         /* folder of NAME.safetensors for "<lora:NAME:WEIGHT>" prompt tags; NULL = none
                                   (sdr_generate; the Generator takes SD_LORA_DIR) */
  /* TAESD (needs a model loaded with sdr_model_params.taesd_path, else SDR_ERR_INVALID_PARAMS naming
   * the field; sdr_generate only: the Generator refuses them). */
  int taesd_decode;             /* non-zero: decode the final images with the TAESD instead of the VAE
                                   (fast, rough); default 0 */
  sdr_preview_fn preview;       /* optional (NULL, default): per-step TAESD previews */
  void* preview_user;           /* passed to `preview` unchanged */
  int preview_every;            /* steps between previews, >= 0; 0 = 1 (every step); default 1; ignored
                                   without `preview` */
} sdr_generate_params;

/* width 512, height 512, steps 20, cfg_scale 7.5, sampler "dpm++2m", scheduler "discrete",
 * seed -1, rng "cuda", clip_skip 1, batch_count 1, vae_tiling 0, strength 0.75, mask_blur 0,
 * taesd_decode 0, preview_every 1, prompts, progress, preview, init_image and mask NULL. */
SDR_API sdr_generate_params sdr_generate_params_default(void);

/* An 8-bit RGB image, rows top to bottom, pixels interleaved: data[(y * width + x) * 3 + c]. */
typedef struct sdr_image {
  int width;      /* pixels */
  int height;     /* pixels */
  int channels;   /* always 3 (RGB) */
  uint8_t* data;  /* width * height * channels bytes */
  uint64_t seed;  /* the seed this image used */
} sdr_image;

/* Text to image on an acquired context. On success *images is a new array of *count
 * (= params->batch_count) images, in batch order, that the caller frees with sdr_images_free.
 * Errors: SDR_ERR_INVALID_PARAMS (NULL argument, a setting out of range or unknown: the message
 * names it, e.g. "width 100 must be a multiple of 8 in [64, 2048]"; preview or taesd_decode
 * without a TAESD; checked before any heavy work), SDR_ERR_CANCELLED (progress or preview returned
 * non-zero, sdr_context_cancel, sdr_pool_free),
 * SDR_ERR_GENERATION_TIMEOUT, SDR_ERR_OUT_OF_MEMORY, SDR_ERR_GENERATION_FAILED. Whatever the
 * outcome, the context is ready for the next generation. One generation per context at a time. */
SDR_API sdr_error_code sdr_generate(sdr_context* ctx, const sdr_generate_params* params, sdr_image** images,
                                    size_t* count, sdr_error* err);

/* Frees an array returned by sdr_generate (the pixel buffers too). NULL is a no-op. */
SDR_API void sdr_images_free(sdr_image* images, size_t count);

/* sdr_generate into caller-owned memory: one image (params->batch_count must be 1) written as
 * width * height * 3 RGB bytes (layout as sdr_image.data) into rgb_buffer, which must hold at
 * least that many bytes (buffer_size). The buffer is written only on success. *out_seed (when
 * out_seed is not NULL) receives the seed used. Errors: as sdr_generate, plus
 * SDR_ERR_INVALID_PARAMS for batch_count != 1 or a buffer too small (checked before any work). */
SDR_API sdr_error_code sdr_generate_into(sdr_context* ctx, const sdr_generate_params* params, uint8_t* rgb_buffer,
                                         size_t buffer_size, uint64_t* out_seed, sdr_error* err);

/* ---------------------------------------------------------------------------------------------
 * Output helpers
 * ------------------------------------------------------------------------------------------- */

/* The A1111 "infotext" describing a generation (the text A1111 stores in a PNG's "parameters"
 * chunk and its PNG Info tab reads back), e.g.
 *   "a cat\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Automatic, CFG scale: 7.5, Seed: 42, Size: 512x512"
 * `seed` is the seed actually used (sdr_image.seed), as params->seed may be -1. On success *out
 * is a new NUL-terminated string the caller frees with sdr_free. Errors: SDR_ERR_INVALID_PARAMS
 * (NULL argument, unknown sampler/scheduler/rng name). Thread-safe. */
SDR_API sdr_error_code sdr_infotext(const sdr_generate_params* params, uint64_t seed, char** out, sdr_error* err);

/* Encodes an image as PNG (8-bit RGB). `parameters`, when not NULL or "", is stored as the
 * "parameters" text chunk (e.g. from sdr_infotext). On success *out_png is a new buffer of
 * *out_size bytes the caller frees with sdr_free. Errors: SDR_ERR_INVALID_PARAMS (NULL argument,
 * channels != 3, bad size or NULL data, parameters not valid UTF-8), SDR_ERR_GENERATION_FAILED
 * (the encoder failed). Thread-safe. */
SDR_API sdr_error_code sdr_image_encode_png(const sdr_image* image, const char* parameters, uint8_t** out_png,
                                            size_t* out_size, sdr_error* err);

/* ---------------------------------------------------------------------------------------------
 * Generator: the local engine or a cloud provider, chosen from the environment
 * ------------------------------------------------------------------------------------------- */

typedef struct sdr_generator sdr_generator;

/* Chooses and opens the image provider from the environment, in this order (README "Image
 * providers"): SD_MODEL_PATH when it exists and loads (the local engine: SD_MAX_CONCURRENT
 * contexts, the SD_* defaults); else AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_API_KEY (+ optional
 * AZURE_OPENAI_DEPLOYMENT, AZURE_OPENAI_API_VERSION); else OPENAI_API_KEY (+ optional
 * OPENAI_BASE_URL, OPENAI_IMAGE_MODEL). A model that is set but fails to load is skipped with a
 * warning on stderr when a cloud provider is configured. SD_TIMEOUT_SECONDS bounds each request
 * (and the wait for one of the SD_MAX_CONCURRENT slots). On success *out is a new generator freed
 * with sdr_generator_free.
 * Errors: SDR_ERR_INVALID_PARAMS (an invalid variable, named; or no provider configured: the
 * message lists the variables), SDR_ERR_MODEL_NOT_FOUND / SDR_ERR_MODEL_LOAD_FAILED /
 * SDR_ERR_OUT_OF_MEMORY (SD_MODEL_PATH failed and no cloud provider is configured). */
SDR_API sdr_error_code sdr_generator_create_from_env(sdr_generator** out, sdr_error* err);

/* Frees the generator (a local model's weights and contexts, a cloud provider's settings). No call
 * on `gen` may be running or start: wait for your sdr_generator_generate calls first (cancel them
 * with their sdr_cancel to hurry them). NULL is a no-op. */
SDR_API void sdr_generator_free(sdr_generator* gen);

/* "local", "azure" or "openai". Static storage; "" for NULL. */
SDR_API const char* sdr_generator_provider_name(const sdr_generator* gen);

/* Why this provider was chosen: one line per branch considered, joined by '\n'. Owned by the
 * generator (valid until sdr_generator_free); never contains a key. */
SDR_API const char* sdr_generator_selection(const sdr_generator* gen);

/* SDR_OK when the provider can take requests (nothing is sent over the network). */
SDR_API sdr_error_code sdr_generator_ready(const sdr_generator* gen, sdr_error* err);

/* Parameters for sdr_generator_generate with every setting at "the provider's default": width,
 * height, steps, cfg_scale, clip_skip 0; sampler, scheduler, rng, prompts NULL; seed -1;
 * batch_count 1. For the generator, 0 / NULL in those fields always means "the default" (local:
 * the SD_* settings; cloud: the model's first size). Engine settings (negative prompt, steps,
 * cfg_scale, sampler, scheduler, seed, rng, clip_skip) are ignored by the cloud providers.
 * init_image, strength, mask and mask_blur (img2img, inpainting) are taken by the local provider;
 * without a width and height the output takes the init image's size (rounded down to a multiple
 * of 8); the cloud providers refuse an init image (SDR_ERR_INVALID_PARAMS naming init_image). */
SDR_API sdr_generate_params sdr_generator_params_default(void);

/* A cancellation flag for sdr_generator_generate, raised from any thread. */
typedef struct sdr_cancel sdr_cancel;
SDR_API sdr_cancel* sdr_cancel_create(void);   /* NULL when out of memory */
SDR_API void sdr_cancel_request(sdr_cancel* cancel);  /* NULL is a no-op */
SDR_API void sdr_cancel_free(sdr_cancel* cancel);     /* not while a generation uses it; NULL: no-op */

/* One generated image: PNG bytes checked to decode, and what is known about it. */
typedef struct sdr_png_image {
  uint8_t* png;          /* png_size bytes of PNG */
  size_t png_size;
  int width;             /* pixels, as decoded */
  int height;            /* pixels, as decoded */
  int64_t seed;          /* the seed used; -1 when the provider does not say (cloud) */
  char* infotext;        /* A1111 "parameters" text (local), "" for cloud images; never NULL */
  char* revised_prompt;  /* the prompt the provider used (dall-e-3), else ""; never NULL */
} sdr_png_image;

/* Generates params->batch_count images (the request's n) with the generator's provider. The same
 * parameters struct as sdr_generate (start from sdr_generator_params_default); params->progress is
 * called after every local sampler step, and once (step 1 of 1) when a cloud answer arrives;
 * returning non-zero stops a local generation (SDR_ERR_CANCELLED). `cancel` (may be NULL) stops
 * the request from another thread: a local generation within about one layer, a cloud request
 * at once (the HTTP transfer is aborted). On success *images is a new array of *count images freed
 * with sdr_png_images_free. Thread-safe: up to SD_MAX_CONCURRENT calls run at once, others wait.
 * Errors, the same whatever the provider: SDR_ERR_INVALID_PARAMS (the message names the field:
 * a size the model does not offer, n too large, ...), SDR_ERR_ACQUIRE_TIMEOUT (no slot freed in
 * time), SDR_ERR_CANCELLED, SDR_ERR_GENERATION_TIMEOUT (SD_TIMEOUT_SECONDS), SDR_ERR_OUT_OF_MEMORY,
 * SDR_ERR_GENERATION_FAILED (local); SDR_ERR_UNAVAILABLE (network, 5xx after retries),
 * SDR_ERR_AUTH_FAILED (401/403), SDR_ERR_CONTENT_POLICY, SDR_ERR_RATE_LIMITED,
 * SDR_ERR_QUOTA_EXHAUSTED, SDR_ERR_PROVIDER_ERROR (cloud; the message carries the provider's
 * message and request id). */
SDR_API sdr_error_code sdr_generator_generate(sdr_generator* gen, const sdr_generate_params* params,
                                              sdr_cancel* cancel, sdr_png_image** images, size_t* count,
                                              sdr_error* err);

/* Frees an array returned by sdr_generator_generate. NULL is a no-op. */
SDR_API void sdr_png_images_free(sdr_png_image* images, size_t count);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* SDR_SDR_H_ */
