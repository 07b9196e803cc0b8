/* SEANet encoder and decoder of the Mimi codec (SPEC 3.5), streaming, time-major
 * activations ([T][channels]). Layers mirror the upstream ModuleList, so op i is the
 * checkpoint's `<prefix>.model.i` (activations included, as they take an index). */
#ifndef PTTS_SEANET_H
#define PTTS_SEANET_H

#include "model/conv.h"

#define SEANET_MAX_RATIOS 8

typedef struct seanet_config {
    int channels;  /* audio channels (1) */
    int dimension; /* latent width at the codec frame rate */
    int n_filters, n_residual_layers;
    int n_ratios, ratios[SEANET_MAX_RATIOS]; /* decoder order; the encoder runs them reversed */
    int kernel_size, residual_kernel_size, last_kernel_size;
    int dilation_base, compress;
    int replicate; /* pad_mode: 0 constant, 1 replicate */
} seanet_config;

typedef enum seanet_kind { SEANET_ELU, SEANET_CONV, SEANET_CONVTR, SEANET_RES } seanet_kind;

typedef struct seanet_op {
    seanet_kind kind;
    conv1d conv;  /* SEANET_CONV; SEANET_RES: block.1 (k = residual_kernel_size, dilated) */
    conv1d conv2; /* SEANET_RES: block.3 (k = 1) */
    convtr1d tr;  /* SEANET_CONVTR */
} seanet_op;

typedef struct seanet {
    int decoder;
    int hop;           /* product of the ratios: samples per latent row */
    int in_ch, out_ch; /* decoder: dimension -> channels; encoder: channels -> dimension */
    int n_ops;
    seanet_op *ops;
} seanet;

/* prefix is "mimi.encoder" or "mimi.decoder". Errors name the tensor. */
int seanet_load(seanet *s, const st_file *f, const char *prefix, const seanet_config *cfg,
                int decoder, ptts_err *e);
void seanet_free(seanet *s); /* accepts a zeroed seanet */

/* Streaming state and scratch for calls of up to max_in input rows. */
typedef struct seanet_state {
    int max_in;
    conv_state *cs; /* [n_ops][2]: a residual block uses both, a conv the first */
    float *buf[3];  /* activations */
    float *work;    /* im2col / transposed-conv taps */
} seanet_state;

int seanet_state_init(seanet_state *st, const seanet *s, int max_in, ptts_err *e);
void seanet_state_reset(seanet_state *st, const seanet *s);
void seanet_state_free(seanet_state *st, const seanet *s); /* accepts a zeroed state */

/* x: [T][in_ch] -> y: decoder [T*hop][out_ch], encoder [T/hop][out_ch]. 0 < T <= max_in;
 * for the encoder T is a multiple of hop. y must not overlap the state's buffers. */
void seanet_forward(const seanet *s, seanet_state *st, const float *x, int T, float *y,
                    tpool *pool);

#endif
