/* FlowLM (SPEC 3.2-3.4): the weights, and one backbone call over
 * [conditioning ; input_linear(latent)] with a KV cache that persists across calls.
 *
 *   flowlm m;  flowlm_load(&m, file, &dims, &e);          immutable, shareable
 *   flowlm_state s;  flowlm_state_init(&s, &m, cap, 64, &e);   one per generation
 *   flowlm_set_cache(&s, &m, &voice_cache, &e);            start from a voice state
 *   flowlm_forward(&m, &s, text_emb, n_text, NULL, NULL, NULL, &e);   text prompt
 *   flowlm_forward(&m, &s, NULL, 0, latent_or_nan, h, &eos_logit, &e);  one frame
 *   flowlm_lsd(&m, &s, h, steps, x);                       x: noise in, latent out */
#ifndef PTTS_FLOWLM_H
#define PTTS_FLOWLM_H

#include "flow_head.h"
#include "transformer.h"

/* The numbers the weights are checked against (from the config, SPEC 1.1). */
typedef struct flowlm_dims {
    int d_model, num_heads, num_layers;
    float hidden_scale; /* FF width = d_model * hidden_scale */
    float max_period;   /* RoPE base */
    int ldim;           /* latent size (mimi.quantizer.dimension) */
    int flow_dim, flow_depth;
    int n_bins;    /* vocabulary size; the table has n_bins + 1 rows */
    int inner_dim; /* width of the codec frames fed to speaker_proj (mimi.inner_dim) */
    int insert_bos_before_voice;
    int quantize; /* not a dim: keep the transformer's linear layers as int8 */
} flowlm_dims;

typedef struct flowlm {
    flowlm_dims dims;
    float *embed;                   /* [n_bins+1][d] token embeddings */
    float *bos_emb;                 /* [ldim] replaces NaN (BOS) latent values */
    float *bos_before_voice;        /* [d], or NULL when not insert_bos_before_voice */
    lin speaker_proj;               /* inner_dim -> d, no bias */
    float *emb_mean, *emb_std;      /* [ldim] latent statistics */
    lin input_linear;               /* ldim -> d, no bias */
    tf transformer;                 /* "flow_lm.transformer.", no context limit */
    float *out_norm_w, *out_norm_b; /* [d], LayerNorm eps 1e-5 */
    lin out_eos;                    /* d -> 1, with bias */
    flow_head flow;                 /* "flow_lm.flow_net." */
} flowlm;

/* Loads every `flow_lm.*` tensor, checking each shape against dims; the error names the
 * first tensor that is missing or mismatched. Tensors may be F32, BF16 or F16. */
int flowlm_load(flowlm *m, const st_file *f, const flowlm_dims *dims, ptts_err *e);
void flowlm_free(flowlm *m); /* accepts a zeroed flowlm */

/* Per-generation state. The cache is linear: cap positions in all (voice prompt + text +
 * generated frames); calls longer than max_t positions run in pieces of max_t. */
typedef struct flowlm_state {
    tf_cache cache;
    tf_scratch tf;
    flow_scratch flow;
    float *x;    /* [max_t][d] transformer input of one piece */
    float *lat;  /* [ldim] latent with BOS substituted */
    float *hbuf; /* [d] out_norm of the last position */
    tpool *pool; /* borrowed, NULL = calling thread; used by every call on this state */
} flowlm_state;

int flowlm_state_init(flowlm_state *s, const flowlm *m, int cap, int max_t, ptts_err *e);
void flowlm_state_free(flowlm_state *s); /* accepts a zeroed state */
/* Grows the cache to at least cap positions, keeping its contents. On failure s is
 * unchanged. */
int flowlm_state_reserve(flowlm_state *s, const flowlm *m, int cap, ptts_err *e);
/* Replaces the cache by a copy of src (a voice state: linear, same model), growing the
 * capacity when src does not fit. */
int flowlm_set_cache(flowlm_state *s, const flowlm *m, const tf_cache *src, ptts_err *e);

/* Runs n_cond conditioning vectors (cond: [n_cond][d]) followed, when latent is not NULL,
 * by input_linear(latent) (latent: [ldim], NaN values = BOS) at the positions following
 * the cache. h ([d]) receives out_norm of the last position and *eos_logit out_eos(h);
 * either may be NULL. Fails without running anything when the cache would overflow. */
int flowlm_forward(const flowlm *m, flowlm_state *s, const float *cond, int n_cond,
                   const float *latent, float *h, float *eos_logit, ptts_err *e);

/* LSD decode (SPEC 3.3) from the backbone output h: x ([ldim]) holds x0 on entry and the
 * latent (normalised space) on return. n_steps >= 1. */
void flowlm_lsd(const flowlm *m, flowlm_state *s, const float *h, int n_steps, float *x);

/* out[i] = embedding row of ids[i] ([n][d]); ids must lie in [0, n_bins]. */
int flowlm_embed(const flowlm *m, const int *ids, int n, float *out, ptts_err *e);
/* out[n][d] = speaker_proj(frames[n][inner_dim]): codec frames to voice conditioning. */
void flowlm_speaker_proj(const flowlm *m, const float *frames, int n, float *out, tpool *pool);
/* u[ldim] = z * emb_std + emb_mean: a generated latent in the codec's space. */
void flowlm_denorm(const flowlm *m, const float *z, float *u);

#endif
