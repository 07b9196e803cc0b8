/* Portable reference kernels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

int lin_init(lin *L, const float *w, const float *b, int out, int in, ptts_err *e) {
    memset(L, 0, sizeof *L);
    L->in = in;
    L->out = out;
    L->w = malloc((size_t)out * in * sizeof(float));
    if (b) L->b = malloc((size_t)out * sizeof(float));
    if (!L->w || (b && !L->b)) {
        lin_free(L);
        return err_set(e, PTTS_ERR_NOMEM, "out of memory for a %dx%d linear layer", out, in);
    }
    memcpy(L->w, w, (size_t)out * in * sizeof(float));
    if (b) memcpy(L->b, b, (size_t)out * sizeof(float));
    return PTTS_OK;
}

void lin_free(lin *L) {
    if (!L) return;
    free(L->w);
    free(L->b);
    memset(L, 0, sizeof *L);
}

void lin_forward(const lin *L, const float *x, int T, float *y, tpool *pool) {
    (void)pool;
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * L->in;
        float *yt = y + (size_t)t * L->out;
        for (int o = 0; o < L->out; o++) {
            float s = k_dot(L->w + (size_t)o * L->in, xt, L->in);
            yt[o] = L->b ? s + L->b[o] : s;
        }
    }
}

void k_layernorm(const float *x, float *y, int n, const float *w, const float *b, float eps) {
    float mean = 0, var = 0;
    for (int i = 0; i < n; i++) mean += x[i];
    mean /= n;
    for (int i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= n;
    float inv = 1.0f / sqrtf(var + eps);
    for (int i = 0; i < n; i++) {
        float v = (x[i] - mean) * inv;
        y[i] = (w ? v * w[i] : v) + (b ? b[i] : 0.0f);
    }
}

void k_gelu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

void k_silu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

void k_elu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : expm1f(x[i]);
}

void k_softmax(float *x, int n) {
    float m = x[0];
    for (int i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    float s = 0;
    for (int i = 0; i < n; i++) s += (x[i] = expf(x[i] - m));
    for (int i = 0; i < n; i++) x[i] /= s;
}

float k_dot(const float *a, const float *b, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void k_axpy(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}
