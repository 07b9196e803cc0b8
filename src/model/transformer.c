/* Pre-norm causal transformer with a KV cache (SPEC 3.1). */
#include "transformer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "weights.h"

static const float LN_EPS = 1e-5f;

int tf_load(tf *m, const st_file *f, const char *prefix, int d, int n_heads, int ff, int n_layers,
            float max_period, int context, int flags, ptts_err *e) {
    int layer_scale = flags & TF_LAYER_SCALE, lflags = (flags & TF_Q8) ? WT_Q8 : 0;
    memset(m, 0, sizeof *m);
    if (d <= 0 || n_heads <= 0 || d % n_heads || (d / n_heads) % 2 || ff <= 0 || n_layers <= 0 ||
        !(max_period > 0) || context < 0)
        return err_set(e, PTTS_ERR_CONFIG,
                       "%stransformer: invalid dims (d=%d heads=%d ff=%d layers=%d max_period=%g "
                       "context=%d)",
                       prefix, d, n_heads, ff, n_layers, (double)max_period, context);
    m->d = d;
    m->n_heads = n_heads;
    m->head_dim = d / n_heads;
    m->ff = ff;
    m->max_period = max_period;
    m->context = context;
    m->layers = calloc((size_t)n_layers, sizeof *m->layers);
    if (!m->layers) return err_set(e, PTTS_ERR_NOMEM, "out of memory for %d layers", n_layers);
    m->n_layers = n_layers;
    for (int i = 0; i < n_layers; i++) {
        tf_layer *L = &m->layers[i];
        int rc = wt_vec(f, &L->norm1_w, d, e, "%slayers.%d.norm1.weight", prefix, i);
        if (!rc) rc = wt_vec(f, &L->norm1_b, d, e, "%slayers.%d.norm1.bias", prefix, i);
        if (!rc) rc = wt_vec(f, &L->norm2_w, d, e, "%slayers.%d.norm2.weight", prefix, i);
        if (!rc) rc = wt_vec(f, &L->norm2_b, d, e, "%slayers.%d.norm2.bias", prefix, i);
        if (!rc && layer_scale)
            rc = wt_vec(f, &L->ls1, d, e, "%slayers.%d.layer_scale_1.scale", prefix, i);
        if (!rc && layer_scale)
            rc = wt_vec(f, &L->ls2, d, e, "%slayers.%d.layer_scale_2.scale", prefix, i);
        if (!rc)
            rc = wt_lin(f, &L->in_proj, 3 * d, d, lflags, e, "%slayers.%d.self_attn.in_proj",
                        prefix, i);
        if (!rc)
            rc = wt_lin(f, &L->out_proj, d, d, lflags, e, "%slayers.%d.self_attn.out_proj", prefix,
                        i);
        if (!rc) rc = wt_lin(f, &L->linear1, ff, d, lflags, e, "%slayers.%d.linear1", prefix, i);
        if (!rc) rc = wt_lin(f, &L->linear2, d, ff, lflags, e, "%slayers.%d.linear2", prefix, i);
        if (rc) {
            tf_free(m);
            return rc;
        }
    }
    return PTTS_OK;
}

void tf_free(tf *m) {
    if (!m) return;
    for (int i = 0; m->layers && i < m->n_layers; i++) {
        tf_layer *L = &m->layers[i];
        free(L->norm1_w);
        free(L->norm1_b);
        free(L->norm2_w);
        free(L->norm2_b);
        free(L->ls1);
        free(L->ls2);
        lin_free(&L->in_proj);
        lin_free(&L->out_proj);
        lin_free(&L->linear1);
        lin_free(&L->linear2);
    }
    free(m->layers);
    memset(m, 0, sizeof *m);
}

int tf_cache_init(tf_cache *c, const tf *m, int cap, int ring, ptts_err *e) {
    memset(c, 0, sizeof *c);
    if (cap <= 0) return err_set(e, PTTS_ERR_INVALID_ARG, "KV cache capacity %d must be > 0", cap);
    if (ring && m->context <= 0)
        return err_set(e, PTTS_ERR_INVALID_ARG, "a ring KV cache needs a context window");
    size_t n = (size_t)m->n_layers * (size_t)cap * (size_t)m->d;
    c->k = malloc(n * sizeof(float));
    c->v = malloc(n * sizeof(float));
    if (!c->k || !c->v) {
        tf_cache_free(c);
        return err_set(e, PTTS_ERR_NOMEM, "out of memory for a KV cache of %d positions", cap);
    }
    c->cap = cap;
    c->ring = ring;
    c->n_layers = m->n_layers;
    c->d = m->d;
    return PTTS_OK;
}

void tf_cache_free(tf_cache *c) {
    if (!c) return;
    free(c->k);
    free(c->v);
    memset(c, 0, sizeof *c);
}

void tf_cache_reset(tf_cache *c) {
    c->len = 0;
}

int tf_cache_copy(tf_cache *dst, const tf_cache *src, ptts_err *e) {
    if (dst->n_layers != src->n_layers || dst->d != src->d)
        return err_set(e, PTTS_ERR_INVALID_ARG,
                       "KV cache of %d layers x %d does not fit one of %d layers x %d",
                       src->n_layers, src->d, dst->n_layers, dst->d);
    if (dst->ring || src->ring)
        return err_set(e, PTTS_ERR_INVALID_ARG, "ring KV caches cannot be copied");
    if (src->len > dst->cap)
        return err_set(e, PTTS_ERR_INVALID_ARG, "KV cache of %lld positions exceeds capacity %d",
                       (long long)src->len, dst->cap);
    size_t row = (size_t)src->d * sizeof(float);
    for (int l = 0; l < src->n_layers; l++) {
        size_t so = (size_t)l * src->cap * src->d, dof = (size_t)l * dst->cap * dst->d;
        memcpy(dst->k + dof, src->k + so, (size_t)src->len * row);
        memcpy(dst->v + dof, src->v + so, (size_t)src->len * row);
    }
    dst->len = src->len;
    return PTTS_OK;
}

int tf_scratch_init(tf_scratch *s, const tf *m, int max_t, int cap, ptts_err *e) {
    memset(s, 0, sizeof *s);
    if (max_t <= 0 || cap <= 0)
        return err_set(e, PTTS_ERR_INVALID_ARG, "transformer scratch needs max_t %d, cap %d > 0",
                       max_t, cap);
    size_t t = (size_t)max_t, d = (size_t)m->d;
    s->h = malloc(t * d * sizeof(float));
    s->qkv = malloc(t * 3 * d * sizeof(float));
    s->att = malloc(t * d * sizeof(float));
    s->ff = malloc(t * (size_t)m->ff * sizeof(float));
    s->scores = malloc(t * (size_t)cap * sizeof(float));
    s->rope = malloc(t * (size_t)m->head_dim * sizeof(float));
    s->rows = malloc((size_t)cap * sizeof *s->rows);
    size_t pk = k_gemm_pack_floats(cap, m->head_dim), pv = k_gemm_pack_floats(m->head_dim, cap);
    s->pack = malloc((pk > pv ? pk : pv) * sizeof(float));
    if (!s->h || !s->qkv || !s->att || !s->ff || !s->scores || !s->rope || !s->rows || !s->pack) {
        tf_scratch_free(s);
        return err_set(e, PTTS_ERR_NOMEM, "out of memory for transformer scratch (%d x %d)", max_t,
                       m->d);
    }
    s->max_t = max_t;
    s->cap = cap;
    return PTTS_OK;
}

void tf_scratch_free(tf_scratch *s) {
    if (!s) return;
    free(s->h);
    free(s->qkv);
    free(s->att);
    free(s->ff);
    free(s->scores);
    free(s->rope);
    free(s->rows);
    free(s->pack);
    memset(s, 0, sizeof *s);
}

/* (cos, sin) of theta = pos * max_period^(-2i/Dh) for T positions from p0, in f32 as the
 * reference computes them: freqs = exp(i * (-ln(max_period) * 2/Dh)), then freqs * pos. */
static void rope_table(float *rope, int T, int64_t p0, int head_dim, float max_period) {
    const float step = (float)(-log((double)max_period) * 2.0 / head_dim);
    for (int t = 0; t < T; t++) {
        const float pos = (float)(p0 + t);
        for (int i = 0; i < head_dim / 2; i++) {
            float th = expf((float)i * step) * pos;
            rope[(size_t)t * head_dim + 2 * i] = cosf(th);
            rope[(size_t)t * head_dim + 2 * i + 1] = sinf(th);
        }
    }
}

/* Rotates the interleaved pairs (x[2i], x[2i+1]) of n_heads heads of one position. */
static void rope_apply(float *x, const float *cs, int n_heads, int head_dim) {
    for (int h = 0; h < n_heads; h++) {
        float *xh = x + (size_t)h * head_dim;
        for (int i = 0; i < head_dim; i += 2) {
            float a = xh[i], b = xh[i + 1], c = cs[i], s = cs[i + 1];
            xh[i] = a * c - b * s;
            xh[i + 1] = a * s + b * c;
        }
    }
}

/* x[t][i] += (ls ? ls[i] : 1) * u[t][i] */
static void residual_add(float *x, const float *u, const float *ls, int T, int d) {
    for (int t = 0; t < T; t++) {
        float *xt = x + (size_t)t * d;
        const float *ut = u + (size_t)t * d;
        for (int i = 0; i < d; i++)
            xt[i] += ls ? ls[i] * ut[i] : ut[i];
    }
}

/* First key visible to the query at absolute position i. */
static int64_t first_key(const tf *m, int64_t i) {
    return m->context > 0 && i - m->context + 1 > 0 ? i - m->context + 1 : 0;
}

/* Attention of the T new queries (post-RoPE q in s->qkv) over the cache, which already
 * holds their keys and values; heads concatenated into s->att. Per head, the scores of
 * all queries against the union of their windows are one product, and so are the outputs;
 * keys outside a query's window get probability 0. */
static void attend(const tf *m, const tf_cache *c, tf_scratch *s, int layer, int T, int64_t p0) {
    const int d = m->d, Dh = m->head_dim;
    const float scale = 1.0f / sqrtf((float)Dh);
    const float *kc = c->k + (size_t)layer * c->cap * d;
    const float *vc = c->v + (size_t)layer * c->cap * d;
    const int64_t j0 = first_key(m, p0);
    const int n = (int)(p0 + T - j0);
    for (int h = 0; h < m->n_heads; h++) {
        for (int jj = 0; jj < n; jj++) {
            const int64_t j = j0 + jj;
            s->rows[jj] = kc + (size_t)(c->ring ? j % c->cap : j) * d + (size_t)h * Dh;
        }
        k_gemm_rows_t(s->qkv + (size_t)h * Dh, (size_t)3 * d, s->rows, T, n, Dh, s->scores,
                      (size_t)n, s->pack);
        for (int t = 0; t < T; t++) {
            float *row = s->scores + (size_t)t * n;
            const int lo = (int)(first_key(m, p0 + t) - j0), hi = (int)(p0 + t - j0) + 1;
            for (int jj = lo; jj < hi; jj++)
                row[jj] *= scale;
            k_softmax(row + lo, hi - lo);
            memset(row, 0, (size_t)lo * sizeof *row);
            memset(row + hi, 0, (size_t)(n - hi) * sizeof *row);
        }
        for (int jj = 0; jj < n; jj++)
            s->rows[jj] += vc - kc;
        k_gemm_rows(s->scores, (size_t)n, s->rows, T, Dh, n, s->att + (size_t)h * Dh, (size_t)d,
                    s->pack);
    }
}

int tf_forward(const tf *m, tf_cache *c, tf_scratch *s, float *x, int T, tpool *pool, ptts_err *e) {
    if (T < 0 || T > s->max_t)
        return err_set(e, PTTS_ERR_INVALID_ARG, "%d positions in one call (scratch holds %d)", T,
                       s->max_t);
    if (c->n_layers != m->n_layers || c->d != m->d)
        return err_set(e, PTTS_ERR_INVALID_ARG, "KV cache does not match the transformer");
    if (c->cap > s->cap)
        return err_set(e, PTTS_ERR_INVALID_ARG, "KV cache of %d slots exceeds the scratch's %d",
                       c->cap, s->cap);
    if (c->ring ? c->cap < m->context - 1 + T : c->len + T > c->cap)
        return err_set(e, PTTS_ERR_INVALID_ARG, "KV cache full: %lld + %d positions, capacity %d%s",
                       (long long)c->len, T, c->cap, c->ring ? " (ring)" : "");
    if (T == 0) return PTTS_OK;

    const int d = m->d, Dh = m->head_dim;
    const int64_t p0 = c->len;
    rope_table(s->rope, T, p0, Dh, m->max_period);
    for (int l = 0; l < m->n_layers; l++) {
        const tf_layer *L = &m->layers[l];
        for (int t = 0; t < T; t++)
            k_layernorm(x + (size_t)t * d, s->h + (size_t)t * d, d, L->norm1_w, L->norm1_b, LN_EPS);
        lin_forward(&L->in_proj, s->h, T, s->qkv, pool);
        float *kc = c->k + (size_t)l * c->cap * d, *vc = c->v + (size_t)l * c->cap * d;
        for (int t = 0; t < T; t++) {
            float *q = s->qkv + (size_t)t * 3 * d;
            const float *cs = s->rope + (size_t)t * Dh;
            rope_apply(q, cs, m->n_heads, Dh);
            rope_apply(q + d, cs, m->n_heads, Dh);
            int64_t p = p0 + t;
            size_t slot = (size_t)(c->ring ? p % c->cap : p);
            memcpy(kc + slot * d, q + d, (size_t)d * sizeof(float));
            memcpy(vc + slot * d, q + 2 * d, (size_t)d * sizeof(float));
        }
        attend(m, c, s, l, T, p0);
        lin_forward(&L->out_proj, s->att, T, s->h, pool);
        residual_add(x, s->h, L->ls1, T, d);

        for (int t = 0; t < T; t++)
            k_layernorm(x + (size_t)t * d, s->h + (size_t)t * d, d, L->norm2_w, L->norm2_b, LN_EPS);
        lin_forward(&L->linear1, s->h, T, s->ff, pool);
        k_gelu(s->ff, (size_t)T * m->ff);
        lin_forward(&L->linear2, s->ff, T, s->h, pool);
        residual_add(x, s->h, L->ls2, T, d);
    }
    c->len = p0 + T;
    return PTTS_OK;
}
