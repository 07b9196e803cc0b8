/* Kernels on every instruction set this CPU runs (generic, avx2, avx512, neon): linear
 * layers against a double-precision reference on awkward sizes, with and without bias and
 * a pool; int8 layers against their own exact arithmetic and against f32; row-wise
 * kernels against libm. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels_ops.h"
#include "kernels/tpool.h"
#include "test.h"

/* Bounds, about ten times the worst error seen on any path. f32 products: error over
 * sum |w x| + |b| (the condition of the sum). */
#define TOL_F32      2e-6
#define TOL_Q8_EXACT 1e-6 /* int8 result against its own arithmetic in double */
#define TOL_Q8_RMS   2e-2 /* int8 against f32, relative RMS on uniform random data */

static uint64_t rng_state = 88172645463325252ull;

static float frand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2 - 1);
}

static float *rand_vec(size_t n, float scale) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = frand() * scale;
    return v;
}

static const k_ops *paths[4];
static int n_paths;

/* ---- linear layers ---- */

/* y = W x + b in double, and the condition sum |W x| + |b| of each output. */
static void ref_lin(const float *w, const float *b, int out, int in, const float *x, int T,
                    double *y, double *cond) {
    for (int t = 0; t < T; t++)
        for (int o = 0; o < out; o++) {
            double s = b ? b[o] : 0, a = b ? fabs(b[o]) : 0;
            for (int k = 0; k < in; k++) {
                double p = (double)w[(size_t)o * in + k] * x[(size_t)t * in + k];
                s += p;
                a += fabs(p);
            }
            y[(size_t)t * out + o] = s;
            cond[(size_t)t * out + o] = a;
        }
}

/* The int8 arithmetic of lin_init_q8 / lin_forward, evaluated exactly. */
static void ref_q8(const float *w, const float *b, int out, int in, const float *x, int T,
                   double *y, double *cond) {
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * in;
        float ax = 0;
        for (int k = 0; k < in; k++)
            ax = fmaxf(ax, fabsf(xt[k]));
        const float sx = ax / 127, ix = sx > 0 ? 1 / sx : 0;
        for (int o = 0; o < out; o++) {
            const float *wo = w + (size_t)o * in;
            float aw = 0;
            for (int k = 0; k < in; k++)
                aw = fmaxf(aw, fabsf(wo[k]));
            const float iw = aw > 0 ? 127 / aw : 0;
            long long s = 0, a = 0;
            for (int k = 0; k < in; k++) {
                long long p = lrintf(wo[k] * iw) * lrintf(xt[k] * ix);
                s += p;
                a += llabs(p);
            }
            const double sc = (double)sx * (aw / 127);
            y[(size_t)t * out + o] = s * sc + (b ? b[o] : 0);
            cond[(size_t)t * out + o] = a * sc + (b ? fabs(b[o]) : 0);
        }
    }
}

/* Largest |y - ref| / cond. */
static double worst(const float *y, const double *ref, const double *cond, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(y[i] - ref[i]) / (cond[i] > 0 ? cond[i] : 1);
        if (!(d <= m)) m = d; /* NaN sticks */
    }
    return m;
}

static void test_lin(tpool *pool) {
    static const int sizes[][2] = {{1, 1},      {3, 7},     {17, 33}, {64, 1024},
                                   {1000, 513}, {24, 4099}, {130, 70}};
    static const int Ts[] = {1, 2, 5, 16, 33};
    double worst_f32 = 0, worst_q8 = 0, rms_q8 = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        const int out = sizes[si][0], in = sizes[si][1], Tmax = 33;
        float *w = rand_vec((size_t)out * in, 0.5f), *b = rand_vec((size_t)out, 1.0f);
        float *x = rand_vec((size_t)Tmax * in, 2.0f);
        float *y = malloc((size_t)Tmax * out * sizeof *y),
              *y0 = malloc((size_t)Tmax * out * sizeof *y0);
        float *yf = malloc((size_t)Tmax * out * sizeof *yf);
        double *ref = malloc((size_t)Tmax * out * sizeof *ref);
        double *cond = malloc((size_t)Tmax * out * sizeof *cond);
        if (!w || !b || !x || !y || !y0 || !yf || !ref || !cond) {
            CHECK(0, "out of memory");
            return;
        }
        for (int bias = 0; bias < 2; bias++) {
            lin Lf = {0}, Lq = {0};
            ptts_err e = {0};
            const int ok = lin_init(&Lf, w, bias ? b : NULL, out, in, &e) == PTTS_OK &&
                           lin_init_q8(&Lq, w, bias ? b : NULL, out, in, &e) == PTTS_OK;
            CHECK(ok, "%s", e.msg);
            for (size_t ti = 0; ok && ti < sizeof Ts / sizeof *Ts; ti++) {
                const int T = Ts[ti];
                const size_t ny = (size_t)T * out;
                ref_lin(w, bias ? b : NULL, out, in, x, T, ref, cond);
                for (int pi = 0; pi < n_paths; pi++) {
                    Lf.ops = paths[pi];
                    for (int use_pool = 0; use_pool < 2; use_pool++) {
                        lin_forward(&Lf, x, T, y, use_pool ? pool : NULL);
                        double d = worst(y, ref, cond, ny);
                        worst_f32 = d > worst_f32 ? d : worst_f32;
                        CHECK(d <= TOL_F32, "%s f32 %dx%d T=%d bias=%d pool=%d: error %.3g",
                              paths[pi]->name, out, in, T, bias, use_pool, d);
                        if (use_pool)
                            CHECK(max_abs_diff(y, y0, ny) == 0, "%s f32 %dx%d T=%d: pool differs",
                                  paths[pi]->name, out, in, T);
                        memcpy(y0, y, ny * sizeof *y);
                    }
                    if (pi == 0) memcpy(yf, y, ny * sizeof *y);
                }
                ref_q8(w, bias ? b : NULL, out, in, x, T, ref, cond);
                for (int pi = 0; pi < n_paths; pi++) {
                    Lq.ops = paths[pi];
                    for (int use_pool = 0; use_pool < 2; use_pool++) {
                        lin_forward(&Lq, x, T, y, use_pool ? pool : NULL);
                        double d = worst(y, ref, cond, ny);
                        worst_q8 = d > worst_q8 ? d : worst_q8;
                        CHECK(d <= TOL_Q8_EXACT, "%s q8 %dx%d T=%d bias=%d pool=%d: error %.3g",
                              paths[pi]->name, out, in, T, bias, use_pool, d);
                        if (use_pool || pi > 0) /* integer sums: every path, bit for bit */
                            CHECK(max_abs_diff(y, y0, ny) == 0, "%s q8 %dx%d T=%d: differs",
                                  paths[pi]->name, out, in, T);
                        memcpy(y0, y, ny * sizeof *y);
                    }
                }
                if (in >= 64 && !bias) {
                    double r = rel_rms(y, yf, ny);
                    rms_q8 = r > rms_q8 ? r : rms_q8;
                    CHECK(r <= TOL_Q8_RMS, "q8 %dx%d T=%d: relative RMS %.3g against f32", out, in,
                          T, r);
                }
            }
            lin_free(&Lf);
            lin_free(&Lq);
        }
        free(w), free(b), free(x), free(y), free(y0), free(yf), free(ref), free(cond);
    }
    printf("lin: worst f32 error %.3g (of sum |wx|), int8 %.3g of its exact value, int8 "
           "relative RMS against f32 %.3g\n",
           worst_f32, worst_q8, rms_q8);
}

static float gauss(void) { /* Irwin-Hall: sum of 12 uniforms, variance 1 */
    float s = 0;
    for (int i = 0; i < 12; i++)
        s += frand() * 0.5f + 0.5f;
    return s - 6;
}

/* int8 against f32 on Gaussian weights and activations (heavier tails than uniform: the
 * row maxima that set the scales sit further out), at a FlowLM size. */
static void test_q8_gauss(void) {
    const int out = 1024, in = 1024, T = 4;
    float *w = malloc((size_t)out * in * sizeof *w), *x = malloc((size_t)T * in * sizeof *x);
    float *yf = malloc((size_t)T * out * sizeof *yf), *yq = malloc((size_t)T * out * sizeof *yq);
    lin Lf, Lq;
    ptts_err e = {0};
    if (!w || !x || !yf || !yq) {
        CHECK(0, "out of memory");
        return;
    }
    for (size_t i = 0; i < (size_t)out * in; i++)
        w[i] = gauss() * 0.03f;
    for (size_t i = 0; i < (size_t)T * in; i++)
        x[i] = gauss();
    if (lin_init(&Lf, w, NULL, out, in, &e) != PTTS_OK ||
        lin_init_q8(&Lq, w, NULL, out, in, &e) != PTTS_OK) {
        CHECK(0, "%s", e.msg);
        return;
    }
    lin_forward(&Lf, x, T, yf, NULL);
    lin_forward(&Lq, x, T, yq, NULL);
    double r = rel_rms(yq, yf, (size_t)T * out);
    CHECK(r <= TOL_Q8_RMS, "q8 on Gaussian data: relative RMS %.3g", r);
    printf("int8 relative RMS against f32, Gaussian %dx%d: %.3g\n", out, in, r);
    lin_free(&Lf);
    lin_free(&Lq);
    free(w), free(x), free(yf), free(yq);
}

static void test_lin_errors(void) {
    lin L;
    ptts_err e = {0};
    CHECK(lin_init(&L, NULL, NULL, 0, 4, &e) == PTTS_ERR_INVALID_ARG);
    CHECK(strstr(e.msg, "0x4") != NULL, "%s", e.msg);
    CHECK(lin_init_q8(&L, NULL, NULL, 3, -1, &e) == PTTS_ERR_INVALID_ARG);
    lin_free(&L); /* zeroed by the failed init */
    lin_free(NULL);
    /* an all-zero row and an all-zero x quantize to zero scales, not NaN */
    const float w[6] = {0, 0, 0, 1, -2, 3}, b[2] = {0.5f, -1}, x[3] = {0, 0, 0};
    float y[2];
    CHECK(lin_init_q8(&L, w, b, 2, 3, &e) == PTTS_OK);
    lin_forward(&L, x, 1, y, NULL);
    CHECK(y[0] == 0.5f && y[1] == -1, "%g %g", y[0], y[1]);
    lin_forward(&L, x, 0, y, NULL);
    lin_free(&L);
}

/* ---- row-wise kernels ---- */

static double gelu_ref(double x) {
    return 0.5 * x * (1 + erf(x / sqrt(2)));
}

/* Elementwise maps on a grid of [-lim, lim] plus edge values; bound rtol |ref| + atol(x). */
static void test_map(const k_ops *o, const char *name, void (*f)(float *, size_t),
                     double (*ref)(double), double rtol, double xtol) {
    enum { N = 24011 };
    static float x[N + 8], y[N + 8];
    const float lim = 30;
    for (int i = 0; i < N; i++)
        x[i] = -lim + 2 * lim * i / (N - 1);
    const float edges[8] = {0, -0.0f, 1e-30f, -1e-30f, 1e-7f, -1e-7f, -100, 100};
    memcpy(x + N, edges, sizeof edges);
    memcpy(y, x, sizeof x);
    f(y, N + 8);
    double worst_r = 0;
    int bad = -1;
    for (int i = 0; i < N + 8; i++) {
        double r = ref(x[i]), d = fabs(y[i] - r);
        double bound = rtol * fabs(r) + xtol * fabs(x[i]) + 1e-37;
        if (!(d <= bound) && bad < 0) bad = i;
        if (d / bound > worst_r) worst_r = d / bound;
    }
    CHECK(bad < 0, "%s %s(%.9g) = %.9g, want %.9g", o->name, name, bad < 0 ? 0 : x[bad],
          bad < 0 ? 0 : y[bad], bad < 0 ? 0 : ref(x[bad]));
    /* every length hits the vector tails */
    for (size_t n = 0; n < 40; n++) {
        float a[40], c[40];
        for (size_t i = 0; i < n; i++)
            a[i] = c[i] = frand() * 4;
        f(a, n);
        int ok = 1;
        for (size_t i = 0; i < n; i++)
            ok &= fabs(a[i] - ref(c[i])) <= rtol * fabs(ref(c[i])) + xtol * fabs(c[i]) + 1e-37;
        CHECK(ok, "%s %s length %zu", o->name, name, n);
    }
    printf("%s %s: worst error %.2f of the bound\n", o->name, name, worst_r);
}

static double silu_ref(double x) {
    return x / (1 + exp(-x));
}

static double elu_ref(double x) {
    return x > 0 ? x : expm1(x);
}

static void test_rows(const k_ops *o) {
    /* gelu: erf is good to ~1.3e-7 relative, 1.8e-7 absolute near 1 (times x/2) */
    test_map(o, "gelu", o->gelu, gelu_ref, 4e-7, 1.5e-7);
    test_map(o, "silu", o->silu, silu_ref, 4e-7, 0);
    test_map(o, "elu", o->elu, elu_ref, 4e-7, 0);

    static const int ns[] = {1, 3, 7, 16, 33, 64, 1000, 1024, 4099};
    for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
        const int n = ns[ni];
        float *x = rand_vec((size_t)n, 3), *y = malloc((size_t)n * sizeof *y);
        float *w = rand_vec((size_t)n, 2), *b = rand_vec((size_t)n, 1);
        if (!x || !y || !w || !b) {
            CHECK(0, "out of memory");
            return;
        }
        for (int i = 0; i < n; i++)
            x[i] += 5; /* an offset, as activations have */
        /* layernorm, with and without affine */
        double mean = 0, var = 0;
        for (int i = 0; i < n; i++)
            mean += x[i];
        mean /= n;
        for (int i = 0; i < n; i++)
            var += (x[i] - mean) * (x[i] - mean);
        var /= n;
        for (int aff = 0; aff < 2; aff++) {
            o->layernorm(x, y, n, aff ? w : NULL, aff ? b : NULL, 1e-5f);
            double m = 0;
            for (int i = 0; i < n; i++) {
                double v = (x[i] - mean) / sqrt(var + 1e-5);
                double r = aff ? v * w[i] + b[i] : v;
                double bound = 2e-6 * (fabs(v * (aff ? w[i] : 1)) + (aff ? fabs(b[i]) : 0)) + 1e-6;
                if (fabs(y[i] - r) / bound > m) m = fabs(y[i] - r) / bound;
            }
            CHECK(m <= 1, "%s layernorm n=%d affine=%d: %.3g of the bound", o->name, n, aff, m);
        }
        /* softmax, with a masked (-inf) entry when n > 1 */
        memcpy(y, x, (size_t)n * sizeof *y);
        if (n > 1) y[n / 2] = -INFINITY;
        double mx = -INFINITY, s = 0, m = 0;
        for (int i = 0; i < n; i++)
            mx = y[i] > mx ? y[i] : mx;
        for (int i = 0; i < n; i++)
            s += exp((double)y[i] - mx);
        float *z = malloc((size_t)n * sizeof *z);
        if (!z) return;
        memcpy(z, y, (size_t)n * sizeof *z);
        o->softmax(z, n);
        for (int i = 0; i < n; i++) {
            double r = exp((double)y[i] - mx) / s, d = fabs(z[i] - r) / (r + 1e-30);
            m = d > m ? d : m;
        }
        CHECK(m <= 1e-6, "%s softmax n=%d: relative error %.3g", o->name, n, m);
        if (n > 1) CHECK(z[n / 2] == 0, "%s softmax: masked entry %g", o->name, z[n / 2]);
        free(z);
        /* dot and axpy */
        double d = 0, a = 0;
        for (int i = 0; i < n; i++) {
            d += (double)x[i] * w[i];
            a += fabs((double)x[i] * w[i]);
        }
        float got = o->dot(x, w, n);
        CHECK(fabs(got - d) <= 1e-6 * a, "%s dot n=%d: %.9g want %.9g", o->name, n, got, d);
        memcpy(y, b, (size_t)n * sizeof *y);
        o->axpy(y, -1.5f, x, n);
        m = 0;
        for (int i = 0; i < n; i++) {
            double r = b[i] - 1.5 * x[i];
            double e = fabs(y[i] - r) / (fabs(b[i]) + fabs(1.5 * x[i]));
            m = e > m ? e : m;
        }
        CHECK(m <= 1.2e-7, "%s axpy n=%d: %.3g", o->name, n, m);
        free(x), free(y), free(w), free(b);
    }
    CHECK(o->dot(NULL, NULL, 0) == 0);
}

/* lin_forward_ld over overlapping rows (a conv's windows) matches lin_forward over the
 * rows copied out, exactly, for f32 and int8 weights, with and without a pool. */
static void test_lin_ld(tpool *pool) {
    const int ch = 24, k = 5, stride = 2, T = 13, in = k * ch, out = 40;
    const size_t ldx = (size_t)stride * ch;
    float *w = rand_vec((size_t)out * in, 0.5f), *b = rand_vec(out, 1.0f);
    float *sig = rand_vec((size_t)(T - 1) * ldx + in, 1.0f), *col = malloc((size_t)T * in * 4);
    float *y0 = malloc((size_t)T * out * 4), *y1 = malloc((size_t)T * out * 4);
    if (!w || !b || !sig || !col || !y0 || !y1) {
        CHECK(0, "out of memory");
        return;
    }
    for (int t = 0; t < T; t++)
        memcpy(col + (size_t)t * in, sig + t * ldx, (size_t)in * sizeof *col);
    for (int q8 = 0; q8 < 2; q8++) {
        lin L = {0};
        ptts_err e = {0};
        int ok = (q8 ? lin_init_q8 : lin_init)(&L, w, b, out, in, &e) == PTTS_OK;
        CHECK(ok, "%s", e.msg);
        for (int use_pool = 0; ok && use_pool < 2; use_pool++) {
            lin_forward(&L, col, T, y0, NULL);
            lin_forward_ld(&L, sig, ldx, T, y1, use_pool ? pool : NULL);
            CHECK(!memcmp(y0, y1, (size_t)T * out * sizeof *y0), "lin_forward_ld q8=%d pool=%d", q8,
                  use_pool);
        }
        lin_free(&L);
    }
    free(w), free(b), free(sig), free(col), free(y0), free(y1);
}

/* k_gemm_rows_t / k_gemm_rows on the chosen path (run with PTTS_KERNELS for the others)
 * against double sums: row lists in scrambled order, sizes around the tile edges, the
 * attention's shapes (16 queries x 265 keys x 64). */
static void test_gemm_rows(void) {
    static const int sizes[][3] = {{1, 1, 1},    {1, 300, 64}, {16, 265, 64}, {7, 17, 5},
                                   {13, 64, 33}, {1, 64, 300}, {16, 64, 265}, {5, 20, 37}};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        const int m = sizes[si][0], n = sizes[si][1], k = sizes[si][2], lda = k + 3, ldc = n + 2;
        const int nb = n > k ? n : k, wb = n > k ? k : n; /* rows of b, and their width */
        float *a = rand_vec((size_t)m * lda, 1.0f), *bm = rand_vec((size_t)nb * wb, 1.0f);
        float *c = malloc((size_t)m * ldc * sizeof *c);
        float *pack = malloc(k_gemm_pack_floats(n, k) * sizeof *pack);
        const float **rows = malloc((size_t)nb * sizeof *rows);
        if (!a || !bm || !c || !pack || !rows) {
            CHECK(0, "out of memory");
            return;
        }
        for (int r = 0; r < nb; r++)
            rows[r] = bm + (size_t)((r * 7) % nb) * wb; /* scrambled, some rows repeated */
        for (int t = 0; t < 2; t++) {
            if (t ? k < n : n < k) continue; /* b must be n rows of k (t = 0) or k rows of n */
            (t ? k_gemm_rows : k_gemm_rows_t)(a, (size_t)lda, rows, m, n, k, c, (size_t)ldc, pack);
            double bad = 0;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0, sa = 0;
                    for (int l = 0; l < k; l++) {
                        double p = (double)a[i * lda + l] * (t ? rows[l][j] : rows[j][l]);
                        s += p, sa += fabs(p);
                    }
                    double d = fabs(c[i * ldc + j] - s) / (sa > 0 ? sa : 1);
                    bad = d > bad ? d : bad;
                }
            CHECK(bad <= TOL_F32, "gemm_rows%s %dx%dx%d: error %.3g", t ? "" : "_t", m, n, k, bad);
        }
        free(a), free(bm), free(c), free(pack), free(rows);
    }
}

int main(void) {
    static const k_path all[] = {K_GENERIC, K_AVX2, K_AVX512, K_NEON};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (k_ops_get(all[i])) paths[n_paths++] = k_ops_get(all[i]);
    const k_ops *chosen = k_ops_get(K_AUTO);
    printf("paths:");
    for (int i = 0; i < n_paths; i++)
        printf(" %s", paths[i]->name);
    printf("; chosen: %s\n", chosen->name);
    /* PTTS_KERNELS names the chosen path whenever this CPU has it */
    const char *want = getenv("PTTS_KERNELS");
    for (int i = 0; want && i < n_paths; i++)
        if (!strcmp(want, paths[i]->name))
            CHECK(!strcmp(chosen->name, want), "PTTS_KERNELS=%s chose %s", want, chosen->name);
    if (!want) /* paths[] runs from the most portable to the fastest */
        CHECK(chosen == paths[n_paths - 1], "chose %s, not the best path %s", chosen->name,
              paths[n_paths - 1]->name);

    tpool *pool = NULL;
    ptts_err e = {0};
    CHECK(tpool_new(&pool, 2, &e) == PTTS_OK, "%s", e.msg);
    test_lin(pool);
    test_q8_gauss();
    test_lin_errors();
    test_lin_ld(pool);
    test_gemm_rows();
    for (int i = 0; i < n_paths; i++)
        test_rows(paths[i]);
    tpool_free(pool);
    TEST_END();
}
