#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

int t_passed, t_failed;

void t_fail_at(const char *file, int line, const char *expr, const char *fmt, ...) {
    t_failed++;
    fprintf(stderr, "%s:%d: FAIL: %s: ", file, line, expr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

const char *fixture(const char *rel) {
    static char buf[4096];
    const char *root = getenv("PTTS_FIXTURES");
    snprintf(buf, sizeof buf, "%s/%s", root && *root ? root : "tests/fixtures", rel);
    return buf;
}

char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) != isnan(b[i])) return NAN;
        if (isnan(a[i])) continue;
        double d = fabs((double)a[i] - b[i]);
        if (d > m) m = d;
    }
    return m;
}

double rel_rms(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}
