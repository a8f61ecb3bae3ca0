/* The few checks the C API's tests (sdr_c_test.c, sdr_c_preview_test.c) share: CHECK, CHECK_CODE
 * and the pass/fail counters. One test program per translation unit includes it once. */
#ifndef SDR_TESTS_C_CHECK_H_
#define SDR_TESTS_C_CHECK_H_

#include <stdio.h>

#include "sdr/sdr.h"

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
