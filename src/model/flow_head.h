/* Flow-matching head of FlowLM (SPEC 3.3, 3.4): flow_net(c, s, t, x) predicts the flow
 * from x at time s towards time t given the backbone output c; lsd decoding integrates
 * it from noise to a latent in N steps. */
#ifndef PTTS_FLOW_HEAD_H
#define PTTS_FLOW_HEAD_H

#include "io/safetensors.h"
#include "kernels/kernels.h"

enum { FLOW_FREQS = 128 }; /* time embedding: 128 frequencies -> [cos | sin], 256 values */

typedef struct flow_time_embed {
    float *freqs; /* [128] */
    lin mlp0;     /* 256 -> C, then SiLU */
    lin mlp2;     /* C -> C */
    float *alpha; /* [C] of mlp.3: x * alpha / sqrt(unbiased var(x) + 1e-5) */
} flow_time_embed;

typedef struct flow_res_block {
    lin ada;            /* adaLN_modulation.1: C -> 3C (shift, scale, gate) on SiLU(y) */
    float *ln_w, *ln_b; /* in_ln [C], LayerNorm eps 1e-6 */
    lin mlp0, mlp2;     /* C -> C, SiLU between */
} flow_res_block;

typedef struct flow_head {
    int ldim, dim, cond_dim, depth; /* latent size, width C, backbone width d, blocks */
    flow_time_embed time_embed[2];  /* 0: s, 1: t */
    lin cond_embed;                 /* d -> C */
    lin input_proj;                 /* ldim -> C */
    flow_res_block *blocks;         /* [depth] */
    lin final_ada;                  /* final_layer.adaLN_modulation.1: C -> 2C (shift, scale) */
    lin final_linear;               /* C -> ldim */
} flow_head;

/* Loads `<prefix>{time_embed.K.*, cond_embed, input_proj, res_blocks.J.*, final_layer.*}`
 * (prefix e.g. "flow_lm.flow_net."). Shapes are checked; errors name the tensor. */
int flow_head_load(flow_head *m, const st_file *f, const char *prefix, int ldim, int dim,
                   int cond_dim, int depth, ptts_err *e);
void flow_head_free(flow_head *m); /* accepts a zeroed flow_head */

/* Work buffers for one flow_net / lsd call, allocated once. */
typedef struct flow_scratch {
    float *cond;  /* [C] cond_embed(c), shared by the LSD steps */
    float *y;     /* [C] SiLU of the block conditioning (what every adaLN reads) */
    float *x, *h; /* [C] residual stream, block branch */
    float *hid;   /* [C] hidden layer of the MLPs */
    float *mod;   /* [3C] adaLN output */
    float *feat;  /* [256] time features */
    float *te;    /* [2][C] the two time embeddings */
    float *out;   /* [ldim] flow of one LSD step */
} flow_scratch;

int flow_scratch_init(flow_scratch *s, const flow_head *m, ptts_err *e);
void flow_scratch_free(flow_scratch *s); /* accepts a zeroed flow_scratch */

/* out[ldim] = flow_net(c[cond_dim], s, t, x[ldim]). out may alias x. */
void flow_net(const flow_head *m, flow_scratch *sc, const float *c, float s, float t,
              const float *x, float *out, tpool *pool);

/* LSD decode: x[ldim] holds x0 on entry and the latent on return; n_steps >= 1.
 * For i < N: x += flow_net(c, i/N, (i+1)/N, x) / N. */
void flow_lsd_decode(const flow_head *m, flow_scratch *sc, const float *c, int n_steps, float *x,
                     tpool *pool);

#endif
