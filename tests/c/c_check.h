/* What the C API's tests (sdr_c_test.c, sdr_c_preview_test.c) share: CHECK, CHECK_CODE, the
 * pass/fail counters, and the fixtures' paths (the sdr program, the CLIP merges) and writer.
 * One test program per translation unit includes it once. */
#ifndef SDR_TESTS_C_CHECK_H_
#define SDR_TESTS_C_CHECK_H_

#include <stdio.h>
#include <stdlib.h>

#include "sdr/sdr.h"

#ifndef SDR_BIN_DIR
#define SDR_BIN_DIR "build/bin"
#endif
#ifndef SDR_SHARED_DIR
#define SDR_SHARED_DIR "../shared"
#endif

/* `name` from the environment, or `fallback` when unset or empty. */
static inline const char* env_or(const char* name, const char* fallback) {
  const char* v = getenv(name);
  return v != NULL && v[0] != '\0' ? v : fallback;
}

/* The CLIP merges: SDR_TEST_MERGES, else the shared copy. */
static inline const char* test_merges(void) {
  return env_or("SDR_TEST_MERGES", SDR_SHARED_DIR "/data/clip-vit-l-14-merges.txt");
}

/* Writes a random fixture with the sdr program (SDR_BIN, else the build's): `sdr SUBCOMMAND OUT`
 * (make-test-model, make-test-taesd). 0 on success; the command is printed on failure. */
static inline int write_fixture(const char* subcommand, const char* out) {
  char cmd[8400];
  snprintf(cmd, sizeof(cmd), "'%s' %s '%s' > /dev/null", env_or("SDR_BIN", SDR_BIN_DIR "/sdr"), subcommand, out);
  if (system(cmd) == 0) return 0;
  fprintf(stderr, "failed: %s\n", cmd);
  return 1;
}

static int g_passed = 0;
static int g_failed = 0;
static int g_current_failed = 0;

/* Fails the current test (and returns from it) when `cond` is false, printing the message. */
#define CHECK(cond, ...)                                                          \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);    \
      fprintf(stderr, __VA_ARGS__);                                               \
      fputc('\n', stderr);                                                        \
      g_current_failed = 1;                                                       \
      return;                                                                     \
    }                                                                             \
  } while (0)

/* CHECK that an sdr call returned `want`, printing the error on mismatch. */
#define CHECK_CODE(call, want, err)                                                              \
  do {                                                                                           \
    sdr_error_code got_ = (call);                                                                \
    CHECK(got_ == (want), "%s returned %s (%s), want %s", #call, sdr_error_code_name(got_),     \
          (err).message, sdr_error_code_name(want));                                            \
  } while (0)

/* Counts the test that just ran (g_current_failed, reset before it) under `name`. */
static void count_test(const char* name) {
  if (g_current_failed) {
    ++g_failed;
    fprintf(stderr, "[FAILED] %s\n", name);
  } else {
    ++g_passed;
    printf("[ok] %s\n", name);
  }
  g_current_failed = 0;
}

#endif /* SDR_TESTS_C_CHECK_H_ */
