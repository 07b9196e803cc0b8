/* Internal to src/kernels (and its tests): one table of entry points per instruction set,
 * and the prepared weight layouts they share. kernels.c owns the loops around the tiles
 * (cache blocking, threading, int8 quantization of x); a path only supplies the tiles and
 * the row-wise kernels. */
#ifndef PTTS_KERNELS_OPS_H
#define PTTS_KERNELS_OPS_H

#include "kernels.h"

/* Prepared weights: output rows in panels of K_PANEL, the last one zero-padded.
 * f32 panel p holds W[p*K_PANEL + j][k] at [k][j]: one k step is one contiguous row of
 * K_PANEL outputs, so every path streams W once, front to back, for a matrix-vector product.
 * int8 panel p holds q[p*K_PANEL + j][k] at [k/4][j][k%4] (k padded to a multiple of 4):
 * the 4-byte group is the unit of vpdpbusd / pmaddubsw. */
#define K_PANEL 16
/* int8 dot products run over k chunks of K_Q8_CHUNK, so that int32 sums cannot overflow
 * (and qsum has one row per chunk). Quantized x lives on the stack, K_Q8_ROWS rows of
 * K_Q8_CHUNK bytes, or fewer rows of more chunks each (one row of a matrix-vector product
 * takes up to all of it, so that W is streamed panel by panel, front to back). */
#define K_Q8_CHUNK 2048
#define K_Q8_ROWS  12
#define K_MR_MAX   6 /* largest tile height of any path */
#define K_NP_MAX   4 /* largest tile width of any path, in panels */

typedef enum k_path { K_AUTO, K_GENERIC, K_AVX2, K_AVX512, K_NEON } k_path;

typedef struct k_ops {
    const char *name; /* as in PTTS_KERNELS */
    int mr, np;       /* a full tile: mr rows of x by np panels */
    int kc;           /* k block of the f32 product when T > 1 (cache blocking) */
    /* c[r*ldc + p*K_PANEL + j] = s + sum_{k < kc} x[r*ldx + k] * w[p*pstride + k*K_PANEL + j]
     * for r < mr <= ops->mr and p < np (np == ops->np, or 1), where s is init[p*K_PANEL + j]
     * or, when init is NULL, the value c held: the product accumulates in place in y. */
    void (*f32_tile)(const float *x, size_t ldx, int mr, const float *w, size_t pstride, int kc,
                     int np, float *c, size_t ldc, const float *init);
    /* The int8 version over nk4 groups of 4 k: c = sum of x[r*ldx + k] * q (x zero-padded
     * to 4*nk4). qsum is the panels' qsum row of this chunk, for paths that compute
     * (x + 128) * q and subtract it. */
    void (*q8_tile)(const int8_t *x, size_t ldx, int mr, const int8_t *w, size_t pstride, int nk4,
                    int np, const int32_t *qsum, int32_t *c);
    /* int8 quantization of x: max |x[i]| (0 for n = 0), and q[i] = x[i] * inv rounded to
     * nearest even (|x[i] * inv| <= 127), identical on every path. */
    float (*absmax)(const float *x, int n);
    void (*quant)(const float *x, int n, float inv, int8_t *q);
    void (*layernorm)(const float *x, float *y, int n, const float *w, const float *b, float eps);
    void (*gelu)(float *x, size_t n);
    void (*silu)(float *x, size_t n);
    void (*elu)(float *x, size_t n);
    void (*softmax)(float *x, int n);
    float (*dot)(const float *a, const float *b, int n);
    void (*axpy)(float *y, float a, const float *x, int n);
} k_ops;

/* The kernels of path p, or NULL when this build or CPU cannot run them. K_AUTO is the
 * process-wide choice (PTTS_KERNELS, else the best available), made on first use. */
const k_ops *k_ops_get(k_path p);

extern const k_ops k_ops_generic;
#if defined(__x86_64__) || defined(__i386__)
extern const k_ops k_ops_avx2, k_ops_avx512;
#endif
#ifdef __aarch64__
extern const k_ops k_ops_neon;
#endif

#endif
