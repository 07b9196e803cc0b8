/* Generation (SPEC 4.2-4.3): text chunks -> FlowLM latents -> Mimi audio, streamed frame by
 * frame. With two_threads, FlowLM runs on a worker thread and the decoder (and the caller's
 * audio callback) on the calling thread, connected by a bounded latent queue, as upstream. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "kernels/tpool.h"
#include "text/frontend.h"

#define QUEUE_CAP 64 /* latents FlowLM may run ahead of the decoder */
/* Latents the decoder takes in one call when FlowLM is ahead: larger products run faster
 * (about 13% per frame for two), at the cost of a frame's latency. */
#define DEC_BATCH 2

enum { ITEM_LATENT, ITEM_CHUNK }; /* a latent to decode; a new chunk: reset the decoder */

struct ptts_gen {
    ptts_model *m;
    flowlm_state lm;
    mimi_decoder dec;
    tpool *pool; /* the model's kernel threads, shared by FlowLM and (when sequential) Mimi */
    /* Threaded, with FlowLM's threads and the decoder's one more than the cores: the
     * decoder holds one pool worker off while it has latents to decode (the worker helps
     * FlowLM while the decoder waits for more). */
    int hold_pool;
    int chunk_frames; /* frames decoded since the decoder's last reset */
    rng r;
    ptts_err e;
    ptts_gen_stats stats;
    float *cond; /* [cond_cap][d] text embeddings of a chunk */
    int cond_cap;
    int *ids; /* [cond_cap] token ids as the embedding lookup takes them */
    float *h, *x0, *latent, *pcm;
    /* One run's inputs and progress. */
    const ptts_gen_params *p;
    ptts_audio_fn on_audio;
    void *user_data;
    size_t noise_used;
    double t0;
    /* Latent queue between the FlowLM thread and the decoder. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    float *q; /* [QUEUE_CAP][ldim] */
    int q_kind[QUEUE_CAP];
    int q_head, q_len;
    int producer_done; /* FlowLM finished (its status in lm_rc, message in lm_err) */
    atomic_int cancel;
    int lm_rc;
    ptts_err lm_err;
    int threaded;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

ptts_gen_params ptts_gen_default_params(void) {
    ptts_gen_params p;
    memset(&p, 0, sizeof p);
    p.temperature = 0.7f;
    p.lsd_decode_steps = 1;
    p.eos_threshold = -4.0f;
    p.frames_after_eos = -1;
    p.max_tokens = 50;
    p.two_threads = 1;
    return p;
}

int ptts_gen_new(ptts_model *m, ptts_gen **out, char *err, size_t errlen) {
    ptts_err e = {0};
    if (!m || !out)
        return err_set(&e, PTTS_ERR_INVALID_ARG, "NULL argument"), eng_export_err(&e, err, errlen);
    *out = NULL;
    ptts_gen *g = calloc(1, sizeof *g);
    if (!g) return err_set(&e, PTTS_ERR_NOMEM, "out of memory"), eng_export_err(&e, err, errlen);
    g->m = m;
    int d = m->lm.dims.d_model, ldim = m->lm.dims.ldim;
    int rc = tpool_new(&g->pool, m->n_threads, &e);
    if (!rc) rc = flowlm_state_init(&g->lm, &m->lm, 512, 64, &e);
    g->lm.pool = g->pool;
    if (!rc) rc = mimi_decoder_init(&g->dec, &m->codec, DEC_BATCH, &e);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    g->hold_pool = !rc && tpool_size(g->pool) > 1 && tpool_size(g->pool) + 1 > cores;
    if (!rc) {
        g->h = malloc((size_t)d * sizeof(float));
        g->x0 = malloc((size_t)ldim * sizeof(float));
        g->latent = malloc((size_t)ldim * sizeof(float));
        g->pcm = malloc((size_t)DEC_BATCH * m->codec.frame_size * sizeof(float));
        g->q = malloc((size_t)QUEUE_CAP * ldim * sizeof(float));
        if (!g->h || !g->x0 || !g->latent || !g->pcm || !g->q)
            rc = err_set(&e, PTTS_ERR_NOMEM, "out of memory for generation buffers");
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    if (rc) {
        ptts_gen_free(g);
        return eng_export_err(&e, err, errlen);
    }
    rng_seed(&g->r, 0);
    *out = g;
    return PTTS_OK;
}

void ptts_gen_free(ptts_gen *g) {
    if (!g) return;
    flowlm_state_free(&g->lm);
    mimi_decoder_free(&g->dec, &g->m->codec);
    tpool_free(g->pool);
    free(g->cond);
    free(g->ids);
    free(g->h);
    free(g->x0);
    free(g->latent);
    free(g->pcm);
    free(g->q);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}

const char *ptts_gen_errmsg(const ptts_gen *g) {
    return g ? g->e.msg : "no generation";
}

void ptts_gen_stats_get(const ptts_gen *g, ptts_gen_stats *out) {
    *out = g->stats;
}

/* ---- decoder side ------------------------------------------------------------------- */

/* A chunk start, or n latents in order. */
static int decode_item(ptts_gen *g, int kind, const float *latents, int n, ptts_err *e) {
    const mimi *c = &g->m->codec;
    if (kind == ITEM_CHUNK) {
        mimi_decoder_reset(&g->dec, c);
        g->chunk_frames = 0;
        return PTTS_OK;
    }
    double t = now_ms();
    /* On two threads the pool belongs to FlowLM (tpool_run is not reentrant). */
    int rc = mimi_decode(c, &g->dec, latents, n, g->pcm, g->threaded ? NULL : g->pool, e);
    double t1 = now_ms();
    g->stats.decode_ms += t1 - t;
    if (rc) return rc;
    g->chunk_frames += n;
    if (g->stats.first_audio_ms < 0) g->stats.first_audio_ms = t1 - g->t0;
    for (int i = 0; i < n; i++) {
        g->stats.audio_seconds += (double)c->frame_size / c->cfg.sample_rate;
        if (g->on_audio &&
            g->on_audio(g->user_data, g->pcm + (size_t)i * c->frame_size, (size_t)c->frame_size)) {
            atomic_store(&g->cancel, 1);
            return err_set(e, PTTS_ERR_CANCELLED, "generation stopped by the audio callback");
        }
    }
    return PTTS_OK;
}

/* Hands an item from FlowLM to the decoder: directly, or through the queue. */
static int emit(ptts_gen *g, int kind, const float *latent, ptts_err *e) {
    int ldim = g->m->lm.dims.ldim;
    if (kind == ITEM_LATENT && g->p->on_latent)
        g->p->on_latent(g->p->latent_user_data, latent, ldim);
    if (!g->threaded) return decode_item(g, kind, latent, 1, e);
    pthread_mutex_lock(&g->mu);
    while (g->q_len == QUEUE_CAP && !atomic_load(&g->cancel))
        pthread_cond_wait(&g->cv, &g->mu);
    if (atomic_load(&g->cancel)) {
        pthread_mutex_unlock(&g->mu);
        return err_set(e, PTTS_ERR_CANCELLED, "generation cancelled");
    }
    int slot = (g->q_head + g->q_len) % QUEUE_CAP;
    g->q_kind[slot] = kind;
    if (kind == ITEM_LATENT)
        memcpy(g->q + (size_t)slot * ldim, latent, (size_t)ldim * sizeof(float));
    g->q_len++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return PTTS_OK;
}

/* ---- FlowLM side -------------------------------------------------------------------- */

/* The next x0 (SPEC 3.3): from the caller's noise in draw order, or the generator. */
static int draw_noise(ptts_gen *g, float *x0, ptts_err *e) {
    const ptts_gen_params *p = g->p;
    int ldim = g->m->lm.dims.ldim;
    if (p->noise) {
        if (g->noise_used + (size_t)ldim > p->noise_len)
            return err_set(e, PTTS_ERR_INVALID_ARG, "the supplied noise ran out after %zu draws",
                           g->noise_used / (size_t)ldim);
        memcpy(x0, p->noise + g->noise_used, (size_t)ldim * sizeof(float));
        g->noise_used += (size_t)ldim;
        return PTTS_OK;
    }
    rng_fill_normal(&g->r, x0, ldim, sqrtf(p->temperature), p->noise_clamp);
    return PTTS_OK;
}

/* h -> latent (g->latent), EOS flag. */
static int sample(ptts_gen *g, float eos_logit, int *eos, ptts_err *e) {
    int rc = draw_noise(g, g->latent, e);
    if (rc) return rc;
    flowlm_lsd(&g->m->lm, &g->lm, g->h, g->p->lsd_decode_steps, g->latent);
    *eos = eos_logit > g->p->eos_threshold;
    return PTTS_OK;
}

static int frames_after_eos(const ptts_gen *g, const char *chunk, ptts_err *e, int *out) {
    const ptts_config *c = &g->m->cfg;
    if (g->p->frames_after_eos >= 0) return *out = g->p->frames_after_eos, PTTS_OK;
    if (c->model_recommended_frames_after_eos >= 0)
        return *out = c->model_recommended_frames_after_eos, PTTS_OK;
    char *prepared = NULL;
    int guess = 0;
    int rc = text_prepare(chunk, c->pad_with_spaces_for_short_inputs, c->remove_semicolons,
                          &prepared, &guess, e);
    free(prepared);
    *out = guess + 2;
    return rc;
}

static int run_chunk(ptts_gen *g, const ptts_voice *v, const text_chunk *ch, ptts_err *e) {
    const flowlm *lm = &g->m->lm;
    int d = lm->dims.d_model, n = (int)ch->n_ids, fae;
    int max_frames = (int)ceil(((double)n / 3.0 + 2.0) * g->m->codec.cfg.frame_rate);
    int rc = frames_after_eos(g, ch->text, e, &fae);
    if (rc) return rc;
    if (n > g->cond_cap) {
        float *c = realloc(g->cond, (size_t)n * d * sizeof(float));
        if (c) g->cond = c;
        int *ids = realloc(g->ids, (size_t)n * sizeof(int));
        if (ids) g->ids = ids;
        if (!c || !ids) return err_set(e, PTTS_ERR_NOMEM, "out of memory for %d text tokens", n);
        g->cond_cap = n;
    }
    for (int i = 0; i < n; i++)
        g->ids[i] = ch->ids[i];
    if ((rc = flowlm_set_cache(&g->lm, lm, &v->cache, e))) return rc;
    if ((rc = flowlm_state_reserve(&g->lm, lm, (int)v->cache.len + n + max_frames + 1, e)))
        return rc;
    if ((rc = flowlm_embed(lm, g->ids, n, g->cond, e))) return rc;
    if ((rc = emit(g, ITEM_CHUNK, NULL, e))) return rc;

    double t = now_ms();
    float eos_logit;
    int eos;
    /* The text prompt's output is not used, but upstream draws its noise: keep the order. */
    rc = flowlm_forward(lm, &g->lm, g->cond, n, NULL, g->h, &eos_logit, e);
    if (!rc) rc = draw_noise(g, g->x0, e);
    g->stats.lm_ms += now_ms() - t;
    if (rc) return rc;
    for (int i = 0; i < lm->dims.ldim; i++)
        g->latent[i] = NAN; /* BOS */
    int eos_step = -1;
    for (int step = 0; step < max_frames; step++) {
        if (atomic_load(&g->cancel)) return err_set(e, PTTS_ERR_CANCELLED, "generation cancelled");
        t = now_ms();
        rc = flowlm_forward(lm, &g->lm, NULL, 0, g->latent, g->h, &eos_logit, e);
        if (!rc) rc = sample(g, eos_logit, &eos, e);
        g->stats.lm_ms += now_ms() - t;
        if (rc) return rc;
        if (eos && eos_step < 0) eos_step = step;
        if (eos_step >= 0 && step >= eos_step + fae) return PTTS_OK;
        g->stats.n_frames++;
        if ((rc = emit(g, ITEM_LATENT, g->latent, e))) return rc;
    }
    eng_log(g->m, PTTS_LOG_WARN, "maximum generation length reached without EOS");
    return PTTS_OK;
}

typedef struct lm_job {
    ptts_gen *g;
    const ptts_voice *v;
    const text_chunks *chunks;
} lm_job;

static int run_lm(ptts_gen *g, const ptts_voice *v, const text_chunks *chunks, ptts_err *e) {
    for (size_t i = 0; i < chunks->n; i++) {
        int rc = run_chunk(g, v, &chunks->v[i], e);
        if (rc) return rc;
    }
    return PTTS_OK;
}

static void *lm_thread(void *arg) {
    lm_job *j = arg;
    ptts_gen *g = j->g;
    int rc = run_lm(g, j->v, j->chunks, &g->lm_err);
    pthread_mutex_lock(&g->mu);
    g->lm_rc = rc;
    g->producer_done = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* The calling thread's side of a threaded run: decode until FlowLM is done. A chunk's
 * first latent goes alone (first audio comes sooner); after it, the latents queued in a
 * row go together, up to DEC_BATCH. */
static int run_decoder(ptts_gen *g, ptts_err *e) {
    int ldim = g->m->lm.dims.ldim, rc = PTTS_OK, holding = 0;
    float *latents = malloc((size_t)DEC_BATCH * ldim * sizeof(float));
    if (!latents) rc = err_set(e, PTTS_ERR_NOMEM, "out of memory");
    for (;;) {
        pthread_mutex_lock(&g->mu);
        if (!g->q_len && holding) { /* about to wait: FlowLM may have the cores */
            tpool_release(g->pool);
            holding = 0;
        }
        while (!g->q_len && !g->producer_done)
            pthread_cond_wait(&g->cv, &g->mu);
        if (!g->q_len || rc) { /* done, or stopping: drop what is queued */
            g->q_len = 0;
            int done = g->producer_done;
            pthread_cond_broadcast(&g->cv);
            pthread_mutex_unlock(&g->mu);
            if (done) break;
            continue;
        }
        int kind = g->q_kind[g->q_head], n = 0;
        do {
            int slot = g->q_head;
            if (kind == ITEM_LATENT)
                memcpy(latents + (size_t)n * ldim, g->q + (size_t)slot * ldim,
                       (size_t)ldim * sizeof(float));
            n++;
            g->q_head = (g->q_head + 1) % QUEUE_CAP;
            g->q_len--;
        } while (kind == ITEM_LATENT && g->chunk_frames > 0 && n < DEC_BATCH && g->q_len &&
                 g->q_kind[g->q_head] == ITEM_LATENT);
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        if (kind == ITEM_LATENT && g->hold_pool && !holding) {
            tpool_hold(g->pool);
            holding = 1;
        }
        if ((rc = decode_item(g, kind, latents, n, e))) atomic_store(&g->cancel, 1);
    }
    if (holding) tpool_release(g->pool);
    free(latents);
    return rc;
}

static int check_params(const ptts_gen_params *p, ptts_err *e) {
    if (!(p->temperature >= 0) || !isfinite(p->temperature))
        return err_set(e, PTTS_ERR_INVALID_ARG, "temperature must be >= 0 (got %g)",
                       p->temperature);
    if (p->lsd_decode_steps < 1 || p->lsd_decode_steps > 1000)
        return err_set(e, PTTS_ERR_INVALID_ARG, "lsd_decode_steps must be in 1..1000 (got %d)",
                       p->lsd_decode_steps);
    if (!isfinite(p->eos_threshold))
        return err_set(e, PTTS_ERR_INVALID_ARG, "eos_threshold must be finite");
    if (isnan(p->noise_clamp)) return err_set(e, PTTS_ERR_INVALID_ARG, "noise_clamp is NaN");
    if (p->frames_after_eos < -1)
        return err_set(e, PTTS_ERR_INVALID_ARG, "frames_after_eos must be >= 0 (got %d)",
                       p->frames_after_eos);
    if (p->max_tokens < 1)
        return err_set(e, PTTS_ERR_INVALID_ARG, "max_tokens must be >= 1 (got %d)", p->max_tokens);
    return PTTS_OK;
}

int ptts_gen_run(ptts_gen *g, const ptts_voice *v, const char *text, const ptts_gen_params *p,
                 ptts_audio_fn on_audio, void *user_data) {
    if (!g) return PTTS_ERR_INVALID_ARG;
    memset(&g->e, 0, sizeof g->e);
    memset(&g->stats, 0, sizeof g->stats);
    g->stats.first_audio_ms = -1;
    ptts_gen_params def = ptts_gen_default_params();
    if (!p) p = &def;
    if (!v || !text) return err_set(&g->e, PTTS_ERR_INVALID_ARG, "voice and text are required");
    if (v->model != g->m)
        return err_set(&g->e, PTTS_ERR_INVALID_ARG, "the voice belongs to another model");
    int rc = check_params(p, &g->e);
    if (rc) return rc;
    g->t0 = now_ms();
    g->p = p;
    g->on_audio = on_audio;
    g->user_data = user_data;
    g->noise_used = 0;
    rng_seed(&g->r, p->seed);
    atomic_store(&g->cancel, 0);
    const ptts_config *c = &g->m->cfg;
    text_chunks chunks = {0};
    rc = text_split(g->m->tok, text, p->max_tokens, c->pad_with_spaces_for_short_inputs,
                    c->remove_semicolons, &chunks, &g->e);
    if (rc) {
        text_chunks_free(&chunks);
        return rc;
    }
    g->stats.n_chunks = (int)chunks.n;
    g->threaded = p->two_threads != 0;
    pthread_t th;
    lm_job job = {g, v, &chunks};
    if (g->threaded) {
        g->q_head = g->q_len = 0;
        g->producer_done = 0;
        memset(&g->lm_err, 0, sizeof g->lm_err);
        if (pthread_create(&th, NULL, lm_thread, &job)) {
            g->threaded = 0; /* no thread to be had: run on this one */
        } else {
            rc = run_decoder(g, &g->e);
            pthread_join(th, NULL);
            /* The first failure wins; a FlowLM stop caused by our own cancel is not news. */
            if (!rc && g->lm_rc) {
                rc = g->lm_rc;
                g->e = g->lm_err;
            }
        }
    }
    if (!g->threaded) rc = run_lm(g, v, &chunks, &g->e);
    text_chunks_free(&chunks);
    g->stats.wall_ms = now_ms() - g->t0;
    return rc;
}

typedef struct collect {
    float *buf;
    size_t n, cap;
} collect;

static int on_collect(void *ud, const float *s, size_t n) {
    collect *c = ud;
    if (c->n + n > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1 << 16;
        while (cap < c->n + n)
            cap *= 2;
        float *b = realloc(c->buf, cap * sizeof(float));
        if (!b) return 1;
        c->buf = b;
        c->cap = cap;
    }
    memcpy(c->buf + c->n, s, n * sizeof(float));
    c->n += n;
    return 0;
}

int ptts_gen_run_all(ptts_gen *g, const ptts_voice *v, const char *text, const ptts_gen_params *p,
                     float **samples, size_t *n) {
    if (!g || !samples || !n) return PTTS_ERR_INVALID_ARG;
    *samples = NULL;
    *n = 0;
    collect c = {0};
    int rc = ptts_gen_run(g, v, text, p, on_collect, &c);
    if (rc == PTTS_ERR_CANCELLED) /* only on_collect stops a run here: out of memory */
        rc = err_set(&g->e, PTTS_ERR_NOMEM, "out of memory collecting the audio");
    if (rc) {
        free(c.buf);
        return rc;
    }
    *samples = c.buf;
    *n = c.n;
    return PTTS_OK;
}
