#include "http_client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_REDIRECTS 10

struct http_client {
    CURL *curl;
    struct curl_slist *headers;      /* sent everywhere */
    struct curl_slist *auth_headers; /* headers + Authorization; NULL without a token */
    char auth_origin[512];           /* "scheme://host:port" that may see the token */
    char errbuf[CURL_ERROR_SIZE];
    long stall_timeout_s;
};

/* One request's callback state. */
typedef struct xfer {
    http_client *c;
    http_meta *m;
    http_sink *s; /* NULL for HEAD */
    EVP_MD_CTX *md;
    int write_errno;
    double last_data; /* monotonic seconds when something last arrived */
    int stalled;
} xfer;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* "scheme://host:port" with the scheme's default port filled in; 0 when unparsable. */
static int origin_of(const char *url, char *out, size_t n) {
    CURLU *u = curl_url();
    if (!u) return 0;
    char *scheme = NULL, *host = NULL, *port = NULL;
    int ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
    if (ok) {
        int w = snprintf(out, n, "%s://%s:%s", scheme, host, port);
        ok = w > 0 && (size_t)w < n;
        for (char *p = out; ok && *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return ok;
}

static int same_origin(const char *a, const char *b) {
    char oa[512], ob[512];
    return origin_of(a, oa, sizeof oa) && origin_of(b, ob, sizeof ob) && !strcmp(oa, ob);
}

void http_host(const char *url, char *out, size_t n) {
    snprintf(out, n, "?");
    CURLU *u = curl_url();
    if (!u) return;
    char *host = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
        snprintf(out, n, "%s", host);
    curl_free(host);
    curl_url_cleanup(u);
}

static void meta_reset(http_meta *m) {
    m->status = 0;
    m->location[0] = m->etag[0] = m->linked_etag[0] = m->repo_commit[0] = m->error_code[0] = 0;
    m->content_length = m->linked_size = -1;
}

/* Stores a header value; one that does not fit is dropped rather than cut, so that a
 * truncated etag can never name the wrong blob. */
static void set_value(char *dst, size_t cap, const char *v, size_t n) {
    if (n >= cap) n = 0;
    memcpy(dst, v, n);
    dst[n] = 0;
}

static int64_t parse_size(const char *v, size_t n) {
    if (n == 0 || n > 18) return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

static size_t on_header(char *buf, size_t size, size_t count, void *ud) {
    xfer *x = ud;
    http_meta *m = x->m;
    size_t len = size * count;
    x->last_data = now_s();
    if (len >= 5 && !memcmp(buf, "HTTP/", 5)) { /* a new response starts */
        meta_reset(m);
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon) return len;
    size_t name_len = (size_t)(colon - buf);
    const char *v = colon + 1, *end = buf + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && strchr(" \t\r\n", end[-1]))
        end--;
    size_t n = (size_t)(end - v);
#define IS(name) (name_len == sizeof(name) - 1 && !strncasecmp(buf, name, name_len))
    if (IS("etag") || IS("x-linked-etag")) {
        /* Normalized as huggingface_hub does: W/"abc" and "abc" both give abc. */
        if (n >= 2 && v[0] == 'W' && v[1] == '/') v += 2, n -= 2;
        if (n >= 2 && v[0] == '"' && v[n - 1] == '"') v++, n -= 2;
        if (IS("etag"))
            set_value(m->etag, sizeof m->etag, v, n);
        else
            set_value(m->linked_etag, sizeof m->linked_etag, v, n);
    } else if (IS("x-repo-commit")) {
        set_value(m->repo_commit, sizeof m->repo_commit, v, n);
    } else if (IS("x-error-code")) {
        set_value(m->error_code, sizeof m->error_code, v, n);
    } else if (IS("content-length")) {
        m->content_length = parse_size(v, n);
    } else if (IS("x-linked-size")) {
        m->linked_size = parse_size(v, n);
    }
#undef IS
    return len;
}

static size_t on_body(char *buf, size_t size, size_t count, void *ud) {
    xfer *x = ud;
    size_t len = size * count;
    x->last_data = now_s();
    long status = 0;
    curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE, &status);
    /* Bodies of redirects and errors are not the file: dropped. */
    if (!x->s || status < 200 || status >= 300) return len;
    if (!x->s->total && x->m->content_length > 0) x->s->total = (uint64_t)x->m->content_length;
    for (size_t done = 0; done < len;) {
        ssize_t w = write(x->s->fd, buf + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            x->write_errno = w < 0 ? errno : EIO;
            return 0; /* curl stops with CURLE_WRITE_ERROR */
        }
        done += (size_t)w;
    }
    if (EVP_DigestUpdate(x->md, buf, len) != 1) {
        x->write_errno = ENOMEM;
        return 0;
    }
    x->s->written += len;
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    xfer *x = ud;
    /* Measured here rather than with CURLOPT_LOW_SPEED_*, whose speed is averaged over
     * seconds: a burst followed by silence would be noticed only several seconds late. */
    if (now_s() - x->last_data > (double)x->c->stall_timeout_s) {
        x->stalled = 1;
        return 1;
    }
    /* Our own counts: curl's restart at each redirect and do not know the hub's size. */
    if (!x->s || !x->s->progress) return 0;
    return x->s->progress(x->s->user_data, x->s->written, x->s->total) != 0;
}

void http_client_free(http_client *c) {
    if (!c) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    curl_slist_free_all(c->auth_headers);
    free(c);
}

int http_client_new(http_client **out, const char *auth_origin, const char *token,
                    long connect_timeout_s, long stall_timeout_s, ptts_err *e) {
    *out = NULL;
    if (token && *token) {
        for (const char *p = token; *p; p++)
            if (*p < 0x21 || *p > 0x7e)
                return err_set(e, PTTS_ERR_INVALID_ARG,
                               "the access token contains a space or control character");
    }
    http_client *c = calloc(1, sizeof *c);
    if (!c) return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    c->curl = curl_easy_init();
    c->headers = curl_slist_append(NULL, "Accept-Encoding: identity"); /* sizes are exact */
    if (!c->curl || !c->headers) {
        http_client_free(c);
        return err_set(e, PTTS_ERR_NOMEM, "cannot start libcurl");
    }
    if (token && *token) {
        if (!origin_of(auth_origin, c->auth_origin, sizeof c->auth_origin)) {
            http_client_free(c);
            return err_set(e, PTTS_ERR_INVALID_ARG, "invalid endpoint URL '%s'", auth_origin);
        }
        char line[600];
        int n = snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        struct curl_slist *l = curl_slist_append(NULL, "Accept-Encoding: identity");
        if (l && n > 0 && (size_t)n < sizeof line) {
            c->auth_headers = curl_slist_append(l, line);
            if (!c->auth_headers) curl_slist_free_all(l);
        } else {
            curl_slist_free_all(l);
        }
        if (!c->auth_headers) {
            http_client_free(c);
            return err_set(e, PTTS_ERR_INVALID_ARG, "the access token is too long");
        }
    }
    c->stall_timeout_s = stall_timeout_s;
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM: we run inside threads */
    curl_easy_setopt(h, CURLOPT_USERAGENT, "pocket-tts/" PTTS_VERSION " libcurl/" LIBCURL_VERSION);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    *out = c;
    return PTTS_OK;
}

static int transfer_error(http_client *c, const char *url, CURLcode rc, const xfer *x,
                          ptts_err *e) {
    char host[256];
    http_host(url, host, sizeof host);
    const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK:
        if (x->stalled)
            return err_set(e, PTTS_ERR_NETWORK, "%s timed out: nothing received for %ld s", host,
                           c->stall_timeout_s);
        return err_set(e, PTTS_ERR_CANCELLED, "download from %s cancelled", host);
    case CURLE_WRITE_ERROR:
        if (x->write_errno)
            return err_set(e, PTTS_ERR_IO, "cannot save the download from %s: %s", host,
                           strerror(x->write_errno));
        break;
    case CURLE_PARTIAL_FILE:
        return err_set(e, PTTS_ERR_NETWORK, "%s closed the connection in the middle of %s (%s)",
                       host, url, why);
    case CURLE_OPERATION_TIMEDOUT:
        return err_set(e, PTTS_ERR_NETWORK, "%s timed out (%s)", host, why);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return err_set(e, PTTS_ERR_NETWORK, "cannot reach %s (%s)", host, why);
    default: break;
    }
    return err_set(e, PTTS_ERR_NETWORK, "transfer from %s failed (%s)", host, why);
}

/* One request, no redirect followed. PTTS_OK when a whole response arrived. */
static int perform(http_client *c, const char *url, int head, xfer *x, ptts_err *e) {
    http_meta *m = x->m;
    meta_reset(m);
    int n = snprintf(m->url, sizeof m->url, "%s", url);
    if (n < 0 || (size_t)n >= sizeof m->url)
        return err_set(e, PTTS_ERR_INVALID_ARG, "URL too long: %.200s...", url);
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (head)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    int auth = c->auth_headers && same_origin(url, c->auth_origin);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, auth ? c->auth_headers : c->headers);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    c->errbuf[0] = 0;
    x->last_data = now_s(); /* the connection and the server's first reply count too */
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) return transfer_error(c, url, rc, x, e);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &m->status);
    char *loc = NULL;
    if (m->status >= 300 && m->status < 400 &&
        curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc &&
        strlen(loc) < sizeof m->location)
        strcpy(m->location, loc);
    return PTTS_OK;
}

/* Follows redirects; a HEAD stops at the first one leaving the origin of url. */
static int run(http_client *c, const char *url, int head, xfer *x, ptts_err *e) {
    meta_reset(x->m); /* callers may look at it whatever happens */
    x->m->url[0] = 0;
    char cur[HTTP_URL_MAX];
    int n = snprintf(cur, sizeof cur, "%s", url);
    if (n < 0 || (size_t)n >= sizeof cur)
        return err_set(e, PTTS_ERR_INVALID_ARG, "URL too long: %.200s...", url);
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
        int rc = perform(c, cur, head, x, e);
        if (rc) return rc;
        if (!x->m->location[0]) return PTTS_OK;
        if (head && !same_origin(x->m->location, url)) return PTTS_OK;
        memcpy(cur, x->m->location, sizeof cur);
    }
    char host[256];
    http_host(url, host, sizeof host);
    return err_set(e, PTTS_ERR_NETWORK, "too many redirects from %s for %s", host, url);
}

int http_head(http_client *c, const char *url, http_meta *m, ptts_err *e) {
    xfer x = {.c = c, .m = m};
    return run(c, url, 1, &x, e);
}

int http_get(http_client *c, const char *url, http_sink *s, http_meta *m, ptts_err *e) {
    s->written = 0;
    xfer x = {.c = c, .m = m, .s = s, .md = EVP_MD_CTX_new()};
    if (!x.md || EVP_DigestInit_ex(x.md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(x.md);
        return err_set(e, PTTS_ERR_NOMEM, "cannot start SHA-256");
    }
    int rc = run(c, url, 0, &x, e);
    unsigned len = 0;
    if (!rc && EVP_DigestFinal_ex(x.md, s->sha256, &len) != 1)
        rc = err_set(e, PTTS_ERR_INTERNAL, "SHA-256 failed");
    EVP_MD_CTX_free(x.md);
    return rc;
}
