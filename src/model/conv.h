/* Streaming causal 1-D convolutions of the Mimi codec (SPEC 3.5). Activations are
 * time-major, [T][channels], so that a conv is im2col + one GEMM (lin_forward) and the
 * transformer's [T][d] rows feed the SEANet directly. A call's state carries the context
 * between calls, so running a signal in pieces gives the same result as in one call. */
#ifndef PTTS_CONV_H
#define PTTS_CONV_H

#include "io/safetensors.h"
#include "kernels/kernels.h"

/* Conv1d, weight [out][in/groups][k] (+ bias [out]). */
typedef struct conv1d {
    int in, out, k, stride, dilation, groups;
    int replicate; /* pad_mode replicate: the first call pads with its first row */
    int pad;       /* input rows kept between calls: (k-1)*dilation + 1 - stride */
    lin *g;        /* per group: [out/groups][k][in/groups], windows gathered time-major */
} conv1d;

/* Loads `<prefix>.weight` (and `<prefix>.bias` when bias). Errors name the tensor. */
int conv1d_load(conv1d *c, const st_file *f, const char *prefix, int in, int out, int k, int stride,
                int dilation, int groups, int bias, int replicate, ptts_err *e);
void conv1d_free(conv1d *c); /* accepts a zeroed conv1d */

/* ConvTranspose1d, weight [in][out/groups][k] (+ bias [out]). groups must be 1 or, for a
 * depthwise one, in == out == groups. */
typedef struct convtr1d {
    int in, out, k, stride, groups;
    lin m;       /* groups == 1: x[t] -> z[t][j][o] = sum_c x[t][c] W[c][o][j] */
    float *dw;   /* depthwise: [k][channels] */
    float *bias; /* [out] or NULL */
} convtr1d;

int convtr1d_load(convtr1d *c, const st_file *f, const char *prefix, int in, int out, int k,
                  int stride, int groups, int bias, ptts_err *e);
void convtr1d_free(convtr1d *c); /* accepts a zeroed convtr1d */

/* Streaming state of one conv: conv1d keeps its last `pad` input rows, convtr1d the
 * `k - stride` output rows still receiving contributions (without bias). */
typedef struct conv_state {
    int first; /* no call yet (replicate padding) */
    int rows, ch;
    float *mem; /* [rows][ch] */
} conv_state;

int conv1d_state_init(conv_state *s, const conv1d *c, ptts_err *e);
int convtr1d_state_init(conv_state *s, const convtr1d *c, ptts_err *e);
void conv_state_reset(conv_state *s); /* back to the state before the first call */
void conv_state_free(conv_state *s);  /* accepts a zeroed state */

/* Work floats a call of T input rows needs (T a multiple of stride for conv1d). */
size_t conv1d_work(const conv1d *c, int T);
size_t convtr1d_work(const convtr1d *c, int T);

/* x: [T][in] -> y: [T/stride][out]; T must be a positive multiple of stride. x, y and
 * work (conv1d_work floats) must not overlap. */
void conv1d_forward(const conv1d *c, conv_state *s, const float *x, int T, float *y, float *work,
                    tpool *pool);
/* x: [T][in] -> y: [T*stride][out]. */
void convtr1d_forward(const convtr1d *c, conv_state *s, const float *x, int T, float *y,
                      float *work, tpool *pool);

#endif
