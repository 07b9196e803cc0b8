/* Minimal test harness: CHECK counts and reports; each test binary ends with
 * TEST_END(), which prints "N passed, N failed" and returns non-zero on failure. */
#ifndef PTTS_TEST_H
#define PTTS_TEST_H

#include <stdio.h>

#include "pocket_tts.h"

extern int t_passed, t_failed;
/* Counts a failure and prints "file:line: FAIL: expr: message" to stderr. */
void t_fail_at(const char *file, int line, const char *expr, const char *fmt, ...);

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            t_passed++;                                                                            \
        } else {                                                                                   \
            t_fail_at(__FILE__, __LINE__, #cond, "" __VA_ARGS__);                                  \
        }                                                                                          \
    } while (0)

#define TEST_END()                                                                                 \
    do {                                                                                           \
        printf("%s: %d passed, %d failed\n", __FILE__, t_passed, t_failed);                        \
        return t_failed != 0;                                                                      \
    } while (0)

/* Path of a fixture file: $PTTS_FIXTURES (default tests/fixtures) + "/" + rel.
 * Returns a static buffer valid until the next call. */
const char *fixture(const char *rel);

/* Reads a whole file (NUL-terminated); *len may be NULL. Returns NULL on failure. */
char *read_file(const char *path, size_t *len);

/* The fixture model models/<dir> (offline; int8 weights with quantize) and, when v is not
 * NULL, its golden voice state; a failure is a failed check and leaves NULL. */
void open_fixture_model(const char *dir, int quantize, ptts_model **m, ptts_voice **v);

struct st_file;
/* A fixture tensor as malloc'd f32 (integer dtypes converted), *n its element count; a
 * missing or unreadable tensor is a failed check and gives NULL with *n = 0. */
float *tensor_f32(const struct st_file *f, const char *name, size_t *n);

/* Largest |a[i]-b[i]|; NaN if any value is NaN in one but not the other. */
double max_abs_diff(const float *a, const float *b, size_t n);
/* sqrt(sum (a-b)^2 / sum b^2): relative RMS error of a against reference b. */
double rel_rms(const float *a, const float *b, size_t n);

#endif
