/* Flow head (SPEC 3.4) and LSD decoding (SPEC 3.3). */
#include "flow_head.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "weights.h"

static const float BLOCK_LN_EPS = 1e-6f, TIME_NORM_EPS = 1e-5f;

static void res_block_free(flow_res_block *b) {
    lin_free(&b->ada);
    free(b->ln_w);
    free(b->ln_b);
    lin_free(&b->mlp0);
    lin_free(&b->mlp2);
}

int flow_head_load(flow_head *m, const st_file *f, const char *prefix, int ldim, int dim,
                   int cond_dim, int depth, ptts_err *e) {
    memset(m, 0, sizeof *m);
    if (ldim <= 0 || dim <= 1 || cond_dim <= 0 || depth < 0)
        return err_set(e, PTTS_ERR_CONFIG,
                       "flow head: invalid dims (ldim=%d dim=%d cond=%d depth=%d)", ldim, dim,
                       cond_dim, depth);
    m->ldim = ldim;
    m->dim = dim;
    m->cond_dim = cond_dim;
    int rc = PTTS_OK;
    for (int k = 0; k < 2 && !rc; k++) {
        flow_time_embed *te = &m->time_embed[k];
        rc = wt_vec(f, &te->freqs, FLOW_FREQS, e, "%stime_embed.%d.freqs", prefix, k);
        if (!rc)
            rc =
                wt_lin(f, &te->mlp0, dim, 2 * FLOW_FREQS, WT_BIAS, e, "%stime_embed.%d.mlp.0", prefix, k);
        if (!rc) rc = wt_lin(f, &te->mlp2, dim, dim, WT_BIAS, e, "%stime_embed.%d.mlp.2", prefix, k);
        if (!rc) rc = wt_vec(f, &te->alpha, dim, e, "%stime_embed.%d.mlp.3.alpha", prefix, k);
    }
    if (!rc) rc = wt_lin(f, &m->cond_embed, dim, cond_dim, WT_BIAS, e, "%scond_embed", prefix);
    if (!rc) rc = wt_lin(f, &m->input_proj, dim, ldim, WT_BIAS, e, "%sinput_proj", prefix);
    if (!rc && depth > 0) {
        m->blocks = calloc((size_t)depth, sizeof *m->blocks);
        if (!m->blocks) rc = err_set(e, PTTS_ERR_NOMEM, "out of memory for %d flow blocks", depth);
    }
    if (!rc) m->depth = depth;
    for (int j = 0; j < m->depth && !rc; j++) {
        flow_res_block *b = &m->blocks[j];
        rc =
            wt_lin(f, &b->ada, 3 * dim, dim, WT_BIAS, e, "%sres_blocks.%d.adaLN_modulation.1", prefix, j);
        if (!rc) rc = wt_vec(f, &b->ln_w, dim, e, "%sres_blocks.%d.in_ln.weight", prefix, j);
        if (!rc) rc = wt_vec(f, &b->ln_b, dim, e, "%sres_blocks.%d.in_ln.bias", prefix, j);
        if (!rc) rc = wt_lin(f, &b->mlp0, dim, dim, WT_BIAS, e, "%sres_blocks.%d.mlp.0", prefix, j);
        if (!rc) rc = wt_lin(f, &b->mlp2, dim, dim, WT_BIAS, e, "%sres_blocks.%d.mlp.2", prefix, j);
    }
    if (!rc)
        rc = wt_lin(f, &m->final_ada, 2 * dim, dim, WT_BIAS, e, "%sfinal_layer.adaLN_modulation.1",
                    prefix);
    if (!rc) rc = wt_lin(f, &m->final_linear, ldim, dim, WT_BIAS, e, "%sfinal_layer.linear", prefix);
    if (rc) flow_head_free(m);
    return rc;
}

void flow_head_free(flow_head *m) {
    if (!m) return;
    for (int k = 0; k < 2; k++) {
        free(m->time_embed[k].freqs);
        lin_free(&m->time_embed[k].mlp0);
        lin_free(&m->time_embed[k].mlp2);
        free(m->time_embed[k].alpha);
    }
    lin_free(&m->cond_embed);
    lin_free(&m->input_proj);
    for (int j = 0; m->blocks && j < m->depth; j++)
        res_block_free(&m->blocks[j]);
    free(m->blocks);
    lin_free(&m->final_ada);
    lin_free(&m->final_linear);
    memset(m, 0, sizeof *m);
}

int flow_scratch_init(flow_scratch *s, const flow_head *m, ptts_err *e) {
    memset(s, 0, sizeof *s);
    size_t C = (size_t)m->dim;
    s->cond = malloc(C * sizeof(float));
    s->y = malloc(C * sizeof(float));
    s->x = malloc(C * sizeof(float));
    s->h = malloc(C * sizeof(float));
    s->hid = malloc(C * sizeof(float));
    s->mod = malloc(3 * C * sizeof(float));
    s->feat = malloc(2 * FLOW_FREQS * sizeof(float));
    s->te = malloc(2 * C * sizeof(float));
    s->out = malloc((size_t)m->ldim * sizeof(float));
    if (!s->cond || !s->y || !s->x || !s->h || !s->hid || !s->mod || !s->feat || !s->te ||
        !s->out) {
        flow_scratch_free(s);
        return err_set(e, PTTS_ERR_NOMEM, "out of memory for flow head scratch");
    }
    return PTTS_OK;
}

void flow_scratch_free(flow_scratch *s) {
    if (!s) return;
    free(s->cond);
    free(s->y);
    free(s->x);
    free(s->h);
    free(s->hid);
    free(s->mod);
    free(s->feat);
    free(s->te);
    free(s->out);
    memset(s, 0, sizeof *s);
}

/* out[C] = RMS-like norm of mlp.2(SiLU(mlp.0([cos(tau f) | sin(tau f)]))). */
static void time_embed(const flow_time_embed *te, int C, float tau, float *feat, float *hid,
                       float *out, tpool *pool) {
    for (int i = 0; i < FLOW_FREQS; i++) {
        float a = tau * te->freqs[i];
        feat[i] = cosf(a);
        feat[FLOW_FREQS + i] = sinf(a);
    }
    lin_forward(&te->mlp0, feat, 1, hid, pool);
    k_silu(hid, (size_t)C);
    lin_forward(&te->mlp2, hid, 1, out, pool);
    float mean = 0, var = 0;
    for (int i = 0; i < C; i++)
        mean += out[i];
    mean /= C;
    for (int i = 0; i < C; i++)
        var += (out[i] - mean) * (out[i] - mean);
    var /= C - 1; /* unbiased, as torch.var */
    float inv = 1.0f / sqrtf(var + TIME_NORM_EPS);
    for (int i = 0; i < C; i++)
        out[i] *= te->alpha[i] * inv;
}

/* h = norm(x) * (1 + scale) + shift */
static void modulate(float *h, const float *shift, const float *scale, int C) {
    for (int i = 0; i < C; i++)
        h[i] = h[i] * (1.0f + scale[i]) + shift[i];
}

/* flow_net with cond_embed(c) already in sc->cond. */
static void flow_eval(const flow_head *m, flow_scratch *sc, float s, float t, const float *x,
                      float *out, tpool *pool) {
    const int C = m->dim;
    time_embed(&m->time_embed[0], C, s, sc->feat, sc->hid, sc->te, pool);
    time_embed(&m->time_embed[1], C, t, sc->feat, sc->hid, sc->te + C, pool);
    for (int i = 0; i < C; i++)
        sc->y[i] = sc->cond[i] + (sc->te[i] + sc->te[C + i]) / 2.0f;
    k_silu(sc->y, (size_t)C);
    lin_forward(&m->input_proj, x, 1, sc->x, pool);

    for (int j = 0; j < m->depth; j++) {
        const flow_res_block *b = &m->blocks[j];
        const float *shift = sc->mod, *scale = sc->mod + C, *gate = sc->mod + 2 * C;
        lin_forward(&b->ada, sc->y, 1, sc->mod, pool);
        k_layernorm(sc->x, sc->h, C, b->ln_w, b->ln_b, BLOCK_LN_EPS);
        modulate(sc->h, shift, scale, C);
        lin_forward(&b->mlp0, sc->h, 1, sc->hid, pool);
        k_silu(sc->hid, (size_t)C);
        lin_forward(&b->mlp2, sc->hid, 1, sc->h, pool);
        for (int i = 0; i < C; i++)
            sc->x[i] += gate[i] * sc->h[i];
    }

    lin_forward(&m->final_ada, sc->y, 1, sc->mod, pool);
    k_layernorm(sc->x, sc->h, C, NULL, NULL, BLOCK_LN_EPS);
    modulate(sc->h, sc->mod, sc->mod + C, C);
    lin_forward(&m->final_linear, sc->h, 1, out, pool);
}

void flow_net(const flow_head *m, flow_scratch *sc, const float *c, float s, float t,
              const float *x, float *out, tpool *pool) {
    lin_forward(&m->cond_embed, c, 1, sc->cond, pool);
    flow_eval(m, sc, s, t, x, out, pool);
}

void flow_lsd_decode(const flow_head *m, flow_scratch *sc, const float *c, int n_steps, float *x,
                     tpool *pool) {
    lin_forward(&m->cond_embed, c, 1, sc->cond, pool);
    for (int i = 0; i < n_steps; i++) {
        /* s and t as the reference forms them: a double ratio rounded to f32. */
        float s = (float)((double)i / n_steps), t = (float)((double)(i + 1) / n_steps);
        flow_eval(m, sc, s, t, x, sc->out, pool);
        for (int k = 0; k < m->ldim; k++)
            x[k] += sc->out[k] / (float)n_steps;
    }
}
