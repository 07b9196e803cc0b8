/* FlowLM weights and backbone calls (SPEC 3.2). */
#include "flowlm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "weights.h"

static const float OUT_NORM_EPS = 1e-5f;

static int check_dims(const flowlm_dims *D, ptts_err *e) {
    if (D->d_model <= 0 || D->num_heads <= 0 || D->num_layers <= 0 || !(D->hidden_scale > 0) ||
        !(D->max_period > 0) || D->ldim <= 0 || D->flow_dim <= 1 || D->flow_depth < 0 ||
        D->n_bins <= 0 || D->inner_dim <= 0 || (double)D->d_model * D->hidden_scale > 1e9)
        return err_set(e, PTTS_ERR_CONFIG,
                       "FlowLM: invalid dims (d_model=%d heads=%d layers=%d hidden_scale=%g "
                       "ldim=%d flow=%dx%d n_bins=%d inner_dim=%d)",
                       D->d_model, D->num_heads, D->num_layers, (double)D->hidden_scale, D->ldim,
                       D->flow_dim, D->flow_depth, D->n_bins, D->inner_dim);
    return PTTS_OK;
}

/* A bare weight (`speaker_proj_weight`, no ".weight" suffix): [d][inner_dim]. */
static int load_speaker_proj(flowlm *m, const st_file *f, ptts_err *e) {
    const int64_t shape[2] = {m->dims.d_model, m->dims.inner_dim};
    float *w;
    int rc = st_load_f32(f, "flow_lm.speaker_proj_weight", 2, shape, &w, e);
    if (rc) return rc;
    rc = lin_init(&m->speaker_proj, w, NULL, m->dims.d_model, m->dims.inner_dim, e);
    free(w);
    return rc;
}

int flowlm_load(flowlm *m, const st_file *f, const flowlm_dims *dims, ptts_err *e) {
    memset(m, 0, sizeof *m);
    int rc = check_dims(dims, e);
    if (rc) return rc;
    m->dims = *dims;
    const int d = dims->d_model, ldim = dims->ldim;
    const int64_t embed_shape[2] = {(int64_t)dims->n_bins + 1, d}, bos_shape[3] = {1, 1, d};
    rc = st_load_f32(f, "flow_lm.conditioner.embed.weight", 2, embed_shape, &m->embed, e);
    if (!rc) rc = wt_vec(f, &m->bos_emb, ldim, e, "flow_lm.bos_emb");
    if (!rc && dims->insert_bos_before_voice)
        rc = st_load_f32(f, "flow_lm.bos_before_voice", 3, bos_shape, &m->bos_before_voice, e);
    if (!rc) rc = load_speaker_proj(m, f, e);
    if (!rc) rc = wt_vec(f, &m->emb_mean, ldim, e, "flow_lm.emb_mean");
    if (!rc) rc = wt_vec(f, &m->emb_std, ldim, e, "flow_lm.emb_std");
    if (!rc) rc = wt_lin(f, &m->input_linear, d, ldim, 0, e, "flow_lm.input_linear");
    if (!rc)
        rc = tf_load(&m->transformer, f, "flow_lm.transformer.", d, dims->num_heads,
                     (int)(d * dims->hidden_scale), dims->num_layers, dims->max_period, 0,
                     dims->quantize ? TF_Q8 : 0, e);
    if (!rc) rc = wt_vec(f, &m->out_norm_w, d, e, "flow_lm.out_norm.weight");
    if (!rc) rc = wt_vec(f, &m->out_norm_b, d, e, "flow_lm.out_norm.bias");
    if (!rc) rc = wt_lin(f, &m->out_eos, 1, d, WT_BIAS, e, "flow_lm.out_eos");
    if (!rc)
        rc = flow_head_load(&m->flow, f, "flow_lm.flow_net.", ldim, dims->flow_dim, d,
                            dims->flow_depth, e);
    if (rc) flowlm_free(m);
    return rc;
}

void flowlm_free(flowlm *m) {
    if (!m) return;
    free(m->embed);
    free(m->bos_emb);
    free(m->bos_before_voice);
    lin_free(&m->speaker_proj);
    free(m->emb_mean);
    free(m->emb_std);
    lin_free(&m->input_linear);
    tf_free(&m->transformer);
    free(m->out_norm_w);
    free(m->out_norm_b);
    lin_free(&m->out_eos);
    flow_head_free(&m->flow);
    memset(m, 0, sizeof *m);
}

int flowlm_state_init(flowlm_state *s, const flowlm *m, int cap, int max_t, ptts_err *e) {
    memset(s, 0, sizeof *s);
    const size_t d = (size_t)m->dims.d_model;
    int rc = tf_cache_init(&s->cache, &m->transformer, cap, 0, e);
    if (!rc) rc = tf_scratch_init(&s->tf, &m->transformer, max_t, cap, e);
    if (!rc) rc = flow_scratch_init(&s->flow, &m->flow, e);
    if (!rc) {
        s->x = malloc((size_t)max_t * d * sizeof(float));
        s->lat = malloc((size_t)m->dims.ldim * sizeof(float));
        s->hbuf = malloc(d * sizeof(float));
        if (!s->x || !s->lat || !s->hbuf)
            rc = err_set(e, PTTS_ERR_NOMEM, "out of memory for the FlowLM state");
    }
    if (rc) flowlm_state_free(s);
    return rc;
}

void flowlm_state_free(flowlm_state *s) {
    if (!s) return;
    tf_cache_free(&s->cache);
    tf_scratch_free(&s->tf);
    flow_scratch_free(&s->flow);
    free(s->x);
    free(s->lat);
    free(s->hbuf);
    memset(s, 0, sizeof *s);
}

int flowlm_state_reserve(flowlm_state *s, const flowlm *m, int cap, ptts_err *e) {
    if (cap <= s->cache.cap) return PTTS_OK;
    tf_cache c;
    tf_scratch sc;
    int rc = tf_cache_init(&c, &m->transformer, cap, 0, e);
    if (rc) return rc;
    rc = tf_cache_copy(&c, &s->cache, e);
    if (!rc) rc = tf_scratch_init(&sc, &m->transformer, s->tf.max_t, cap, e);
    if (rc) {
        tf_cache_free(&c);
        return rc;
    }
    tf_cache_free(&s->cache);
    tf_scratch_free(&s->tf);
    s->cache = c;
    s->tf = sc;
    return PTTS_OK;
}

int flowlm_set_cache(flowlm_state *s, const flowlm *m, const tf_cache *src, ptts_err *e) {
    if (src->len > INT32_MAX)
        return err_set(e, PTTS_ERR_INVALID_ARG, "voice state of %lld positions is too long",
                       (long long)src->len);
    int rc = flowlm_state_reserve(s, m, (int)src->len, e);
    return rc ? rc : tf_cache_copy(&s->cache, src, e);
}

int flowlm_forward(const flowlm *m, flowlm_state *s, const float *cond, int n_cond,
                   const float *latent, float *h, float *eos_logit, ptts_err *e) {
    const int d = m->dims.d_model;
    if (n_cond < 0 || (n_cond > 0 && !cond) || n_cond + (latent != NULL) == 0)
        return err_set(e, PTTS_ERR_INVALID_ARG, "FlowLM call without input (%d vectors%s)", n_cond,
                       latent ? " and a latent" : "");
    const int n = n_cond + (latent != NULL);
    if (s->cache.len + n > s->cache.cap)
        return err_set(e, PTTS_ERR_INVALID_ARG,
                       "FlowLM KV cache full: %lld + %d positions, capacity %d",
                       (long long)s->cache.len, n, s->cache.cap);
    if (latent)
        for (int i = 0; i < m->dims.ldim; i++)
            s->lat[i] = isnan(latent[i]) ? m->bos_emb[i] : latent[i];

    int T = 0;
    for (int p = 0; p < n; p += T) {
        T = n - p < s->tf.max_t ? n - p : s->tf.max_t;
        for (int r = 0; r < T; r++) {
            float *row = s->x + (size_t)r * d;
            if (p + r < n_cond)
                memcpy(row, cond + (size_t)(p + r) * d, (size_t)d * sizeof(float));
            else
                lin_forward(&m->input_linear, s->lat, 1, row, s->pool);
        }
        int rc = tf_forward(&m->transformer, &s->cache, &s->tf, s->x, T, s->pool, e);
        if (rc) return rc;
    }
    k_layernorm(s->x + (size_t)(T - 1) * d, s->hbuf, d, m->out_norm_w, m->out_norm_b, OUT_NORM_EPS);
    if (h) memcpy(h, s->hbuf, (size_t)d * sizeof(float));
    if (eos_logit) lin_forward(&m->out_eos, s->hbuf, 1, eos_logit, s->pool);
    return PTTS_OK;
}

void flowlm_lsd(const flowlm *m, flowlm_state *s, const float *h, int n_steps, float *x) {
    flow_lsd_decode(&m->flow, &s->flow, h, n_steps, x, s->pool);
}

int flowlm_embed(const flowlm *m, const int *ids, int n, float *out, ptts_err *e) {
    const int d = m->dims.d_model;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] > m->dims.n_bins)
            return err_set(e, PTTS_ERR_INVALID_ARG, "token id %d outside the table [0, %d]", ids[i],
                           m->dims.n_bins);
        memcpy(out + (size_t)i * d, m->embed + (size_t)ids[i] * d, (size_t)d * sizeof(float));
    }
    return PTTS_OK;
}

void flowlm_speaker_proj(const flowlm *m, const float *frames, int n, float *out, tpool *pool) {
    lin_forward(&m->speaker_proj, frames, n, out, pool);
}

void flowlm_denorm(const flowlm *m, const float *z, float *u) {
    for (int i = 0; i < m->dims.ldim; i++)
        u[i] = z[i] * m->emb_std[i] + m->emb_mean[i];
}
