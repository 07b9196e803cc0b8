/* Portable reference kernels: plain C, libm for the transcendental functions. */
#include <math.h>
#include <string.h>

#include "kernels_ops.h"

static void f32_tile(const float *x, size_t ldx, int mr, const float *w, size_t pstride, int kc,
                     int np, float *c, size_t ldc, const float *init) {
    for (int r = 0; r < mr; r++) {
        for (int p = 0; p < np; p++) {
            float *cp = c + (size_t)r * ldc + (size_t)p * K_PANEL;
            float acc[K_PANEL];
            memcpy(acc, init ? init + p * K_PANEL : cp, sizeof acc);
            for (int k = 0; k < kc; k++) {
                const float xv = x[(size_t)r * ldx + k],
                            *wk = w + p * pstride + (size_t)k * K_PANEL;
                for (int j = 0; j < K_PANEL; j++)
                    acc[j] += xv * wk[j];
            }
            memcpy(cp, acc, sizeof acc);
        }
    }
}

static void q8_tile(const int8_t *x, size_t ldx, int mr, const int8_t *w, size_t pstride, int nk4,
                    int np, const int32_t *qsum, int32_t *c) {
    (void)qsum; /* signed x signed products need no offset correction */
    for (int r = 0; r < mr; r++) {
        for (int p = 0; p < np; p++) {
            int32_t acc[K_PANEL] = {0};
            for (int g = 0; g < nk4; g++) {
                const int8_t *xg = x + (size_t)r * ldx + 4 * g;
                const int8_t *wg = w + p * pstride + (size_t)g * 4 * K_PANEL;
                const int x0 = xg[0], x1 = xg[1], x2 = xg[2], x3 = xg[3];
                for (int j = 0; j < K_PANEL; j++)
                    acc[j] += x0 * wg[4 * j] + x1 * wg[4 * j + 1] + x2 * wg[4 * j + 2] +
                              x3 * wg[4 * j + 3];
            }
            memcpy(c + ((size_t)r * np + p) * K_PANEL, acc, sizeof acc);
        }
    }
}

static float absmax(const float *x, int n) {
    float m = 0;
    for (int i = 0; i < n; i++)
        m = fmaxf(m, fabsf(x[i]));
    return m;
}

static void quant(const float *x, int n, float inv, int8_t *q) {
    for (int i = 0; i < n; i++)
        q[i] = (int8_t)lrintf(x[i] * inv);
}

static void layernorm(const float *x, float *y, int n, const float *w, const float *b, float eps) {
    double sum = 0, sq = 0; /* double sums: the reference must not drift with n */
    for (int i = 0; i < n; i++)
        sum += x[i];
    const float mean = (float)(sum / n);
    for (int i = 0; i < n; i++)
        sq += (double)(x[i] - mean) * (x[i] - mean);
    const float inv = 1.0f / sqrtf((float)(sq / n) + eps);
    for (int i = 0; i < n; i++) {
        float v = (x[i] - mean) * inv;
        y[i] = (w ? v * w[i] : v) + (b ? b[i] : 0.0f);
    }
}

static void gelu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

static void silu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] / (1.0f + expf(-x[i]));
}

static void elu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0 ? x[i] : expm1f(x[i]);
}

static void softmax(float *x, int n) {
    float m = x[0];
    for (int i = 1; i < n; i++)
        m = x[i] > m ? x[i] : m;
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (x[i] = expf(x[i] - m));
    const float inv = (float)(1 / s);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

static float dot(const float *a, const float *b, int n) {
    float s = 0;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void axpy(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++)
        y[i] += a * x[i];
}

const k_ops k_ops_generic = {
    .name = "generic",
    .mr = 4,
    .np = 1,
    .kc = 256,
    .f32_tile = f32_tile,
    .q8_tile = q8_tile,
    .absmax = absmax,
    .quant = quant,
    .layernorm = layernorm,
    .gelu = gelu,
    .silu = silu,
    .elu = elu,
    .softmax = softmax,
    .dot = dot,
    .axpy = axpy,
};
