/* Kernel dispatch, prepared weights and the loops around the tiles: cache blocking of
 * the f32 product, int8 quantization of x, and the split of a product over a pool. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_ops.h"
#include "tpool.h"

/* ---- choosing the instruction set ---- */

static const k_ops *available(k_path p) {
    switch (p) {
    case K_GENERIC: return &k_ops_generic;
#if defined(__x86_64__) || defined(__i386__)
    case K_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &k_ops_avx2 : NULL;
    case K_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")
                   ? &k_ops_avx512
                   : NULL;
#endif
#ifdef __aarch64__
    case K_NEON: return &k_ops_neon;
#endif
    default: return NULL;
    }
}

/* Chosen once per process (pthread_once), never changed afterwards. */
static pthread_once_t auto_once = PTHREAD_ONCE_INIT;
static const k_ops *auto_ops;

static void choose_auto(void) {
    static const k_path best_first[] = {K_AVX512, K_AVX2, K_NEON, K_GENERIC};
    const char *want = getenv("PTTS_KERNELS");
    for (size_t i = 0; want && i < sizeof best_first / sizeof *best_first; i++) {
        const k_ops *o = available(best_first[i]);
        if (o && !strcmp(o->name, want)) auto_ops = o;
    }
    for (size_t i = 0; !auto_ops; i++)
        auto_ops = available(best_first[i]);
}

const k_ops *k_ops_get(k_path p) {
    if (p != K_AUTO) return available(p);
    pthread_once(&auto_once, choose_auto);
    return auto_ops;
}

/* ---- preparing weights ---- */

static int panels(int out) {
    return (out + K_PANEL - 1) / K_PANEL;
}

static void *alloc_aligned(size_t n) { /* 64 bytes: one cache line, one AVX-512 vector */
    void *p = NULL;
    return posix_memalign(&p, 64, n ? n : 1) == 0 ? p : NULL;
}

static int lin_alloc(lin *L, const float *b, int out, int in, size_t wbytes, ptts_err *e) {
    memset(L, 0, sizeof *L);
    if (out <= 0 || in <= 0)
        return err_set(e, PTTS_ERR_INVALID_ARG, "linear layer of %dx%d: sizes must be positive",
                       out, in);
    L->in = in;
    L->out = out;
    L->ops = k_ops_get(K_AUTO);
    void *w = alloc_aligned(wbytes);
    if (w && b && (L->b = malloc((size_t)out * sizeof(float))))
        memcpy(L->b, b, (size_t)out * sizeof(float));
    if (!w || (b && !L->b)) {
        free(w);
        lin_free(L);
        return err_set(e, PTTS_ERR_NOMEM, "out of memory for a %dx%d linear layer", out, in);
    }
    memset(w, 0, wbytes); /* padding rows and ks read as zero */
    L->w = w;
    return PTTS_OK;
}

int lin_init(lin *L, const float *w, const float *b, int out, int in, ptts_err *e) {
    const size_t ps = (size_t)in * K_PANEL;
    int rc = lin_alloc(L, b, out, in, (size_t)panels(out) * ps * sizeof(float), e);
    if (rc != PTTS_OK) return rc;
    for (int o = 0; o < out; o++) {
        float *dst = L->w + (size_t)(o / K_PANEL) * ps + o % K_PANEL;
        const float *src = w + (size_t)o * in;
        for (int k = 0; k < in; k++)
            dst[(size_t)k * K_PANEL] = src[k];
    }
    return PTTS_OK;
}

static int n_chunks(int in) {
    return (in + K_Q8_CHUNK - 1) / K_Q8_CHUNK;
}

int lin_init_q8(lin *L, const float *w, const float *b, int out, int in, ptts_err *e) {
    const int np = panels(out), in4 = (in + 3) / 4 * 4;
    const size_t ps = (size_t)in4 * K_PANEL, rows = (size_t)np * K_PANEL;
    int rc = lin_alloc(L, b, out, in, (size_t)np * ps, e);
    if (rc != PTTS_OK) return rc;
    L->q = (int8_t *)L->w; /* lin_alloc's buffer holds the int8 panels */
    L->w = NULL;
    L->scale = calloc(rows, sizeof *L->scale);
    L->qsum = calloc((size_t)n_chunks(in) * rows, sizeof *L->qsum);
    if (!L->scale || !L->qsum) {
        lin_free(L);
        return err_set(e, PTTS_ERR_NOMEM, "out of memory for a %dx%d int8 linear layer", out, in);
    }
    for (int o = 0; o < out; o++) {
        const float *src = w + (size_t)o * in;
        float amax = 0;
        for (int k = 0; k < in; k++)
            amax = fmaxf(amax, fabsf(src[k]));
        L->scale[o] = amax / 127;
        if (amax == 0) continue; /* zero row: q and qsum stay 0 */
        const float inv = 127 / amax;
        int8_t *dst = L->q + (size_t)(o / K_PANEL) * ps + (o % K_PANEL) * 4;
        int32_t *qsum = L->qsum + o;
        for (int k = 0; k < in; k++) {
            const int q = (int)lrintf(src[k] * inv);
            dst[(size_t)(k / 4) * 4 * K_PANEL + k % 4] = (int8_t)q;
            qsum[(size_t)(k / K_Q8_CHUNK) * rows] += 128 * q;
        }
    }
    return PTTS_OK;
}

void lin_free(lin *L) {
    if (!L) return;
    free(L->w);
    free(L->b);
    free(L->q);
    free(L->scale);
    free(L->qsum);
    memset(L, 0, sizeof *L);
}

/* ---- forward ---- */

/* Adds a tile c (rows t.., panels p.., row stride np*K_PANEL) into y; the first k block
 * starts from the bias. */
static void put_tile(const lin *L, float *y, const float *c, int t, int mr, int p, int np,
                     int first) {
    const int o0 = p * K_PANEL, o1 = (p + np) * K_PANEL < L->out ? (p + np) * K_PANEL : L->out;
    for (int r = 0; r < mr; r++) {
        float *yr = y + (size_t)(t + r) * L->out;
        const float *cr = c + (size_t)r * np * K_PANEL - o0;
        for (int o = o0; o < o1; o++)
            yr[o] = (first ? (L->b ? L->b[o] : 0.0f) : yr[o]) + cr[o];
    }
}

static int imin(int a, int b) {
    return a < b ? a : b;
}

static const float k_zeros[K_NP_MAX * K_PANEL];

/* Rows [t0, t1) by panels [p0, p1) of the f32 product. For one row the whole k range is
 * one pass (W streamed once); otherwise k blocks keep a block of W panels in cache while
 * it is applied to every tile of rows. Tiles of whole panels accumulate in y itself (the
 * first k block starting from the bias); only a last, partial panel goes through c. */
static void f32_block(const lin *L, const float *x, size_t ldx, float *y, int t0, int t1, int p0,
                      int p1) {
    const k_ops *ops = L->ops;
    const size_t ps = (size_t)L->in * K_PANEL;
    const int kc = t1 - t0 > 1 ? ops->kc : L->in;
    float c[K_MR_MAX * K_NP_MAX * K_PANEL];
    for (int k0 = 0; k0 < L->in; k0 += kc) {
        const int kn = imin(kc, L->in - k0);
        for (int p = p0; p < p1; p += ops->np) {
            const int np = imin(ops->np, p1 - p);
            const int whole = (p + np) * K_PANEL <= L->out;
            const float *init = k0 ? NULL : L->b ? L->b + p * K_PANEL : k_zeros;
            for (int t = t0; t < t1; t += ops->mr) {
                const int mr = imin(ops->mr, t1 - t);
                const float *xt = x + (size_t)t * ldx + k0,
                            *w = L->w + p * ps + (size_t)k0 * K_PANEL;
                if (whole) {
                    ops->f32_tile(xt, ldx, mr, w, ps, kn, np, y + (size_t)t * L->out + p * K_PANEL,
                                  (size_t)L->out, init);
                } else {
                    ops->f32_tile(xt, ldx, mr, w, ps, kn, np, c, (size_t)np * K_PANEL, k_zeros);
                    put_tile(L, y, c, t, mr, p, np, k0 == 0);
                }
            }
        }
    }
}

/* Rows [t0, t1) by panels [p0, p1) of the int8 product: each row of x is scaled by
 * 127 / max|x| and rounded to int8 (a block of rows by a span of k at a time), and
 * y += scale_x * scale_w * (exact int32 dot product), one k chunk at a time. */
static void q8_block(const lin *L, const float *x, size_t ldx, float *y, int t0, int t1, int p0,
                     int p1) {
    const k_ops *ops = L->ops;
    const int in = L->in;
    const size_t ps = (size_t)(in + 3) / 4 * 4 * K_PANEL, rows = (size_t)panels(L->out) * K_PANEL;
    int8_t xq[K_Q8_ROWS * K_Q8_CHUNK];
    float sx[K_Q8_ROWS];
    int32_t c[K_MR_MAX * K_NP_MAX * K_PANEL];
    float cf[K_MR_MAX * K_NP_MAX * K_PANEL];
    for (int tb = t0; tb < t1; tb += K_Q8_ROWS) {
        const int nb = imin(K_Q8_ROWS, t1 - tb);
        const int span = K_Q8_ROWS / nb * K_Q8_CHUNK; /* k per row in xq */
        for (int r = 0; r < nb; r++)
            sx[r] = ops->absmax(x + (size_t)(tb + r) * ldx, in) / 127;
        for (int s0 = 0; s0 < in; s0 += span) {
            const int sn = imin(span, in - s0);
            for (int r = 0; r < nb; r++) {
                int8_t *q = xq + (size_t)r * span;
                ops->quant(x + (size_t)(tb + r) * ldx + s0, sn, sx[r] > 0 ? 1 / sx[r] : 0, q);
                memset(q + sn, 0, (size_t)((sn + 3) / 4 * 4 - sn));
            }
            for (int p = p0; p < p1; p += ops->np) {
                const int np = imin(ops->np, p1 - p);
                for (int t = 0; t < nb; t += ops->mr) {
                    const int mr = imin(ops->mr, nb - t);
                    for (int k0 = s0; k0 < s0 + sn; k0 += K_Q8_CHUNK) {
                        const int nk4 = (imin(K_Q8_CHUNK, in - k0) + 3) / 4;
                        const int32_t *qsum = L->qsum + (size_t)(k0 / K_Q8_CHUNK) * rows;
                        ops->q8_tile(xq + (size_t)t * span + (k0 - s0), (size_t)span, mr,
                                     L->q + p * ps + (size_t)k0 * K_PANEL, ps, nk4, np,
                                     qsum + (size_t)p * K_PANEL, c);
                        for (int r = 0; r < mr; r++)
                            for (int j = 0; j < np * K_PANEL; j++) {
                                const int i = r * np * K_PANEL + j;
                                cf[i] = (float)c[i] * (sx[t + r] * L->scale[p * K_PANEL + j]);
                            }
                        put_tile(L, y, cf, tb + t, mr, p, np, k0 == 0);
                    }
                }
            }
        }
    }
}

/* One task of a split product: a range of panel groups, or of row tiles when there are
 * too few panels to share. */
typedef struct lin_job {
    const lin *L;
    const float *x;
    size_t ldx;
    float *y;
    int T, n_tasks, by_rows;
} lin_job;

static void lin_task(void *ctx, int i) {
    const lin_job *j = ctx;
    const lin *L = j->L;
    const int unit = j->by_rows ? L->ops->mr : L->ops->np;
    const int len = j->by_rows ? j->T : panels(L->out);
    const int units = (len + unit - 1) / unit;
    const int a = imin(len, (int)((long long)units * i / j->n_tasks) * unit);
    const int b = imin(len, (int)((long long)units * (i + 1) / j->n_tasks) * unit);
    const int t0 = j->by_rows ? a : 0, t1 = j->by_rows ? b : j->T;
    const int p0 = j->by_rows ? 0 : a, p1 = j->by_rows ? panels(L->out) : b;
    if (a < b) (L->q ? q8_block : f32_block)(L, j->x, j->ldx, j->y, t0, t1, p0, p1);
}

void lin_forward(const lin *L, const float *x, int T, float *y, tpool *pool) {
    lin_forward_ld(L, x, (size_t)L->in, T, y, pool);
}

void lin_forward_ld(const lin *L, const float *x, size_t ldx, int T, float *y, tpool *pool) {
    if (T <= 0) return;
    const int n = tpool_size(pool);
    const int row_units = (T + L->ops->mr - 1) / L->ops->mr;
    const int panel_units = (panels(L->out) + L->ops->np - 1) / L->ops->np;
    /* Two tasks per thread, so that a thread slowed by the OS holds up little. */
    lin_job j = {.L = L, .x = x, .ldx = ldx, .y = y, .T = T, .n_tasks = 2 * n};
    j.by_rows = panel_units < j.n_tasks && row_units > panel_units;
    j.n_tasks = imin(j.n_tasks, j.by_rows ? row_units : panel_units);
    /* Below ~64k multiply-adds, waking the pool costs more than it saves. */
    if (n == 1 || (double)T * L->in * L->out < 65536) j.n_tasks = 1;
    if (j.n_tasks == 1)
        lin_task(&j, 0);
    else
        tpool_run(pool, lin_task, &j, j.n_tasks);
}

/* ---- small products with a list of rows ---- */

size_t k_gemm_pack_floats(int n, int k) {
    return (size_t)panels(n) * K_PANEL * (size_t)(k > 0 ? k : 0);
}

/* c = a x (the panels in pack, k deep) for m rows and n columns. */
static void gemm_packed(const float *a, size_t lda, const float *pack, int m, int n, int k,
                        float *c, size_t ldc) {
    const k_ops *ops = k_ops_get(K_AUTO);
    const size_t ps = (size_t)k * K_PANEL;
    float tmp[K_MR_MAX * K_NP_MAX * K_PANEL];
    for (int p = 0; p < panels(n); p += ops->np) {
        const int np = imin(ops->np, panels(n) - p), cols = imin(np * K_PANEL, n - p * K_PANEL);
        for (int i = 0; i < m; i += ops->mr) {
            const int mr = imin(ops->mr, m - i);
            if (cols == np * K_PANEL) {
                ops->f32_tile(a + (size_t)i * lda, lda, mr, pack + p * ps, ps, k, np,
                              c + (size_t)i * ldc + p * K_PANEL, ldc, k_zeros);
                continue;
            }
            ops->f32_tile(a + (size_t)i * lda, lda, mr, pack + p * ps, ps, k, np, tmp,
                          (size_t)np * K_PANEL, k_zeros);
            for (int r = 0; r < mr; r++)
                memcpy(c + (size_t)(i + r) * ldc + p * K_PANEL, tmp + (size_t)r * np * K_PANEL,
                       (size_t)cols * sizeof *c);
        }
    }
}

void k_gemm_rows_t(const float *a, size_t lda, const float *const *b, int m, int n, int k, float *c,
                   size_t ldc, float *pack) {
    if (m <= 0 || n <= 0 || k <= 0) return;
    if (m == 1) { /* one query: packing would cost as much as the dot products */
        const k_ops *ops = k_ops_get(K_AUTO);
        for (int j = 0; j < n; j++)
            c[j] = ops->dot(a, b[j], k);
        return;
    }
    const size_t ps = (size_t)k * K_PANEL;
    for (int p = 0; p < panels(n); p++) {
        float *dst = pack + p * ps;
        for (int j = 0; j < K_PANEL; j++) {
            const float *src = p * K_PANEL + j < n ? b[p * K_PANEL + j] : NULL;
            for (int l = 0; l < k; l++)
                dst[(size_t)l * K_PANEL + j] = src ? src[l] : 0.0f;
        }
    }
    gemm_packed(a, lda, pack, m, n, k, c, ldc);
}

void k_gemm_rows(const float *a, size_t lda, const float *const *b, int m, int n, int k, float *c,
                 size_t ldc, float *pack) {
    if (m <= 0 || n <= 0 || k <= 0) return;
    const size_t ps = (size_t)k * K_PANEL;
    for (int p = 0; p < panels(n); p++) {
        const int cols = imin(K_PANEL, n - p * K_PANEL);
        float *dst = pack + p * ps;
        for (int l = 0; l < k; l++) {
            memcpy(dst + (size_t)l * K_PANEL, b[l] + p * K_PANEL, (size_t)cols * sizeof *dst);
            memset(dst + (size_t)l * K_PANEL + cols, 0, (size_t)(K_PANEL - cols) * sizeof *dst);
        }
    }
    gemm_packed(a, lda, pack, m, n, k, c, ldc);
}

/* ---- row-wise kernels ---- */

void k_layernorm(const float *x, float *y, int n, const float *w, const float *b, float eps) {
    k_ops_get(K_AUTO)->layernorm(x, y, n, w, b, eps);
}

void k_gelu(float *x, size_t n) {
    k_ops_get(K_AUTO)->gelu(x, n);
}

void k_silu(float *x, size_t n) {
    k_ops_get(K_AUTO)->silu(x, n);
}

void k_elu(float *x, size_t n) {
    k_ops_get(K_AUTO)->elu(x, n);
}

void k_softmax(float *x, int n) {
    k_ops_get(K_AUTO)->softmax(x, n);
}

float k_dot(const float *a, const float *b, int n) {
    return k_ops_get(K_AUTO)->dot(a, b, n);
}

void k_axpy(float *y, float a, const float *x, int n) {
    k_ops_get(K_AUTO)->axpy(y, a, x, n);
}
