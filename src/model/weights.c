#include "weights.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

enum { NAME_LEN = 256 };

static int format_name(char *name, ptts_err *e, const char *fmt, va_list ap) {
    int n = vsnprintf(name, NAME_LEN, fmt, ap);
    if (n < 0 || n >= NAME_LEN - 8) /* room for ".weight" */
        return err_set(e, PTTS_ERR_INVALID_ARG, "tensor name too long: '%.64s...'", name);
    return PTTS_OK;
}

int wt_vec(const st_file *f, float **out, int n, ptts_err *e, const char *fmt, ...) {
    char name[NAME_LEN];
    va_list ap;
    va_start(ap, fmt);
    int rc = format_name(name, e, fmt, ap);
    va_end(ap);
    if (rc) return rc;
    const int64_t shape[1] = {n};
    return st_load_f32(f, name, 1, shape, out, e);
}

int wt_lin(const st_file *f, lin *L, int out, int in, int flags, ptts_err *e, const char *fmt, ...) {
    char base[NAME_LEN], name[NAME_LEN + 8];
    va_list ap;
    va_start(ap, fmt);
    int rc = format_name(base, e, fmt, ap);
    va_end(ap);
    if (rc) return rc;
    float *w = NULL, *b = NULL;
    const int64_t wshape[2] = {out, in}, bshape[1] = {out};
    snprintf(name, sizeof name, "%s.weight", base);
    rc = st_load_f32(f, name, 2, wshape, &w, e);
    if (!rc && (flags & WT_BIAS)) {
        snprintf(name, sizeof name, "%s.bias", base);
        rc = st_load_f32(f, name, 1, bshape, &b, e);
    }
    if (!rc) rc = (flags & WT_Q8) ? lin_init_q8(L, w, b, out, in, e) : lin_init(L, w, b, out, in, e);
    free(w);
    free(b);
    return rc;
}
