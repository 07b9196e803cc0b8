/* The generation workers: a bounded FIFO of jobs served by N threads, each owning one
 * ptts_gen on the shared model. A job's voice is resolved here (downloads and voice cloning
 * are long work too), then its audio is generated into the job's pipe as a WAV stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

typedef struct worker {
    struct workers *pool;
    ptts_gen *gen;
    pthread_t thread;
    job *current; /* the job being served (guarded by the pool's mutex) */
} worker;

struct workers {
    ptts_model *m;
    voices *vs;
    ptts_gen_params params;
    worker *w;
    int n, started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job **queue; /* ring of cap waiting jobs */
    int cap, head, len;
    int idle; /* workers waiting for a job */
    int stopping;
};

/* The HTTP status for a library failure: the request's fault, the network's or ours. */
static int http_status_of(int rc) {
    switch (rc) {
    case PTTS_ERR_INVALID_ARG:
    case PTTS_ERR_FORMAT:
    case PTTS_ERR_UNSUPPORTED:
    case PTTS_ERR_NOT_FOUND:
    case PTTS_ERR_DENIED:
    case PTTS_ERR_TEXT: return 400;
    case PTTS_ERR_NETWORK: return 502;
    case PTTS_ERR_NOMEM: return 503;
    default: return 500;
    }
}

typedef struct audio_sink {
    job *j;
    ptts_wav *wav;
    int started;
} audio_sink;

static int on_audio(void *ud, const float *samples, size_t n) {
    audio_sink *s = ud;
    if (!s->started) { /* the first audio: the connection may now send a 200 */
        job_set_streaming(s->j);
        s->started = 1;
    }
    return ptts_wav_write(s->wav, samples, n) != 0;
}

/* Speaks j with voice v into j's pipe. */
static void generate(worker *w, job *j, const ptts_voice *v) {
    ptts_model *m = w->pool->m;
    char err[512];
    int rate = ptts_model_sample_rate(m);
    audio_sink s = {j, NULL, 0};
    int rc = ptts_wav_open_writer(&s.wav, job_write, j, err, sizeof err);
    if (rc) {
        job_fail(j, http_status_of(rc), "%s", err);
        return;
    }
    rc = ptts_wav_start(s.wav, rate);
    if (!rc) rc = ptts_gen_run(w->gen, v, j->text, &w->pool->params, on_audio, &s);
    const char *msg = rc ? ptts_gen_errmsg(w->gen) : "";
    /* The upstream ends every stream with 0.2 s of silence (SPEC 5). */
    if (!rc) rc = ptts_wav_write_silence(s.wav, (size_t)rate / 5);
    if (rc && !*msg) msg = ptts_wav_errmsg(s.wav);
    snprintf(err, sizeof err, "%s", msg);
    int close_rc = ptts_wav_close(s.wav, NULL, 0);
    if (!rc) rc = close_rc;
    if (!rc)
        job_finish(j);
    else
        job_fail(j, http_status_of(rc), "%s", *err ? err : ptts_strerror(rc));
}

static void serve(worker *w, job *j) {
    if (job_why(j)) return; /* abandoned while it waited (the client left, timed out...) */
    shared_voice *sv = NULL;
    char err[512];
    voices *vs = w->pool->vs;
    int upload = j->upload != NULL;
    int rc = upload ? voices_from_upload(vs, j->upload, j->upload_len, &sv, err, sizeof err)
                    : voices_get(vs, j->voice, &sv, err, sizeof err);
    /* Only this thread touches the inputs now: drop the upload early. */
    free(j->upload);
    j->upload = NULL;
    if (rc && upload) { /* about the client's own file */
        job_fail(j, http_status_of(rc), "%s", err);
        return;
    }
    if (rc) { /* the details (cache paths, hosts) are for the operator */
        const char *name = j->voice ? j->voice : voices_default(vs);
        srv_log("cannot load the voice '%s': %s", name, err);
        job_fail(j, http_status_of(rc), "cannot load the voice '%.100s': %s", name,
                 ptts_strerror(rc));
        return;
    }
    generate(w, j, shared_voice_get(sv));
    shared_voice_release(sv);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    struct workers *p = w->pool;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        p->idle++;
        while (!p->len && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        p->idle--;
        if (p->stopping) break;
        job *j = p->queue[p->head];
        p->head = (p->head + 1) % p->cap;
        p->len--;
        w->current = j;
        pthread_mutex_unlock(&p->mu);
        serve(w, j);
        pthread_mutex_lock(&p->mu);
        w->current = NULL;
        pthread_mutex_unlock(&p->mu);
        job_release(j); /* outside the pool's lock: it takes the job's */
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int workers_start(workers **out, ptts_model *m, voices *vs, const ptts_gen_params *params, int n,
                  int queue_len, char *err, size_t errlen) {
    *out = NULL;
    workers *p = calloc(1, sizeof *p);
    /* Room for every job a worker has not picked up yet, plus queue_len waiting ones. */
    int cap = n + queue_len;
    if (!p || !(p->w = calloc((size_t)n, sizeof *p->w)) ||
        !(p->queue = calloc((size_t)cap, sizeof *p->queue))) {
        if (p) free(p->w);
        free(p);
        snprintf(err, errlen, "out of memory");
        return PTTS_ERR_NOMEM;
    }
    p->m = m;
    p->vs = vs;
    p->params = *params;
    p->n = n;
    p->cap = cap;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    int rc = PTTS_OK;
    for (int i = 0; i < n && !rc; i++) {
        p->w[i].pool = p;
        rc = ptts_gen_new(m, &p->w[i].gen, err, errlen);
    }
    for (int i = 0; i < n && !rc; i++, p->started++)
        if (pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i])) {
            snprintf(err, errlen, "cannot start worker thread %d", i + 1);
            rc = PTTS_ERR_INTERNAL;
        }
    if (rc) {
        workers_stop(p);
        return rc;
    }
    *out = p;
    return PTTS_OK;
}

int workers_submit(workers *p, job *j) {
    pthread_mutex_lock(&p->mu);
    /* A job may wait only if fewer than queue_len others are waiting for a worker. */
    int waiting = p->len - p->idle;
    int ok = !p->stopping && p->len < p->cap && waiting < p->cap - p->n;
    if (ok) {
        job_retain(j);
        p->queue[(p->head + p->len) % p->cap] = j;
        p->len++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return ok ? 0 : -1;
}

void workers_stop(workers *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    for (int i = 0; i < p->n; i++)
        if (p->w[i].current) job_cancel(p->w[i].current, "server stopping");
    job **left = p->queue;
    int head = p->head, len = p->len;
    p->len = 0;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < len; i++) {
        job *j = left[(head + i) % p->cap];
        job_cancel(j, "server stopping");
        job_release(j);
    }
    for (int i = 0; i < p->started; i++)
        pthread_join(p->w[i].thread, NULL);
    for (int i = 0; i < p->n; i++)
        ptts_gen_free(p->w[i].gen);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->queue);
    free(p->w);
    free(p);
}
