#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
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

float *tensor_f32(const st_file *f, const char *name, size_t *n) {
    const st_tensor *t = f ? st_find(f, name) : NULL;
    if (n) *n = 0;
    CHECK(t != NULL, "fixture tensor '%s' missing", name);
    if (!t) return NULL;
    size_t count = (size_t)t->numel;
    float *d = malloc((count ? count : 1) * sizeof(float));
    int64_t *ints =
        t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16 || t->dtype == ST_F64
            ? NULL
            : malloc((count ? count : 1) * sizeof(int64_t));
    ptts_err e = {0};
    int rc = !d ? PTTS_ERR_NOMEM : ints ? st_to_i64(t, ints, &e) : st_to_f32(t, d, &e);
    for (size_t i = 0; !rc && ints && i < count; i++)
        d[i] = (float)ints[i];
    free(ints);
    if (rc) {
        CHECK(0, "reading '%s': %s", name, e.msg);
        free(d);
        return NULL;
    }
    if (n) *n = count;
    return d;
}

void open_fixture_model(const char *dir, int quantize, ptts_model **m, ptts_voice **v) {
    char cfg[512], voice[512], err[512];
    snprintf(cfg, sizeof cfg, "%smodels/%s/config.yaml", fixture(""), dir);
    snprintf(voice, sizeof voice, "%sgolden/%s/voice_state.safetensors", fixture(""), dir);
    ptts_model_options o = ptts_model_default_options();
    o.config_path = cfg;
    o.offline = 1;
    o.quantize = quantize;
    *m = NULL;
    if (v) *v = NULL;
    CHECK(ptts_model_open(m, &o, err, sizeof err) == 0, "%s: %s", dir, err);
    if (*m && v) CHECK(ptts_voice_load(*m, voice, 0, v, err, sizeof err) == 0, "%s: %s", dir, err);
}
