/* The HTTP side of pocket-tts serve, on libmicrohttpd.
 *
 * libmicrohttpd runs one thread per connection. That thread receives the request (bounded
 * body, multipart or JSON), checks it, queues a job for the workers and then waits for it:
 * until the first audio (so that a bad voice or text still gets a 4xx), then while copying
 * the audio to the socket as a chunked response. Blocking there is what makes this mode
 * robust: each wait belongs to one connection, wakes on the job's condition variable, and
 * polls its own socket, so a client that hangs up is noticed while its job is still queued
 * or generating. (Suspend/resume in the shared-thread modes would need a resume for every
 * audio frame, and suspended sockets are not watched for hang-ups.) The generation itself
 * never runs on these threads. */
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/server.h"

#define FIELD_SLACK    (64u << 10) /* form boundaries, headers of parts, small fields */
#define MAX_VOICE_REF  2048
#define IDLE_TIMEOUT_S 30 /* an idle or stalled connection is closed after this */
#define RETRY_AFTER_S  "2"

typedef enum route { R_PAGE, R_HEALTH, R_VOICES, R_TTS, R_SPEECH } route;

static const struct {
    const char *path;
    route r;
    const char *allow; /* the methods the path answers */
} routes[] = {
    {"/", R_PAGE, "GET, HEAD"},
    {"/health", R_HEALTH, "GET, HEAD"},
    {"/v1/voices", R_VOICES, "GET, HEAD"},
    {"/tts", R_TTS, "POST"},
    {"/v1/audio/speech", R_SPEECH, "POST"},
};

struct http_server {
    struct MHD_Daemon *d;
    MHD_socket quiesced; /* the listening socket once quiesced: closed after the stop */
    workers *w;
    voices *vs;
    srv_limits lim;
    int quiet;
    atomic_size_t body_bytes; /* request bodies held by all connections */
    size_t body_budget;
};

/* A growing byte buffer with a NUL after its contents. */
typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

/* One request, from its headers to the end of its response. */
typedef struct conn {
    http_server *h;
    route r;
    char method[8], url[128]; /* for the log */
    int fd;
    double t0;
    size_t max_body, received, reserved;
    struct MHD_PostProcessor *pp;
    buf body;                    /* the JSON body of /v1/audio/speech */
    buf text, voice_url, upload; /* the fields of /tts */
    int upload_named;            /* the voice_wav part had a file name */
    int err_status;              /* an error found while receiving: sent once the body is read */
    char err_detail[256];
    int status;            /* what was sent, for the log */
    char sent_detail[256]; /* and the error's detail */
    job *j;
} conn;

void srv_log(const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line); /* one call: lines from several threads stay whole */
}

static int buf_append(buf *b, const void *data, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

/* Hands the buffer's memory over (a NUL-terminated string, or NULL if nothing came). */
static char *buf_take(buf *b) {
    char *p = b->p;
    *b = (buf){0};
    return p;
}

/* ---- responses ---------------------------------------------------------------------- */

static enum MHD_Result send_response(conn *k, struct MHD_Connection *c, int status,
                                     struct MHD_Response *r, const char *type) {
    if (!r) return MHD_NO;
    if (type) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    k->status = status;
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_json(conn *k, struct MHD_Connection *c, int status, cJSON *o) {
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    if (!r)
        free(s);
    else
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return send_response(k, c, status, r, "application/json");
}

/* {"detail": "..."}, the upstream's error shape, with the headers some statuses call for. */
static enum MHD_Result send_error(conn *k, struct MHD_Connection *c, int status,
                                  const char *detail) {
    snprintf(k->sent_detail, sizeof k->sent_detail, "%s", detail);
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddStringToObject(o, "detail", detail)) {
        cJSON_Delete(o);
        o = NULL;
    }
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(s);
        return MHD_NO;
    }
    if (status == 503) MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_S);
    if (status == 405) {
        for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
            if (routes[i].r == k->r)
                MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, routes[i].allow);
    }
    return send_response(k, c, status, r, "application/json");
}

static enum MHD_Result send_page(conn *k, struct MHD_Connection *c) {
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(srv_web_page), (void *)srv_web_page, MHD_RESPMEM_PERSISTENT);
    if (r) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; script-src 'unsafe-inline'; "
                                "style-src 'unsafe-inline'; media-src 'self' blob:; img-src data:");
    }
    return send_response(k, c, 200, r, "text/html; charset=utf-8");
}

static enum MHD_Result send_voices(conn *k, struct MHD_Connection *c) {
    size_t n = 0;
    const char *const *names = voices_list(k->h->vs, &n);
    cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateStringArray(names, (int)n);
    if (!o || !a || !cJSON_AddItemToObject(o, "voices", a)) {
        cJSON_Delete(o);
        cJSON_Delete(a);
        return MHD_NO;
    }
    if (!cJSON_AddStringToObject(o, "default", voices_default(k->h->vs))) {
        cJSON_Delete(o);
        return MHD_NO;
    }
    return send_json(k, c, 200, o);
}

/* The audio of j as it is generated: chunked, ending cleanly only if the whole of it was
 * produced (a failure midway cuts the stream, which the client sees). */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max) {
    (void)pos;
    long n = job_read(cls, out, max);
    return n > 0    ? n
           : n == 0 ? MHD_CONTENT_READER_END_OF_STREAM
                    : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* The response is gone (sent, or the connection closed): stop the generation if it runs. */
static void stream_free(void *cls) {
    job_cancel(cls, "connection closed");
    job_release(cls);
}

static enum MHD_Result send_stream(conn *k, struct MHD_Connection *c, job *j) {
    job_retain(j); /* the response's reference */
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32u << 10, stream_read, j, stream_free);
    if (!r) {
        job_release(j);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (k->r == R_TTS)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
                                "attachment; filename=generated_speech.wav");
    return send_response(k, c, 200, r, j->format == FMT_PCM ? "audio/pcm" : "audio/wav");
}

/* ---- requests ----------------------------------------------------------------------- */

/* Counts body bytes against the server-wide budget; -1 when it is spent. */
static int reserve(conn *k, size_t n) {
    size_t before = atomic_fetch_add(&k->h->body_bytes, n);
    if (before + n > k->h->body_budget) {
        atomic_fetch_sub(&k->h->body_bytes, n);
        return -1;
    }
    k->reserved += n;
    return 0;
}

static void set_error(conn *k, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(conn *k, int status, const char *fmt, ...) {
    if (k->err_status) return; /* the first error is the one to report */
    k->err_status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->err_detail, sizeof k->err_detail, fmt, ap);
    va_end(ap);
}

/* Stores a piece of a form field; MHD_NO (with the error set) stops the parsing. */
static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *filename, const char *content_type,
                                const char *transfer_encoding, const char *data, uint64_t off,
                                size_t size) {
    (void)kind, (void)content_type, (void)transfer_encoding;
    conn *k = cls;
    const srv_limits *lim = &k->h->lim;
    buf *f;
    size_t limit;
    if (!strcmp(key, "text")) {
        f = &k->text;
        limit = 4 * (size_t)lim->max_text_chars; /* UTF-8: at most 4 bytes a character */
    } else if (!strcmp(key, "voice_url")) {
        f = &k->voice_url;
        limit = MAX_VOICE_REF;
    } else if (!strcmp(key, "voice_wav")) {
        f = &k->upload;
        limit = lim->max_upload_bytes;
        if (off == 0) k->upload_named = filename && *filename;
    } else {
        return MHD_YES; /* other fields are ignored, as upstream's form parsing does */
    }
    if (off == 0) f->n = 0; /* a repeated field: the last one counts */
    if (f->n + size > limit) {
        if (f == &k->upload)
            set_error(k, 413, "the voice file is larger than %.1f MB",
                      (double)lim->max_upload_bytes / (1 << 20));
        else if (f == &k->text)
            set_error(k, 400, "the text is longer than %d characters", lim->max_text_chars);
        else
            set_error(k, 400, "voice_url is longer than %d characters", MAX_VOICE_REF);
        return MHD_NO;
    }
    if (buf_append(f, data, size)) {
        set_error(k, 503, "out of memory");
        return MHD_NO;
    }
    return MHD_YES;
}

/* A request's text: NULL when acceptable, else why not (in detail). */
static const char *check_text(const conn *k, const char *s, size_t len, char *detail, size_t n) {
    if (strlen(s) != len) return "the text contains a NUL character";
    if (!s[strspn(s, " \t\r\n\v\f")]) return "Text cannot be empty";
    size_t chars = 0;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) { /* UTF-8: lengths, continuation bytes, no overlong forms or surrogates */
        unsigned c = *p;
        int extra = c < 0x80                ? 0
                    : c >= 0xC2 && c < 0xE0 ? 1
                    : c >= 0xE0 && c < 0xF0 ? 2
                    : c >= 0xF0 && c < 0xF5 ? 3
                                            : -1;
        if (extra < 0 || end - p <= extra) return "the text is not valid UTF-8";
        unsigned cp = extra ? c & (0x3F >> extra) : c;
        for (int i = 1; i <= extra; i++) {
            if ((p[i] & 0xC0) != 0x80) return "the text is not valid UTF-8";
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) ||
            (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return "the text is not valid UTF-8";
        p += 1 + extra;
        chars++;
    }
    if (chars > (size_t)k->h->lim.max_text_chars) {
        snprintf(detail, n, "the text has %zu characters; this server takes at most %d", chars,
                 k->h->lim.max_text_chars);
        return detail;
    }
    return NULL;
}

/* Queues the generation and answers once its first audio (or its failure) is known. Takes
 * text, voice and upload. */
static enum MHD_Result start_job(conn *k, struct MHD_Connection *c, char *text, char *voice,
                                 unsigned char *upload, size_t upload_len, job_format fmt) {
    job *j = job_new(text, voice, upload, upload_len, fmt, k->h->lim.request_timeout_s, k->fd);
    if (!j) return send_error(k, c, 503, "out of memory");
    k->j = j;
    if (workers_submit(k->h->w, j))
        return send_error(k, c, 503, "the server is busy: try again shortly");
    job_state s = job_wait_started(j);
    if (s == JOB_FAILED) return send_error(k, c, j->http_status, j->detail);
    return send_stream(k, c, j);
}

static enum MHD_Result finish_tts(conn *k, struct MHD_Connection *c) {
    char detail[160];
    const char *bad;
    if (!k->text.p) return send_error(k, c, 400, "the form field 'text' is required");
    if ((bad = check_text(k, k->text.p, k->text.n, detail, sizeof detail)))
        return send_error(k, c, 400, bad);
    int has_upload = k->upload.n > 0 || k->upload_named; /* a form's empty file input is none */
    if (k->voice_url.n && has_upload)
        return send_error(k, c, 400, "Cannot provide both voice_url and voice_wav");
    if (has_upload && !k->upload.n) return send_error(k, c, 400, "the voice file is empty");
    if (k->voice_url.p && strlen(k->voice_url.p) != k->voice_url.n)
        return send_error(k, c, 400, "voice_url contains a NUL character");
    if (!has_upload && voices_check(k->h->vs, k->voice_url.p, detail, sizeof detail))
        return send_error(k, c, 400, detail);
    size_t upload_len = k->upload.n;
    char *voice = k->voice_url.n ? buf_take(&k->voice_url) : NULL; /* "" is the default */
    unsigned char *upload = has_upload ? (unsigned char *)buf_take(&k->upload) : NULL;
    return start_job(k, c, buf_take(&k->text), voice, upload, upload_len, FMT_WAV);
}

/* The OpenAI speech request: {"model", "input", "voice", "response_format", "speed"}. */
static enum MHD_Result finish_speech(conn *k, struct MHD_Connection *c) {
    cJSON *o = cJSON_ParseWithLength(k->body.p ? k->body.p : "", k->body.n);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return send_error(k, c, 400, "the body is not a JSON object");
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "model"),
                *input = cJSON_GetObjectItemCaseSensitive(o, "input"),
                *voice = cJSON_GetObjectItemCaseSensitive(o, "voice"),
                *format = cJSON_GetObjectItemCaseSensitive(o, "response_format"),
                *speed = cJSON_GetObjectItemCaseSensitive(o, "speed"),
                *stream = cJSON_GetObjectItemCaseSensitive(o, "stream_format");
    char detail[160];
    const char *bad = NULL;
    job_format fmt = FMT_WAV;
    if (model && !cJSON_IsString(model) && !cJSON_IsNull(model))
        bad = "'model' must be a string"; /* any model name is accepted: there is one model */
    else if (!cJSON_IsString(input))
        bad = "'input' is required (a string)";
    else if (voice && !cJSON_IsString(voice) && !cJSON_IsNull(voice))
        bad = "'voice' must be a string";
    else if (format && !cJSON_IsNull(format) &&
             (!cJSON_IsString(format) ||
              (strcmp(format->valuestring, "wav") && strcmp(format->valuestring, "pcm"))))
        bad = "'response_format' must be \"wav\" or \"pcm\" (24 kHz 16-bit mono)";
    else if (speed && !cJSON_IsNull(speed) && (!cJSON_IsNumber(speed) || speed->valuedouble != 1.0))
        bad = "'speed' must be 1.0";
    else if (stream && !cJSON_IsNull(stream) &&
             (!cJSON_IsString(stream) || strcmp(stream->valuestring, "audio")))
        bad = "'stream_format' must be \"audio\"";
    else
        bad = check_text(k, input->valuestring, strlen(input->valuestring), detail, sizeof detail);
    const char *spec = cJSON_IsString(voice) && *voice->valuestring ? voice->valuestring : NULL;
    if (!bad && voices_check(k->h->vs, spec, detail, sizeof detail)) bad = detail;
    if (bad) {
        enum MHD_Result r = send_error(k, c, 400, bad);
        cJSON_Delete(o);
        return r;
    }
    if (cJSON_IsString(format) && !strcmp(format->valuestring, "pcm")) fmt = FMT_PCM;
    char *text = strdup(input->valuestring), *v = spec ? strdup(spec) : NULL;
    cJSON_Delete(o);
    if (!text || (spec && !v)) {
        free(text);
        free(v);
        return send_error(k, c, 503, "out of memory");
    }
    return start_job(k, c, text, v, NULL, 0, fmt);
}

/* Content-Type without parameters is one of the given types (case-insensitive). */
static int has_type(struct MHD_Connection *c, const char *a, const char *b) {
    const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!t) return 0;
    size_t n = strcspn(t, "; \t");
    return (strlen(a) == n && !strncasecmp(t, a, n)) ||
           (b && strlen(b) == n && !strncasecmp(t, b, n));
}

/* The first call of a request (headers only): routing, method, type and size checks.
 * Returns MHD_YES to go on receiving, or the result of queueing an error. */
static enum MHD_Result begin(conn *k, struct MHD_Connection *c, const char *url,
                             const char *method) {
    int found = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !found; i++)
        if (!strcmp(url, routes[i].path)) {
            k->r = routes[i].r;
            found = 1;
        }
    if (!found) return send_error(k, c, 404, "Not Found");
    int post = k->r == R_TTS || k->r == R_SPEECH;
    int ok = post ? !strcmp(method, "POST") : !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (!ok) return send_error(k, c, 405, "Method Not Allowed");
    if (!post) return MHD_YES;

    const srv_limits *lim = &k->h->lim;
    if (k->r == R_TTS) {
        if (!has_type(c, "multipart/form-data", "application/x-www-form-urlencoded"))
            return send_error(k, c, 415, "POST /tts takes multipart/form-data");
        k->max_body = lim->max_upload_bytes + 4 * (size_t)lim->max_text_chars + FIELD_SLACK;
        if (!(k->pp = MHD_create_post_processor(c, 64u << 10, on_field, k)))
            return send_error(k, c, 400, "malformed form data (no boundary?)");
    } else {
        if (!has_type(c, "application/json", NULL))
            return send_error(k, c, 415, "POST /v1/audio/speech takes application/json");
        /* JSON may spell a character as a 12-byte surrogate pair escape. */
        k->max_body = 12 * (size_t)lim->max_text_chars + FIELD_SLACK;
    }
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > k->max_body) /* refused before reading the body */
        return send_error(k, c, 413, "the request body is too large");
    return MHD_YES;
}

/* More body bytes: parsed or stored, within the limits; after an error they are dropped. */
static void receive(conn *k, const char *data, size_t n) {
    if (k->err_status) return;
    k->received += n;
    if (k->received > k->max_body) return set_error(k, 413, "the request body is too large");
    if (reserve(k, n))
        return set_error(k, 503, "the server is receiving too many uploads: try again shortly");
    if (k->pp) {
        if (MHD_post_process(k->pp, data, n) != MHD_YES) set_error(k, 400, "malformed form data");
    } else if (buf_append(&k->body, data, n)) {
        set_error(k, 503, "out of memory");
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)version;
    conn *k = *con_cls;
    if (!k) {
        if (!(k = calloc(1, sizeof *k))) return MHD_NO;
        *con_cls = k;
        k->h = cls;
        k->t0 = srv_now();
        snprintf(k->method, sizeof k->method, "%s", method);
        snprintf(k->url, sizeof k->url, "%s", url);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        k->fd = ci ? ci->connect_fd : -1;
        return begin(k, c, url, method);
    }
    if (*upload_data_size) {
        receive(k, upload_data, *upload_data_size);
        *upload_data_size = 0;
        /* A chunked body past its limit (one with a length was refused before being read)
         * is not read to its end, which it may not have; libmicrohttpd cannot answer in the
         * middle of a body, so the connection is closed. */
        if (k->received <= k->max_body) return MHD_YES;
        k->status = k->err_status;
        snprintf(k->sent_detail, sizeof k->sent_detail, "%s", k->err_detail);
        return MHD_NO;
    }
    if (k->pp) {
        enum MHD_Result done = MHD_destroy_post_processor(k->pp);
        k->pp = NULL;
        if (done != MHD_YES) set_error(k, 400, "malformed form data");
    }
    if (k->err_status) return send_error(k, c, k->err_status, k->err_detail);
    switch (k->r) {
    case R_PAGE: return send_page(k, c);
    case R_HEALTH: {
        cJSON *o = cJSON_CreateObject();
        if (o && !cJSON_AddStringToObject(o, "status", "healthy")) {
            cJSON_Delete(o);
            o = NULL;
        }
        return send_json(k, c, 200, o);
    }
    case R_VOICES: return send_voices(k, c);
    case R_TTS: return finish_tts(k, c);
    case R_SPEECH: return finish_speech(k, c);
    }
    return MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)c;
    http_server *h = cls;
    conn *k = *con_cls;
    if (!k) return;
    *con_cls = NULL;
    const char *reason =
        toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT || toe == MHD_REQUEST_TERMINATED_READ_ERROR
            ? "client went away"
        : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "idle timeout"
        : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "server stopping"
                                                        : "cut";
    if (k->j) job_cancel(k->j, reason); /* stops an unfinished job */
    if (!h->quiet) {
        char extra[96] = "";
        if (k->j && k->status == 200) {
            size_t bytes = k->j->sent;
            size_t pcm = k->j->format == FMT_WAV && bytes >= 44 ? bytes - 44 : bytes;
            snprintf(extra, sizeof extra, ", %.2f s of audio", (double)pcm / 48000.0);
        }
        const char *why = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? NULL
                          : k->j && job_why(k->j)                    ? job_why(k->j)
                                                                     : reason;
        srv_log("%s %s %d%s in %.3f s%s%s%s%s%s", k->method, k->url, k->status, extra,
                srv_now() - k->t0, why ? " (" : "", why ? why : "", why ? ")" : "",
                *k->sent_detail ? ": " : "", k->sent_detail);
    }
    job_release(k->j);
    if (k->pp) MHD_destroy_post_processor(k->pp);
    atomic_fetch_sub(&h->body_bytes, k->reserved);
    free(k->body.p);
    free(k->text.p);
    free(k->voice_url.p);
    free(k->upload.p);
    free(k);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    http_server *h = cls;
    if (h->quiet) return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\r\n")] = 0;
    srv_log("http: %s", line);
}

int http_start(http_server **out, const char *host, int port, workers *w, voices *vs,
               const srv_limits *lim, int quiet, int *bound_port, char *err, size_t errlen) {
    *out = NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai) {
        snprintf(err, errlen, "cannot resolve the host '%s': %s", host, gai_strerror(gai));
        return -1;
    }
    const struct addrinfo *a = res; /* IPv4 first: "localhost" is 127.0.0.1 for most clients */
    for (const struct addrinfo *r = res; r; r = r->ai_next)
        if (r->ai_family == AF_INET) {
            a = r;
            break;
        }
    struct sockaddr_storage addr;
    memcpy(&addr, a->ai_addr, a->ai_addrlen);
    int v6 = a->ai_family == AF_INET6;
    freeaddrinfo(res);
    if (v6)
        ((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)port);

    http_server *h = calloc(1, sizeof *h);
    if (!h) return snprintf(err, errlen, "out of memory"), -1;
    h->quiesced = MHD_INVALID_SOCKET;
    h->w = w;
    h->vs = vs;
    h->lim = *lim;
    h->quiet = quiet;
    h->body_budget = lim->body_budget;
    atomic_init(&h->body_bytes, 0);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    /* The logger goes first, as libmicrohttpd asks. */
    h->d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        h, MHD_OPTION_CONNECTION_LIMIT, (unsigned)lim->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen, "cannot listen on %s port %d (in use, or not an address here?)", host,
                 port);
        free(h);
        return -1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    *bound_port = di ? di->port : port;
    *out = h;
    return 0;
}

void http_quiesce(http_server *h) {
    if (h && h->quiesced == MHD_INVALID_SOCKET) h->quiesced = MHD_quiesce_daemon(h->d);
}

void http_stop(http_server *h) {
    if (!h) return;
    MHD_stop_daemon(h->d);
    if (h->quiesced != MHD_INVALID_SOCKET) close(h->quiesced);
    free(h);
}
