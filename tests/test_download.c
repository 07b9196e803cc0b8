/* dl_resolve against tests/tools/fake_hub.py (started here, on 127.0.0.1 only), with every
 * cache and home folder in a temp dir: layout, cache hits, tokens, errors, cut transfers,
 * checksums, offline mode, a cache made by hand as huggingface_hub makes it, plain URLs. */
#include <curl/curl.h>
#include <dirent.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/download.h"
#include "test.h"

#define OPEN_COMMIT  "1f0e2d3c4b5a69788796a5b4c3d2e1f001122334"
#define GATED_COMMIT "2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d"
#define TOKEN        "hf_fake_token"

static char tmp[64], cache[128];
static int hub_port, cdn_port;

/* ---- helpers --------------------------------------------------------------------- */

/* snprintf into an array; paths here are short, truncation would fail a CHECK anyway. */
#define FMT(buf, ...) fmt_into(buf, sizeof buf, __VA_ARGS__)
__attribute__((format(printf, 3, 4))) static void fmt_into(char *out, size_t n, const char *f,
                                                           ...) {
    va_list ap;
    va_start(ap, f);
    vsnprintf(out, n, f, ap);
    va_end(ap);
}

/* Same bytes as fake_hub.py's pattern(n, seed). */
static unsigned char *pattern(size_t n, int seed) {
    unsigned char *b = malloc(n);
    for (size_t i = 0; b && i < n; i++)
        b[i] = (unsigned char)((i * 31 + seed * 7 + (i >> 8)) & 0xff);
    return b;
}

static void hex_digest(const EVP_MD *md, const void *a, size_t an, const void *b, size_t bn,
                       char *out) {
    unsigned char d[64];
    unsigned len = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, md, NULL);
    EVP_DigestUpdate(c, a, an);
    if (bn) EVP_DigestUpdate(c, b, bn);
    EVP_DigestFinal_ex(c, d, &len);
    EVP_MD_CTX_free(c);
    for (unsigned i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static int file_is(const char *path, const void *want, size_t n) {
    size_t len = 0;
    char *got = path ? read_file(path, &len) : NULL;
    int ok = got && len == n && !memcmp(got, want, n);
    free(got);
    return ok;
}

static char *text_of(const char *path) {
    return read_file(path, NULL);
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Number of entries in dir whose name does not end with suffix_ok (NULL: count all). */
static int count_entries(const char *dir, const char *suffix_ok) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        size_t l = strlen(de->d_name), s = suffix_ok ? strlen(suffix_ok) : 0;
        if (suffix_ok && l >= s && !strcmp(de->d_name + l - s, suffix_ok)) continue;
        n++;
    }
    closedir(d);
    return n;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static size_t collect(char *data, size_t size, size_t n, void *ud) {
    char **buf = ud;
    size_t old = *buf ? strlen(*buf) : 0, add = size * n;
    char *nb = realloc(*buf, old + add + 1);
    if (!nb) return 0;
    memcpy(nb + old, data, add);
    nb[old + add] = 0;
    *buf = nb;
    return add;
}

/* Requests the fake hub saw since the last call, one per line. */
static char *hub_log(void) {
    char url[128], *buf = calloc(1, 1);
    FMT(url, "http://127.0.0.1:%d/_log", hub_port);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &buf);
    curl_easy_perform(h);
    curl_easy_cleanup(h);
    return buf;
}

static pid_t start_hub(void) {
    int fds[2];
    if (pipe(fds)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("python3", "python3", "tests/tools/fake_hub.py", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    int ok = f && fscanf(f, "%d %d", &hub_port, &cdn_port) == 2;
    if (f) fclose(f);
    if (!ok && pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

static void stop_hub(pid_t pid) {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

typedef struct progress_log {
    int calls, monotonic, cancel;
    uint64_t last_done, last_total;
} progress_log;

static int on_progress(void *ud, uint64_t done, uint64_t total) {
    progress_log *p = ud;
    if (p->calls && done < p->last_done) p->monotonic = 0;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    return p->cancel;
}

/* dl_resolve with fresh error and output; returns the status. */
static int resolve(const dl_options *o, const char *ref, char **path, ptts_err *e) {
    memset(e, 0, sizeof *e);
    free(*path);
    *path = NULL;
    return dl_resolve(o, ref, path, e);
}

/* ---- options from the environment (no server) ------------------------------------- */

static void test_options(void) {
    char want[4096];
    setenv("HF_HUB_CACHE", "/x/hubcache", 1);
    dl_options o = dl_options_default();
    CHECK(!strcmp(o.cache_dir, "/x/hubcache"), "%s", o.cache_dir);
    unsetenv("HF_HUB_CACHE");
    setenv("HUGGINGFACE_HUB_CACHE", "~/legacy", 1);
    o = dl_options_default();
    FMT(want, "%s/home/legacy", tmp);
    CHECK(!strcmp(o.cache_dir, want), "%s", o.cache_dir);
    unsetenv("HUGGINGFACE_HUB_CACHE");
    setenv("HF_HOME", "/x/hfhome", 1);
    o = dl_options_default();
    CHECK(!strcmp(o.cache_dir, "/x/hfhome/hub"), "%s", o.cache_dir);
    unsetenv("HF_HOME");
    setenv("XDG_CACHE_HOME", "/x/xdg", 1);
    o = dl_options_default();
    CHECK(!strcmp(o.cache_dir, "/x/xdg/huggingface/hub"), "%s", o.cache_dir);
    unsetenv("XDG_CACHE_HOME");
    o = dl_options_default();
    FMT(want, "%s/home/.cache/huggingface/hub", tmp);
    CHECK(!strcmp(o.cache_dir, want), "%s", o.cache_dir);

    CHECK(!strcmp(o.endpoint, "https://huggingface.co"), "%s", o.endpoint);
    CHECK(o.token[0] == 0 && !o.offline && o.connect_timeout_s == 10 && o.progress == NULL);
    setenv("HF_ENDPOINT", "http://127.0.0.1:9/", 1);
    o = dl_options_default();
    CHECK(!strcmp(o.endpoint, "http://127.0.0.1:9"), "%s", o.endpoint);

    /* Token: the environment first, else the file `huggingface-cli login` writes. */
    char path[2048];
    FMT(path, "%s/home/.cache/huggingface", tmp);
    CHECK(dl_options_default().token[0] == 0);
    FMT(want, "mkdir -p '%s' && printf 'hf_from_file\\n' > '%s/token'", path, path);
    CHECK(system(want) == 0);
    CHECK(!strcmp(dl_options_default().token, "hf_from_file"), "%s", dl_options_default().token);
    setenv("HF_TOKEN", " hf_from_env ", 1);
    CHECK(!strcmp(dl_options_default().token, "hf_from_env"), "%s", dl_options_default().token);
    unsetenv("HF_TOKEN");
    FMT(want, "%s/token", path);
    remove(want);

    static const struct {
        const char *v;
        int offline;
    } cases[] = {{"1", 1}, {"true", 1}, {"YES", 1}, {"on", 1}, {"0", 0}, {"no", 0}, {"", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("HF_HUB_OFFLINE", cases[i].v, 1);
        CHECK(dl_options_default().offline == cases[i].offline, "HF_HUB_OFFLINE=%s", cases[i].v);
    }
    unsetenv("HF_HUB_OFFLINE");
    setenv("HF_HUB_CACHE", cache, 1);
}

/* ---- local paths and malformed references --------------------------------------- */

static void test_local_and_malformed(void) {
    dl_options o = dl_options_default();
    char *path = NULL, file[2048];
    ptts_err e;
    FMT(file, "%s/local.bin", tmp);
    FILE *f = fopen(file, "wb");
    fputs("local", f);
    fclose(f);
    CHECK(resolve(&o, file, &path, &e) == PTTS_OK && path && !strcmp(path, file), "%s", e.msg);
    FMT(file, "%s/nope.bin", tmp);
    CHECK(resolve(&o, file, &path, &e) == PTTS_ERR_NOT_FOUND && !path);
    CHECK(strstr(e.msg, "nope.bin") != NULL, "%s", e.msg);
    CHECK(resolve(&o, tmp, &path, &e) == PTTS_ERR_INVALID_ARG, "%s", e.msg);

    static const char *bad[] = {
        "hf://owner",    "hf://owner/repo", "hf://owner/repo/",  "hf://o/r/../x",
        "hf://o/r/a//b", "hf://o/r/x@",     "hf://o/r/x@a/../b", "hf://o--x/r/f",
        "hf://-o/r/f",   "hf://o/r/x@re v", "hf://o/r/./f",      "hf://o/r/f/..",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(resolve(&o, bad[i], &path, &e) == PTTS_ERR_INVALID_ARG && !path, "%s: %s", bad[i],
              e.msg);
    CHECK(dl_resolve(&o, NULL, &path, &e) == PTTS_ERR_INVALID_ARG);
    CHECK(dl_resolve(&o, "", &path, NULL) == PTTS_ERR_INVALID_ARG);
    free(path);
}

/* ---- against the fake hub --------------------------------------------------------- */

static void test_first_download(void) {
    dl_options o = dl_options_default();
    progress_log pl = {.monotonic = 1};
    o.progress = on_progress;
    o.user_data = &pl;
    char *path = NULL, want[2048], sha[65], *log;
    ptts_err e;
    unsigned char *data = pattern(300000, 1);
    hex_digest(EVP_sha256(), data, 300000, NULL, 0, sha);
    char repo[2048];
    FMT(repo, "%s/models--test--open", cache);

    int rc = resolve(&o, "hf://test/open/weights/model.bin", &path, &e);
    CHECK(rc == PTTS_OK, "%s", e.msg);
    FMT(want, "%s/snapshots/" OPEN_COMMIT "/weights/model.bin", repo);
    CHECK(path && !strcmp(path, want), "%s", path ? path : "(null)");
    CHECK(file_is(path, data, 300000));
    char link[256] = "";
    ssize_t n = readlink(want, link, sizeof link - 1);
    if (n > 0) link[n] = 0;
    FMT(want, "../../../blobs/%s", sha);
    CHECK(!strcmp(link, want), "snapshot link -> '%s'", link);
    FMT(want, "%s/blobs/%s", repo, sha);
    struct stat st;
    CHECK(lstat(want, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 300000);
    FMT(want, "%s/refs/main", repo);
    char *ref = text_of(want);
    CHECK(ref && !strcmp(ref, OPEN_COMMIT), "refs/main = '%s'", ref ? ref : "(none)");
    free(ref);
    CHECK(pl.calls > 0 && pl.monotonic && pl.last_done == 300000 && pl.last_total == 300000,
          "progress: %d calls, last %llu/%llu", pl.calls, (unsigned long long)pl.last_done,
          (unsigned long long)pl.last_total);
    log = hub_log();
    CHECK(strstr(log, "hub HEAD /test/open/resolve/main/weights/model.bin -\n") &&
              strstr(log, "cdn GET /cdn/test/open/weights/model.bin -\n") && !strstr(log, "Bearer"),
          "log:\n%s", log);
    free(log);

    /* A small file served by the hub itself: the blob is named by its git hash. */
    const char *cfg = "{\"fake\": \"hub\"}\n";
    char head[32], gitsha[41];
    int hl = snprintf(head, sizeof head, "blob %zu", strlen(cfg));
    hex_digest(EVP_sha1(), head, (size_t)hl + 1, cfg, strlen(cfg), gitsha);
    rc = resolve(&o, "hf://test/open/config.json@main", &path, &e);
    CHECK(rc == PTTS_OK && file_is(path, cfg, strlen(cfg)), "%s", e.msg);
    FMT(want, "%s/blobs/%s", repo, gitsha);
    CHECK(exists(want), "no blob %s", want);
    free(hub_log());

    /* Known commit for main: one HEAD, no GET. A pinned commit: no request at all. */
    rc = resolve(&o, "hf://test/open/weights/model.bin@main", &path, &e);
    CHECK(rc == PTTS_OK && file_is(path, data, 300000), "%s", e.msg);
    log = hub_log();
    CHECK(strstr(log, "HEAD") && !strstr(log, "GET"), "log:\n%s", log);
    free(log);
    rc = resolve(&o, "hf://test/open/weights/model.bin@" OPEN_COMMIT, &path, &e);
    CHECK(rc == PTTS_OK && file_is(path, data, 300000), "%s", e.msg);
    log = hub_log();
    CHECK(log[0] == 0, "log:\n%s", log);
    free(log);
    CHECK(count_entries(repo, NULL) == 3, "repo folder has more than blobs, snapshots, refs");
    free(path);
    free(data);
}

static void test_not_found(void) {
    dl_options o = dl_options_default();
    char *path = NULL, want[2048];
    ptts_err e;
    CHECK(resolve(&o, "hf://test/open/missing.txt", &path, &e) == PTTS_ERR_NOT_FOUND && !path);
    FMT(want, "http://127.0.0.1:%d/test/open/resolve/main/missing.txt", hub_port);
    CHECK(strstr(e.msg, want) != NULL, "%s", e.msg);
    CHECK(resolve(&o, "hf://test/open/config.json@nope", &path, &e) == PTTS_ERR_NOT_FOUND);
    CHECK(strstr(e.msg, "revision 'nope'") != NULL, "%s", e.msg);
    CHECK(resolve(&o, "hf://test/absent/x.bin", &path, &e) == PTTS_ERR_NOT_FOUND);
    CHECK(strstr(e.msg, "repository test/absent not found") != NULL, "%s", e.msg);
    free(hub_log());
    free(path);
}

static void test_gated(void) {
    dl_options o = dl_options_default();
    char *path = NULL, want[2048], *log;
    ptts_err e;
    unsigned char *data = pattern(5000, 6);
    CHECK(resolve(&o, "hf://test/gated/model.bin", &path, &e) == PTTS_ERR_DENIED && !path);
    snprintf(want, sizeof want,
             "access to test/gated is gated or needs a token: accept the conditions at "
             "http://127.0.0.1:%d/test/gated and set HF_TOKEN",
             hub_port);
    CHECK(strstr(e.msg, want) != NULL, "%s", e.msg);
    snprintf(o.token, sizeof o.token, "hf_wrong");
    CHECK(resolve(&o, "hf://test/gated/model.bin", &path, &e) == PTTS_ERR_DENIED);
    CHECK(strstr(e.msg, "refused") != NULL, "%s", e.msg);
    free(hub_log());

    setenv("HF_TOKEN", TOKEN, 1);
    o = dl_options_default();
    unsetenv("HF_TOKEN");
    CHECK(resolve(&o, "hf://test/gated/model.bin", &path, &e) == PTTS_OK, "%s", e.msg);
    CHECK(file_is(path, data, 5000));
    log = hub_log();
    /* The token goes to the hub, never to the CDN it redirects to (which refuses it). */
    CHECK(strstr(log, "hub HEAD /test/gated/resolve/main/model.bin Bearer " TOKEN "\n") &&
              strstr(log, "cdn GET /cdn/test/gated/model.bin -\n"),
          "log:\n%s", log);
    free(log);
    FMT(want, "%s/models--test--gated/refs/main", cache);
    char *ref = text_of(want);
    CHECK(ref && !strcmp(ref, GATED_COMMIT));
    free(ref);

    /* Plain URLs on the endpoint's origin get the token; elsewhere they do not. */
    FMT(want, "http://127.0.0.1:%d/plain/moved.wav", hub_port);
    CHECK(resolve(&o, want, &path, &e) == PTTS_OK, "%s", e.msg);
    log = hub_log();
    CHECK(strstr(log, "hub GET /plain/moved.wav Bearer " TOKEN "\n") &&
              strstr(log, "cdn GET /plain/voice.wav -\n"),
          "log:\n%s", log);
    free(log);
    free(path);
    free(data);
}

/* Nothing but finished files may sit in blobs/ and snapshots/. */
static void check_nothing_left(const char *file, const char *sha) {
    char p[2048];
    FMT(p, "%s/models--test--open/blobs/%s", cache, sha);
    CHECK(!exists(p), "blob %s left after a failure", sha);
    FMT(p, "%s/models--test--open/snapshots/" OPEN_COMMIT "/%s", cache, file);
    CHECK(!exists(p), "%s left in snapshots after a failure", file);
    FMT(p, "%s/models--test--open/blobs", cache);
    CHECK(count_entries(p, NULL) == 2, "blobs/ holds %d files, want 2", count_entries(p, NULL));
}

static void test_failures(void) {
    dl_options o = dl_options_default();
    char *path = NULL, sha[65];
    ptts_err e;

    unsigned char *data = pattern(200000, 2);
    hex_digest(EVP_sha256(), data, 200000, NULL, 0, sha);
    CHECK(resolve(&o, "hf://test/open/flaky.bin", &path, &e) == PTTS_ERR_NETWORK && !path);
    CHECK(strstr(e.msg, "127.0.0.1") && strstr(e.msg, "HF_HUB_OFFLINE=1"), "%s", e.msg);
    check_nothing_left("flaky.bin", sha);
    CHECK(resolve(&o, "hf://test/open/flaky.bin", &path, &e) == PTTS_OK, "%s", e.msg);
    CHECK(file_is(path, data, 200000));
    free(data);

    data = pattern(1000, 4); /* the hub announces these bytes' hash for bad_sha.bin */
    hex_digest(EVP_sha256(), data, 1000, NULL, 0, sha);
    CHECK(resolve(&o, "hf://test/open/bad_sha.bin", &path, &e) == PTTS_ERR_NETWORK && !path);
    CHECK(strstr(e.msg, "SHA-256") && strstr(e.msg, sha), "%s", e.msg);
    char p[2048];
    FMT(p, "%s/models--test--open/blobs", cache);
    CHECK(count_entries(p, NULL) == 3, "a temp file was left in blobs/");
    free(data);

    data = pattern(100000, 5);
    hex_digest(EVP_sha256(), data, 100000, NULL, 0, sha);
    o.stall_timeout_s = 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(resolve(&o, "hf://test/open/stall.bin", &path, &e) == PTTS_ERR_NETWORK && !path);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    CHECK(secs < 4.0 && strstr(e.msg, "timed out"), "%.1f s: %s", secs, e.msg);
    CHECK(count_entries(p, NULL) == 3, "a temp file was left in blobs/");
    free(data);

    progress_log pl = {.monotonic = 1, .cancel = 1};
    o = dl_options_default();
    o.progress = on_progress;
    o.user_data = &pl;
    CHECK(resolve(&o, "hf://test/open/cancel.bin", &path, &e) == PTTS_ERR_CANCELLED && !path, "%s",
          e.msg);
    CHECK(count_entries(p, NULL) == 3, "a temp file was left in blobs/");

    /* A size limit: refused from the announced size, nothing fetched or left behind. */
    o = dl_options_default();
    o.max_bytes = 499999; /* cancel.bin is 500000 bytes */
    free(hub_log());
    CHECK(resolve(&o, "hf://test/open/cancel.bin", &path, &e) == PTTS_ERR_DENIED && !path &&
              strstr(e.msg, "499999-byte limit"),
          "%s", e.msg);
    char *log = hub_log();
    CHECK(!strstr(log, "GET"), "a file over the limit was downloaded:\n%s", log);
    free(log);
    CHECK(count_entries(p, NULL) == 3, "a temp file was left in blobs/");
    free(hub_log());
    free(path);
}

/* A cache made by hand the way huggingface_hub lays it out, with content the server does
 * not have: being served that content proves it was used as it is. */
static void test_python_cache(void) {
    char root[2048], cmd[8192], *path = NULL, *log;
    ptts_err e;
    FMT(root, "%s/pycache", tmp);
    snprintf(cmd, sizeof cmd,
             "set -e; r='%s/models--test--open'; mkdir -p \"$r/blobs\" \"$r/refs\" "
             "\"$r/snapshots/%s/sub/dir\"; printf 'made by python\\n' > \"$r/blobs/etag1\"; "
             "printf 'nested\\n' > \"$r/blobs/etag2\"; printf '%s' > \"$r/refs/main\"; "
             "ln -s ../../blobs/etag1 \"$r/snapshots/%s/config.json\"; "
             "ln -s ../../../../blobs/etag2 \"$r/snapshots/%s/sub/dir/f.txt\"",
             root, OPEN_COMMIT, OPEN_COMMIT, OPEN_COMMIT, OPEN_COMMIT);
    CHECK(system(cmd) == 0);
    dl_options o = dl_options_default();
    snprintf(o.cache_dir, sizeof o.cache_dir, "%s", root);
    free(hub_log());

    CHECK(resolve(&o, "hf://test/open/config.json@" OPEN_COMMIT, &path, &e) == PTTS_OK, "%s",
          e.msg);
    CHECK(file_is(path, "made by python\n", 15));
    CHECK(resolve(&o, "hf://test/open/sub/dir/f.txt@" OPEN_COMMIT, &path, &e) == PTTS_OK, "%s",
          e.msg);
    CHECK(file_is(path, "nested\n", 7));
    log = hub_log();
    CHECK(log[0] == 0, "log:\n%s", log);
    free(log);
    CHECK(resolve(&o, "hf://test/open/config.json", &path, &e) == PTTS_OK, "%s", e.msg);
    CHECK(file_is(path, "made by python\n", 15));
    log = hub_log();
    CHECK(strstr(log, "HEAD") && !strstr(log, "GET"), "log:\n%s", log);
    free(log);
    o.offline = 1;
    CHECK(resolve(&o, "hf://test/open/sub/dir/f.txt", &path, &e) == PTTS_OK, "%s", e.msg);
    CHECK(file_is(path, "nested\n", 7));

    /* A blob already there (another revision had it) is linked, not downloaded again. */
    unsigned char *data = pattern(300000, 1);
    char sha[65], blob[2048];
    hex_digest(EVP_sha256(), data, 300000, NULL, 0, sha);
    FMT(blob, "%s/models--test--open/blobs/%s", root, sha);
    FILE *f = fopen(blob, "wb");
    CHECK(f && fwrite(data, 1, 300000, f) == 300000);
    if (f) fclose(f);
    o.offline = 0;
    CHECK(resolve(&o, "hf://test/open/weights/model.bin", &path, &e) == PTTS_OK, "%s", e.msg);
    CHECK(file_is(path, data, 300000));
    log = hub_log();
    CHECK(strstr(log, "HEAD") && !strstr(log, "GET"), "log:\n%s", log);
    free(log);
    free(data);
    free(path);
}

typedef struct racer {
    const dl_options *o;
    int rc;
    char *path;
} racer;

static void *race(void *arg) {
    racer *r = arg;
    r->rc = dl_resolve(r->o, "hf://test/open/weights/model.bin", &r->path, NULL);
    return NULL;
}

/* Threads downloading the same file into one cache: all get it whole, one blob remains. */
static void test_threads(void) {
    dl_options o = dl_options_default();
    FMT(o.cache_dir, "%s/threads", tmp);
    racer r[4] = {{0}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        r[i].o = &o;
        CHECK(pthread_create(&th[i], NULL, race, &r[i]) == 0);
    }
    unsigned char *data = pattern(300000, 1);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(r[i].rc == PTTS_OK && file_is(r[i].path, data, 300000), "thread %d: %d", i, r[i].rc);
        free(r[i].path);
    }
    char blobs[2048];
    FMT(blobs, "%s/models--test--open/blobs", o.cache_dir);
    CHECK(count_entries(blobs, NULL) == 1, "%d files in blobs/", count_entries(blobs, NULL));
    free(hub_log());
    free(data);
}

static void test_offline(void) {
    setenv("HF_HUB_OFFLINE", "true", 1);
    dl_options o = dl_options_default();
    unsetenv("HF_HUB_OFFLINE");
    CHECK(o.offline == 1);
    char *path = NULL, url[2048], *log;
    ptts_err e;
    unsigned char *data = pattern(300000, 1);
    CHECK(resolve(&o, "hf://test/open/weights/model.bin", &path, &e) == PTTS_OK, "%s", e.msg);
    CHECK(file_is(path, data, 300000));
    CHECK(resolve(&o, "hf://test/open/other.bin", &path, &e) == PTTS_ERR_NOT_FOUND && !path);
    CHECK(strstr(e.msg, "not in the cache") && strstr(e.msg, "offline"), "%s", e.msg);
    FMT(url, "http://127.0.0.1:%d/plain/other.wav", hub_port);
    CHECK(resolve(&o, url, &path, &e) == PTTS_ERR_NOT_FOUND, "%s", e.msg);
    log = hub_log();
    CHECK(log[0] == 0, "offline mode made requests:\n%s", log);
    free(log);
    free(path);
    free(data);
}

static void test_plain_url(void) {
    dl_options o = dl_options_default();
    char *path = NULL, url[2048], want[2048], key[65];
    ptts_err e;
    unsigned char *data = pattern(4096, 7);
    FMT(url, "http://127.0.0.1:%d/plain/voice.wav", hub_port);
    hex_digest(EVP_sha256(), url, strlen(url), NULL, 0, key);
    CHECK(resolve(&o, url, &path, &e) == PTTS_OK, "%s", e.msg);
    FMT(want, "%s/pocket-tts-urls/%s/voice.wav", cache, key);
    CHECK(path && !strcmp(path, want), "%s", path ? path : e.msg);
    CHECK(file_is(path, data, 4096));
    free(hub_log());
    CHECK(resolve(&o, url, &path, &e) == PTTS_OK && file_is(path, data, 4096), "%s", e.msg);
    char *log = hub_log();
    CHECK(log[0] == 0, "a cached URL was fetched again:\n%s", log);
    free(log);
    /* A plain URL announces no size to check first: the transfer itself is cut at the limit. */
    FMT(url, "http://127.0.0.1:%d/plain/voice.wav?big", hub_port);
    o.max_bytes = 1000;
    CHECK(resolve(&o, url, &path, &e) == PTTS_ERR_DENIED && !path && strstr(e.msg, "1000-byte"),
          "%s", e.msg);
    o.max_bytes = 0;
    FMT(url, "http://127.0.0.1:%d/plain/missing.wav", hub_port);
    CHECK(resolve(&o, url, &path, &e) == PTTS_ERR_NOT_FOUND && strstr(e.msg, url), "%s", e.msg);
    free(hub_log());
    free(path);
    free(data);
}

/* With the server gone: cached files still resolve, others fail with a clear message. */
static void test_server_stopped(void) {
    dl_options o = dl_options_default();
    char *path = NULL, url[2048];
    ptts_err e;
    unsigned char *data = pattern(300000, 1);
    CHECK(resolve(&o, "hf://test/open/weights/model.bin", &path, &e) == PTTS_OK, "%s", e.msg);
    CHECK(file_is(path, data, 300000));
    CHECK(resolve(&o, "hf://test/open/weights/model.bin@" OPEN_COMMIT, &path, &e) == PTTS_OK, "%s",
          e.msg);
    FMT(url, "http://127.0.0.1:%d/plain/voice.wav", hub_port);
    CHECK(resolve(&o, url, &path, &e) == PTTS_OK, "%s", e.msg);
    CHECK(resolve(&o, "hf://test/open/other.bin", &path, &e) == PTTS_ERR_NETWORK && !path);
    CHECK(strstr(e.msg, "127.0.0.1") && strstr(e.msg, "HF_HUB_OFFLINE=1"), "%s", e.msg);
    free(path);
    free(data);
}

int main(void) {
    FMT(tmp, "/tmp/ptts_dl_XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    FMT(cache, "%s/cache", tmp);
    /* Nothing may reach the user's cache, token or network: every location is in tmp and
     * proxies are bypassed for 127.0.0.1. */
    static const char *unset[] = {"HF_TOKEN",       "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH",
                                  "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",   "HF_HOME",
                                  "XDG_CACHE_HOME", "HUGGINGFACE_HUB_CACHE",  "HF_ENDPOINT"};
    for (size_t i = 0; i < sizeof unset / sizeof unset[0]; i++)
        unsetenv(unset[i]);
    char home[2048];
    FMT(home, "%s/home", tmp);
    setenv("HOME", home, 1);
    setenv("HF_HUB_CACHE", cache, 1);
    setenv("no_proxy", "*", 1);
    setenv("NO_PROXY", "*", 1);
    ptts_err e = {0};
    CHECK(dl_global_init(&e) == PTTS_OK, "%s", e.msg);

    test_options();
    test_local_and_malformed();

    pid_t hub = start_hub();
    CHECK(hub > 0, "cannot start tests/tools/fake_hub.py (python3 needed)");
    if (hub > 0) {
        char endpoint[2048];
        FMT(endpoint, "http://127.0.0.1:%d", hub_port);
        setenv("HF_ENDPOINT", endpoint, 1);
        test_first_download();
        test_not_found();
        test_gated();
        test_failures();
        test_python_cache();
        test_threads();
        test_offline();
        test_plain_url();
        stop_hub(hub);
        test_server_stopped();
    }

    dl_global_cleanup();
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    TEST_END();
}
