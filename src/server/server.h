/* pocket-tts serve: internal interfaces between the server's files.
 *
 *   cmd_serve.c   options, the model, startup voices, the HTTP daemon's life, signals
 *   http.c        libmicrohttpd callbacks: routes, request bodies, responses, streaming
 *   job.c         one generation request: inputs, state, and the byte pipe from the worker
 *                 that generates it to the connection that sends it
 *   workers.c     the bounded job queue and the worker threads (each owns one ptts_gen)
 *   voices.c      which voices a request may name, and a bounded LRU cache of voice states
 *   web_page.c    the page served at /
 *
 * Threads: libmicrohttpd runs one thread per connection (it parses the request, waits for
 * its job, and copies audio bytes to the socket); N workers run the generations. Neither
 * side ever waits on the other without also watching for the client going away, the
 * request deadline and shutdown. */
#ifndef PTTS_SERVER_H
#define PTTS_SERVER_H

#include <pthread.h>
#include <stddef.h>

#include "pocket_tts.h"

/* ---- voices.c ----------------------------------------------------------------------- */

/* A voice state shared by the cache and the jobs using it; freed with its last reference. */
typedef struct shared_voice shared_voice;
const ptts_voice *shared_voice_get(const shared_voice *sv);
void shared_voice_release(shared_voice *sv); /* accepts NULL */

typedef struct voices voices;

/* The voices of model m: the predefined names of its language (fetched on first use),
 * hf:// references, http(s):// URLs only when allow_remote, and the operator's startup
 * voices (voices_add). cache_size bounds the loaded voices kept (not counting those). */
int voices_new(voices **out, ptts_model *m, int allow_remote, int cache_size);
void voices_free(voices *vs); /* accepts NULL */

/* Loads spec (a name, file or URL: the operator's choice) at startup and registers it under
 * name (NULL: only as the default); the first voice added is the default. 0 or a status,
 * with err filled. Not thread-safe: call before serving. */
int voices_add(voices *vs, const char *name, const char *spec, char *err, size_t errlen);

/* Checks a request's voice (NULL or "" = the default) without any I/O: 0 when it may be
 * used, else -1 with the reason in detail. Never lets a request name a local file. */
int voices_check(const voices *vs, const char *spec, char *detail, size_t n);

/* The voice for a checked spec, from the cache or loaded (downloads happen here: call it
 * on a worker). 0 or a ptts_status, with err filled. */
int voices_get(voices *vs, const char *spec, shared_voice **out, char *err, size_t errlen);

/* The voice from an uploaded audio file (its first 30 s); not cached. */
int voices_from_upload(voices *vs, const void *data, size_t len, shared_voice **out, char *err,
                       size_t errlen);

/* The names a request may give: the operator's voices, then the predefined ones. The
 * array and strings stay valid while vs lives. */
const char *const *voices_list(const voices *vs, size_t *n);
/* The default voice's name ("" when it has none, e.g. an unnamed startup voice). */
const char *voices_default(const voices *vs);

/* ---- job.c -------------------------------------------------------------------------- */

typedef enum job_format { FMT_WAV, FMT_PCM } job_format;

typedef enum job_state {
    JOB_WAITING,   /* queued, or resolving its voice */
    JOB_STREAMING, /* audio is flowing: the response has started */
    JOB_DONE,      /* all bytes are in the pipe */
    JOB_FAILED,    /* failed before any audio: http_status and detail say why */
    JOB_BROKEN,    /* failed after the response started: the stream is cut */
} job_state;

/* One generation request. Reference counted: the connection, the response it streams and the
 * worker each hold one. */
typedef struct job {
    /* Inputs, fixed before the job is queued. */
    char *text;
    char *voice;           /* NULL = the default */
    unsigned char *upload; /* voice audio, or NULL */
    size_t upload_len;
    job_format format;
    double deadline; /* srv_now() value after which the job is abandoned */
    int fd;          /* the client's socket, watched for hang-ups */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    job_state state;
    int http_status; /* JOB_FAILED */
    char detail[512];
    int gone;        /* the client went away, or the server stops: stop at once */
    const char *why; /* what stopped it, for the log (static) */
    /* The pipe: a ring of bytes written by the worker, read by the connection. */
    unsigned char *ring;
    size_t cap, head, len;
    size_t skip; /* bytes still to drop from the writer's output (the WAV header for PCM) */
    size_t sent; /* bytes handed to the connection */
} job;

/* A job for text, owning text, voice and upload (malloc'd; taken even on failure). One
 * reference, the caller's. NULL when out of memory. */
job *job_new(char *text, char *voice, unsigned char *upload, size_t upload_len, job_format fmt,
             double timeout_s, int fd);
void job_retain(job *j);
void job_release(job *j); /* accepts NULL */

/* Marks j abandoned (why: "client went away", "stopped"...) and wakes everyone waiting on
 * it. A no-op on a finished job. */
void job_cancel(job *j, const char *why);
/* What stopped j (NULL while nothing did). */
const char *job_why(job *j);
/* Worker side: state changes (each wakes the connection). */
void job_set_streaming(job *j);
void job_finish(job *j);
void job_fail(job *j, int http_status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Writes len bytes into the pipe, waiting for room; non-zero when the job is cancelled or
 * past its deadline (the generation must stop). A ptts_write_fn. */
int job_write(void *j, const void *data, size_t len);
/* Connection side: waits while j is JOB_WAITING, polling the socket for a hang-up every
 * poll_ms; returns the state then (JOB_FAILED after a timeout or a hang-up). */
job_state job_wait_started(job *j);
/* Copies up to max pending bytes into buf, waiting for some. Returns the count (> 0), 0 at
 * the clean end of the stream, or -1 when the stream is cut (failure, deadline, hang-up). */
long job_read(job *j, void *buf, size_t max);

/* Seconds on a monotonic clock. */
double srv_now(void);

/* ---- workers.c ---------------------------------------------------------------------- */

typedef struct workers workers;

/* n threads, each with its own ptts_gen on m, taking jobs from a queue of queue_len; jobs
 * are generated with p and voices from vs. */
int workers_start(workers **out, ptts_model *m, voices *vs, const ptts_gen_params *p, int n,
                  int queue_len, char *err, size_t errlen);
/* Queues j (taking a reference); -1 when the queue is full. */
int workers_submit(workers *w, job *j);
/* Stops: queued jobs are cancelled, running ones stopped, threads joined. Accepts NULL. */
void workers_stop(workers *w);

/* ---- http.c ------------------------------------------------------------------------- */

typedef struct srv_limits {
    int max_text_chars;       /* per request, in Unicode characters */
    size_t max_upload_bytes;  /* one uploaded voice file */
    size_t body_budget;       /* request bodies held at once by all connections */
    double request_timeout_s; /* from the end of the request to the end of its audio */
    int max_connections;
} srv_limits;

typedef struct http_server http_server;

/* Listens on host:port (port 0 = any free port) and serves requests with the workers.
 * Returns 0 and the bound port, or -1 with err filled. */
int http_start(http_server **out, const char *host, int port, workers *w, voices *vs,
               const srv_limits *lim, int quiet, int *bound_port, char *err, size_t errlen);
/* Stops accepting connections (those open go on). */
void http_quiesce(http_server *h);
/* Closes every connection and the socket. Accepts NULL. */
void http_stop(http_server *h);

/* ---- web_page.c, log ---------------------------------------------------------------- */

extern const char srv_web_page[];

/* One line on stderr (whole, even from several threads). */
void srv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
