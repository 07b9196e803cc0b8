#include "download.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hf_cache.h"
#include "http_client.h"

#define DEFAULT_ENDPOINT "https://huggingface.co"
#define URL_CACHE        "pocket-tts-urls"
#define OFFLINE_HINT                                                                               \
    "; if the files are already cached, set HF_HUB_OFFLINE=1 to use them without the network"

/* ---- options from the environment ---------------------------------------------------- */

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* out = v + suffix with a leading "~" expanded as os.path.expanduser does; "" when that
 * cannot be done (no home, too long). */
static void expand_home(char *out, size_t n, const char *v, const char *suffix) {
    out[0] = 0;
    const char *home = "";
    char pwbuf[1024];
    if (v[0] == '~' && (v[1] == '/' || v[1] == 0)) {
        home = env("HOME");
        if (!home) {
            struct passwd pw, *res = NULL;
            if (getpwuid_r(getuid(), &pw, pwbuf, sizeof pwbuf, &res) != 0 || !res) return;
            home = pw.pw_dir;
        }
        v++;
    }
    int w = snprintf(out, n, "%s%s%s", home, v, suffix);
    if (w < 0 || (size_t)w >= n) out[0] = 0;
}

/* huggingface_hub's truth values. */
static int env_true(const char *name) {
    const char *v = env(name);
    if (!v) return 0;
    static const char *const yes[] = {"1", "on", "yes", "true"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!strcasecmp(v, yes[i])) return 1;
    return 0;
}

/* Copies s without surrounding whitespace; "" when it does not fit. */
static void copy_trimmed(char *out, size_t n, const char *s, size_t len) {
    while (len > 0 && strchr(" \t\r\n", *s))
        s++, len--;
    while (len > 0 && strchr(" \t\r\n", s[len - 1]))
        len--;
    if (len >= n) len = 0;
    memcpy(out, s, len);
    out[len] = 0;
}

static void token_from_file(char *out, size_t n, const char *path) {
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    char buf[1024];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (len < sizeof buf) copy_trimmed(out, n, buf, len);
}

dl_options dl_options_default(void) {
    dl_options o;
    memset(&o, 0, sizeof o);
    o.connect_timeout_s = 10;
    o.stall_timeout_s = 30;

    char home[DL_PATH_MAX];
    const char *v;
    if ((v = env("HF_HOME")))
        expand_home(home, sizeof home, v, "");
    else if ((v = env("XDG_CACHE_HOME")))
        expand_home(home, sizeof home, v, "/huggingface");
    else
        expand_home(home, sizeof home, "~/.cache/huggingface", "");

    if ((v = env("HF_HUB_CACHE")) || (v = env("HUGGINGFACE_HUB_CACHE")))
        expand_home(o.cache_dir, sizeof o.cache_dir, v, "");
    else if (home[0])
        expand_home(o.cache_dir, sizeof o.cache_dir, home, "/hub");

    v = env("HF_ENDPOINT");
    snprintf(o.endpoint, sizeof o.endpoint, "%s", DEFAULT_ENDPOINT);
    if (v && strlen(v) < sizeof o.endpoint) {
        size_t len = strlen(v);
        while (len > 0 && v[len - 1] == '/')
            len--;
        memcpy(o.endpoint, v, len);
        o.endpoint[len] = 0;
    }

    if ((v = env("HF_TOKEN")) || (v = env("HUGGING_FACE_HUB_TOKEN"))) {
        copy_trimmed(o.token, sizeof o.token, v, strlen(v));
    } else {
        char path[DL_PATH_MAX] = "";
        if ((v = env("HF_TOKEN_PATH")))
            expand_home(path, sizeof path, v, "");
        else if (home[0])
            expand_home(path, sizeof path, home, "/token");
        if (path[0]) token_from_file(o.token, sizeof o.token, path);
    }

    o.offline = env_true("HF_HUB_OFFLINE") || env_true("TRANSFORMERS_OFFLINE");
    return o;
}

int dl_global_init(ptts_err *e) {
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        return err_set(e, PTTS_ERR_INTERNAL, "cannot initialise libcurl: %s",
                       curl_easy_strerror(rc));
    return PTTS_OK;
}

void dl_global_cleanup(void) {
    curl_global_cleanup();
}

/* ---- names ------------------------------------------------------------------------- */

typedef struct hub_ref {
    char repo[200];     /* owner/name */
    char file[1024];    /* path inside the repository */
    char revision[256]; /* branch, tag or commit */
} hub_ref;

static int is_word(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* huggingface_hub's rule for each half of a repo id: [\w.-]{1,96}, starting and ending
 * with a word character, no "--" (its folder separator) nor "..". */
static int repo_part_ok(const char *s, size_t n) {
    if (n == 0 || n > 96 || !is_word(s[0]) || !is_word(s[n - 1])) return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_word(s[i]) && s[i] != '-' && s[i] != '.') return 0;
        if (i > 0 && (s[i] == '-' || s[i] == '.') && s[i] == s[i - 1]) return 0;
    }
    return 1;
}

/* A relative path whose parts are never empty, "." or "..": it must stay in its folder. */
static int rel_path_ok(const char *s, const char *allowed) {
    if (!*s) return 0;
    for (const char *p = s;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c < 0x20 || c == 0x7f || c == '\\') return 0;
            if (allowed && !is_word((char)c) && !strchr(allowed, c)) return 0;
        }
        if (!p[n]) return 1;
        p += n + 1;
    }
}

/* Names the server gives (commit, etag) become file names: plain, never paths. */
static int server_name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_word(s[i]) && s[i] != '-' && s[i] != '.') return 0;
    return 1;
}

static int is_hex(const char *s, size_t n) {
    return strlen(s) == n && strspn(s, "0123456789abcdefABCDEF") == n;
}

static int parse_hub_ref(const char *ref, hub_ref *r, ptts_err *e) {
    const char *owner = ref + 5; /* after "hf://" */
    const char *s1 = strchr(owner, '/');
    const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s2 || !repo_part_ok(owner, (size_t)(s1 - owner)) ||
        !repo_part_ok(s1 + 1, (size_t)(s2 - s1 - 1)))
        return err_set(e, PTTS_ERR_INVALID_ARG,
                       "'%s' is not hf://owner/repo/path[@revision] with a valid repository", ref);
    snprintf(r->repo, sizeof r->repo, "%.*s", (int)(s2 - owner), owner);
    const char *file = s2 + 1, *at = strrchr(file, '@');
    size_t file_len = at ? (size_t)(at - file) : strlen(file);
    const char *rev = at ? at + 1 : "main";
    if (file_len >= sizeof r->file || strlen(rev) >= sizeof r->revision)
        return err_set(e, PTTS_ERR_INVALID_ARG, "'%s' is too long", ref);
    memcpy(r->file, file, file_len);
    r->file[file_len] = 0;
    strcpy(r->revision, rev);
    if (!rel_path_ok(r->file, NULL))
        return err_set(e, PTTS_ERR_INVALID_ARG,
                       "'%s': the path in the repository is empty or has an empty, '.' or '..' "
                       "part",
                       ref);
    if (!rel_path_ok(r->revision, "-."))
        return err_set(e, PTTS_ERR_INVALID_ARG, "'%s': invalid revision '%s'", ref, r->revision);
    return PTTS_OK;
}

/* Percent-encodes s (keeping '/' when keep_slash) at out + *pos. */
static int url_escape(char *out, size_t cap, size_t *pos, const char *s, int keep_slash) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = is_word((char)*p) || strchr("-.~", *p) || (keep_slash && *p == '/');
        size_t need = plain ? 1 : 3;
        if (*pos + need >= cap) return 0;
        if (plain)
            out[(*pos)++] = (char)*p;
        else
            *pos += (size_t)snprintf(out + *pos, cap - *pos, "%%%02X", *p);
    }
    out[*pos] = 0;
    return 1;
}

static int hub_url(char *out, const dl_options *o, const hub_ref *r, ptts_err *e) {
    int n = snprintf(out, HTTP_URL_MAX, "%s/%s/resolve/", o->endpoint, r->repo);
    size_t pos = n > 0 ? (size_t)n : HTTP_URL_MAX;
    int ok = pos < HTTP_URL_MAX && url_escape(out, HTTP_URL_MAX, &pos, r->revision, 0) &&
             url_escape(out, HTTP_URL_MAX, &pos, "/", 1) &&
             url_escape(out, HTTP_URL_MAX, &pos, r->file, 1);
    return ok ? PTTS_OK : err_set(e, PTTS_ERR_INVALID_ARG, "URL for %s too long", r->file);
}

/* ---- resolving ---------------------------------------------------------------------- */

static int give(const char *path, char **out, ptts_err *e) {
    *out = strdup(path);
    return *out ? PTTS_OK : err_set(e, PTTS_ERR_NOMEM, "out of memory");
}

static int from_endpoint(const dl_options *o, const char *url) {
    size_t n = strlen(o->endpoint);
    return !strncmp(url, o->endpoint, n) && (url[n] == '/' || url[n] == 0);
}

/* The error for a final HTTP status that is not a success, saying what to do. */
static int status_error(const dl_options *o, const hub_ref *r, const http_meta *m, ptts_err *e) {
    long s = m->status;
    int hub = r && from_endpoint(o, m->url);
    if (hub && (s == 401 || s == 403 || s == 404) && !strcmp(m->error_code, "RepoNotFound"))
        return err_set(e, PTTS_ERR_NOT_FOUND,
                       "repository %s not found at %s (if it is private, set HF_TOKEN to a "
                       "token that can read it)",
                       r->repo, o->endpoint);
    if (hub && (s == 401 || s == 403))
        return err_set(e, PTTS_ERR_DENIED,
                       "access to %s is gated or needs a token: accept the conditions at %s/%s "
                       "and set HF_TOKEN%s",
                       r->repo, o->endpoint, r->repo,
                       o->token[0] ? " (the token that was sent is refused)" : "");
    if (s == 401 || s == 403)
        return err_set(e, PTTS_ERR_DENIED, "access to %s refused (HTTP %ld)", m->url, s);
    if (hub && s == 404 && !strcmp(m->error_code, "RevisionNotFound"))
        return err_set(e, PTTS_ERR_NOT_FOUND, "revision '%s' not found in %s (%s)", r->revision,
                       r->repo, m->url);
    if (s == 404)
        return err_set(e, PTTS_ERR_NOT_FOUND, "%s not found (HTTP 404)%s", m->url,
                       hub ? ": check the repository, the path and the revision" : "");
    char host[256];
    http_host(m->url, host, sizeof host);
    return err_set(e, PTTS_ERR_NETWORK, "HTTP %ld from %s for %s%s", s, host, m->url,
                   hub ? OFFLINE_HINT : "");
}

static void add_offline_hint(ptts_err *e) {
    size_t n = strlen(e->msg);
    snprintf(e->msg + n, sizeof e->msg - n, "%s", OFFLINE_HINT);
}

/* Progress that also stops a transfer going past o->max_bytes (sizes can be unknown or wrong). */
static int capped_progress(void *ud, uint64_t done, uint64_t total) {
    const dl_options *o = ud;
    if (o->max_bytes && done > o->max_bytes) return 1;
    return o->progress ? o->progress(o->user_data, done, total) : 0;
}

static int too_large(const dl_options *o, const char *url, ptts_err *e) {
    return err_set(e, PTTS_ERR_DENIED, "%s is larger than the %llu-byte limit for this download",
                   url, (unsigned long long)o->max_bytes);
}

/* GETs url into final through a temp file in final's folder, checking the size (when
 * size >= 0) and the SHA-256 (when sha256 is not NULL); on any failure nothing is left. */
static int fetch(const dl_options *o, http_client *c, const hub_ref *r, const char *url,
                 const char *final, int64_t size, const char *sha256, ptts_err *e) {
    char dir[HFC_PATH_MAX], tmp[HFC_PATH_MAX];
    if (o->max_bytes && size > 0 && (uint64_t)size > o->max_bytes) return too_large(o, url, e);
    int rc = hfc_path(dir, e, "%s", final);
    if (rc) return rc;
    *strrchr(dir, '/') = 0;
    int fd;
    if ((rc = hfc_mkdirs(dir, e)) || (rc = hfc_temp_open(final, tmp, &fd, e))) return rc;

    http_sink s = {.fd = fd,
                   .total = size > 0 ? (uint64_t)size : 0,
                   .progress = capped_progress,
                   .user_data = (void *)o};
    http_meta m;
    char host[256];
    http_host(url, host, sizeof host);
    rc = http_get(c, url, &s, &m, e);
    if (rc == PTTS_ERR_CANCELLED && o->max_bytes && s.written > o->max_bytes)
        rc = too_large(o, url, e);
    if (rc == PTTS_ERR_NETWORK && r) add_offline_hint(e);
    if (!rc && (m.status < 200 || m.status >= 300)) rc = status_error(o, r, &m, e);
    if (!rc && size >= 0 && s.written != (uint64_t)size)
        rc = err_set(e, PTTS_ERR_NETWORK,
                     "%s sent %llu bytes for %s, expected %lld: the download was discarded, "
                     "try again",
                     host, (unsigned long long)s.written, url, (long long)size);
    if (!rc && sha256) {
        char got[65];
        for (int i = 0; i < 32; i++)
            snprintf(got + 2 * i, 3, "%02x", s.sha256[i]);
        if (strcasecmp(got, sha256))
            rc = err_set(e, PTTS_ERR_NETWORK,
                         "SHA-256 of the file from %s is %s, expected %s: the download was "
                         "discarded, try again",
                         host, got, sha256);
    }
    if (rc) {
        hfc_temp_discard(fd, tmp);
        return rc;
    }
    if (o->progress) o->progress(o->user_data, s.written, s.written); /* the final 100% */
    return hfc_temp_commit(fd, tmp, final, e);
}

static int hub_resolve(const dl_options *o, const char *ref, char **out, ptts_err *e) {
    hub_ref r;
    char repo_dir[HFC_PATH_MAX], path[HFC_PATH_MAX], url[HTTP_URL_MAX];
    int rc = parse_hub_ref(ref, &r, e);
    if (rc) return rc;
    if (!o->cache_dir[0])
        return err_set(e, PTTS_ERR_CONFIG,
                       "no cache folder to download %s into: set HF_HUB_CACHE or HOME", ref);
    if ((rc = hfc_repo_dir(repo_dir, o->cache_dir, r.repo, e))) return rc;

    /* A commit never changes: its cached file is final, no need to ask the hub. */
    if (hfc_is_commit(r.revision) && hfc_lookup(path, repo_dir, r.revision, r.file))
        return give(path, out, e);
    if (o->offline) {
        if (hfc_lookup(path, repo_dir, r.revision, r.file)) return give(path, out, e);
        return err_set(e, PTTS_ERR_NOT_FOUND,
                       "%s is not in the cache (%s) and offline mode is on (HF_HUB_OFFLINE): "
                       "run once with network access to download it",
                       ref, o->cache_dir);
    }
    if (strncmp(o->endpoint, "http://", 7) && strncmp(o->endpoint, "https://", 8))
        return err_set(e, PTTS_ERR_CONFIG, "hub endpoint '%s' is not an http(s) URL", o->endpoint);
    if ((rc = hub_url(url, o, &r, e))) return rc;

    http_client *c = NULL;
    rc = http_client_new(&c, o->endpoint, o->token, o->connect_timeout_s, o->stall_timeout_s, e);
    if (rc) return rc;
    http_meta m;
    rc = http_head(c, url, &m, e);
    int ok = !rc && ((m.status >= 200 && m.status < 300) ||
                     (m.status >= 300 && m.status < 400 && m.location[0]));
    const char *commit = m.repo_commit, *etag = m.linked_etag[0] ? m.linked_etag : m.etag;
    /* The size of a redirect's own body is not the file's (huggingface_hub does the same). */
    int64_t size = m.linked_size >= 0 ? m.linked_size : m.location[0] ? -1 : m.content_length;
    int complete = ok && commit[0] && etag[0] && size >= 0;
    /* No answer, a refusal or a server error: the last commit seen for this revision will
     * do if its file is cached (as huggingface_hub does). A 404 is final. */
    if (!complete && (rc == PTTS_ERR_NETWORK || (!rc && m.status != 404)) &&
        hfc_lookup(path, repo_dir, r.revision, r.file)) {
        http_client_free(c);
        return give(path, out, e);
    }
    if (rc) {
        if (rc == PTTS_ERR_NETWORK) add_offline_hint(e);
    } else if (!ok) {
        rc = status_error(o, &r, &m, e);
    } else if (!complete) {
        rc = err_set(e, PTTS_ERR_NETWORK,
                     "%s did not answer as a Hugging Face hub (no X-Repo-Commit, ETag or size "
                     "for %s): check HF_ENDPOINT and the proxy settings",
                     o->endpoint, url);
    } else if (!server_name_ok(commit) || !server_name_ok(etag)) {
        rc = err_set(e, PTTS_ERR_FORMAT, "unexpected commit '%s' or ETag '%s' from %s", commit,
                     etag, url);
    }
    if (rc) {
        http_client_free(c);
        return rc;
    }

    if ((rc = hfc_path(path, e, "%s/snapshots/%s/%s", repo_dir, commit, r.file))) goto done;
    if (hfc_is_file(path)) {
        /* Best effort: the cache may be read-only and the file is all we need. */
        hfc_write_ref(repo_dir, r.revision, commit, NULL);
        rc = give(path, out, e);
        goto done;
    }
    char blob[HFC_PATH_MAX];
    if ((rc = hfc_path(blob, e, "%s/blobs/%s", repo_dir, etag))) goto done;
    /* LFS files have their SHA-256 as etag; others a git hash we do not check. */
    if (!hfc_is_file(blob))
        rc = fetch(o, c, &r, m.location[0] ? m.location : m.url, blob, size,
                   is_hex(etag, 64) ? etag : NULL, e);
    if (!rc) rc = hfc_link_snapshot(path, repo_dir, commit, r.file, etag, e);
    if (!rc) rc = hfc_write_ref(repo_dir, r.revision, commit, e);
    if (!rc) rc = give(path, out, e);
done:
    http_client_free(c);
    return rc;
}

/* <cache>/pocket-tts-urls/<sha256 of url>/<last path segment, made a safe file name>. */
static int url_cache_path(char *out, const dl_options *o, const char *url, ptts_err *e) {
    unsigned char md[32];
    unsigned mdlen = 0;
    if (EVP_Digest(url, strlen(url), md, &mdlen, EVP_sha256(), NULL) != 1)
        return err_set(e, PTTS_ERR_INTERNAL, "SHA-256 failed");
    char key[65];
    for (int i = 0; i < 32; i++)
        snprintf(key + 2 * i, 3, "%02x", md[i]);
    size_t end = strcspn(url, "?#");
    size_t start = end;
    while (start > 0 && url[start - 1] != '/')
        start--;
    if (end - start > 100) start = end - 100; /* keeps the extension */
    char name[101];
    size_t n = 0;
    for (size_t i = start; i < end; i++, n++)
        name[n] = is_word(url[i]) || url[i] == '-' || (url[i] == '.' && n > 0) ? url[i] : '_';
    if (n == 0) name[n++] = '_';
    name[n] = 0;
    return hfc_path(out, e, "%s/" URL_CACHE "/%s/%s", o->cache_dir, key, name);
}

static int url_resolve(const dl_options *o, const char *url, char **out, ptts_err *e) {
    if (!o->cache_dir[0])
        return err_set(e, PTTS_ERR_CONFIG,
                       "no cache folder to download %s into: set HF_HUB_CACHE or HOME", url);
    char path[HFC_PATH_MAX];
    int rc = url_cache_path(path, o, url, e);
    if (rc) return rc;
    if (hfc_is_file(path)) return give(path, out, e);
    if (o->offline)
        return err_set(e, PTTS_ERR_NOT_FOUND,
                       "%s is not in the cache (%s) and offline mode is on (HF_HUB_OFFLINE): "
                       "run once with network access to download it",
                       url, o->cache_dir);
    http_client *c = NULL;
    rc = http_client_new(&c, o->endpoint, o->token, o->connect_timeout_s, o->stall_timeout_s, e);
    if (!rc) rc = fetch(o, c, NULL, url, path, -1, NULL, e);
    http_client_free(c);
    return rc ? rc : give(path, out, e);
}

static int local_resolve(const char *path, char **out, ptts_err *e) {
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return err_set(e, PTTS_ERR_NOT_FOUND, "file '%s' not found", path);
        return err_set(e, PTTS_ERR_IO, "cannot access '%s': %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode))
        return err_set(e, PTTS_ERR_INVALID_ARG, "'%s' is a folder, not a file", path);
    return give(path, out, e);
}

int dl_resolve(const dl_options *o, const char *ref, char **local_path, ptts_err *e) {
    if (local_path) *local_path = NULL;
    if (!o || !ref || !*ref || !local_path)
        return err_set(e, PTTS_ERR_INVALID_ARG, "dl_resolve: no options, reference or output");
    ptts_err scratch = {0};
    if (!e) e = &scratch; /* messages are appended to, so there must be one */
    if (!strncmp(ref, "hf://", 5)) return hub_resolve(o, ref, local_path, e);
    if (!strncasecmp(ref, "http://", 7) || !strncasecmp(ref, "https://", 8))
        return url_resolve(o, ref, local_path, e);
    return local_resolve(ref, local_path, e);
}
