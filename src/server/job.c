/* A generation request between its connection thread and its worker: the state both sides
 * wait on, and a bounded pipe of response bytes. The worker blocks when the client reads
 * slowly (the pipe is full) and the connection blocks while the worker has nothing yet; both
 * waits wake up on cancellation, and check the deadline and (on the connection side) the
 * client's socket, so a client that goes away frees its worker within one poll period. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "server/server.h"

#define PIPE_BYTES (256u << 10) /* about 5 s of 24 kHz 16-bit audio ahead of the client */
#define POLL_MS    100          /* how often a waiting connection looks at its socket */
#define WAV_HEADER 44           /* the canonical header ptts_wav writes first */

double srv_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

job *job_new(char *text, char *voice, unsigned char *upload, size_t upload_len, job_format fmt,
             double timeout_s, int fd) {
    job *j = calloc(1, sizeof *j);
    unsigned char *ring = malloc(PIPE_BYTES);
    pthread_condattr_t ca;
    if (!j || !ring || pthread_condattr_init(&ca)) {
        free(j);
        free(ring);
        free(text);
        free(voice);
        free(upload);
        return NULL;
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines are on the monotonic clock */
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&j->mu, NULL);
    j->text = text;
    j->voice = voice;
    j->upload = upload;
    j->upload_len = upload_len;
    j->format = fmt;
    /* Raw PCM is the WAV stream without its header: one conversion for both formats. */
    j->skip = fmt == FMT_PCM ? WAV_HEADER : 0;
    j->deadline = srv_now() + timeout_s;
    j->fd = fd;
    j->refs = 1;
    j->ring = ring;
    j->cap = PIPE_BYTES;
    j->state = JOB_WAITING;
    return j;
}

void job_retain(job *j) {
    pthread_mutex_lock(&j->mu);
    j->refs++;
    pthread_mutex_unlock(&j->mu);
}

void job_release(job *j) {
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last) return;
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j->text);
    free(j->voice);
    free(j->upload);
    free(j->ring);
    free(j);
}

/* Caller holds mu. */
static void abandon(job *j, const char *why) {
    if (!j->gone) j->why = why;
    j->gone = 1;
    pthread_cond_broadcast(&j->cv);
}

void job_cancel(job *j, const char *why) {
    pthread_mutex_lock(&j->mu);
    if (j->state != JOB_DONE) abandon(j, why);
    pthread_mutex_unlock(&j->mu);
}

const char *job_why(job *j) {
    pthread_mutex_lock(&j->mu);
    const char *why = j->why;
    pthread_mutex_unlock(&j->mu);
    return why;
}

void job_set_streaming(job *j) {
    pthread_mutex_lock(&j->mu);
    if (j->state == JOB_WAITING) j->state = JOB_STREAMING;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

void job_finish(job *j) {
    pthread_mutex_lock(&j->mu);
    j->state = JOB_DONE;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

void job_fail(job *j, int http_status, const char *fmt, ...) {
    pthread_mutex_lock(&j->mu);
    if (j->state == JOB_WAITING) {
        j->state = JOB_FAILED;
        j->http_status = http_status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->detail, sizeof j->detail, fmt, ap);
        va_end(ap);
    } else {
        j->state = JOB_BROKEN;
    }
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

/* Waits on j->cv for at most ms milliseconds (or until the deadline). Caller holds mu. */
static void wait_ms(job *j, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double t = (double)ts.tv_sec + ts.tv_nsec / 1e9 + ms / 1e3;
    if (t > j->deadline) t = j->deadline;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    pthread_cond_timedwait(&j->cv, &j->mu, &ts);
}

int job_write(void *ud, const void *data, size_t len) {
    job *j = ud;
    const unsigned char *p = data;
    pthread_mutex_lock(&j->mu);
    size_t drop = len < j->skip ? len : j->skip;
    j->skip -= drop;
    p += drop;
    len -= drop;
    while (len) {
        while (j->len == j->cap && !j->gone && srv_now() < j->deadline)
            wait_ms(j, 1000);
        if (j->gone || srv_now() >= j->deadline) {
            abandon(j, "timed out");
            pthread_mutex_unlock(&j->mu);
            return 1;
        }
        size_t tail = (j->head + j->len) % j->cap;
        size_t k = j->cap - j->len;
        if (k > j->cap - tail) k = j->cap - tail; /* up to the end of the ring this time */
        if (k > len) k = len;
        memcpy(j->ring + tail, p, k);
        j->len += k;
        p += k;
        len -= k;
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return 0;
}

/* 1 when the peer closed or reset the connection. A request pipelined behind this one is
 * data, not a hang-up; a client that half-closes its side counts as gone. */
static int peer_gone(int fd) {
    if (fd < 0) return 0;
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)) return 1;
    char c;
    ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* One wait of the connection side: POLL_MS on the condition, then the socket and the
 * deadline. Caller holds mu; it is released while polling. */
static void connection_wait(job *j) {
    wait_ms(j, POLL_MS);
    if (j->gone) return;
    int fd = j->fd;
    pthread_mutex_unlock(&j->mu);
    int gone = peer_gone(fd);
    pthread_mutex_lock(&j->mu);
    if (gone)
        abandon(j, "client went away");
    else if (srv_now() >= j->deadline)
        abandon(j, "timed out");
}

job_state job_wait_started(job *j) {
    pthread_mutex_lock(&j->mu);
    while (j->state == JOB_WAITING && !j->gone)
        connection_wait(j);
    if (j->state == JOB_WAITING) { /* gone: hung up, timed out, or the server stops */
        j->state = JOB_FAILED;
        j->http_status = 503;
        snprintf(j->detail, sizeof j->detail, "the request was not served (%s)",
                 j->why ? j->why : "cancelled");
    }
    job_state s = j->state;
    pthread_mutex_unlock(&j->mu);
    return s;
}

long job_read(job *j, void *buf, size_t max) {
    pthread_mutex_lock(&j->mu);
    for (;;) {
        if (j->len) {
            size_t k = j->len < max ? j->len : max;
            if (k > j->cap - j->head) k = j->cap - j->head;
            memcpy(buf, j->ring + j->head, k);
            j->head = (j->head + k) % j->cap;
            j->len -= k;
            j->sent += k;
            pthread_cond_broadcast(&j->cv);
            pthread_mutex_unlock(&j->mu);
            return (long)k;
        }
        if (j->state == JOB_DONE || j->state == JOB_BROKEN || j->gone) break;
        connection_wait(j);
    }
    long rc = j->state == JOB_DONE ? 0 : -1;
    pthread_mutex_unlock(&j->mu);
    return rc;
}
