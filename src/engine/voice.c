/* Voice states (SPEC 4.1, 1.4): from audio through the codec encoder and the FlowLM
 * backbone, from voice files in the current and legacy layouts, and written back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "io/audio.h"
#include "kernels/tpool.h"

#define VOICE_REPO "hf://kyutai/pocket-tts-without-voice-cloning"
#define VOICE_REV  "e041936c75475d350b405bc870bcf7c22da4e9e6"

static int voice_alloc(const ptts_model *m, int len, ptts_voice **out, ptts_err *e) {
    ptts_voice *v = calloc(1, sizeof *v);
    if (!v) return err_set(e, PTTS_ERR_NOMEM, "out of memory for a voice");
    v->model = m;
    int rc = tf_cache_init(&v->cache, &m->lm.transformer, len > 0 ? len : 1, 0, e);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    return PTTS_OK;
}

void ptts_voice_free(ptts_voice *v) {
    if (!v) return;
    tf_cache_free(&v->cache);
    free(v);
}

int eng_voice_from_conditioning(const ptts_model *m, const float *cond, int n, tpool *pool,
                                ptts_voice **out, ptts_err *e) {
    *out = NULL;
    const flowlm *lm = &m->lm;
    int d = lm->dims.d_model, bos = lm->bos_before_voice != NULL, len = n + bos;
    flowlm_state s = {0};
    float *prompt = malloc((size_t)len * d * sizeof(float));
    if (!prompt) return err_set(e, PTTS_ERR_NOMEM, "out of memory for the voice prompt");
    if (bos) memcpy(prompt, lm->bos_before_voice, (size_t)d * sizeof(float));
    memcpy(prompt + (size_t)bos * d, cond, (size_t)n * d * sizeof(float));
    int rc = flowlm_state_init(&s, lm, len, 64, e);
    s.pool = pool;
    if (!rc) rc = flowlm_forward(lm, &s, prompt, len, NULL, NULL, NULL, e);
    ptts_voice *v = NULL;
    if (!rc && !(v = calloc(1, sizeof *v)))
        rc = err_set(e, PTTS_ERR_NOMEM, "out of memory for a voice");
    if (!rc) { /* the state's cache (cap == len) becomes the voice's: no second copy */
        v->model = m;
        v->cache = s.cache;
        memset(&s.cache, 0, sizeof s.cache);
    }
    flowlm_state_free(&s);
    free(prompt);
    if (rc) {
        ptts_voice_free(v);
        return rc;
    }
    *out = v;
    return PTTS_OK;
}

static int voice_from_samples(ptts_model *m, const float *samples, size_t n, int rate,
                              ptts_voice **out, ptts_err *e) {
    if (!m->can_clone)
        return err_set(e, PTTS_ERR_DENIED,
                       "voice cloning from audio is not available with the weights without voice "
                       "cloning: accept the conditions of the gated model on Hugging Face and set "
                       "HF_TOKEN, or use a predefined voice or a voice file");
    if (n == 0) return err_set(e, PTTS_ERR_FORMAT, "the voice audio is empty");
    float *res = NULL;
    size_t nres = n;
    int sr = ptts_model_sample_rate(m), rc = PTTS_OK;
    if (rate != sr && (rc = audio_resample(samples, n, rate, sr, &res, &nres, e))) return rc;
    float *lat = NULL, *cond = NULL;
    int frames = 0;
    tpool *pool = NULL;
    rc = tpool_new(&pool, m->n_threads, e);
    if (!rc) rc = mimi_encode(&m->codec, res ? res : samples, nres, &lat, &frames, pool, e);
    if (!rc) {
        cond = malloc((size_t)frames * m->lm.dims.d_model * sizeof(float));
        if (!cond) rc = err_set(e, PTTS_ERR_NOMEM, "out of memory for the voice conditioning");
    }
    if (!rc) {
        flowlm_speaker_proj(&m->lm, lat, frames, cond, pool);
        rc = eng_voice_from_conditioning(m, cond, frames, pool, out, e);
    }
    tpool_free(pool);
    free(res);
    free(lat);
    free(cond);
    return rc;
}

int ptts_voice_from_samples(ptts_model *m, const float *samples, size_t n, int sample_rate,
                            ptts_voice **out, char *err, size_t errlen) {
    ptts_err e = {0};
    if (!out || !m || (!samples && n))
        return err_set(&e, PTTS_ERR_INVALID_ARG, "NULL argument"), eng_export_err(&e, err, errlen);
    *out = NULL;
    if (sample_rate <= 0)
        return err_set(&e, PTTS_ERR_INVALID_ARG, "sample rate %d is invalid", sample_rate),
               eng_export_err(&e, err, errlen);
    if (voice_from_samples(m, samples, n, sample_rate, out, &e))
        return eng_export_err(&e, err, errlen);
    return PTTS_OK;
}

int ptts_voice_from_audio_memory(ptts_model *m, const void *data, size_t len, double max_seconds,
                                 ptts_voice **out, char *err, size_t errlen) {
    ptts_err e = {0};
    if (!out || !m || !data)
        return err_set(&e, PTTS_ERR_INVALID_ARG, "NULL argument"), eng_export_err(&e, err, errlen);
    *out = NULL;
    float *s = NULL;
    size_t n = 0;
    int rate = 0;
    int rc = audio_read_memory_max(data, len, max_seconds, &s, &n, &rate, &e);
    if (!rc) rc = voice_from_samples(m, s, n, rate, out, &e);
    free(s);
    return rc ? eng_export_err(&e, err, errlen) : PTTS_OK;
}

/* Reads one layer's cache [2, 1, T, H, Dh] and its valid length from a voice file. */
static int voice_file_layer(const st_file *f, int layer, const tf *t, const st_tensor **cache_out,
                            int64_t *len, ptts_err *e) {
    char name[128];
    snprintf(name, sizeof name, "transformer.layers.%d.self_attn/cache", layer);
    const st_tensor *c = st_find(f, name);
    if (!c)
        return err_set(e, PTTS_ERR_FORMAT, "not a voice file for this model: no tensor '%s'", name);
    if (c->ndim != 5 || c->shape[0] != 2 || c->shape[1] != 1 || c->shape[3] != t->n_heads ||
        c->shape[4] != t->head_dim)
        return err_set(e, PTTS_ERR_FORMAT,
                       "'%s' does not match this model (expected [2, 1, T, %d, %d])", name,
                       t->n_heads, t->head_dim);
    snprintf(name, sizeof name, "transformer.layers.%d.self_attn/offset", layer);
    const st_tensor *o = st_find(f, name);
    if (o) {
        int64_t off;
        if (o->numel < 1) return err_set(e, PTTS_ERR_FORMAT, "'%s' is empty", name);
        if (o->numel > 1 || st_to_i64(o, &off, e))
            return err_set(e, PTTS_ERR_FORMAT, "'%s' must be one integer", name);
        *len = off;
    } else {
        snprintf(name, sizeof name, "transformer.layers.%d.self_attn/current_end", layer);
        o = st_find(f, name);
        if (!o)
            return err_set(e, PTTS_ERR_FORMAT,
                           "voice file has neither offset nor current_end for layer %d", layer);
        *len = o->ndim >= 1 ? o->shape[0] : 0;
    }
    if (*len < 1 || *len > c->shape[2])
        return err_set(e, PTTS_ERR_FORMAT,
                       "voice file layer %d: offset %lld outside its cache of %lld", layer,
                       (long long)*len, (long long)c->shape[2]);
    *cache_out = c;
    return PTTS_OK;
}

static int voice_from_file(const ptts_model *m, const char *path, ptts_voice **out, ptts_err *e) {
    st_file *f = NULL;
    int rc = st_open(&f, path, e);
    if (rc) return rc;
    const tf *t = &m->lm.transformer;
    int64_t len = -1;
    ptts_voice *v = NULL;
    float *buf = NULL;
    for (int l = 0; !rc && l < t->n_layers; l++) {
        const st_tensor *c = NULL;
        int64_t n = 0;
        if ((rc = voice_file_layer(f, l, t, &c, &n, e))) break;
        if (len >= 0 && n != len) {
            rc = err_set(e, PTTS_ERR_FORMAT,
                         "voice file layers disagree on the length (%lld vs %lld)", (long long)len,
                         (long long)n);
            break;
        }
        if (!v) {
            len = n;
            if ((rc = voice_alloc(m, (int)len, &v, e))) break;
            if (!(buf = malloc((size_t)c->numel * sizeof(float)))) {
                rc = err_set(e, PTTS_ERR_NOMEM, "out of memory reading the voice file");
                break;
            }
        }
        if ((rc = st_to_f32(c, buf, e))) break;
        /* [2][1][T][H][Dh]: keys then values, each position H*Dh = d contiguous floats. */
        size_t d = (size_t)t->d, T = (size_t)c->shape[2], row = (size_t)len * d;
        float *k = v->cache.k + (size_t)l * v->cache.cap * d,
              *vv = v->cache.v + (size_t)l * v->cache.cap * d;
        memcpy(k, buf, row * sizeof(float));
        memcpy(vv, buf + T * d, row * sizeof(float));
        for (size_t i = 0; i < row; i++)
            if (!isfinite(k[i]) || !isfinite(vv[i])) {
                rc = err_set(e, PTTS_ERR_FORMAT, "voice file layer %d holds non-finite values", l);
                break;
            }
    }
    st_close(f);
    free(buf);
    if (rc) {
        ptts_voice_free(v);
        return err_prefix(e, "%s", path);
    }
    v->cache.len = len;
    *out = v;
    return PTTS_OK;
}

int ptts_voice_save(const ptts_voice *v, const char *path, char *err, size_t errlen) {
    ptts_err e = {0};
    if (!v || !path)
        return err_set(&e, PTTS_ERR_INVALID_ARG, "NULL argument"), eng_export_err(&e, err, errlen);
    const tf *t = &v->model->lm.transformer;
    size_t d = (size_t)t->d, len = (size_t)v->cache.len;
    st_writer *w = NULL;
    float *buf = malloc(2 * len * d * sizeof(float));
    int rc = buf ? st_writer_new(&w, &e) : err_set(&e, PTTS_ERR_NOMEM, "out of memory");
    for (int l = 0; !rc && l < t->n_layers; l++) {
        char name[128];
        memcpy(buf, v->cache.k + (size_t)l * v->cache.cap * d, len * d * sizeof(float));
        memcpy(buf + len * d, v->cache.v + (size_t)l * v->cache.cap * d, len * d * sizeof(float));
        int64_t shape[5] = {2, 1, (int64_t)len, t->n_heads, t->head_dim}, one = 1,
                off = (int64_t)len;
        snprintf(name, sizeof name, "transformer.layers.%d.self_attn/cache", l);
        rc = st_writer_add(w, name, ST_F32, 5, shape, buf, &e);
        snprintf(name, sizeof name, "transformer.layers.%d.self_attn/offset", l);
        if (!rc) rc = st_writer_add(w, name, ST_I64, 1, &one, &off, &e);
    }
    if (!rc) rc = st_writer_save(w, path, &e);
    st_writer_free(w);
    free(buf);
    return rc ? eng_export_err(&e, err, errlen) : PTTS_OK;
}

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcasecmp(s + n - k, suf);
}

int ptts_voice_load(ptts_model *m, const char *spec, double max_seconds, ptts_voice **out,
                    char *err, size_t errlen) {
    ptts_err e = {0};
    if (!m || !spec || !out)
        return err_set(&e, PTTS_ERR_INVALID_ARG, "NULL argument"), eng_export_err(&e, err, errlen);
    *out = NULL;
    if (!*spec)
        return err_set(&e, PTTS_ERR_INVALID_ARG, "empty voice"), eng_export_err(&e, err, errlen);
    char ref[1024];
    cfg_path p = {ref, CFG_PATH_LOCAL};
    if (eng_is_voice_name(spec)) {
        snprintf(ref, sizeof ref, VOICE_REPO "/languages/%s/embeddings/%s.safetensors@" VOICE_REV,
                 m->cfg.name ? m->cfg.name : "english", spec);
        p.kind = CFG_PATH_HF;
    } else {
        snprintf(ref, sizeof ref, "%s", spec);
        if (!strncmp(spec, "hf://", 5))
            p.kind = CFG_PATH_HF;
        else if (!strncmp(spec, "http://", 7) || !strncmp(spec, "https://", 8))
            p.kind = CFG_PATH_HTTP;
    }
    char *local = NULL;
    int rc = eng_fetch(m, &p, "voice", m->max_voice_bytes, &local, &e);
    if (!rc) {
        if (has_suffix(local, ".safetensors")) {
            rc = voice_from_file(m, local, out, &e);
        } else {
            float *s = NULL;
            size_t n = 0;
            int rate = 0;
            rc = audio_read_file_max(local, max_seconds, &s, &n, &rate, &e);
            if (!rc) rc = voice_from_samples(m, s, n, rate, out, &e);
            free(s);
        }
    }
    free(local);
    if (rc && !eng_is_voice_name(spec) && rc == PTTS_ERR_NOT_FOUND && p.kind == CFG_PATH_LOCAL &&
        !strchr(spec, '/') && !strchr(spec, '.'))
        err_set(&e, PTTS_ERR_NOT_FOUND, "unknown voice '%s': not a predefined voice nor a file",
                spec);
    return rc ? eng_export_err(&e, err, errlen) : PTTS_OK;
}
