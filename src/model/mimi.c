/* Mimi codec: streaming decode per latent frame, block-streamed encode (SPEC 3.5). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/mimi.h"
#include "model/weights.h"

/* Latent frames per encoder block: bounds the encoder's scratch (about 2 x 1920 samples
 * x 3 x the widest SEANet layer, ~6 MB) while keeping the GEMMs large; larger blocks
 * gain no speed. */
enum { ENC_BLOCK_FRAMES = 2 };

static int check_config(mimi *m, const mimi_config *c, ptts_err *e) {
    const seanet_config *s = &c->seanet;
    int dim = s->dimension;
    if (c->tf.d_model != dim || c->tf.input_dimension != dim || c->tf.output_dimension != dim)
        return err_set(e, PTTS_ERR_UNSUPPORTED,
                       "mimi.transformer: d_model %d, input %d and output %d must equal "
                       "mimi.seanet.dimension %d (projections are not supported)",
                       c->tf.d_model, c->tf.input_dimension, c->tf.output_dimension, dim);
    if (c->outer_dim != dim || c->quant_out != dim)
        return err_set(e, PTTS_ERR_UNSUPPORTED,
                       "mimi: outer_dim %d and quantizer.output_dimension %d must equal "
                       "mimi.seanet.dimension %d",
                       c->outer_dim, c->quant_out, dim);
    if (c->ldim <= 0 || c->inner_dim <= 0 || c->tf.context <= 0 || s->channels != 1)
        return err_set(e, PTTS_ERR_CONFIG,
                       "mimi: invalid quantizer.dimension %d, inner_dim %d, transformer.context "
                       "%d or channels %d (mono only)",
                       c->ldim, c->inner_dim, c->tf.context, s->channels);
    /* stride = (sample_rate / hop) / frame_rate must be a whole number > 1; bad ratios
     * (<= 0) give no valid stride and are refused here before the SEANet sees them. */
    double hop = 1;
    for (int i = 0; i < s->n_ratios && i < SEANET_MAX_RATIOS; i++)
        hop *= s->ratios[i];
    double stride = hop > 0 && c->frame_rate > 0 ? c->sample_rate / hop / c->frame_rate : 0;
    if (!(stride >= 2 && stride <= 1024) || fabs(stride - round(stride)) > 1e-9 ||
        hop * stride > 1 << 20)
        return err_set(e, PTTS_ERR_UNSUPPORTED,
                       "mimi: sample_rate %d / hop %g / frame_rate %g is not a whole stride > 1",
                       c->sample_rate, hop, c->frame_rate);
    m->dim = dim;
    m->stride = (int)round(stride);
    m->frame_size = (int)hop * m->stride;
    return PTTS_OK;
}

int mimi_load(mimi *m, const st_file *f, const mimi_config *cfg, ptts_err *e) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    int rc = check_config(m, cfg, e);
    if (rc != PTTS_OK) return rc;
    int dim = m->dim, k = 2 * m->stride;
    rc = wt_vec(f, &m->emb_std, cfg->ldim, e, "flow_lm.emb_std");
    if (!rc) rc = wt_vec(f, &m->emb_mean, cfg->ldim, e, "flow_lm.emb_mean");
    if (!rc)
        rc = conv1d_load(&m->output_proj, f, "mimi.quantizer.output_proj", cfg->ldim, dim, 1, 1, 1,
                         1, 0, 0, e);
    if (!rc)
        rc = convtr1d_load(&m->upsample, f, "mimi.upsample.convtr.convtr", dim, dim, k, m->stride,
                           dim, 0, e);
    if (!rc)
        rc = conv1d_load(&m->downsample, f, "mimi.downsample.conv.conv", dim, cfg->inner_dim, k,
                         m->stride, 1, 1, 0, 1, e);
    for (int i = 0; !rc && i < 2; i++) {
        const char *prefix =
            i ? "mimi.encoder_transformer.transformer." : "mimi.decoder_transformer.transformer.";
        rc = tf_load(i ? &m->enc_tf : &m->dec_tf, f, prefix, dim, cfg->tf.num_heads,
                     cfg->tf.dim_feedforward, cfg->tf.num_layers, cfg->tf.max_period,
                     cfg->tf.context, cfg->tf.layer_scale ? TF_LAYER_SCALE : 0, e);
    }
    if (!rc) rc = seanet_load(&m->dec, f, "mimi.decoder", &cfg->seanet, 1, e);
    if (!rc) rc = seanet_load(&m->enc, f, "mimi.encoder", &cfg->seanet, 0, e);
    if (rc) mimi_free(m);
    return rc;
}

void mimi_free(mimi *m) {
    if (!m) return;
    free(m->emb_std);
    free(m->emb_mean);
    conv1d_free(&m->output_proj);
    convtr1d_free(&m->upsample);
    conv1d_free(&m->downsample);
    tf_free(&m->dec_tf);
    tf_free(&m->enc_tf);
    seanet_free(&m->dec);
    seanet_free(&m->enc);
    memset(m, 0, sizeof *m);
}

/* A ring KV cache and scratch for calls of up to t positions. */
static int kv_ring_init(tf_cache *kv, tf_scratch *s, const tf *t, int positions, ptts_err *e) {
    int cap = t->context - 1 + positions;
    int rc = tf_cache_init(kv, t, cap, 1, e);
    if (!rc) rc = tf_scratch_init(s, t, positions, cap, e);
    return rc;
}

int mimi_decoder_init(mimi_decoder *d, const mimi *m, int max_frames, ptts_err *e) {
    memset(d, 0, sizeof *d);
    if (max_frames <= 0 || max_frames > 1 << 16)
        return err_set(e, PTTS_ERR_INVALID_ARG, "mimi decoder: %d frames per call", max_frames);
    d->max_frames = max_frames;
    int pos = max_frames * m->stride;
    int rc = conv1d_state_init(&d->proj, &m->output_proj, e);
    if (!rc) rc = convtr1d_state_init(&d->up, &m->upsample, e);
    if (!rc) rc = kv_ring_init(&d->kv, &d->tfs, &m->dec_tf, pos, e);
    if (!rc) rc = seanet_state_init(&d->sn, &m->dec, pos, e);
    if (!rc) {
        d->u = malloc((size_t)max_frames * m->cfg.ldim * sizeof *d->u);
        d->lat = malloc((size_t)max_frames * m->dim * sizeof *d->lat);
        d->x = malloc((size_t)pos * m->dim * sizeof *d->x);
        if (!d->u || !d->lat || !d->x)
            rc = err_set(e, PTTS_ERR_NOMEM, "out of memory for the mimi decoder");
    }
    if (rc) mimi_decoder_free(d, m);
    return rc;
}

void mimi_decoder_reset(mimi_decoder *d, const mimi *m) {
    conv_state_reset(&d->proj);
    conv_state_reset(&d->up);
    tf_cache_reset(&d->kv);
    seanet_state_reset(&d->sn, &m->dec);
}

void mimi_decoder_free(mimi_decoder *d, const mimi *m) {
    if (!d) return;
    conv_state_free(&d->proj);
    conv_state_free(&d->up);
    tf_cache_free(&d->kv);
    tf_scratch_free(&d->tfs);
    seanet_state_free(&d->sn, &m->dec);
    free(d->u);
    free(d->lat);
    free(d->x);
    memset(d, 0, sizeof *d);
}

int mimi_decode(const mimi *m, mimi_decoder *d, const float *z, int n, float *pcm, tpool *pool,
                ptts_err *e) {
    if (n <= 0 || n > d->max_frames)
        return err_set(e, PTTS_ERR_INVALID_ARG, "mimi decoder: %d frames in one call (max %d)", n,
                       d->max_frames);
    int ldim = m->cfg.ldim, pos = n * m->stride;
    for (int t = 0; t < n; t++)
        for (int i = 0; i < ldim; i++)
            d->u[t * ldim + i] = z[t * ldim + i] * m->emb_std[i] + m->emb_mean[i];
    conv1d_forward(&m->output_proj, &d->proj, d->u, n, d->lat, NULL, pool);
    convtr1d_forward(&m->upsample, &d->up, d->lat, n, d->x, NULL, pool);
    int rc = tf_forward(&m->dec_tf, &d->kv, &d->tfs, d->x, pos, pool, e);
    if (rc) return rc;
    seanet_forward(&m->dec, &d->sn, d->x, pos, pcm, pool);
    return PTTS_OK;
}

int mimi_encode_frames(const mimi *m, size_t n) {
    size_t frames = (n + (size_t)m->frame_size - 1) / (size_t)m->frame_size;
    if (frames > (size_t)(INT_MAX / m->frame_size)) return -1;
    return frames ? (int)frames : 1;
}

int mimi_encode(const mimi *m, const float *audio, size_t n, float **out, int *n_frames,
                tpool *pool, ptts_err *e) {
    *out = NULL;
    *n_frames = 0;
    int frames = mimi_encode_frames(m, n);
    if (frames < 0)
        return err_set(e, PTTS_ERR_INVALID_ARG, "mimi encoder: %zu samples is too long", n);
    const int fs = m->frame_size, dim = m->dim, inner = m->cfg.inner_dim;
    const int block = frames < ENC_BLOCK_FRAMES ? frames : ENC_BLOCK_FRAMES;
    const int pos = block * m->stride;
    seanet_state sn = {0};
    tf_cache kv = {0};
    tf_scratch tfs = {0};
    conv_state down = {0};
    float *in = malloc((size_t)block * fs * sizeof *in);
    float *x = malloc((size_t)pos * dim * sizeof *x);
    float *work = malloc(conv1d_work(&m->downsample, pos) * sizeof *work);
    float *lat = malloc((size_t)frames * inner * sizeof *lat);
    int rc = in && x && work && lat ? PTTS_OK
                                    : err_set(e, PTTS_ERR_NOMEM, "out of memory for the encoder");
    if (!rc) rc = seanet_state_init(&sn, &m->enc, block * fs, e);
    if (!rc) rc = kv_ring_init(&kv, &tfs, &m->enc_tf, pos, e);
    if (!rc) rc = conv1d_state_init(&down, &m->downsample, e);
    for (int f0 = 0; !rc && f0 < frames; f0 += block) {
        int nb = frames - f0 < block ? frames - f0 : block;
        /* The signal ends with zeros up to a whole frame (SPEC 3.5). */
        size_t s0 = (size_t)f0 * fs, have = n > s0 ? n - s0 : 0;
        size_t take = have < (size_t)nb * fs ? have : (size_t)nb * fs;
        if (take) memcpy(in, audio + s0, take * sizeof *in);
        memset(in + take, 0, ((size_t)nb * fs - take) * sizeof *in);
        seanet_forward(&m->enc, &sn, in, nb * fs, x, pool);
        rc = tf_forward(&m->enc_tf, &kv, &tfs, x, nb * m->stride, pool, e);
        if (!rc)
            conv1d_forward(&m->downsample, &down, x, nb * m->stride, lat + (size_t)f0 * inner, work,
                           pool);
    }
    seanet_state_free(&sn, &m->enc);
    tf_cache_free(&kv);
    tf_scratch_free(&tfs);
    conv_state_free(&down);
    free(in);
    free(x);
    free(work);
    if (rc) {
        free(lat);
        return rc;
    }
    *out = lat;
    *n_frames = frames;
    return PTTS_OK;
}
