/* Streaming Conv1d / ConvTranspose1d (SPEC 3.5), time-major activations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/conv.h"

/* Loads `<prefix>.<what>` with the given shape as a malloc'd f32 copy. */
static int load_param(const st_file *f, const char *prefix, const char *what, int ndim,
                      const int64_t *shape, float **out, ptts_err *e) {
    char name[256];
    if (snprintf(name, sizeof name, "%s.%s", prefix, what) >= (int)sizeof name)
        return err_set(e, PTTS_ERR_INVALID_ARG, "tensor name '%s.%s' is too long", prefix, what);
    return st_load_f32(f, name, ndim, shape, out, e);
}

int conv1d_load(conv1d *c, const st_file *f, const char *prefix, int in, int out, int k, int stride,
                int dilation, int groups, int bias, int replicate, ptts_err *e) {
    memset(c, 0, sizeof *c);
    if (in <= 0 || out <= 0 || k <= 0 || stride <= 0 || dilation <= 0 || groups <= 0 ||
        in % groups || out % groups)
        return err_set(e, PTTS_ERR_CONFIG,
                       "%s: invalid conv (in %d, out %d, kernel %d, stride %d, dilation %d, "
                       "groups %d)",
                       prefix, in, out, k, stride, dilation, groups);
    int pad = (k - 1) * dilation + 1 - stride;
    if (pad < 0)
        return err_set(e, PTTS_ERR_UNSUPPORTED, "%s: stride %d exceeds the kernel span %d", prefix,
                       stride, (k - 1) * dilation + 1);
    int ig = in / groups, og = out / groups;
    float *w = NULL, *b = NULL, *perm = NULL;
    int rc = load_param(f, prefix, "weight", 3, (const int64_t[]){out, ig, k}, &w, e);
    if (rc == PTTS_OK && bias) rc = load_param(f, prefix, "bias", 1, (const int64_t[]){out}, &b, e);
    if (rc == PTTS_OK) {
        perm = malloc((size_t)og * k * ig * sizeof *perm);
        c->g = calloc((size_t)groups, sizeof *c->g);
        if (!perm || !c->g) rc = err_set(e, PTTS_ERR_NOMEM, "%s: out of memory", prefix);
    }
    c->in = in, c->out = out, c->k = k, c->stride = stride, c->dilation = dilation;
    c->groups = groups, c->replicate = replicate, c->pad = pad;
    for (int g = 0; rc == PTTS_OK && g < groups; g++) {
        /* [o][c][j] -> [o][j][c]: a window of k time-major rows is then one GEMM input row. */
        for (int o = 0; o < og; o++)
            for (int j = 0; j < k; j++)
                for (int i = 0; i < ig; i++)
                    perm[((size_t)o * k + j) * ig + i] = w[(((size_t)g * og + o) * ig + i) * k + j];
        rc = lin_init(&c->g[g], perm, b ? b + (size_t)g * og : NULL, og, k * ig, e);
    }
    free(w);
    free(b);
    free(perm);
    if (rc != PTTS_OK) conv1d_free(c);
    return rc;
}

void conv1d_free(conv1d *c) {
    if (!c) return;
    if (c->g)
        for (int g = 0; g < c->groups; g++)
            lin_free(&c->g[g]);
    free(c->g);
    memset(c, 0, sizeof *c);
}

int convtr1d_load(convtr1d *c, const st_file *f, const char *prefix, int in, int out, int k,
                  int stride, int groups, int bias, ptts_err *e) {
    memset(c, 0, sizeof *c);
    int depthwise = groups > 1 && groups == in && groups == out;
    if (in <= 0 || out <= 0 || k <= 0 || stride <= 0 || k < stride || (groups != 1 && !depthwise))
        return err_set(e, PTTS_ERR_UNSUPPORTED,
                       "%s: unsupported transposed conv (in %d, out %d, kernel %d, stride %d, "
                       "groups %d)",
                       prefix, in, out, k, stride, groups);
    c->in = in, c->out = out, c->k = k, c->stride = stride, c->groups = groups;
    float *w = NULL, *perm = NULL;
    int rc = load_param(f, prefix, "weight", 3, (const int64_t[]){in, out / groups, k}, &w, e);
    if (rc == PTTS_OK && bias)
        rc = load_param(f, prefix, "bias", 1, (const int64_t[]){out}, &c->bias, e);
    if (rc == PTTS_OK && depthwise) {
        /* [c][1][j] -> [j][c] so that the inner loop runs over contiguous channels. */
        c->dw = malloc((size_t)k * in * sizeof *c->dw);
        if (!c->dw) rc = err_set(e, PTTS_ERR_NOMEM, "%s: out of memory", prefix);
        for (int j = 0; rc == PTTS_OK && j < k; j++)
            for (int i = 0; i < in; i++)
                c->dw[(size_t)j * in + i] = w[(size_t)i * k + j];
    } else if (rc == PTTS_OK) {
        /* [c][o][j] -> [j][o][c]: one GEMM gives every tap of every input row. */
        perm = malloc((size_t)k * out * in * sizeof *perm);
        if (!perm) rc = err_set(e, PTTS_ERR_NOMEM, "%s: out of memory", prefix);
        for (int j = 0; rc == PTTS_OK && j < k; j++)
            for (int o = 0; o < out; o++)
                for (int i = 0; i < in; i++)
                    perm[((size_t)j * out + o) * in + i] = w[((size_t)i * out + o) * k + j];
        if (rc == PTTS_OK) rc = lin_init(&c->m, perm, NULL, k * out, in, e);
    }
    free(w);
    free(perm);
    if (rc != PTTS_OK) convtr1d_free(c);
    return rc;
}

void convtr1d_free(convtr1d *c) {
    if (!c) return;
    lin_free(&c->m);
    free(c->dw);
    free(c->bias);
    memset(c, 0, sizeof *c);
}

static int state_init(conv_state *s, int rows, int ch, ptts_err *e) {
    memset(s, 0, sizeof *s);
    s->first = 1, s->rows = rows, s->ch = ch;
    if (rows == 0) return PTTS_OK;
    s->mem = calloc((size_t)rows * ch, sizeof *s->mem);
    if (!s->mem) return err_set(e, PTTS_ERR_NOMEM, "out of memory for a conv state");
    return PTTS_OK;
}

int conv1d_state_init(conv_state *s, const conv1d *c, ptts_err *e) {
    return state_init(s, c->pad, c->in, e);
}

int convtr1d_state_init(conv_state *s, const convtr1d *c, ptts_err *e) {
    return state_init(s, c->k - c->stride, c->out, e);
}

void conv_state_reset(conv_state *s) {
    s->first = 1;
    if (s->mem) memset(s->mem, 0, (size_t)s->rows * s->ch * sizeof *s->mem);
}

void conv_state_free(conv_state *s) {
    if (!s) return;
    free(s->mem);
    memset(s, 0, sizeof *s);
}

/* A conv whose windows are consecutive, non-overlapping runs of input rows (1x1 convs):
 * the input already is the GEMM input. */
static int conv1d_direct(const conv1d *c) {
    return c->groups == 1 && c->pad == 0 && c->k == c->stride;
}

/* A conv whose windows are runs of consecutive rows of the padded signal (no dilation, one
 * group): kept rows and input side by side are the GEMM input, windows `stride` rows apart. */
static int conv1d_contiguous(const conv1d *c) {
    return c->groups == 1 && c->dilation == 1;
}

size_t conv1d_work(const conv1d *c, int T) {
    if (conv1d_direct(c)) return 0;
    if (conv1d_contiguous(c)) return (size_t)(c->pad + T) * c->in;
    size_t to = (size_t)(T / c->stride);
    return to * c->k * (c->in / c->groups) + (c->groups > 1 ? to * (c->out / c->groups) : 0);
}

void conv1d_forward(const conv1d *c, conv_state *s, const float *x, int T, float *y, float *work,
                    tpool *pool) {
    int to = T / c->stride, ig = c->in / c->groups, og = c->out / c->groups, pad = c->pad;
    if (s->first && c->replicate)
        for (int r = 0; r < pad; r++)
            memcpy(s->mem + (size_t)r * c->in, x, c->in * sizeof *x);
    s->first = 0;
    if (conv1d_direct(c)) {
        lin_forward(&c->g[0], x, to, y, pool);
    } else if (conv1d_contiguous(c)) {
        memcpy(work, s->mem, (size_t)pad * c->in * sizeof *x);
        memcpy(work + (size_t)pad * c->in, x, (size_t)T * c->in * sizeof *x);
        lin_forward_ld(&c->g[0], work, (size_t)c->stride * c->in, to, y, pool);
    } else {
        float *col = work, *gy = work + (size_t)to * c->k * ig;
        for (int g = 0; g < c->groups; g++) {
            /* Row r of the padded signal is the kept row r (r < pad) or input row r - pad. */
            for (int t = 0; t < to; t++)
                for (int j = 0; j < c->k; j++) {
                    int r = t * c->stride + j * c->dilation;
                    const float *src =
                        r < pad ? s->mem + (size_t)r * c->in : x + (size_t)(r - pad) * c->in;
                    memcpy(col + ((size_t)t * c->k + j) * ig, src + (size_t)g * ig,
                           ig * sizeof *col);
                }
            lin_forward(&c->g[g], col, to, c->groups == 1 ? y : gy, pool);
            /* A group's outputs are a column slice of y. */
            for (int t = 0; c->groups > 1 && t < to; t++)
                memcpy(y + (size_t)t * c->out + (size_t)g * og, gy + (size_t)t * og,
                       og * sizeof *y);
        }
    }
    if (pad == 0) return;
    size_t row = (size_t)c->in;
    if (T >= pad) {
        memcpy(s->mem, x + (size_t)(T - pad) * row, pad * row * sizeof *x);
    } else {
        memmove(s->mem, s->mem + (size_t)T * row, (size_t)(pad - T) * row * sizeof *x);
        memcpy(s->mem + (size_t)(pad - T) * row, x, (size_t)T * row * sizeof *x);
    }
}

size_t convtr1d_work(const convtr1d *c, int T) {
    return c->groups == 1 ? (size_t)T * c->k * c->out : 0;
}

void convtr1d_forward(const convtr1d *c, conv_state *s, const float *x, int T, float *y,
                      float *work, tpool *pool) {
    int n = T * c->stride, p = c->k - c->stride, ch = c->out;
    size_t row = (size_t)ch;
    /* Output rows [0, n) start from the carried partial; rows [n, n + p) accumulate into
     * the state, which first keeps whatever part of the old partial lies beyond n. */
    int kept = p < n ? p : n;
    if (kept) memcpy(y, s->mem, kept * row * sizeof *y);
    memset(y + kept * row, 0, (size_t)(n - kept) * row * sizeof *y);
    if (p > n) {
        memmove(s->mem, s->mem + n * row, (size_t)(p - n) * row * sizeof *y);
        memset(s->mem + (size_t)(p - n) * row, 0, n * row * sizeof *y);
    } else if (p > 0) {
        memset(s->mem, 0, p * row * sizeof *y);
    }
    if (c->groups == 1) lin_forward(&c->m, x, T, work, pool);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < c->k; j++) {
            int r = t * c->stride + j;
            float *dst = r < n ? y + r * row : s->mem + (size_t)(r - n) * row;
            if (c->groups == 1) {
                k_axpy(dst, 1.0f, work + ((size_t)t * c->k + j) * row, ch);
            } else {
                const float *xt = x + (size_t)t * row, *wj = c->dw + (size_t)j * row;
                for (int i = 0; i < ch; i++)
                    dst[i] += xt[i] * wj[i];
            }
        }
    if (c->bias)
        for (int r = 0; r < n; r++)
            k_axpy(y + r * row, 1.0f, c->bias, ch);
}
