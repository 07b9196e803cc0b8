/* Which voices a request may use, and the voice states loaded for them.
 *
 * A request names a voice; it never names a file. Allowed: the operator's startup voices
 * (by the names given to --voice), the model language's predefined voices, hf:// references
 * and, with --allow-remote-voices, http(s):// URLs. Anything else is refused before any I/O.
 * Loaded states are kept in a small LRU cache keyed by name or URL; uploads are not cached
 * (a person's cloned voice is not kept beyond the request that brought it). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

#define UPLOAD_SECONDS 30.0 /* the upstream keeps the first 30 s of a voice prompt */
#define MAX_REF_LEN    2048

struct shared_voice {
    ptts_voice *v;
    atomic_int refs;
};

typedef struct named_voice {
    char *name; /* NULL: the unnamed default */
    shared_voice *sv;
} named_voice;

typedef struct cache_entry {
    char *key;
    shared_voice *sv;
    unsigned long used; /* LRU clock value of the last use */
} cache_entry;

struct voices {
    ptts_model *m;
    int allow_remote;
    const char *const *predefined; /* NULL-terminated, static */
    int predefined_default;        /* index, or -1 */
    named_voice *local;
    size_t n_local;
    const char **names; /* what voices_list returns */
    size_t n_names;

    pthread_mutex_t mu; /* guards the cache */
    cache_entry *cache;
    int cap, n;
    unsigned long clock;
};

const ptts_voice *shared_voice_get(const shared_voice *sv) {
    return sv->v;
}

static shared_voice *shared_voice_wrap(ptts_voice *v) {
    shared_voice *sv = malloc(sizeof *sv);
    if (!sv) {
        ptts_voice_free(v);
        return NULL;
    }
    sv->v = v;
    atomic_init(&sv->refs, 1);
    return sv;
}

static shared_voice *shared_voice_retain(shared_voice *sv) {
    atomic_fetch_add(&sv->refs, 1);
    return sv;
}

void shared_voice_release(shared_voice *sv) {
    if (!sv || atomic_fetch_sub(&sv->refs, 1) != 1) return;
    ptts_voice_free(sv->v);
    free(sv);
}

static int rebuild_names(voices *vs);

int voices_new(voices **out, ptts_model *m, int allow_remote, int cache_size) {
    *out = NULL;
    voices *vs = calloc(1, sizeof *vs);
    if (!vs) return PTTS_ERR_NOMEM;
    vs->m = m;
    vs->allow_remote = allow_remote;
    vs->predefined_default = ptts_voice_names(ptts_model_language(m), &vs->predefined);
    if (vs->predefined_default < 0) vs->predefined = NULL;
    vs->cap = cache_size > 0 ? cache_size : 0;
    if (vs->cap && !(vs->cache = calloc((size_t)vs->cap, sizeof *vs->cache))) {
        free(vs);
        return PTTS_ERR_NOMEM;
    }
    pthread_mutex_init(&vs->mu, NULL);
    if (rebuild_names(vs)) {
        voices_free(vs);
        return PTTS_ERR_NOMEM;
    }
    *out = vs;
    return PTTS_OK;
}

void voices_free(voices *vs) {
    if (!vs) return;
    for (int i = 0; i < vs->n; i++) {
        free(vs->cache[i].key);
        shared_voice_release(vs->cache[i].sv);
    }
    for (size_t i = 0; i < vs->n_local; i++) {
        free(vs->local[i].name);
        shared_voice_release(vs->local[i].sv);
    }
    pthread_mutex_destroy(&vs->mu);
    free(vs->cache);
    free(vs->local);
    free(vs->names);
    free(vs);
}

static const named_voice *find_local(const voices *vs, const char *name) {
    for (size_t i = 0; i < vs->n_local; i++)
        if (vs->local[i].name && !strcmp(vs->local[i].name, name)) return &vs->local[i];
    return NULL;
}

static int is_predefined(const voices *vs, const char *name) {
    for (const char *const *p = vs->predefined; p && *p; p++)
        if (!strcmp(*p, name)) return 1;
    return 0;
}

/* Rebuilds the list of names: the operator's, then the predefined ones. */
static int rebuild_names(voices *vs) {
    size_t n = 0;
    for (const char *const *p = vs->predefined; p && *p; p++)
        n++;
    const char **names = malloc((vs->n_local + n + 1) * sizeof *names);
    if (!names) return PTTS_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < vs->n_local; i++)
        if (vs->local[i].name) names[k++] = vs->local[i].name;
    for (const char *const *p = vs->predefined; p && *p; p++)
        if (!find_local(vs, *p)) names[k++] = *p;
    names[k] = NULL;
    free(vs->names);
    vs->names = names;
    vs->n_names = k;
    return PTTS_OK;
}

int voices_add(voices *vs, const char *name, const char *spec, char *err, size_t errlen) {
    if (name && find_local(vs, name)) {
        snprintf(err, errlen, "the voice name '%s' is given twice", name);
        return PTTS_ERR_INVALID_ARG;
    }
    named_voice *l = realloc(vs->local, (vs->n_local + 1) * sizeof *l);
    if (!l) return snprintf(err, errlen, "out of memory"), PTTS_ERR_NOMEM;
    vs->local = l;
    ptts_voice *v = NULL;
    int rc = ptts_voice_load(vs->m, spec, 0, &v, err, errlen);
    if (rc) return rc;
    named_voice nv = {name ? strdup(name) : NULL, shared_voice_wrap(v)};
    if ((name && !nv.name) || !nv.sv) {
        free(nv.name);
        shared_voice_release(nv.sv);
        return snprintf(err, errlen, "out of memory"), PTTS_ERR_NOMEM;
    }
    vs->local[vs->n_local++] = nv;
    if ((rc = rebuild_names(vs))) snprintf(err, errlen, "out of memory");
    return rc;
}

const char *const *voices_list(const voices *vs, size_t *n) {
    *n = vs->n_names;
    return vs->names;
}

const char *voices_default(const voices *vs) {
    if (vs->n_local) return vs->local[0].name ? vs->local[0].name : "";
    return vs->predefined_default >= 0 ? vs->predefined[vs->predefined_default] : "";
}

/* An hf:// reference as the hub writes them: owner/repo/path[@revision], in plain
 * characters, without "." or ".." segments or empty ones. */
static int valid_hf_ref(const char *s) {
    const char *p = s + 5;
    if (!*p) return 0;
    for (const char *c = p; *c; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/@", *c))
            return 0;
    for (const char *seg = p; seg;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (!len || (len == 1 && seg[0] == '.') || (len == 2 && !strncmp(seg, "..", 2))) return 0;
        seg = end ? end + 1 : NULL;
    }
    return 1;
}

/* A URL without spaces or control characters (it goes to libcurl as it is). */
static int plain_url(const char *s) {
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c <= ' ' || *c == 0x7F) return 0;
    return 1;
}

int voices_check(const voices *vs, const char *spec, char *detail, size_t n) {
    if (!spec || !*spec) {
        if (vs->n_local || vs->predefined_default >= 0) return 0;
        snprintf(detail, n, "this server has no default voice: name one");
        return -1;
    }
    if (strlen(spec) > MAX_REF_LEN) {
        snprintf(detail, n, "the voice is longer than %d characters", MAX_REF_LEN);
        return -1;
    }
    if (find_local(vs, spec) || is_predefined(vs, spec)) return 0;
    if (!strncmp(spec, "hf://", 5)) {
        if (valid_hf_ref(spec)) return 0;
        snprintf(detail, n, "malformed hf:// voice reference (expected hf://owner/repo/path)");
        return -1;
    }
    if (!strncmp(spec, "http://", 7) || !strncmp(spec, "https://", 8)) {
        if (!vs->allow_remote) {
            snprintf(detail, n,
                     "voice URLs are disabled on this server (it must be started with "
                     "--allow-remote-voices)");
            return -1;
        }
        if (plain_url(spec)) return 0;
        snprintf(detail, n, "malformed voice URL");
        return -1;
    }
    snprintf(detail, n,
             "unknown voice '%.64s': use a name from /v1/voices, an hf:// reference or an "
             "uploaded file",
             spec);
    return -1;
}

/* The cached voice for key, retained, or NULL. Caller holds mu. */
static shared_voice *cache_find(voices *vs, const char *key) {
    for (int i = 0; i < vs->n; i++)
        if (!strcmp(vs->cache[i].key, key)) {
            vs->cache[i].used = ++vs->clock;
            return shared_voice_retain(vs->cache[i].sv);
        }
    return NULL;
}

/* Adds sv under key, evicting the least recently used entry when full; a voice that another
 * thread cached meanwhile wins (sv is then released and *out is that one). Caller holds mu. */
static void cache_put(voices *vs, const char *key, shared_voice **sv) {
    shared_voice *have = cache_find(vs, key);
    if (have) {
        shared_voice_release(*sv);
        *sv = have;
        return;
    }
    char *k = strdup(key);
    if (!k) return; /* not cached: still usable */
    int slot = vs->n;
    if (vs->n == vs->cap) {
        slot = 0;
        for (int i = 1; i < vs->n; i++)
            if (vs->cache[i].used < vs->cache[slot].used) slot = i;
        free(vs->cache[slot].key);
        shared_voice_release(vs->cache[slot].sv); /* jobs using it keep their reference */
    } else {
        vs->n++;
    }
    vs->cache[slot] = (cache_entry){k, shared_voice_retain(*sv), ++vs->clock};
}

int voices_get(voices *vs, const char *spec, shared_voice **out, char *err, size_t errlen) {
    *out = NULL;
    if (!spec || !*spec) {
        if (vs->n_local) return *out = shared_voice_retain(vs->local[0].sv), PTTS_OK;
        spec = vs->predefined[vs->predefined_default];
    }
    const named_voice *l = find_local(vs, spec);
    if (l) return *out = shared_voice_retain(l->sv), PTTS_OK;
    if (vs->cap) {
        pthread_mutex_lock(&vs->mu);
        *out = cache_find(vs, spec);
        pthread_mutex_unlock(&vs->mu);
        if (*out) return PTTS_OK;
    }
    /* Loaded outside the lock: a download must not hold up other voices. Two requests for
     * the same new voice may both load it; the cache keeps one. */
    ptts_voice *v = NULL;
    int rc = ptts_voice_load(vs->m, spec, UPLOAD_SECONDS, &v, err, errlen);
    if (rc) return rc;
    if (!(*out = shared_voice_wrap(v)))
        return snprintf(err, errlen, "out of memory"), PTTS_ERR_NOMEM;
    if (vs->cap) {
        pthread_mutex_lock(&vs->mu);
        cache_put(vs, spec, out);
        pthread_mutex_unlock(&vs->mu);
    }
    return PTTS_OK;
}

int voices_from_upload(voices *vs, const void *data, size_t len, shared_voice **out, char *err,
                       size_t errlen) {
    *out = NULL;
    ptts_voice *v = NULL;
    int rc = ptts_voice_from_audio_memory(vs->m, data, len, UPLOAD_SECONDS, &v, err, errlen);
    if (rc) return rc;
    if (!(*out = shared_voice_wrap(v)))
        return snprintf(err, errlen, "out of memory"), PTTS_ERR_NOMEM;
    return PTTS_OK;
}
