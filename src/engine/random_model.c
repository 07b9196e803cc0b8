/* ptts_debug_random_model: a model directory (config, random checkpoint, tokenizer) of a
 * released size. Values are drawn so that activations stay in range through every layer:
 * weights N(0, 1/fan_in), norm weights near 1, small biases, the configured layer scales,
 * and an EOS head that never fires at the default threshold. */
#include "random_model.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "common/rng.h"
#include "engine.h"
#include "io/configs_builtin.h"
#include "io/safetensors.h"

#define BIAS_STD   0.02f  /* biases, and the spread of norm weights around 1 */
#define EMB_STD    0.05f  /* latent statistics: emb_std ~ 1, emb_mean ~ 0 */
#define EOS_BIAS   -10.0f /* out_eos(h) = bias + N(0, EOS_GAIN^2): far below the -4 default */
#define EOS_GAIN   0.1f
#define AUDIO_GAIN 0.1 /* the decoder's last conv: speech-like levels (RMS ~0.1), no clipping */
#define MAX_NUMEL  ((int64_t)1 << 31) /* per tensor: 8 GB in f32 */

/* ---- the tensor list ----------------------------------------------------------------- */

typedef struct plan_ctx {
    rm_plan *p;
    ptts_err *e;
    int rc; /* the first failure; later additions do nothing */
} plan_ctx;

/* The dims of a shape written inline: add(..., DIMS(out, in), ...). */
#define DIMS(...)                                                                                  \
    (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]) {           \
        __VA_ARGS__                                                                                \
    }

/* Appends tensor `<fmt...><suffix>`. */
static void vadd(plan_ctx *x, rm_fill fill, float mean, float std, int ndim, const int64_t *shape,
                 const char *suffix, const char *fmt, va_list ap) {
    if (x->rc) return;
    rm_plan *p = x->p;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 256;
        rm_tensor *v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            x->rc = err_set(x->e, PTTS_ERR_NOMEM, "out of memory for the tensor list");
            return;
        }
        p->v = v;
        p->cap = cap;
    }
    rm_tensor *t = &p->v[p->n];
    memset(t, 0, sizeof *t);
    int n = vsnprintf(t->name, sizeof t->name, fmt, ap);
    if (n >= 0 && (size_t)n < sizeof t->name)
        n += snprintf(t->name + n, sizeof t->name - (size_t)n, "%s", suffix);
    if (n < 0 || (size_t)n >= sizeof t->name) {
        x->rc = err_set(x->e, PTTS_ERR_INTERNAL, "tensor name too long: '%s...'", t->name);
        return;
    }
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        if (shape[i] <= 0 || shape[i] > MAX_NUMEL / t->numel) {
            x->rc = err_set(x->e, PTTS_ERR_CONFIG,
                            "tensor '%s': the config gives it %s dimension %lld", t->name,
                            shape[i] <= 0 ? "a non-positive" : "too large a", (long long)shape[i]);
            return;
        }
        t->numel *= shape[i];
    }
    t->fill = fill;
    t->mean = mean;
    t->std = std;
    p->n++;
}

__attribute__((format(printf, 7, 8))) static void add(plan_ctx *x, rm_fill fill, float mean,
                                                      float std, int ndim, const int64_t *shape,
                                                      const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vadd(x, fill, mean, std, ndim, shape, "", fmt, ap);
    va_end(ap);
}

/* `<base>.weight` ~ N(0, 1/fan_in), then `<base>.bias [bias]` ~ N(0, BIAS_STD^2) when
 * bias > 0. */
__attribute__((format(printf, 6, 7))) static void weight(plan_ctx *x, int ndim,
                                                         const int64_t *shape, double fan_in,
                                                         int64_t bias, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vadd(x, RM_NORMAL, 0, (float)(1 / sqrt(fan_in)), ndim, shape, ".weight", fmt, ap);
    va_end(ap);
    if (bias <= 0) return;
    va_start(ap, fmt);
    vadd(x, RM_NORMAL, 0, BIAS_STD, 1, &bias, ".bias", fmt, ap);
    va_end(ap);
}

/* LayerNorm `<base>.weight [n]` ~ 1, `<base>.bias [n]` ~ 0. */
__attribute__((format(printf, 3, 4))) static void norm(plan_ctx *x, int64_t n, const char *fmt,
                                                       ...) {
    va_list ap;
    va_start(ap, fmt);
    vadd(x, RM_NORMAL, 1, BIAS_STD, 1, &n, ".weight", fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    vadd(x, RM_NORMAL, 0, BIAS_STD, 1, &n, ".bias", fmt, ap);
    va_end(ap);
}

/* Linear [out][in]; Conv1d [out][in][k] (each output sums in*k taps); ConvTranspose1d
 * [in][out][k] (each output sums in*k/stride taps). */
#define LINEAR(x, out, in, bias, ...) weight(x, DIMS(out, in), in, (bias) ? (out) : 0, __VA_ARGS__)
#define CONV(x, out, in, k, bias, ...)                                                             \
    weight(x, DIMS(out, in, k), (double)(in) * (k), (bias) ? (out) : 0, __VA_ARGS__)
#define CONVTR(x, in, out, k, stride, ...)                                                         \
    weight(x, DIMS(in, out, k), (double)(in) * (k) / (stride), out, __VA_ARGS__)

static void plan_transformer(plan_ctx *x, const char *prefix, int layers, int d, int ff,
                             double layer_scale) {
    for (int i = 0; i < layers; i++) {
        LINEAR(x, 3 * d, d, 0, "%slayers.%d.self_attn.in_proj", prefix, i);
        LINEAR(x, d, d, 0, "%slayers.%d.self_attn.out_proj", prefix, i);
        norm(x, d, "%slayers.%d.norm1", prefix, i);
        norm(x, d, "%slayers.%d.norm2", prefix, i);
        LINEAR(x, ff, d, 0, "%slayers.%d.linear1", prefix, i);
        LINEAR(x, d, ff, 0, "%slayers.%d.linear2", prefix, i);
        for (int k = 1; layer_scale > 0 && k <= 2; k++)
            add(x, RM_NORMAL, (float)layer_scale, 0, DIMS(d), "%slayers.%d.layer_scale_%d.scale",
                prefix, i, k);
    }
}

static void plan_flow_net(plan_ctx *x, const flowlm_dims *D) {
    const char *p = "flow_lm.flow_net.";
    int C = D->flow_dim;
    for (int k = 0; k < 2; k++) {
        add(x, RM_FREQS, 0, 0, DIMS(FLOW_FREQS), "%stime_embed.%d.freqs", p, k);
        LINEAR(x, C, 2 * FLOW_FREQS, 1, "%stime_embed.%d.mlp.0", p, k);
        LINEAR(x, C, C, 1, "%stime_embed.%d.mlp.2", p, k);
        add(x, RM_NORMAL, 1, BIAS_STD, DIMS(C), "%stime_embed.%d.mlp.3.alpha", p, k);
    }
    LINEAR(x, C, D->d_model, 1, "%scond_embed", p);
    LINEAR(x, C, D->ldim, 1, "%sinput_proj", p);
    for (int j = 0; j < D->flow_depth; j++) {
        norm(x, C, "%sres_blocks.%d.in_ln", p, j);
        LINEAR(x, C, C, 1, "%sres_blocks.%d.mlp.0", p, j);
        LINEAR(x, C, C, 1, "%sres_blocks.%d.mlp.2", p, j);
        LINEAR(x, 3 * C, C, 1, "%sres_blocks.%d.adaLN_modulation.1", p, j);
    }
    LINEAR(x, D->ldim, C, 1, "%sfinal_layer.linear", p);
    LINEAR(x, 2 * C, C, 1, "%sfinal_layer.adaLN_modulation.1", p);
}

static void plan_flow_lm(plan_ctx *x, const flowlm_dims *D) {
    int d = D->d_model;
    add(x, RM_NORMAL, 0, 1, DIMS(D->ldim), "flow_lm.bos_emb");
    if (D->insert_bos_before_voice)
        add(x, RM_NORMAL, 0, 1, DIMS(1, 1, d), "flow_lm.bos_before_voice");
    add(x, RM_NORMAL, 0, (float)(1 / sqrt(D->inner_dim)), DIMS(d, D->inner_dim),
        "flow_lm.speaker_proj_weight");
    add(x, RM_NORMAL, 1, EMB_STD, DIMS(D->ldim), "flow_lm.emb_std");
    add(x, RM_NORMAL, 0, EMB_STD, DIMS(D->ldim), "flow_lm.emb_mean");
    add(x, RM_NORMAL, 0, 1, DIMS((int64_t)D->n_bins + 1, d), "flow_lm.conditioner.embed.weight");
    plan_flow_net(x, D);
    LINEAR(x, d, D->ldim, 0, "flow_lm.input_linear");
    plan_transformer(x, "flow_lm.transformer.", D->num_layers, d, (int)(d * D->hidden_scale), 0);
    norm(x, d, "flow_lm.out_norm");
    add(x, RM_NORMAL, 0, (float)(EOS_GAIN / sqrt(d)), DIMS(1, d), "flow_lm.out_eos.weight");
    add(x, RM_NORMAL, EOS_BIAS, 0, DIMS(1), "flow_lm.out_eos.bias");
}

/* SEANet in the op order (and ModuleList indices, activations included) of seanet_load. */
typedef struct seanet_ctx {
    plan_ctx *x;
    const char *prefix;
    int op; /* index of the next module */
} seanet_ctx;

/* A conv whose outputs have gain^2 times the variance of its inputs. */
static void sn_conv(seanet_ctx *s, int in, int out, int k, double gain) {
    weight(s->x, DIMS(out, in, k), (double)in * k / (gain * gain), out, "%s.model.%d.conv",
           s->prefix, s->op++);
}

static void sn_elu(seanet_ctx *s) {
    s->op++;
}

static void sn_res_layers(seanet_ctx *s, const seanet_config *c, int dim) {
    int hidden = dim / c->compress;
    for (int j = 0; j < c->n_residual_layers; j++, s->op++) {
        CONV(s->x, hidden, dim, c->residual_kernel_size, 1, "%s.model.%d.block.1.conv", s->prefix,
             s->op);
        CONV(s->x, dim, hidden, 1, 1, "%s.model.%d.block.3.conv", s->prefix, s->op);
    }
}

static void plan_seanet_encoder(plan_ctx *x, const seanet_config *c) {
    seanet_ctx s = {x, "mimi.encoder", 0};
    int nf = c->n_filters, mult = 1;
    sn_conv(&s, c->channels, nf, c->kernel_size, 1);
    for (int i = c->n_ratios - 1; i >= 0; i--, mult *= 2) {
        sn_res_layers(&s, c, mult * nf);
        sn_elu(&s);
        sn_conv(&s, mult * nf, 2 * mult * nf, 2 * c->ratios[i], 1);
    }
    sn_elu(&s);
    sn_conv(&s, mult * nf, c->dimension, c->last_kernel_size, 1);
}

static void plan_seanet_decoder(plan_ctx *x, const seanet_config *c) {
    seanet_ctx s = {x, "mimi.decoder", 0};
    int nf = c->n_filters, mult = 1 << c->n_ratios;
    sn_conv(&s, c->dimension, mult * nf, c->kernel_size, 1);
    for (int i = 0; i < c->n_ratios; i++, mult /= 2) {
        int r = c->ratios[i];
        sn_elu(&s);
        CONVTR(x, mult * nf, mult * nf / 2, 2 * r, r, "mimi.decoder.model.%d.convtr", s.op++);
        sn_res_layers(&s, c, mult * nf / 2);
    }
    sn_elu(&s);
    sn_conv(&s, nf, c->channels, c->last_kernel_size, AUDIO_GAIN);
}

static void plan_mimi_codec(plan_ctx *x, const mimi_config *mc, double layer_scale) {
    int dim = mc->seanet.dimension, hop = 1;
    for (int i = 0; i < mc->seanet.n_ratios; i++)
        hop *= mc->seanet.ratios[i];
    int stride = (int)lround(mc->sample_rate / (double)hop / mc->frame_rate), k = 2 * stride;
    plan_seanet_encoder(x, &mc->seanet);
    plan_seanet_decoder(x, &mc->seanet);
    for (int i = 0; i < 2; i++)
        plan_transformer(x,
                         i ? "mimi.decoder_transformer.transformer."
                           : "mimi.encoder_transformer.transformer.",
                         mc->tf.num_layers, dim, mc->tf.dim_feedforward, layer_scale);
    CONV(x, mc->quant_out, mc->ldim, 1, 0, "mimi.quantizer.output_proj");
    CONV(x, mc->inner_dim, dim, k, 0, "mimi.downsample.conv.conv");
    /* Depthwise: each output sums k/stride taps of one channel. */
    weight(x, DIMS(dim, 1, k), (double)k / stride, 0, "mimi.upsample.convtr.convtr");
}

/* Bounds every size the plan multiplies, so that its int arithmetic cannot overflow (the
 * config loader has checked that they are positive and that the codec rates divide). */
static int check_sizes(const flowlm_dims *fd, const mimi_config *mc, ptts_err *e) {
    const seanet_config *s = &mc->seanet;
    if (s->n_ratios > SEANET_MAX_RATIOS)
        return err_set(e, PTTS_ERR_CONFIG, "mimi.seanet.ratios: more than %d", SEANET_MAX_RATIOS);
    double hop = 1, max_ratio = 0;
    for (int i = 0; i < s->n_ratios; i++) {
        hop *= s->ratios[i];
        max_ratio = fmax(max_ratio, s->ratios[i]);
    }
    const double v[] = {fd->d_model * (double)fd->hidden_scale,
                        3.0 * fd->d_model,
                        3.0 * fd->flow_dim,
                        fd->n_bins,
                        fd->inner_dim,
                        fd->ldim,
                        fd->num_layers,
                        fd->flow_depth,
                        s->dimension,
                        (double)s->n_filters * (1 << s->n_ratios),
                        s->kernel_size,
                        s->residual_kernel_size,
                        s->last_kernel_size,
                        s->n_residual_layers,
                        2 * max_ratio,
                        3.0 * mc->tf.d_model,
                        mc->tf.dim_feedforward,
                        mc->tf.num_layers,
                        mc->quant_out,
                        2.0 * mc->sample_rate / hop / mc->frame_rate};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!(v[i] <= 1 << 24))
            return err_set(e, PTTS_ERR_CONFIG,
                           "the config's sizes are too large for a random model");
    return PTTS_OK;
}

int rm_plan_build(rm_plan *p, const ptts_config *c, ptts_err *e) {
    memset(p, 0, sizeof *p);
    flowlm_dims fd;
    mimi_config mc;
    eng_dims_from_config(c, &fd, &mc);
    int rc = check_sizes(&fd, &mc, e);
    if (rc) return rc;
    plan_ctx x = {p, e, PTTS_OK};
    plan_flow_lm(&x, &fd);
    plan_mimi_codec(&x, &mc, c->mimi.transformer.layer_scale);
    return x.rc;
}

void rm_plan_free(rm_plan *p) {
    if (!p) return;
    free(p->v);
    memset(p, 0, sizeof *p);
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

void rm_values(const rm_tensor *t, uint64_t seed, float *out) {
    if (t->fill == RM_FREQS) {
        for (int64_t i = 0; i < t->numel; i++)
            out[i] = (float)exp(-log(10000.0) * (double)i / (double)t->numel);
        return;
    }
    rng r;
    rng_seed(&r, seed ^ fnv1a(t->name));
    for (int64_t i = 0; i < t->numel; i++)
        out[i] = t->std > 0 ? (float)(t->mean + t->std * rng_normal(&r)) : t->mean;
}

/* ---- files ------------------------------------------------------------------------------ */

/* IEEE half, round to nearest even (overflow to infinity, subnormals kept). */
static uint16_t f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffff;
    if (ax > 0x7f800000) return (uint16_t)(sign | 0x7e00);
    if (ax >= 0x477ff000) return (uint16_t)(sign | 0x7c00); /* >= 65520 rounds to inf */
    if (ax < 0x38800000) {                                  /* below 2^-14: subnormal */
        float a;
        memcpy(&a, &ax, 4);
        return (uint16_t)(sign | (uint32_t)lrintf(a * 0x1p24f));
    }
    ax += 0xc8000fffu + ((ax >> 13) & 1); /* rebias the exponent by -112 and round */
    return (uint16_t)(sign | (ax >> 13));
}

static uint16_t f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

/* Draws every tensor and writes the checkpoint. st_writer keeps each tensor's bytes until
 * it saves, so the whole checkpoint is in memory once. */
static int write_weights(const rm_plan *p, uint64_t seed, int dtype, const char *path,
                         ptts_err *e) {
    static const st_dtype st_of[] = {
        [PTTS_DTYPE_F32] = ST_F32, [PTTS_DTYPE_BF16] = ST_BF16, [PTTS_DTYPE_F16] = ST_F16};
    int64_t max = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].numel > max) max = p->v[i].numel;
    float *v = malloc((size_t)max * sizeof *v);
    uint16_t *h = dtype != PTTS_DTYPE_F32 ? malloc((size_t)max * sizeof *h) : NULL;
    st_writer *w = NULL;
    int rc = !v || (dtype != PTTS_DTYPE_F32 && !h)
                 ? err_set(e, PTTS_ERR_NOMEM, "out of memory drawing the weights")
                 : st_writer_new(&w, e);
    for (size_t i = 0; !rc && i < p->n; i++) {
        const rm_tensor *t = &p->v[i];
        rm_values(t, seed, v);
        for (int64_t j = 0; h && j < t->numel; j++)
            h[j] = dtype == PTTS_DTYPE_F16 ? f32_to_f16(v[j]) : f32_to_bf16(v[j]);
        rc = st_writer_add(w, t->name, st_of[dtype], t->ndim, t->shape, h ? (void *)h : (void *)v,
                           e);
    }
    if (!rc) rc = st_writer_save(w, path, e);
    st_writer_free(w);
    free(v);
    free(h);
    return rc;
}

/* A file written under a temporary name and renamed over path once complete, so that a
 * failure (or a source that is the destination itself) never leaves a half-written file. */
typedef struct out_file {
    FILE *f;
    const char *path;
    char tmp[PATH_MAX];
} out_file;

static int out_open(out_file *o, const char *path, ptts_err *e) {
    o->path = path;
    if (snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof o->tmp)
        return err_set(e, PTTS_ERR_INVALID_ARG, "path too long: '%s'", path);
    if (!(o->f = fopen(o->tmp, "wb")))
        return err_set(e, PTTS_ERR_IO, "cannot create '%s': %s", o->tmp, strerror(errno));
    return PTTS_OK;
}

/* Closes o; renames it over its path when rc is PTTS_OK and every write succeeded. */
static int out_close(out_file *o, int rc, ptts_err *e) {
    int bad = fflush(o->f) || ferror(o->f);
    bad = fclose(o->f) || bad;
    if (!rc && bad) rc = err_set(e, PTTS_ERR_IO, "cannot write '%s': %s", o->tmp, strerror(errno));
    if (!rc && rename(o->tmp, o->path))
        rc = err_set(e, PTTS_ERR_IO, "cannot rename '%s' to '%s': %s", o->tmp, o->path,
                     strerror(errno));
    if (rc) unlink(o->tmp);
    return rc;
}

static int copy_file(const char *src, const char *dst, ptts_err *e) {
    FILE *in = fopen(src, "rb");
    if (!in) return err_set(e, PTTS_ERR_IO, "cannot open '%s': %s", src, strerror(errno));
    out_file o;
    int rc = out_open(&o, dst, e);
    if (!rc) {
        char buf[1 << 16];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, in)) > 0 && fwrite(buf, 1, n, o.f) == n)
            continue;
        if (ferror(in)) rc = err_set(e, PTTS_ERR_IO, "cannot read '%s'", src);
        rc = out_close(&o, rc, e);
    }
    fclose(in);
    return rc;
}

/* The pair of key in mapping node map, or NULL. */
static yaml_node_pair_t *yaml_pair(yaml_document_t *d, int map, const char *key) {
    yaml_node_t *n = yaml_document_get_node(d, map);
    if (!n || n->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(key) &&
            !memcmp(k->data.scalar.value, key, k->data.scalar.length))
            return p;
    }
    return NULL;
}

static int yaml_child(yaml_document_t *d, int map, const char *key) {
    yaml_node_pair_t *p = yaml_pair(d, map, key);
    return p ? p->value : 0;
}

/* Points key of mapping map at node value; adds the key when absent if add. 0 = no memory. */
static int yaml_set(yaml_document_t *d, int map, const char *key, int value, int add) {
    yaml_node_pair_t *p = yaml_pair(d, map, key);
    if (p) return p->value = value, 1;
    if (!add || !map) return 1;
    int k =
        yaml_document_add_scalar(d, NULL, (const yaml_char_t *)key, -1, YAML_PLAIN_SCALAR_STYLE);
    return k && yaml_document_append_mapping_pair(d, map, k, value);
}

/* The source YAML with weights_path model.safetensors, tokenizer_path tokenizer.model and
 * the other checkpoint paths null, so that nothing is fetched from elsewhere. */
static int edit_config(yaml_document_t *d) {
    const yaml_char_t *w = (const yaml_char_t *)"model.safetensors";
    const yaml_char_t *t = (const yaml_char_t *)"tokenizer.model";
    int wi = yaml_document_add_scalar(d, NULL, w, -1, YAML_PLAIN_SCALAR_STYLE);
    int ti = yaml_document_add_scalar(d, NULL, t, -1, YAML_PLAIN_SCALAR_STYLE);
    int ni =
        yaml_document_add_scalar(d, NULL, (const yaml_char_t *)"null", -1, YAML_PLAIN_SCALAR_STYLE);
    if (!wi || !ti || !ni) return 0;
    int root = 1, flow = yaml_child(d, root, "flow_lm"), mimi = yaml_child(d, root, "mimi");
    int table = yaml_child(d, flow, "lookup_table");
    return yaml_set(d, root, "weights_path", wi, 1) &&
           yaml_set(d, root, "weights_path_without_voice_cloning", ni, 0) &&
           yaml_set(d, flow, "weights_path", ni, 0) && yaml_set(d, mimi, "weights_path", ni, 0) &&
           yaml_set(d, table, "tokenizer_path", ti, 1);
}

/* Writes document d (which it deletes) to path after a comment line. */
static int emit_config(yaml_document_t *d, const char *comment, const char *path, ptts_err *e) {
    out_file o;
    int rc = out_open(&o, path, e);
    if (rc) {
        yaml_document_delete(d);
        return rc;
    }
    fprintf(o.f, "# %s\n", comment);
    yaml_emitter_t em;
    if (!yaml_emitter_initialize(&em)) {
        yaml_document_delete(d);
        rc = err_set(e, PTTS_ERR_NOMEM, "out of memory");
    } else {
        yaml_emitter_set_output_file(&em, o.f);
        yaml_emitter_set_unicode(&em, 1);
        yaml_emitter_set_width(&em, -1);
        if (!yaml_emitter_dump(&em, d) || !yaml_emitter_close(&em)) /* dump deletes d */
            rc = err_set(e, PTTS_ERR_IO, "cannot write '%s': %s", o.tmp,
                         em.problem ? em.problem : "YAML emitter error");
        yaml_emitter_delete(&em);
    }
    return out_close(&o, rc, e);
}

/* The source config's YAML (the file, or the built-in text), edited and written to path. */
static int write_config(const ptts_config *c, const char *config_path, uint64_t seed,
                        const char *path, ptts_err *e) {
    const char *source = config_path ? config_path : c->name, *text = NULL;
    for (const ptts_builtin_config *b = ptts_builtin_configs; !config_path && b->name; b++)
        if (!strcmp(b->name, c->name)) text = b->yaml;
    FILE *in = config_path ? fopen(config_path, "rb") : NULL;
    if (config_path ? !in : !text)
        return err_set(e, PTTS_ERR_IO, "cannot read config '%s'", source);
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = PTTS_OK, have_doc = 0;
    if (!yaml_parser_initialize(&parser)) {
        rc = err_set(e, PTTS_ERR_NOMEM, "out of memory");
    } else {
        if (in)
            yaml_parser_set_input_file(&parser, in);
        else
            yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
        have_doc = yaml_parser_load(&parser, &doc);
        if (!have_doc || !yaml_document_get_root_node(&doc))
            rc = err_set(e, PTTS_ERR_CONFIG, "cannot parse config '%s' again", source);
        else if (!edit_config(&doc))
            rc = err_set(e, PTTS_ERR_NOMEM, "out of memory editing the config");
        yaml_parser_delete(&parser);
    }
    if (in) fclose(in);
    if (!rc) {
        char comment[PATH_MAX + 64];
        snprintf(comment, sizeof comment, "Random weights (seed %llu) in the layout of %s.",
                 (unsigned long long)seed, source);
        return emit_config(&doc, comment, path, e);
    }
    if (have_doc) yaml_document_delete(&doc);
    return rc;
}

static int make_dirs(const char *dir, ptts_err *e) {
    char p[PATH_MAX];
    if (!*dir || snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return err_set(e, PTTS_ERR_INVALID_ARG, "invalid output directory '%s'", dir);
    for (char *s = p + 1;; s++) {
        if (*s && *s != '/') continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0755) && errno != EEXIST)
            return err_set(e, PTTS_ERR_IO, "cannot create directory '%s': %s", p, strerror(errno));
        *s = c;
        if (!c) break;
    }
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode))
        return err_set(e, PTTS_ERR_IO, "'%s' is not a directory", dir);
    return PTTS_OK;
}

static int check_tokenizer(const char *path, int n_bins, ptts_err *e) {
    spm_model *tok = NULL;
    int rc = spm_load(&tok, path, e);
    if (!rc && spm_vocab_size(tok) != n_bins)
        rc = err_set(e, PTTS_ERR_CONFIG,
                     "tokenizer '%s' has %d pieces but the config's flow_lm.lookup_table.n_bins "
                     "is %d",
                     path, spm_vocab_size(tok), n_bins);
    spm_free(tok);
    return rc;
}

static int random_model(ptts_config *c, rm_plan *plan, const char *config_path,
                        const char *language, const char *out_dir, const char *tokenizer_path,
                        uint64_t seed, int dtype, ptts_err *e) {
    if (!out_dir) return err_set(e, PTTS_ERR_INVALID_ARG, "no output directory");
    if (dtype != PTTS_DTYPE_F32 && dtype != PTTS_DTYPE_BF16 && dtype != PTTS_DTYPE_F16)
        return err_set(e, PTTS_ERR_INVALID_ARG, "unknown dtype %d", dtype);
    int rc = config_path ? config_load_file(c, config_path, e)
                         : config_load_builtin(c, language ? language : "english", e);
    if (rc) return rc;
    const cfg_path *own = &c->flow_lm.lookup_table.tokenizer_path;
    const char *tok = tokenizer_path                ? tokenizer_path
                      : own->kind == CFG_PATH_LOCAL ? own->path
                                                    : NULL;
    if (!tok)
        return err_set(e, PTTS_ERR_UNSUPPORTED,
                       "the config's tokenizer is not a local file (%s): give a tokenizer file",
                       own->path ? own->path : "none");
    if ((rc = check_tokenizer(tok, c->flow_lm.lookup_table.n_bins, e)) ||
        (rc = rm_plan_build(plan, c, e)) || (rc = make_dirs(out_dir, e)))
        return rc;
    char weights[PATH_MAX], tok_out[PATH_MAX], cfg_out[PATH_MAX];
    if (snprintf(weights, sizeof weights, "%s/model.safetensors", out_dir) >= (int)sizeof weights ||
        snprintf(tok_out, sizeof tok_out, "%s/tokenizer.model", out_dir) >= (int)sizeof tok_out ||
        snprintf(cfg_out, sizeof cfg_out, "%s/config.yaml", out_dir) >= (int)sizeof cfg_out)
        return err_set(e, PTTS_ERR_INVALID_ARG, "output directory path too long");
    if ((rc = write_weights(plan, seed, dtype, weights, e)) || (rc = copy_file(tok, tok_out, e)) ||
        (rc = write_config(c, config_path, seed, cfg_out, e)))
        return rc;
    /* What was written must load as a config of its own. */
    ptts_config check;
    rc = config_load_file(&check, cfg_out, e);
    config_free(&check);
    return rc;
}

int ptts_debug_random_model(const char *config_path, const char *language, const char *out_dir,
                            const char *tokenizer_path, uint64_t seed, int dtype, char *err,
                            size_t errlen) {
    ptts_err e = {0};
    ptts_config c;
    rm_plan plan = {0};
    memset(&c, 0, sizeof c);
    int rc =
        random_model(&c, &plan, config_path, language, out_dir, tokenizer_path, seed, dtype, &e);
    rm_plan_free(&plan);
    config_free(&c);
    return rc ? eng_export_err(&e, err, errlen) : PTTS_OK;
}
