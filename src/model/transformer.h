/* Pre-norm causal transformer shared by FlowLM and the Mimi codec (SPEC 3.1):
 *   x += ls1 * out_proj(attn(RoPE(in_proj(norm1(x)))))
 *   x += ls2 * linear2(gelu(linear1(norm2(x))))
 * with a KV cache that persists across calls (post-RoPE keys, as the voice files hold). */
#ifndef PTTS_TRANSFORMER_H
#define PTTS_TRANSFORMER_H

#include <stdint.h>

#include "io/safetensors.h"
#include "kernels/kernels.h"

typedef struct tf_layer {
    float *norm1_w, *norm1_b, *norm2_w, *norm2_b; /* [d], LayerNorm eps 1e-5 */
    float *ls1, *ls2;                             /* [d] layer scales, NULL = 1 (FlowLM) */
    lin in_proj;                                  /* d -> 3d [q|k|v], no bias */
    lin out_proj;                                 /* d -> d, no bias */
    lin linear1;                                  /* d -> ff, no bias */
    lin linear2;                                  /* ff -> d, no bias */
} tf_layer;

typedef struct tf {
    int d, n_heads, head_dim, ff, n_layers;
    float max_period; /* RoPE base */
    int context;      /* 0 = unlimited; else key j visible to query i iff i - j < context */
    tf_layer *layers;
} tf;

/* Loads `<prefix>layers.N.{norm1,norm2}.{weight,bias}`, `.self_attn.{in_proj,out_proj}.weight`,
 * `.linear1.weight`, `.linear2.weight` and, with TF_LAYER_SCALE, `.layer_scale_{1,2}.scale`;
 * with TF_Q8 the four linear layers keep int8 weights (the upstream's --quantize).
 * Shapes are checked; errors name the first tensor that is missing or mismatched. */
int tf_load(tf *m, const st_file *f, const char *prefix, int d, int n_heads, int ff, int n_layers,
            float max_period, int context, int flags, ptts_err *e);
enum { TF_LAYER_SCALE = 1, TF_Q8 = 2 }; /* tf_load flags */
void tf_free(tf *m);                    /* accepts a zeroed tf */

/* Per-generation KV cache: k and v are [n_layers][cap][d] (d = heads x head_dim, as in_proj
 * lays them out), keys post-RoPE. Linear mode: position p lives in slot p, and a call that
 * would pass cap fails. Ring mode (context > 0): position p lives in slot p % cap, and
 * cap >= context - 1 + T must hold for every call of T positions. */
typedef struct tf_cache {
    int cap, ring, n_layers, d;
    int64_t len; /* positions consumed so far = absolute position of the next one */
    float *k, *v;
} tf_cache;

int tf_cache_init(tf_cache *c, const tf *m, int cap, int ring, ptts_err *e);
void tf_cache_free(tf_cache *c);
void tf_cache_reset(tf_cache *c); /* len = 0 */
/* Copies src's valid positions into dst (same model, linear, dst->cap >= src->len). */
int tf_cache_copy(tf_cache *dst, const tf_cache *src, ptts_err *e);

/* Work buffers for calls of up to max_t positions against caches of up to cap slots;
 * allocated once so that tf_forward allocates nothing. */
typedef struct tf_scratch {
    int max_t, cap;
    float *h, *qkv, *att, *ff;
    float *scores;      /* [max_t][cap] attention probabilities of one head */
    float *rope;        /* [max_t][head_dim]: (cos, sin) per rotated pair of each call position */
    const float **rows; /* [cap] the keys (then values) of one head in a query window */
    float *pack;        /* the keys or values laid out for the product kernels */
} tf_scratch;

int tf_scratch_init(tf_scratch *s, const tf *m, int max_t, int cap, ptts_err *e);
void tf_scratch_free(tf_scratch *s);

/* Runs T positions (x: [T][d], updated in place) at absolute positions c->len.., appending
 * their keys and values to c. Fails (PTTS_ERR_INVALID_ARG) when T or the cache is too small. */
int tf_forward(const tf *m, tf_cache *c, tf_scratch *s, float *x, int T, tpool *pool, ptts_err *e);

#endif
