/* Numeric kernels behind one header. The model code only calls these; the layouts
 * inside `lin` are private to src/kernels so that SIMD paths can repack weights. */
#ifndef PTTS_KERNELS_H
#define PTTS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"

typedef struct tpool tpool; /* thread pool (src/kernels/tpool.h); NULL = calling thread */

/* A linear layer y = W x + b, W given as PyTorch stores it: [out][in] row-major. */
typedef struct lin {
    int in, out;
    float *w; /* prepared copy of W (layout private to the kernels) */
    float *b; /* [out] copy, or NULL */
} lin;

/* Copies w ([out][in]) and b ([out] or NULL) into L. */
int lin_init(lin *L, const float *w, const float *b, int out, int in, ptts_err *e);
void lin_free(lin *L); /* accepts a zeroed lin */

/* y[t][o] = sum_i x[t][i] * W[o][i] + b[o] for t < T. x and y must not overlap. */
void lin_forward(const lin *L, const float *x, int T, float *y, tpool *pool);

/* Row-wise LayerNorm over n values (biased variance); w/b may be NULL (no affine). */
void k_layernorm(const float *x, float *y, int n, const float *w, const float *b, float eps);
void k_gelu(float *x, size_t n); /* exact erf form, in place */
void k_silu(float *x, size_t n);
void k_elu(float *x, size_t n); /* alpha = 1 */
void k_softmax(float *x, int n);
float k_dot(const float *a, const float *b, int n);
/* y += a * x */
void k_axpy(float *y, float a, const float *x, int n);

#endif
