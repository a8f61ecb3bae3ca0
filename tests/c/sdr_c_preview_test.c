/* TAESD previews and TAESD decoding through the C API (sdr_model_params.taesd_path,
 * sdr_generate_params.preview / preview_every / taesd_decode), tested from C (C11) on the tiny random
 * SD 1.x model and a random TAESD decoder, both written by the sdr program.
 *
 * Environment (ctest sets both): SDR_BIN (the sdr program: `sdr make-test-model OUT`,
 * `sdr make-test-taesd OUT`), SDR_TEST_MERGES (CLIP merges.txt).
 *
 * Prints "N passed, M failed"; exits non-zero when anything failed. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "c_check.h"
#include "sdr/sdr.h"

typedef struct {
  sdr_pool* taesd;  /* contexts on the model loaded with the TAESD */
  sdr_pool* plain;  /* contexts on the same model without one */
} fixture;

static char g_model[4200];
static char g_taesd[4200];
static const char* g_merges;

static void run_test(const char* name, void (*fn)(fixture*), fixture* f) {
  g_current_failed = 0;
  fn(f);
  count_test(name);
}

static sdr_generate_params small_params(int64_t seed) {
  sdr_generate_params p = sdr_generate_params_default();
  p.prompt = "a photo of a cat";
  p.width = 72; /* not square: a transposed preview shows */
  p.height = 64;
  p.steps = 4;
  p.seed = seed;
  return p;
}

/* What the preview callback saw. */
typedef struct {
  int calls;
  int images[16], steps[16], totals[16];
  int bad_size;      /* a preview whose size or channels differ from the request's */
  int non_constant;  /* previews with at least two different byte values */
  int stop_at_call;  /* non-zero: return 1 on this call (1-based) */
  int progress_calls;
} preview_log;

static int record_preview(int image, int step, int total_steps, const sdr_image* preview, void* user) {
  preview_log* log = (preview_log*)user;
  if (log->calls < 16) {
    log->images[log->calls] = image;
    log->steps[log->calls] = step;
    log->totals[log->calls] = total_steps;
  }
  ++log->calls;
  if (preview == NULL || preview->data == NULL || preview->width != 72 || preview->height != 64 ||
      preview->channels != 3) {
    log->bad_size = 1;
  } else {
    const size_t n = (size_t)preview->width * (size_t)preview->height * 3;
    for (size_t i = 1; i < n; ++i) {
      if (preview->data[i] != preview->data[0]) {
        ++log->non_constant;
        break;
      }
    }
  }
  return log->stop_at_call != 0 && log->calls >= log->stop_at_call;
}

static int count_progress(int image, int step, int total_steps, double elapsed_s, void* user) {
  (void)image, (void)step, (void)total_steps, (void)elapsed_s;
  ++((preview_log*)user)->progress_calls;
  return 0;
}

static void test_defaults(fixture* f) {
  (void)f;
  sdr_generate_params p = sdr_generate_params_default();
  CHECK(p.taesd_decode == 0 && p.preview == NULL && p.preview_user == NULL && p.preview_every == 1,
        "taesd_decode %d preview_every %d", p.taesd_decode, p.preview_every);
  sdr_model_params mp = sdr_model_params_default();
  CHECK(mp.taesd_path == NULL && mp.device == NULL, "model params not NULL");
  sdr_generate_params g = sdr_generator_params_default();
  CHECK(g.taesd_decode == 0 && g.preview == NULL, "generator params");
}

/* preview_every 2 over 4 steps and a batch of 2: steps 2 and 4 of each image, image-sized, not flat. */
static void test_previews_every_n_steps(fixture* f) {
  sdr_error err;
  sdr_context* ctx = NULL;
  CHECK_CODE(sdr_pool_acquire(f->taesd, 1000, &ctx, &err), SDR_OK, err);
  preview_log log;
  memset(&log, 0, sizeof(log));
  sdr_generate_params gp = small_params(11);
  gp.batch_count = 2;
  gp.preview = record_preview;
  gp.preview_user = &log;
  gp.preview_every = 2;
  gp.progress = count_progress;
  gp.progress_user = &log;
  sdr_image* imgs = NULL;
  size_t n = 0;
  sdr_error_code code = sdr_generate(ctx, &gp, &imgs, &n, &err);
  sdr_images_free(imgs, n);
  /* preview_every 0 means every step. */
  preview_log every;
  memset(&every, 0, sizeof(every));
  gp.batch_count = 1;
  gp.preview_user = &every;
  gp.progress = NULL;
  gp.preview_every = 0;
  imgs = NULL;
  n = 0;
  sdr_error_code code0 = sdr_generate(ctx, &gp, &imgs, &n, &err);
  sdr_images_free(imgs, n);
  sdr_context_release(ctx);

  CHECK(code == SDR_OK, "generate: %s (%s)", sdr_error_code_name(code), err.message);
  CHECK(log.calls == 4, "preview calls %d, want 4", log.calls);
  static const int kImages[4] = {0, 0, 1, 1};
  static const int kSteps[4] = {2, 4, 2, 4};
  for (int i = 0; i < 4; ++i) {
    CHECK(log.images[i] == kImages[i] && log.steps[i] == kSteps[i] && log.totals[i] == 4,
          "preview %d: image %d step %d/%d, want image %d step %d/4", i, log.images[i], log.steps[i],
          log.totals[i], kImages[i], kSteps[i]);
  }
  CHECK(!log.bad_size, "a preview was not a 72x64 RGB image");
  CHECK(log.non_constant == 4, "%d of 4 previews had more than one byte value", log.non_constant);
  CHECK(log.progress_calls == 8, "progress calls %d, want 8 (previews must not replace progress)",
        log.progress_calls);
  CHECK(code0 == SDR_OK, "generate with preview_every 0: %s", sdr_error_code_name(code0));
  CHECK(every.calls == 4 && every.steps[0] == 1 && every.steps[3] == 4, "preview_every 0: %d calls", every.calls);
}

/* Returning non-zero from the preview cancels; the context generates afterwards. */
static void test_preview_cancels(fixture* f) {
  sdr_error err;
  sdr_context* ctx = NULL;
  CHECK_CODE(sdr_pool_acquire(f->taesd, 1000, &ctx, &err), SDR_OK, err);
  preview_log log;
  memset(&log, 0, sizeof(log));
  log.stop_at_call = 1;
  sdr_generate_params gp = small_params(3);
  gp.preview = record_preview;
  gp.preview_user = &log;
  sdr_image* imgs = NULL;
  size_t n = 7;
  sdr_error_code cancelled = sdr_generate(ctx, &gp, &imgs, &n, &err);
  char msg[SDR_ERROR_MESSAGE_SIZE];
  snprintf(msg, sizeof(msg), "%s", err.message);
  int reset = imgs == NULL && n == 0;
  gp.preview = NULL;
  sdr_error_code again = sdr_generate(ctx, &gp, &imgs, &n, &err);
  int again_size = again == SDR_OK && n == 1 && imgs[0].width == 72 && imgs[0].height == 64;
  sdr_images_free(imgs, n);
  sdr_context_release(ctx);

  CHECK(cancelled == SDR_ERR_CANCELLED, "stop from preview: %s (%s)", sdr_error_code_name(cancelled), msg);
  CHECK(log.calls == 1 && log.steps[0] == 1, "preview called %d times (first at step %d)", log.calls, log.steps[0]);
  CHECK(reset, "outputs not reset on failure");
  CHECK(again == SDR_OK && again_size, "generate after a cancel: %s", sdr_error_code_name(again));
}

/* taesd_decode: the final image comes from the TAESD, so it differs from the VAE's for one seed. */
static void test_taesd_decode(fixture* f) {
  sdr_error err;
  sdr_context* ctx = NULL;
  CHECK_CODE(sdr_pool_acquire(f->taesd, 1000, &ctx, &err), SDR_OK, err);
  sdr_generate_params gp = small_params(21);
  sdr_image* vae = NULL;
  size_t nv = 0;
  sdr_error_code cv = sdr_generate(ctx, &gp, &vae, &nv, &err);
  gp.taesd_decode = 1;
  sdr_image* tiny = NULL;
  size_t nt = 0;
  sdr_error_code ct = sdr_generate(ctx, &gp, &tiny, &nt, &err);
  sdr_image* tiny2 = NULL;
  size_t nt2 = 0;
  sdr_error_code ct2 = sdr_generate(ctx, &gp, &tiny2, &nt2, &err);
  sdr_context_release(ctx);
  const size_t bytes = 72 * 64 * 3;
  int sizes = cv == SDR_OK && ct == SDR_OK && ct2 == SDR_OK && nv == 1 && nt == 1 && nt2 == 1 &&
              vae[0].width == 72 && vae[0].height == 64 && tiny[0].width == 72 && tiny[0].height == 64;
  int differs = sizes && memcmp(vae[0].data, tiny[0].data, bytes) != 0;
  int repeatable = sizes && memcmp(tiny[0].data, tiny2[0].data, bytes) == 0;
  sdr_images_free(vae, nv);
  sdr_images_free(tiny, nt);
  sdr_images_free(tiny2, nt2);
  CHECK(sizes, "generate: vae %s, taesd %s, %s", sdr_error_code_name(cv), sdr_error_code_name(ct),
        sdr_error_code_name(ct2));
  CHECK(differs, "taesd_decode gave the VAE's image");
  CHECK(repeatable, "taesd_decode is not deterministic for one seed");
}

/* Without a TAESD, preview and taesd_decode are invalid params naming the field and the setting. */
static void test_needs_taesd(fixture* f) {
  sdr_error err;
  sdr_context* ctx = NULL;
  CHECK_CODE(sdr_pool_acquire(f->plain, 1000, &ctx, &err), SDR_OK, err);
  preview_log log;
  memset(&log, 0, sizeof(log));
  sdr_generate_params gp = small_params(1);
  gp.preview = record_preview;
  gp.preview_user = &log;
  uint8_t buf[72 * 64 * 3];
  sdr_error_code preview = sdr_generate_into(ctx, &gp, buf, sizeof(buf), NULL, &err);
  char preview_msg[SDR_ERROR_MESSAGE_SIZE];
  snprintf(preview_msg, sizeof(preview_msg), "%s", err.message);
  gp.preview = NULL;
  gp.taesd_decode = 1;
  sdr_error_code decode = sdr_generate_into(ctx, &gp, buf, sizeof(buf), NULL, &err);
  char decode_msg[SDR_ERROR_MESSAGE_SIZE];
  snprintf(decode_msg, sizeof(decode_msg), "%s", err.message);
  sdr_context_release(ctx);
  CHECK(preview == SDR_ERR_INVALID_PARAMS, "preview without TAESD: %s", sdr_error_code_name(preview));
  CHECK(strstr(preview_msg, "preview:") != NULL && strstr(preview_msg, "taesd_path") != NULL, "message '%s'",
        preview_msg);
  CHECK(log.calls == 0, "preview called without a TAESD");
  CHECK(decode == SDR_ERR_INVALID_PARAMS, "taesd_decode without TAESD: %s", sdr_error_code_name(decode));
  CHECK(strstr(decode_msg, "taesd_decode") != NULL && strstr(decode_msg, "taesd_path") != NULL, "message '%s'",
        decode_msg);

  /* A negative interval is refused before any work, naming the field. */
  CHECK_CODE(sdr_pool_acquire(f->taesd, 1000, &ctx, &err), SDR_OK, err);
  gp.taesd_decode = 0;
  gp.preview = record_preview;
  gp.preview_every = -1;
  sdr_error_code every = sdr_generate_into(ctx, &gp, buf, sizeof(buf), NULL, &err);
  sdr_context_release(ctx);
  CHECK(every == SDR_ERR_INVALID_PARAMS && strstr(err.message, "preview_every -1") != NULL, "%s: '%s'",
        sdr_error_code_name(every), err.message);
}

/* A TAESD file that does not exist fails the model load, naming the file. */
static void test_missing_taesd_file(fixture* f) {
  (void)f;
  sdr_model_params mp = sdr_model_params_default();
  mp.model_path = g_model;
  mp.tokenizer_path = g_merges;
  mp.taesd_path = "/nonexistent/sdr-c-test/no_such_taesd.safetensors";
  sdr_error err;
  sdr_model* model = (sdr_model*)&err; /* must be reset to NULL */
  CHECK_CODE(sdr_model_load(&mp, &model, &err), SDR_ERR_MODEL_NOT_FOUND, err);
  CHECK(model == NULL, "out not reset on failure");
  CHECK(strstr(err.message, "loading TAESD") != NULL && strstr(err.message, "no_such_taesd.safetensors") != NULL,
        "message '%s'", err.message);
  mp.taesd_path = g_model; /* a whole SD model is no TAESD decoder */
  CHECK_CODE(sdr_model_load(&mp, &model, &err), SDR_ERR_MODEL_LOAD_FAILED, err);
  CHECK(strstr(err.message, "TAESD") != NULL, "message '%s'", err.message);
}

static sdr_pool* load_pool(const char* taesd) {
  sdr_model_params mp = sdr_model_params_default();
  mp.model_path = g_model;
  mp.tokenizer_path = g_merges;
  mp.taesd_path = taesd;
  sdr_error err;
  sdr_model* model = NULL;
  if (sdr_model_load(&mp, &model, &err) != SDR_OK) {
    fprintf(stderr, "loading %s (TAESD %s): %s\n", g_model, taesd ? taesd : "none", err.message);
    return NULL;
  }
  sdr_pool_params pp = sdr_pool_params_default();
  pp.max_concurrent = 1;
  sdr_pool* pool = NULL;
  if (sdr_pool_create(model, &pp, &pool, &err) != SDR_OK) fprintf(stderr, "pool: %s\n", err.message);
  sdr_model_free(model);
  return pool;
}

int main(void) {
  char dir[] = "/tmp/sdr_c_preview.XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  g_merges = test_merges();
  snprintf(g_model, sizeof(g_model), "%s/tiny.safetensors", dir);
  snprintf(g_taesd, sizeof(g_taesd), "%s/taesd.safetensors", dir);
  int failed = write_fixture("make-test-model", g_model);
  failed = failed || write_fixture("make-test-taesd", g_taesd);
  fixture f = {NULL, NULL};
  if (!failed) {
    f.taesd = load_pool(g_taesd);
    f.plain = load_pool(NULL);
    failed = f.taesd == NULL || f.plain == NULL;
  }
  if (!failed) {
    run_test("preview_defaults", test_defaults, &f);
    run_test("previews_every_n_steps", test_previews_every_n_steps, &f);
    run_test("preview_cancels", test_preview_cancels, &f);
    run_test("taesd_decode", test_taesd_decode, &f);
    run_test("needs_taesd", test_needs_taesd, &f);
    run_test("missing_taesd_file", test_missing_taesd_file, &f);
  }
  sdr_pool_free(f.taesd);
  sdr_pool_free(f.plain);
  unlink(g_model);
  unlink(g_taesd);
  rmdir(dir);
  if (failed) return 1;
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
