/* SEANet encoder/decoder (SPEC 3.5): a list of ops in checkpoint index order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/seanet.h"

typedef struct builder {
    seanet *s;
    const st_file *f;
    const char *prefix;
    int replicate;
    ptts_err *e;
} builder;

/* Appends op `<prefix>.model.<index>` (counted before loading, so that seanet_free also
 * releases a half-loaded one) and formats its name + suffix into name. */
static seanet_op *next_op(builder *b, seanet_kind kind, const char *suffix, char *name,
                          size_t cap) {
    int i = b->s->n_ops++;
    seanet_op *op = &b->s->ops[i];
    op->kind = kind;
    snprintf(name, cap, "%s.model.%d%s", b->prefix, i, suffix);
    return op;
}

static int add_conv(builder *b, int in, int out, int k, int stride) {
    char name[256];
    seanet_op *op = next_op(b, SEANET_CONV, ".conv", name, sizeof name);
    return conv1d_load(&op->conv, b->f, name, in, out, k, stride, 1, 1, 1, b->replicate, b->e);
}

static int add_convtr(builder *b, int in, int out, int k, int stride) {
    char name[256];
    seanet_op *op = next_op(b, SEANET_CONVTR, ".convtr", name, sizeof name);
    return convtr1d_load(&op->tr, b->f, name, in, out, k, stride, 1, 1, b->e);
}

static void add_elu(builder *b) {
    char name[256];
    next_op(b, SEANET_ELU, "", name, sizeof name);
}

/* x + conv(k=1)(ELU(conv(k, dilation, dim -> dim/compress)(ELU(x)))) */
static int add_res(builder *b, const seanet_config *cfg, int dim, int dilation) {
    char base[256], name[300];
    seanet_op *op = next_op(b, SEANET_RES, "", base, sizeof base);
    int hidden = dim / cfg->compress;
    snprintf(name, sizeof name, "%s.block.1.conv", base);
    int rc = conv1d_load(&op->conv, b->f, name, dim, hidden, cfg->residual_kernel_size, 1, dilation,
                         1, 1, b->replicate, b->e);
    if (rc != PTTS_OK) return rc;
    snprintf(name, sizeof name, "%s.block.3.conv", base);
    return conv1d_load(&op->conv2, b->f, name, hidden, dim, 1, 1, 1, 1, 1, b->replicate, b->e);
}

static int add_res_layers(builder *b, const seanet_config *cfg, int dim) {
    int dilation = 1;
    for (int j = 0; j < cfg->n_residual_layers; j++, dilation *= cfg->dilation_base) {
        int rc = add_res(b, cfg, dim, dilation);
        if (rc != PTTS_OK) return rc;
    }
    return PTTS_OK;
}

static int check_config(const seanet_config *c, const char *prefix, ptts_err *e) {
    int ok = c->channels > 0 && c->dimension > 0 && c->n_filters > 0 && c->n_residual_layers >= 0 &&
             c->n_residual_layers <= 16 && c->n_ratios > 0 && c->n_ratios <= SEANET_MAX_RATIOS &&
             c->kernel_size > 0 && c->residual_kernel_size > 0 && c->last_kernel_size > 0 &&
             c->dilation_base > 0 && c->dilation_base <= 16 && c->compress > 0 &&
             (int64_t)c->n_filters << c->n_ratios <= 1 << 20 && c->n_filters / c->compress > 0;
    for (int i = 0; ok && i < c->n_ratios; i++)
        ok = c->ratios[i] > 0 && c->ratios[i] <= 64;
    return ok ? PTTS_OK : err_set(e, PTTS_ERR_CONFIG, "%s: invalid SEANet configuration", prefix);
}

int seanet_load(seanet *s, const st_file *f, const char *prefix, const seanet_config *cfg,
                int decoder, ptts_err *e) {
    memset(s, 0, sizeof *s);
    int rc = check_config(cfg, prefix, e);
    if (rc != PTTS_OK) return rc;
    int nr = cfg->n_ratios, nf = cfg->n_filters;
    s->ops = calloc((size_t)(3 + nr * (2 + cfg->n_residual_layers)), sizeof *s->ops);
    if (!s->ops) return err_set(e, PTTS_ERR_NOMEM, "%s: out of memory", prefix);
    s->decoder = decoder;
    s->hop = 1;
    for (int i = 0; i < nr; i++)
        s->hop *= cfg->ratios[i];
    s->in_ch = decoder ? cfg->dimension : cfg->channels;
    s->out_ch = decoder ? cfg->channels : cfg->dimension;
    builder b = {s, f, prefix, cfg->replicate, e};
    if (decoder) {
        int mult = 1 << nr;
        rc = add_conv(&b, cfg->dimension, mult * nf, cfg->kernel_size, 1);
        for (int i = 0; rc == PTTS_OK && i < nr; i++, mult /= 2) {
            int r = cfg->ratios[i];
            add_elu(&b);
            rc = add_convtr(&b, mult * nf, mult * nf / 2, 2 * r, r);
            if (rc == PTTS_OK) rc = add_res_layers(&b, cfg, mult * nf / 2);
        }
        if (rc == PTTS_OK) add_elu(&b);
        if (rc == PTTS_OK) rc = add_conv(&b, nf, cfg->channels, cfg->last_kernel_size, 1);
    } else {
        int mult = 1;
        rc = add_conv(&b, cfg->channels, nf, cfg->kernel_size, 1);
        for (int i = nr - 1; rc == PTTS_OK && i >= 0; i--, mult *= 2) {
            int r = cfg->ratios[i];
            rc = add_res_layers(&b, cfg, mult * nf);
            if (rc == PTTS_OK) add_elu(&b);
            if (rc == PTTS_OK) rc = add_conv(&b, mult * nf, 2 * mult * nf, 2 * r, r);
        }
        if (rc == PTTS_OK) add_elu(&b);
        if (rc == PTTS_OK) rc = add_conv(&b, mult * nf, cfg->dimension, cfg->last_kernel_size, 1);
    }
    if (rc != PTTS_OK) seanet_free(s);
    return rc;
}

void seanet_free(seanet *s) {
    if (!s) return;
    for (int i = 0; i < s->n_ops; i++) {
        conv1d_free(&s->ops[i].conv);
        conv1d_free(&s->ops[i].conv2);
        convtr1d_free(&s->ops[i].tr);
    }
    free(s->ops);
    memset(s, 0, sizeof *s);
}

static size_t max_sz(size_t a, size_t b) {
    return a > b ? a : b;
}

int seanet_state_init(seanet_state *st, const seanet *s, int max_in, ptts_err *e) {
    memset(st, 0, sizeof *st);
    if (max_in <= 0 || (!s->decoder && max_in % s->hop))
        return err_set(e, PTTS_ERR_INVALID_ARG, "SEANet: %d rows per call is not a multiple of %d",
                       max_in, s->hop);
    st->max_in = max_in;
    st->cs = calloc((size_t)s->n_ops * 2, sizeof *st->cs);
    if (!st->cs) return err_set(e, PTTS_ERR_NOMEM, "SEANet: out of memory");
    /* Walk the ops once with the largest call to size the shared buffers. */
    size_t rows = (size_t)max_in, act = rows * s->in_ch, work = 0;
    int rc = PTTS_OK;
    for (int i = 0; rc == PTTS_OK && i < s->n_ops; i++) {
        const seanet_op *op = &s->ops[i];
        conv_state *cs = &st->cs[2 * i];
        if (op->kind == SEANET_CONV) {
            work = max_sz(work, conv1d_work(&op->conv, (int)rows));
            rows /= op->conv.stride;
            act = max_sz(act, rows * op->conv.out);
            rc = conv1d_state_init(cs, &op->conv, e);
        } else if (op->kind == SEANET_CONVTR) {
            work = max_sz(work, convtr1d_work(&op->tr, (int)rows));
            rows *= op->tr.stride;
            act = max_sz(act, rows * op->tr.out);
            rc = convtr1d_state_init(cs, &op->tr, e);
        } else if (op->kind == SEANET_RES) {
            work = max_sz(work, conv1d_work(&op->conv, (int)rows));
            work = max_sz(work, conv1d_work(&op->conv2, (int)rows));
            act = max_sz(act, rows * op->conv.in);
            act = max_sz(act, rows * op->conv.out);
            rc = conv1d_state_init(cs, &op->conv, e);
            if (rc == PTTS_OK) rc = conv1d_state_init(cs + 1, &op->conv2, e);
        }
    }
    for (int i = 0; rc == PTTS_OK && i < 3; i++)
        if (!(st->buf[i] = malloc(act * sizeof(float))))
            rc = err_set(e, PTTS_ERR_NOMEM, "SEANet: out of memory for activations");
    if (rc == PTTS_OK && work && !(st->work = malloc(work * sizeof(float))))
        rc = err_set(e, PTTS_ERR_NOMEM, "SEANet: out of memory for conv scratch");
    if (rc != PTTS_OK) seanet_state_free(st, s);
    return rc;
}

void seanet_state_reset(seanet_state *st, const seanet *s) {
    for (int i = 0; i < 2 * s->n_ops; i++)
        conv_state_reset(&st->cs[i]);
}

void seanet_state_free(seanet_state *st, const seanet *s) {
    if (!st) return;
    if (st->cs)
        for (int i = 0; i < 2 * s->n_ops; i++)
            conv_state_free(&st->cs[i]);
    free(st->cs);
    for (int i = 0; i < 3; i++)
        free(st->buf[i]);
    free(st->work);
    memset(st, 0, sizeof *st);
}

void seanet_forward(const seanet *s, seanet_state *st, const float *x, int T, float *y,
                    tpool *pool) {
    float *cur = st->buf[0], *nxt = st->buf[1], *tmp = st->buf[2], *sw;
    int rows = T, ch = s->in_ch;
    memcpy(cur, x, (size_t)rows * ch * sizeof *x);
    for (int i = 0; i < s->n_ops; i++) {
        const seanet_op *op = &s->ops[i];
        conv_state *cs = &st->cs[2 * i];
        size_t n = (size_t)rows * ch;
        switch (op->kind) {
        case SEANET_ELU: k_elu(cur, n); break;
        case SEANET_CONV:
            conv1d_forward(&op->conv, cs, cur, rows, nxt, st->work, pool);
            rows /= op->conv.stride, ch = op->conv.out;
            sw = cur, cur = nxt, nxt = sw;
            break;
        case SEANET_CONVTR:
            convtr1d_forward(&op->tr, cs, cur, rows, nxt, st->work, pool);
            rows *= op->tr.stride, ch = op->tr.out;
            sw = cur, cur = nxt, nxt = sw;
            break;
        case SEANET_RES:
            memcpy(tmp, cur, n * sizeof *tmp);
            k_elu(tmp, n);
            conv1d_forward(&op->conv, cs, tmp, rows, nxt, st->work, pool);
            k_elu(nxt, (size_t)rows * op->conv.out);
            conv1d_forward(&op->conv2, cs + 1, nxt, rows, tmp, st->work, pool);
            k_axpy(cur, 1.0f, tmp, (int)n);
            break;
        }
    }
    memcpy(y, cur, (size_t)rows * ch * sizeof *y);
}
