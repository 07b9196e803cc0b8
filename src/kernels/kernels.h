/* Numeric kernels behind one header. The model code only calls these; the layouts
 * inside `lin` are private to src/kernels so that SIMD paths can repack weights.
 *
 * Every function runs on the instruction set picked once per process: the best one the
 * CPU supports (AVX-512 with VNNI, AVX2+FMA, NEON, else portable C), or the one named
 * by the environment variable PTTS_KERNELS=generic|avx2|avx512|neon when the CPU has it
 * (for tests and comparisons). Results differ between paths only by float rounding. */
#ifndef PTTS_KERNELS_H
#define PTTS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"

typedef struct tpool tpool; /* thread pool (src/kernels/tpool.h); NULL = calling thread */
struct k_ops;               /* one instruction set's kernels (src/kernels/kernels_ops.h) */

/* A linear layer y = W x + b, W given as PyTorch stores it: [out][in] row-major.
 * Immutable after init: any number of threads may run lin_forward on it at once. */
typedef struct lin {
    int in, out;
    float *w; /* prepared copy of W (layout private to the kernels), NULL when int8 */
    float *b; /* [out] copy, or NULL */
    /* int8 weights (lin_init_q8), else all NULL; layouts private to the kernels */
    int8_t *q;               /* W / scale rounded to [-127, 127] */
    float *scale;            /* per output row */
    int32_t *qsum;           /* per row and k chunk: 128 * sum of q (for unsigned x signed dots) */
    const struct k_ops *ops; /* kernels chosen at init */
} lin;

/* Copies w ([out][in]) and b ([out] or NULL) into L. */
int lin_init(lin *L, const float *w, const float *b, int out, int in, ptts_err *e);
/* Like lin_init, but stores W as int8 with one f32 scale per output row (symmetric,
 * max |W[o][:]| -> 127); lin_forward then quantizes each row of x the same way on the fly
 * and accumulates int8 products exactly in int32. About 1% relative RMS error against
 * f32 on random matrices, a quarter of the memory traffic. b stays f32. */
int lin_init_q8(lin *L, const float *w, const float *b, int out, int in, ptts_err *e);
void lin_free(lin *L); /* accepts a zeroed lin */

/* y[t][o] = sum_i x[t][i] * W[o][i] + b[o] for t < T. x and y must not overlap.
 * With a pool, output rows (or, for few outputs, rows of x) are split across its threads. */
void lin_forward(const lin *L, const float *x, int T, float *y, tpool *pool);
/* The same with row t of x at x + t * ldx: rows may overlap (ldx < in), as the windows of
 * a convolution do in its time-major input. */
void lin_forward_ld(const lin *L, const float *x, size_t ldx, int T, float *y, tpool *pool);

/* Products of small matrices where one operand is a list of rows (the keys and values of
 * an attention, which a ring cache does not keep contiguous), on the calling thread:
 *   k_gemm_rows_t: c[i][j] = sum_l a[i*lda + l] * b[j][l]   (b: n rows of k)
 *   k_gemm_rows:   c[i][j] = sum_l a[i*lda + l] * b[l][j]   (b: k rows of n)
 * for i < m, j < n, written to c[i*ldc + j]. pack: k_gemm_pack_floats(n, k) floats of
 * scratch, in which b is laid out for the tiles. */
size_t k_gemm_pack_floats(int n, int k);
void k_gemm_rows_t(const float *a, size_t lda, const float *const *b, int m, int n, int k, float *c,
                   size_t ldc, float *pack);
void k_gemm_rows(const float *a, size_t lda, const float *const *b, int m, int n, int k, float *c,
                 size_t ldc, float *pack);

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
