/* A small blocking HTTP(S) client over libcurl for downloads: HEAD for metadata, GET into
 * a file descriptor. Redirects are followed here rather than by curl so that the bearer
 * token is sent only to one origin (the hub), never to the CDN it redirects to.
 * One client per thread; curl_global_init must have run before (see dl_global_init). */
#ifndef PTTS_HTTP_CLIENT_H
#define PTTS_HTTP_CLIENT_H

#include <stdint.h>

#include "../common/error.h"

#define HTTP_URL_MAX 4096
#define HTTP_TAG_MAX 128

/* Headers of the last response received. */
typedef struct http_meta {
    long status;                    /* HTTP status, 0 when no response */
    char url[HTTP_URL_MAX];         /* URL of that request */
    char location[HTTP_URL_MAX];    /* absolute redirect target, "" when none */
    char etag[HTTP_TAG_MAX];        /* ETag without W/ and quotes; "" when absent */
    char linked_etag[HTTP_TAG_MAX]; /* X-Linked-Etag: the hub's etag of a redirect target */
    char repo_commit[HTTP_TAG_MAX]; /* X-Repo-Commit */
    char error_code[64];            /* X-Error-Code: GatedRepo, EntryNotFound, ... */
    int64_t content_length;         /* -1 when absent */
    int64_t linked_size;            /* X-Linked-Size, -1 when absent */
} http_meta;

/* Called while bytes arrive (and about once a second while none do); non-zero cancels. */
typedef int (*http_progress_fn)(void *user_data, uint64_t done, uint64_t total);

/* Where a GET body goes. */
typedef struct http_sink {
    int fd;                    /* body of the final 2xx response is written here */
    uint64_t total;            /* for progress only; 0 when unknown */
    http_progress_fn progress; /* may be NULL */
    void *user_data;
    uint64_t written;         /* out: bytes written to fd */
    unsigned char sha256[32]; /* out: SHA-256 of those bytes */
} http_sink;

typedef struct http_client http_client;

/* token (may be NULL or "") goes as "Authorization: Bearer" to requests whose scheme, host
 * and port are those of auth_origin (a URL). Timeouts: connecting, and no byte received. */
int http_client_new(http_client **out, const char *auth_origin, const char *token,
                    long connect_timeout_s, long stall_timeout_s, ptts_err *e);
void http_client_free(http_client *c); /* accepts NULL */

/* HEAD url, following redirects that stay on url's origin and stopping at the first one
 * that leaves it (m->location is then its target). PTTS_OK whenever a response arrived,
 * whatever its status; PTTS_ERR_NETWORK (naming the host) when none did. */
int http_head(http_client *c, const char *url, http_meta *m, ptts_err *e);

/* GET url, following up to 10 redirects; only a 2xx body is written to s->fd. PTTS_OK when
 * a final response arrived whole (check m->status); PTTS_ERR_NETWORK for a failed or cut
 * transfer, PTTS_ERR_IO when writing fails, PTTS_ERR_CANCELLED when progress said stop. */
int http_get(http_client *c, const char *url, http_sink *s, http_meta *m, ptts_err *e);

/* Host of url (for messages); "?" when url cannot be parsed. */
void http_host(const char *url, char *out, size_t n);

#endif
