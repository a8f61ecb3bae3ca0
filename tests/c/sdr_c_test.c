/* The C API (include/sdr/sdr.h) tested from C (compiled as C11), on the tiny random SD 1.x model.
 *
 * Environment (all optional; ctest sets the first two):
 *   SDR_BIN            the sdr program, used to write the model: `sdr make-test-model OUT`
 *   SDR_TEST_MERGES    CLIP merges.txt (default: <shared>/data/clip-vit-l-14-merges.txt)
 *   SDR_TEST_MODEL     an existing model file to use instead of writing one
 *
 * Prints "N passed, M failed"; exits non-zero when anything failed. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "c_check.h"
#include "sdr/sdr.h"

typedef struct {
  sdr_pool* pool;
} fixture;

static void run_test(const char* name, void (*fn)(fixture*), fixture* f) {
  g_current_failed = 0;
  fn(f);
  count_test(name);
}

static sdr_generate_params small_params(int64_t seed) {
  sdr_generate_params p = sdr_generate_params_default();
  p.prompt = "a photo of a cat";
  p.negative_prompt = "blurry";
  p.width = 64;
  p.height = 64;
  p.steps = 2;
  p.seed = seed;
  return p;
}

/* The model and merges paths (set by main), for the generator tests that read the environment. */
static char g_model_path[4096] = "";
static const char* g_merges = NULL;
static char g_scratch_dir[] = "/tmp/sdr_c_gen.XXXXXX";

/* Every variable the generator reads, unset so that the caller's environment does not leak in. */
static void clear_generator_env(void) {
  static const char* const vars[] = {"SD_MODEL_PATH", "SD_VAE_PATH", "SD_TOKENIZER_PATH", "SD_IMAGE_SIZE",
                                     "SD_INFERENCE_STEPS", "SD_GUIDANCE_SCALE", "SD_NEGATIVE_PROMPT", "SD_SAMPLER",
                                     "SD_SCHEDULER", "SD_TIMEOUT_SECONDS", "SD_MAX_CONCURRENT", "SD_VAE_TILING",
                                     "SD_FREE_PARAMS", "SD_THREADS", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY",
                                     "AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_API_VERSION", "OPENAI_API_KEY",
                                     "OPENAI_BASE_URL", "OPENAI_IMAGE_MODEL"};
  for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); ++i) unsetenv(vars[i]);
}

/* ----- Tests that need no model ----------------------------------------------------------- */

static void test_generator_nothing_configured(fixture* f) {
  (void)f;
  clear_generator_env();
  sdr_error err;
  sdr_generator* gen = (sdr_generator*)&err; /* must be reset to NULL */
  CHECK_CODE(sdr_generator_create_from_env(&gen, &err), SDR_ERR_INVALID_PARAMS, err);
  CHECK(gen == NULL, "out not reset on failure");
  CHECK(strstr(err.message, "no image provider configured") != NULL, "message '%s'", err.message);
  CHECK(strstr(err.message, "OPENAI_API_KEY") != NULL, "message '%s'", err.message);
  CHECK_CODE(sdr_generator_create_from_env(NULL, &err), SDR_ERR_INVALID_PARAMS, err);
  setenv("SD_INFERENCE_STEPS", "many", 1);
  CHECK_CODE(sdr_generator_create_from_env(&gen, &err), SDR_ERR_INVALID_PARAMS, err);
  CHECK(strstr(err.message, "SD_INFERENCE_STEPS") != NULL, "message '%s'", err.message);
  clear_generator_env();
  CHECK(strcmp(sdr_generator_provider_name(NULL), "") == 0, "name of NULL");
  sdr_generator_free(NULL);
}

static void test_generator_load_errors(fixture* f) {
  (void)f;
  clear_generator_env();
  sdr_error err;
  sdr_generator* gen = NULL;
  setenv("SD_MODEL_PATH", "/nonexistent/sdr-c-test/model.safetensors", 1);
  CHECK_CODE(sdr_generator_create_from_env(&gen, &err), SDR_ERR_MODEL_NOT_FOUND, err);
  char corrupt[4200];
  snprintf(corrupt, sizeof(corrupt), "%s/corrupt.safetensors", g_scratch_dir);
  FILE* out = fopen(corrupt, "wb");
  CHECK(out != NULL, "cannot write %s", corrupt);
  fputs("this is not a model", out);
  fclose(out);
  setenv("SD_MODEL_PATH", corrupt, 1);
  CHECK_CODE(sdr_generator_create_from_env(&gen, &err), SDR_ERR_MODEL_LOAD_FAILED, err);
  CHECK(strstr(err.message, "corrupt.safetensors") != NULL, "message '%s'", err.message);
  /* With a cloud provider configured, the broken model is skipped (nothing is sent: no request). */
  setenv("OPENAI_API_KEY", "sk-c-test", 1);
  setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1", 1);
  CHECK_CODE(sdr_generator_create_from_env(&gen, &err), SDR_OK, err);
  CHECK(strcmp(sdr_generator_provider_name(gen), "openai") == 0, "provider %s", sdr_generator_provider_name(gen));
  const char* why = sdr_generator_selection(gen);
  CHECK(strstr(why, "local failed (model_load_failed)") != NULL, "selection '%s'", why);
  CHECK(strstr(why, "sk-c-test") == NULL, "the key shows in '%s'", why);
  sdr_generator_free(gen);
  unlink(corrupt);
  clear_generator_env();
}

static int g_generator_steps = 0;
static int count_generator_steps(int image, int step, int total_steps, double elapsed_s, void* user) {
  (void)image;
  (void)step;
  (void)total_steps;
  (void)elapsed_s;
  (void)user;
  ++g_generator_steps;
  return 0;
}

static int refuse_preview(int image, int step, int total_steps, const sdr_image* preview, void* user) {
  (void)image, (void)step, (void)total_steps, (void)preview, (void)user;
  return 1;
}

static void test_generator_local(fixture* f) {
  (void)f;
  clear_generator_env();
  setenv("SD_MODEL_PATH", g_model_path, 1);
  setenv("SD_TOKENIZER_PATH", g_merges, 1);
  setenv("SD_IMAGE_SIZE", "64", 1);
  setenv("SD_INFERENCE_STEPS", "2", 1);
  sdr_error err;
  sdr_generator* gen = NULL;
  CHECK_CODE(sdr_generator_create_from_env(&gen, &err), SDR_OK, err);
  clear_generator_env();
  CHECK(strcmp(sdr_generator_provider_name(gen), "local") == 0, "provider %s", sdr_generator_provider_name(gen));
  CHECK_CODE(sdr_generator_ready(gen, &err), SDR_OK, err);
  sdr_generate_params gp = sdr_generator_params_default();
  CHECK(gp.width == 0 && gp.steps == 0 && gp.seed == -1 && gp.batch_count == 1 && gp.sampler == NULL,
        "generator defaults");
  gp.prompt = "a photo of a cat";
  gp.seed = 5;
  gp.batch_count = 2;
  gp.progress = count_generator_steps;
  g_generator_steps = 0;
  sdr_png_image* images = NULL;
  size_t count = 0;
  CHECK_CODE(sdr_generator_generate(gen, &gp, NULL, &images, &count, &err), SDR_OK, err);
  CHECK(count == 2, "count %zu", count);
  CHECK(g_generator_steps == 4, "progress called %d times", g_generator_steps);
  for (size_t i = 0; i < count; ++i) {
    CHECK(images[i].png_size > 8 && memcmp(images[i].png, "\x89PNG\r\n\x1a\n", 8) == 0, "image %zu is no PNG", i);
    CHECK(images[i].width == 64 && images[i].height == 64, "image %zu is %dx%d", i, images[i].width,
          images[i].height);
    CHECK(images[i].seed == 5 + (int64_t)i, "seed %lld", (long long)images[i].seed);
    CHECK(strstr(images[i].infotext, "Steps: 2,") != NULL, "infotext '%s'", images[i].infotext);
    CHECK(images[i].revised_prompt != NULL && images[i].revised_prompt[0] == '\0', "revised prompt");
  }
  sdr_png_images_free(images, count);
  /* The same vocabulary as contexts: a bad field, a raised cancel flag. */
  gp.width = 100;
  gp.height = 100;
  CHECK_CODE(sdr_generator_generate(gen, &gp, NULL, &images, &count, &err), SDR_ERR_INVALID_PARAMS, err);
  CHECK(strstr(err.message, "width 100") != NULL, "message '%s'", err.message);
  gp.width = gp.height = 0;
  gp.sampler = "nope";
  CHECK_CODE(sdr_generator_generate(gen, &gp, NULL, &images, &count, &err), SDR_ERR_INVALID_PARAMS, err);
  gp.sampler = NULL;
  /* TAESD previews and decoding are sdr_generate's only: refused, naming the field. */
  gp.taesd_decode = 1;
  CHECK_CODE(sdr_generator_generate(gen, &gp, NULL, &images, &count, &err), SDR_ERR_INVALID_PARAMS, err);
  CHECK(strstr(err.message, "taesd_decode") != NULL, "message '%s'", err.message);
  gp.taesd_decode = 0;
  gp.preview = refuse_preview;
  CHECK_CODE(sdr_generator_generate(gen, &gp, NULL, &images, &count, &err), SDR_ERR_INVALID_PARAMS, err);
  CHECK(strstr(err.message, "preview") != NULL, "message '%s'", err.message);
  gp.preview = NULL;
  sdr_cancel* cancel = sdr_cancel_create();
  CHECK(cancel != NULL, "sdr_cancel_create");
  sdr_cancel_request(cancel);
  CHECK_CODE(sdr_generator_generate(gen, &gp, cancel, &images, &count, &err), SDR_ERR_CANCELLED, err);
  CHECK(images == NULL && count == 0, "outputs not reset");
  sdr_cancel_free(cancel);
  CHECK_CODE(sdr_generator_generate(NULL, &gp, NULL, &images, &count, &err), SDR_ERR_INVALID_PARAMS, err);
  sdr_generator_free(gen);
}

static void test_version_and_system_info(fixture* f) {
  (void)f;
  CHECK(strlen(sdr_version()) >= 5, "version '%s'", sdr_version());
  const char* info = sdr_system_info();
  CHECK(strstr(info, "OpenBLAS") != NULL, "system info '%s'", info);
  if (sdr_cuda_available()) {
    CHECK(strstr(info, "CUDA: available (") != NULL, "system info '%s'", info);
  } else {
    CHECK(strstr(info, "CUDA: not available (") != NULL, "system info '%s'", info);
  }
  char* backends = sdr_backend_info();
  CHECK(backends != NULL && strstr(backends, sdr_cuda_available() ? "gpu 0: " : "cuda: not available: ") != NULL,
        "backend info '%s'", backends ? backends : "(null)");
  CHECK(backends != NULL && strstr(backends, "SD_MAX_CONCURRENT") != NULL, "backend info '%s'",
        backends ? backends : "(null)");
  sdr_free(backends);
  CHECK(strstr(info, "threads: ") != NULL, "system info '%s'", info);
  CHECK(strcmp(sdr_error_code_name(SDR_ERR_ACQUIRE_TIMEOUT), "acquire_timeout") == 0, "%s",
        sdr_error_code_name(SDR_ERR_ACQUIRE_TIMEOUT));
  CHECK(strcmp(sdr_error_code_name((sdr_error_code)99), "unknown") == 0, "%s",
        sdr_error_code_name((sdr_error_code)99));
}

static void test_defaults(fixture* f) {
  (void)f;
  sdr_generate_params p = sdr_generate_params_default();
  CHECK(p.width == 512 && p.height == 512, "%dx%d", p.width, p.height);
  CHECK(p.steps == 20, "steps %d", p.steps);
  CHECK(p.cfg_scale == 7.5f, "cfg %f", p.cfg_scale);
  CHECK(strcmp(p.sampler, "dpm++2m") == 0, "sampler %s", p.sampler);
  CHECK(strcmp(p.scheduler, "discrete") == 0, "scheduler %s", p.scheduler);
  CHECK(p.seed == -1, "seed %lld", (long long)p.seed);
  CHECK(strcmp(p.rng, "cuda") == 0, "rng %s", p.rng);
  CHECK(p.strength == 0.75f && p.init_image == NULL, "strength %g", p.strength);
  CHECK(p.clip_skip == 1 && p.batch_count == 1 && p.vae_tiling == 0, "clip_skip %d batch %d tiling %d",
        p.clip_skip, p.batch_count, p.vae_tiling);
  CHECK(p.prompt == NULL && p.progress == NULL, "prompt/progress not NULL");
  sdr_pool_params pp = sdr_pool_params_default();
  CHECK(pp.max_concurrent == 2 && pp.memory_budget_bytes == 0 && pp.timeout_s == 120.0, "pool defaults %d %llu %f",
        pp.max_concurrent, (unsigned long long)pp.memory_budget_bytes, pp.timeout_s);
  sdr_model_params mp = sdr_model_params_default();
  CHECK(mp.model_path == NULL && mp.vae_path == NULL && mp.tokenizer_path == NULL, "model params not NULL");
}

static void test_missing_model(fixture* f) {
  (void)f;
  sdr_error err;
  sdr_model_params mp = sdr_model_params_default();
  mp.model_path = "/nonexistent/sdr-c-test/model.safetensors";
  sdr_model* model = (sdr_model*)&err; /* must be reset to NULL */
  CHECK_CODE(sdr_model_load(&mp, &model, &err), SDR_ERR_MODEL_NOT_FOUND, err);
  CHECK(err.code == SDR_ERR_MODEL_NOT_FOUND, "err.code %d", err.code);
  CHECK(model == NULL, "out not reset on failure");
  CHECK(strstr(err.message, "/nonexistent/sdr-c-test/model.safetensors") != NULL, "message '%s'", err.message);
}

static void test_null_arguments(fixture* f) {
  sdr_error err;
  sdr_model* model = NULL;
  CHECK_CODE(sdr_model_load(NULL, &model, &err), SDR_ERR_INVALID_PARAMS, err);
  sdr_model_params mp = sdr_model_params_default();
  CHECK_CODE(sdr_model_load(&mp, &model, &err), SDR_ERR_INVALID_PARAMS, err); /* no model_path */
  CHECK(strstr(err.message, "model_path") != NULL, "message '%s'", err.message);
  sdr_pool* pool = NULL;
  CHECK_CODE(sdr_pool_create(NULL, NULL, &pool, &err), SDR_ERR_INVALID_PARAMS, err);
  sdr_context* ctx = NULL;
  CHECK_CODE(sdr_pool_acquire(NULL, 0, &ctx, &err), SDR_ERR_INVALID_PARAMS, err);
  CHECK_CODE(sdr_pool_acquire(f->pool, 0, NULL, &err), SDR_ERR_INVALID_PARAMS, err);
  sdr_generate_params gp = small_params(1);
  sdr_image* images = NULL;
  size_t count = 0;
  CHECK_CODE(sdr_generate(NULL, &gp, &images, &count, &err), SDR_ERR_INVALID_PARAMS, err);
  uint8_t png_dummy = 0;
  uint8_t* png = &png_dummy;
  size_t png_size = 0;
  CHECK_CODE(sdr_image_encode_png(NULL, NULL, &png, &png_size, &err), SDR_ERR_INVALID_PARAMS, err);
  /* err may be NULL: only the code comes back. */
  CHECK(sdr_model_load(NULL, &model, NULL) == SDR_ERR_INVALID_PARAMS, "NULL err");
  /* Free functions accept NULL. */
  sdr_model_free(NULL);
  sdr_pool_free(NULL);
  sdr_context_release(NULL);
  sdr_context_cancel(NULL);
  sdr_images_free(NULL, 3);
  sdr_free(NULL);
}

/* ----- Generation ------------------------------------------------------------------------- */

static void test_generate_deterministic(fixture* f) {
  sdr_error err;
  sdr_context* ctx = NULL;
  CHECK_CODE(sdr_pool_acquire(f->pool, 1000, &ctx, &err), SDR_OK, err);
  sdr_generate_params gp = small_params(42);
  sdr_image *a = NULL, *b = NULL, *c = NULL;
  size_t na = 0, nb = 0, nc = 0;
  sdr_error_code code = sdr_generate(ctx, &gp, &a, &na, &err);
  if (code == SDR_OK) code = sdr_generate(ctx, &gp, &b, &nb, &err);
  gp.seed = 43;
  if (code == SDR_OK) code = sdr_generate(ctx, &gp, &c, &nc, &err);
  sdr_context_release(ctx);
  int same = 0, differs = 0;
  if (code == SDR_OK) {
    same = memcmp(a[0].data, b[0].data, 64 * 64 * 3) == 0;
    differs = memcmp(a[0].data, c[0].data, 64 * 64 * 3) != 0;
  }
  sdr_image a0 = a != NULL ? a[0] : (sdr_image){0};
  uint64_t seed_c = c != NULL ? c[0].seed : 0;
  sdr_images_free(a, na);
  sdr_images_free(b, nb);
  sdr_images_free(c, nc);
  CHECK(code == SDR_OK, "generate: %s: %s", sdr_error_code_name(code), err.message);
  CHECK(err.code == SDR_OK && err.message[0] == '\0', "err not cleared on success: '%s'", err.message);
  CHECK(na == 1 && nb == 1 && nc == 1, "counts %zu %zu %zu", na, nb, nc);
  CHECK(a0.width == 64 && a0.height == 64 && a0.channels == 3, "%dx%dx%d", a0.width, a0.height, a0.channels);
  CHECK(a0.seed == 42, "seed %llu", (unsigned long long)a0.seed);
  CHECK(seed_c == 43, "seed %llu", (unsigned long long)seed_c);
  CHECK(same, "the same seed gave different bytes");
  CHECK(differs, "seeds 42 and 43 gave the same bytes");
}

/* img2img from C: an init image of another size gives a reproducible image; a malformed init
 * image is refused naming the field. */
static void test_img2img(fixture* f) {
  sdr_error err;
  sdr_context* ctx = NULL;
  CHECK_CODE(sdr_pool_acquire(f->pool, 1000, &ctx, &err), SDR_OK, err);
  static uint8_t pixels[40 * 24 * 3];
  for (size_t i = 0; i < sizeof(pixels); ++i) pixels[i] = (uint8_t)(i * 7);
  sdr_image init = {40, 24, 3, pixels, 0};
  sdr_generate_params gp = small_params(9);
  gp.init_image = &init;
  gp.strength = 0.5f;
  sdr_image *a = NULL, *b = NULL;
  size_t na = 0, nb = 0;
  sdr_error_code code = sdr_generate(ctx, &gp, &a, &na, &err);
  if (code == SDR_OK) code = sdr_generate(ctx, &gp, &b, &nb, &err);
  int same = code == SDR_OK && memcmp(a[0].data, b[0].data, 64 * 64 * 3) == 0;
  sdr_images_free(a, na);
  sdr_images_free(b, nb);
  sdr_error bad_err;
  sdr_image bad = {4, 4, 1, pixels, 0};
  gp.init_image = &bad;
  sdr_image* c = NULL;
  size_t nc = 0;
  sdr_error_code bad_code = sdr_generate(ctx, &gp, &c, &nc, &bad_err);
  sdr_context_release(ctx);
  CHECK(code == SDR_OK, "img2img: %s: %s", sdr_error_code_name(code), err.message);
  CHECK(same, "img2img with the same seed gave different bytes");
  CHECK(bad_code == SDR_ERR_INVALID_PARAMS && strstr(bad_err.message, "init_image") != NULL, "bad init image: %s",
        bad_err.message);
}

static void test_batch_and_random_seed(fixture* f) {
  sdr_error err;
  sdr_context* ctx = NULL;
  CHECK_CODE(sdr_pool_acquire(f->pool, 1000, &ctx, &err), SDR_OK, err);
  sdr_generate_params gp = small_params(7);
  gp.batch_count = 2;
  sdr_image* imgs = NULL;
  size_t n = 0;
  sdr_error_code code = sdr_generate(ctx, &gp, &imgs, &n, &err);
  sdr_image* r = NULL;
  size_t nr = 0;
  gp.batch_count = 1;
  gp.seed = -1;
  if (code == SDR_OK) code = sdr_generate(ctx, &gp, &r, &nr, &err);
  sdr_context_release(ctx);
  uint64_t s0 = n == 2 ? imgs[0].seed : 0, s1 = n == 2 ? imgs[1].seed : 0;
  int distinct = n == 2 && memcmp(imgs[0].data, imgs[1].data, 64 * 64 * 3) != 0;
  sdr_images_free(imgs, n);
  sdr_images_free(r, nr);
  CHECK(code == SDR_OK, "generate: %s: %s", sdr_error_code_name(code), err.message);
  CHECK(n == 2, "count %zu", n);
  CHECK(s0 == 7 && s1 == 8, "seeds %llu %llu", (unsigned long long)s0, (unsigned long long)s1);
  CHECK(distinct, "batch images are identical");
  CHECK(nr == 1, "random-seed count %zu", nr);
}

static void test_generate_into(fixture* f) {
  sdr_error err;
  sdr_context* ctx = NULL;
  CHECK_CODE(sdr_pool_acquire(f->pool, 1000, &ctx, &err), SDR_OK, err);
  sdr_generate_params gp = small_params(42);
  sdr_image* ref = NULL;
  size_t n = 0;
  sdr_error_code code = sdr_generate(ctx, &gp, &ref, &n, &err);
  uint8_t* buf = malloc(64 * 64 * 3);
  uint64_t seed = 0;
  sdr_error_code into = SDR_ERR_GENERATION_FAILED, small = SDR_OK, batch = SDR_OK;
  char small_msg[SDR_ERROR_MESSAGE_SIZE] = "";
  if (code == SDR_OK && buf != NULL) {
    into = sdr_generate_into(ctx, &gp, buf, 64 * 64 * 3, &seed, &err);
    small = sdr_generate_into(ctx, &gp, buf, 64 * 64 * 3 - 1, NULL, &err);
    strcpy(small_msg, err.message);
    gp.batch_count = 2;
    batch = sdr_generate_into(ctx, &gp, buf, 64 * 64 * 3, NULL, &err);
  }
  sdr_context_release(ctx);
  int same = code == SDR_OK && into == SDR_OK && memcmp(buf, ref[0].data, 64 * 64 * 3) == 0;
  free(buf);
  sdr_images_free(ref, n);
  CHECK(code == SDR_OK, "generate: %s", sdr_error_code_name(code));
  CHECK(into == SDR_OK, "generate_into: %s", sdr_error_code_name(into));
  CHECK(seed == 42, "seed %llu", (unsigned long long)seed);
  CHECK(same, "generate_into bytes differ from generate");
  CHECK(small == SDR_ERR_INVALID_PARAMS, "small buffer: %s", sdr_error_code_name(small));
  CHECK(strstr(small_msg, "buffer_size") != NULL, "message '%s'", small_msg);
  CHECK(batch == SDR_ERR_INVALID_PARAMS, "batch 2: %s", sdr_error_code_name(batch));
  CHECK(strstr(err.message, "batch_count") != NULL, "message '%s'", err.message);
}

typedef struct {
  int calls;
  int last_image, last_step, last_total;
  double last_elapsed;
  int monotonic;
  int stop_at_step; /* 0 = never */
} progress_state;

static int record_progress(int image, int step, int total_steps, double elapsed_s, void* user) {
  progress_state* s = (progress_state*)user;
  if (s->calls > 0 && (elapsed_s < s->last_elapsed || (image == s->last_image && step != s->last_step + 1))) {
    s->monotonic = 0;
  }
  s->calls++;
  s->last_image = image;
  s->last_step = step;
  s->last_total = total_steps;
  s->last_elapsed = elapsed_s;
  return s->stop_at_step != 0 && step >= s->stop_at_step;
}

static void test_progress_and_stop(fixture* f) {
  sdr_error err;
  sdr_context* ctx = NULL;
  CHECK_CODE(sdr_pool_acquire(f->pool, 1000, &ctx, &err), SDR_OK, err);
  progress_state ps = {0, -1, 0, 0, 0.0, 1, 0};
  sdr_generate_params gp = small_params(5);
  gp.steps = 3;
  gp.progress = record_progress;
  gp.progress_user = &ps;
  sdr_image* imgs = NULL;
  size_t n = 0;
  sdr_error_code ok = sdr_generate(ctx, &gp, &imgs, &n, &err);
  sdr_images_free(imgs, n);

  progress_state stop = {0, -1, 0, 0, 0.0, 1, 1};
  gp.progress_user = &stop;
  imgs = NULL;
  n = 7;
  sdr_error_code cancelled = sdr_generate(ctx, &gp, &imgs, &n, &err);
  char msg[SDR_ERROR_MESSAGE_SIZE];
  strcpy(msg, err.message);
  /* The context is clean afterwards. */
  gp.progress = NULL;
  sdr_image* after = NULL;
  size_t na = 0;
  sdr_error_code again = sdr_generate(ctx, &gp, &after, &na, &err);
  sdr_images_free(after, na);
  sdr_context_release(ctx);

  CHECK(ok == SDR_OK, "generate: %s", sdr_error_code_name(ok));
  CHECK(ps.calls == 3, "progress calls %d, want 3", ps.calls);
  CHECK(ps.last_image == 0 && ps.last_step == 3 && ps.last_total == 3, "last progress image %d step %d/%d",
        ps.last_image, ps.last_step, ps.last_total);
  CHECK(ps.monotonic && ps.last_elapsed >= 0, "progress not in order (elapsed %f)", ps.last_elapsed);
  CHECK(cancelled == SDR_ERR_CANCELLED, "stop from progress: %s (%s)", sdr_error_code_name(cancelled), msg);
  CHECK(stop.calls == 1, "progress called %d times after asking to stop", stop.calls);
  CHECK(imgs == NULL && n == 0, "outputs not reset on failure");
  CHECK(again == SDR_OK, "generate after a cancel: %s", sdr_error_code_name(again));
}

static void test_invalid_params(fixture* f) {
  sdr_error err;
  sdr_context* ctx = NULL;
  CHECK_CODE(sdr_pool_acquire(f->pool, 1000, &ctx, &err), SDR_OK, err);
  sdr_generate_params gp = small_params(1);
  gp.width = 100;
  sdr_image* imgs = NULL;
  size_t n = 0;
  sdr_error_code width = sdr_generate(ctx, &gp, &imgs, &n, &err);
  char width_msg[SDR_ERROR_MESSAGE_SIZE];
  strcpy(width_msg, err.message);
  gp.width = 64;
  gp.sampler = "no-such-sampler";
  sdr_error_code sampler = sdr_generate(ctx, &gp, &imgs, &n, &err);
  char sampler_msg[SDR_ERROR_MESSAGE_SIZE];
  strcpy(sampler_msg, err.message);
  gp.sampler = "Euler a"; /* A1111 names are accepted */
  gp.steps = 0;
  sdr_error_code steps = sdr_generate(ctx, &gp, &imgs, &n, &err);
  sdr_context_release(ctx);
  CHECK(width == SDR_ERR_INVALID_PARAMS, "width 100: %s", sdr_error_code_name(width));
  CHECK(strstr(width_msg, "width") != NULL, "message '%s' does not name width", width_msg);
  CHECK(sampler == SDR_ERR_INVALID_PARAMS, "bad sampler: %s", sdr_error_code_name(sampler));
  CHECK(strstr(sampler_msg, "sampler") != NULL, "message '%s'", sampler_msg);
  CHECK(steps == SDR_ERR_INVALID_PARAMS && strstr(err.message, "steps") != NULL, "steps 0: %s '%s'",
        sdr_error_code_name(steps), err.message);
  CHECK(imgs == NULL && n == 0, "outputs set on failure");
}

static void test_acquire_timeout(fixture* f) {
  sdr_error err;
  sdr_context *a = NULL, *b = NULL, *c = NULL;
  CHECK_CODE(sdr_pool_acquire(f->pool, 1000, &a, &err), SDR_OK, err);
  sdr_error_code second = sdr_pool_acquire(f->pool, 1000, &b, &err);
  int available = sdr_pool_available(f->pool);
  sdr_error_code third = sdr_pool_acquire(f->pool, 50, &c, &err);
  char msg[SDR_ERROR_MESSAGE_SIZE];
  strcpy(msg, err.message);
  sdr_error_code third_now = sdr_pool_acquire(f->pool, 0, &c, &err);
  sdr_context_release(b);
  sdr_error_code after = sdr_pool_acquire(f->pool, 0, &c, &err);
  sdr_context_release(c);
  sdr_context_release(a);
  CHECK(second == SDR_OK, "second acquire: %s", sdr_error_code_name(second));
  CHECK(available == 0, "available %d with both contexts held", available);
  CHECK(third == SDR_ERR_ACQUIRE_TIMEOUT, "third acquire: %s (%s)", sdr_error_code_name(third), msg);
  CHECK(third_now == SDR_ERR_ACQUIRE_TIMEOUT, "third acquire, no wait: %s", sdr_error_code_name(third_now));
  CHECK(after == SDR_OK, "acquire after a release: %s", sdr_error_code_name(after));
  CHECK(sdr_pool_available(f->pool) == 2, "available %d after releases", sdr_pool_available(f->pool));
}

typedef struct {
  sdr_context* ctx;
  sdr_generate_params params;
  atomic_int started;      /* the generation reached its first step */
  atomic_int cancel_sent;  /* the main thread called sdr_context_cancel */
  sdr_error_code result;
  int steps_seen;
} cancel_job;

static int wait_for_cancel(int image, int step, int total, double elapsed, void* user) {
  cancel_job* job = (cancel_job*)user;
  job->steps_seen = step;
  atomic_store(&job->started, 1);
  /* Hold the generation at step 1 until the other thread has cancelled it (10 s at most). */
  for (int i = 0; i < 10000 && !atomic_load(&job->cancel_sent); ++i) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  return 0; /* continue: the cancel itself must stop the run */
}

static void* generate_thread(void* arg) {
  cancel_job* job = (cancel_job*)arg;
  sdr_image* imgs = NULL;
  size_t n = 0;
  sdr_error err;
  job->result = sdr_generate(job->ctx, &job->params, &imgs, &n, &err);
  sdr_images_free(imgs, n);
  return NULL;
}

static void test_cancel_from_another_thread(fixture* f) {
  sdr_error err;
  sdr_context* ctx = NULL;
  CHECK_CODE(sdr_pool_acquire(f->pool, 1000, &ctx, &err), SDR_OK, err);
  cancel_job job;
  memset(&job, 0, sizeof(job));
  job.ctx = ctx;
  job.params = small_params(9);
  job.params.steps = 6;
  job.params.progress = wait_for_cancel;
  job.params.progress_user = &job;
  atomic_init(&job.started, 0);
  atomic_init(&job.cancel_sent, 0);
  pthread_t th;
  int created = pthread_create(&th, NULL, generate_thread, &job) == 0;
  if (created) {
    for (int i = 0; i < 20000 && !atomic_load(&job.started); ++i) {
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
    }
    sdr_context_cancel(ctx);
    atomic_store(&job.cancel_sent, 1);
    pthread_join(th, NULL);
  }
  /* A cancel with no generation running applies to the next one. */
  sdr_context_cancel(ctx);
  sdr_generate_params gp = small_params(9);
  sdr_image* imgs = NULL;
  size_t n = 0;
  sdr_error_code pre = sdr_generate(ctx, &gp, &imgs, &n, &err);
  sdr_images_free(imgs, n);
  sdr_error_code next = sdr_generate(ctx, &gp, &imgs, &n, &err);
  sdr_images_free(imgs, n);
  sdr_context_release(ctx);
  CHECK(created, "pthread_create failed");
  CHECK(job.result == SDR_ERR_CANCELLED, "cancelled generation returned %s", sdr_error_code_name(job.result));
  CHECK(job.steps_seen < 6, "the generation ran all %d steps", job.steps_seen);
  CHECK(pre == SDR_ERR_CANCELLED, "cancel before generate: %s", sdr_error_code_name(pre));
  CHECK(next == SDR_OK, "generate after a cancelled one: %s", sdr_error_code_name(next));
}

static void test_png_and_infotext(fixture* f) {
  sdr_error err;
  sdr_context* ctx = NULL;
  CHECK_CODE(sdr_pool_acquire(f->pool, 1000, &ctx, &err), SDR_OK, err);
  sdr_generate_params gp = small_params(42);
  sdr_image* imgs = NULL;
  size_t n = 0;
  sdr_error_code code = sdr_generate(ctx, &gp, &imgs, &n, &err);
  sdr_context_release(ctx);
  CHECK(code == SDR_OK, "generate: %s", sdr_error_code_name(code));
  char* text = NULL;
  sdr_error_code info = sdr_infotext(&gp, imgs[0].seed, &text, &err);
  uint8_t* png = NULL;
  size_t size = 0;
  sdr_error_code enc = sdr_image_encode_png(&imgs[0], text, &png, &size, &err);
  static const uint8_t kSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  int sig = png != NULL && size > 8 && memcmp(png, kSig, 8) == 0;
  int has_text = 0;
  for (size_t i = 0; png != NULL && i + 10 <= size; ++i) {
    if (memcmp(png + i, "parameters", 10) == 0) has_text = 1;
  }
  sdr_image bad = imgs[0];
  bad.channels = 4;
  uint8_t* png2 = NULL;
  size_t size2 = 0;
  sdr_error_code bad_code = sdr_image_encode_png(&bad, NULL, &png2, &size2, &err);
  int text_ok = text != NULL && strstr(text, "a photo of a cat\nNegative prompt: blurry\n") == text &&
                strstr(text, "Seed: 42") != NULL && strstr(text, "Size: 64x64") != NULL &&
                strstr(text, "Sampler: DPM++ 2M") != NULL;
  char text_copy[SDR_ERROR_MESSAGE_SIZE] = "";
  if (text != NULL) snprintf(text_copy, sizeof(text_copy), "%s", text);
  sdr_free(text);
  sdr_free(png);
  sdr_images_free(imgs, n);
  CHECK(info == SDR_OK, "infotext: %s", sdr_error_code_name(info));
  CHECK(text_ok, "infotext '%s'", text_copy);
  CHECK(enc == SDR_OK, "encode: %s", sdr_error_code_name(enc));
  CHECK(sig, "PNG bytes (%zu) do not start with the PNG signature", size);
  CHECK(has_text, "no parameters chunk in the PNG");
  CHECK(bad_code == SDR_ERR_INVALID_PARAMS && png2 == NULL, "channels 4: %s", sdr_error_code_name(bad_code));
}

/* ----- Setup ------------------------------------------------------------------------------ */

int main(void) {
  char model_path[4096] = "";
  char tmpdir[] = "/tmp/sdr_c_test.XXXXXX";
  int wrote_model = 0;
  const char* env_model = getenv("SDR_TEST_MODEL");
  if (env_model != NULL && env_model[0] != '\0') {
    snprintf(model_path, sizeof(model_path), "%s", env_model);
  } else {
    if (mkdtemp(tmpdir) == NULL) {
      perror("mkdtemp");
      return 1;
    }
    snprintf(model_path, sizeof(model_path), "%s/tiny.safetensors", tmpdir);
    if (write_fixture("make-test-model", model_path) != 0) {
      rmdir(tmpdir);
      return 1;
    }
    wrote_model = 1;
  }
  const char* merges = test_merges();

  snprintf(g_model_path, sizeof(g_model_path), "%s", model_path);
  g_merges = merges;
  if (mkdtemp(g_scratch_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }

  fixture f = {NULL};
  run_test("version_and_system_info", test_version_and_system_info, &f);
  run_test("generator_nothing_configured", test_generator_nothing_configured, &f);
  run_test("generator_load_errors", test_generator_load_errors, &f);
  run_test("generator_local", test_generator_local, &f);
  run_test("defaults", test_defaults, &f);
  run_test("missing_model", test_missing_model, &f);

  sdr_error err;
  sdr_model_params mp = sdr_model_params_default();
  mp.model_path = model_path;
  mp.tokenizer_path = merges;
  sdr_model* model = NULL;
  if (sdr_model_load(&mp, &model, &err) != SDR_OK) {
    fprintf(stderr, "loading %s: %s: %s\n", model_path, sdr_error_code_name(err.code), err.message);
    return 1;
  }
  sdr_pool_params pp = sdr_pool_params_default();
  pp.max_concurrent = 2;
  if (sdr_pool_create(model, &pp, &f.pool, &err) != SDR_OK) {
    fprintf(stderr, "pool: %s: %s\n", sdr_error_code_name(err.code), err.message);
    return 1;
  }
  sdr_model_free(model); /* the pool keeps the weights alive */

  run_test("null_arguments", test_null_arguments, &f);
  run_test("generate_deterministic", test_generate_deterministic, &f);
  run_test("img2img", test_img2img, &f);
  run_test("batch_and_random_seed", test_batch_and_random_seed, &f);
  run_test("generate_into", test_generate_into, &f);
  run_test("progress_and_stop", test_progress_and_stop, &f);
  run_test("invalid_params", test_invalid_params, &f);
  run_test("acquire_timeout", test_acquire_timeout, &f);
  run_test("cancel_from_another_thread", test_cancel_from_another_thread, &f);
  run_test("png_and_infotext", test_png_and_infotext, &f);

  sdr_pool_free(f.pool);
  rmdir(g_scratch_dir);
  if (wrote_model) {
    unlink(model_path);
    rmdir(tmpdir);
  }
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
