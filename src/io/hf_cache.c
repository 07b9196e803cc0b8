#include "hf_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int hfc_path(char *out, ptts_err *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, HFC_PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= HFC_PATH_MAX)
        return err_set(e, PTTS_ERR_INVALID_ARG, "path too long (over %d bytes) under the cache",
                       HFC_PATH_MAX - 1);
    return PTTS_OK;
}

int hfc_repo_dir(char *out, const char *root, const char *repo, ptts_err *e) {
    const char *slash = strchr(repo, '/');
    if (!slash) return err_set(e, PTTS_ERR_INVALID_ARG, "repository '%s' is not owner/name", repo);
    return hfc_path(out, e, "%s/models--%.*s--%s", root, (int)(slash - repo), repo, slash + 1);
}

int hfc_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int hfc_is_commit(const char *s) {
    size_t n = strspn(s, "0123456789abcdef");
    return n == 40 && s[n] == 0;
}

/* A commit read back from refs/ must be a plain name, never a path. */
static int is_plain_name(const char *s) {
    size_t n = strspn(s, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-.");
    return n > 0 && s[n] == 0 && s[0] != '.';
}

int hfc_lookup(char *out, const char *repo_dir, const char *revision, const char *file) {
    char commit[256], ref[HFC_PATH_MAX];
    if (hfc_is_commit(revision)) {
        snprintf(commit, sizeof commit, "%s", revision);
    } else {
        if (hfc_path(ref, NULL, "%s/refs/%s", repo_dir, revision)) return 0;
        FILE *f = fopen(ref, "r");
        if (!f) return 0;
        size_t n = fread(commit, 1, sizeof commit - 1, f);
        fclose(f);
        commit[n] = 0;
        /* huggingface_hub writes no newline, but a hand-edited ref may have one. */
        while (n > 0 && strchr(" \t\r\n", commit[n - 1]))
            commit[--n] = 0;
        if (!is_plain_name(commit)) return 0;
    }
    if (hfc_path(out, NULL, "%s/snapshots/%s/%s", repo_dir, commit, file)) return 0;
    return hfc_is_file(out);
}

int hfc_mkdirs(const char *path, ptts_err *e) {
    char buf[HFC_PATH_MAX];
    int rc = hfc_path(buf, e, "%s", path);
    if (rc) return rc;
    if (!buf[0]) return err_set(e, PTTS_ERR_INVALID_ARG, "empty folder name");
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != 0) continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return err_set(e, PTTS_ERR_IO, "cannot create folder '%s': %s", buf, strerror(errno));
        if (c == 0) break;
        *p = c;
    }
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(e, PTTS_ERR_IO, "'%s' exists and is not a folder", buf);
    return PTTS_OK;
}

/* 8 hex digits that differ between processes and calls: temp names must never collide,
 * since two processes may download the same blob at once. */
static void random_tag(char out[9]) {
    unsigned char r[4];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned v = (unsigned)ts.tv_nsec ^ ((unsigned)getpid() << 16) ^ (unsigned)ts.tv_sec;
        memcpy(r, &v, sizeof r);
    }
    snprintf(out, 9, "%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
}

int hfc_temp_open(const char *final, char *tmp, int *fd, ptts_err *e) {
    *fd = -1;
    for (int attempt = 0; attempt < 16; attempt++) {
        char tag[9];
        random_tag(tag);
        int rc = hfc_path(tmp, e, "%s.%s.incomplete", final, tag);
        if (rc) return rc;
        /* 0666 so that the process umask decides, as for any other file the user makes. */
        *fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (*fd >= 0) return PTTS_OK;
        if (errno != EEXIST) break;
    }
    return err_set(e, PTTS_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
}

void hfc_temp_discard(int fd, const char *tmp) {
    if (fd >= 0) close(fd);
    unlink(tmp);
}

static void fsync_parent(const char *path) {
    char dir[HFC_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return;
    *slash = 0;
    int fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return; /* best effort: the rename itself is already atomic */
    fsync(fd);
    close(fd);
}

int hfc_temp_commit(int fd, const char *tmp, const char *final, ptts_err *e) {
    if (fsync(fd) != 0) {
        int err = errno;
        hfc_temp_discard(fd, tmp);
        return err_set(e, PTTS_ERR_IO, "cannot write '%s': %s", tmp, strerror(err));
    }
    if (close(fd) != 0) {
        int err = errno;
        unlink(tmp);
        return err_set(e, PTTS_ERR_IO, "cannot write '%s': %s", tmp, strerror(err));
    }
    if (rename(tmp, final) != 0) {
        int err = errno;
        unlink(tmp);
        return err_set(e, PTTS_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, final, strerror(err));
    }
    fsync_parent(final);
    return PTTS_OK;
}

static int parent_dirs(const char *path, ptts_err *e) {
    char dir[HFC_PATH_MAX];
    int rc = hfc_path(dir, e, "%s", path);
    if (rc) return rc;
    char *slash = strrchr(dir, '/');
    if (!slash) return PTTS_OK;
    *slash = 0;
    return hfc_mkdirs(dir, e);
}

int hfc_write_ref(const char *repo_dir, const char *revision, const char *commit, ptts_err *e) {
    if (!strcmp(revision, commit)) return PTTS_OK;
    char ref[HFC_PATH_MAX], tmp[HFC_PATH_MAX];
    int rc = hfc_path(ref, e, "%s/refs/%s", repo_dir, revision);
    if (!rc) rc = parent_dirs(ref, e);
    if (rc) return rc;
    /* An unchanged ref is left alone: the cache may be shared and read-only for us. */
    char old[256];
    FILE *f = fopen(ref, "r");
    if (f) {
        size_t n = fread(old, 1, sizeof old - 1, f);
        fclose(f);
        old[n] = 0;
        if (!strcmp(old, commit)) return PTTS_OK;
    }
    int fd;
    rc = hfc_temp_open(ref, tmp, &fd, e);
    if (rc) return rc;
    size_t len = strlen(commit);
    if (write(fd, commit, len) != (ssize_t)len) {
        int err = errno;
        hfc_temp_discard(fd, tmp);
        return err_set(e, PTTS_ERR_IO, "cannot write '%s': %s", tmp, strerror(err));
    }
    return hfc_temp_commit(fd, tmp, ref, e);
}

int hfc_link_snapshot(char *out, const char *repo_dir, const char *commit, const char *file,
                      const char *etag, ptts_err *e) {
    int rc = hfc_path(out, e, "%s/snapshots/%s/%s", repo_dir, commit, file);
    if (!rc) rc = parent_dirs(out, e);
    if (rc) return rc;
    /* Relative target, as huggingface_hub makes it, so the cache folder can be moved:
     * one "../" per folder between the link and the repo folder. */
    char target[HFC_PATH_MAX];
    size_t pos = 0;
    int depth = 2; /* snapshots/<commit>/ */
    for (const char *p = file; *p; p++)
        depth += *p == '/';
    for (int i = 0; i < depth; i++) {
        if (pos + 3 >= sizeof target) return err_set(e, PTTS_ERR_INVALID_ARG, "path too long");
        memcpy(target + pos, "../", 3);
        pos += 3;
    }
    int n = snprintf(target + pos, sizeof target - pos, "blobs/%s", etag);
    if (n < 0 || (size_t)n >= sizeof target - pos)
        return err_set(e, PTTS_ERR_INVALID_ARG, "path too long");
    /* Made under a temp name and renamed over the pointer: replacing is atomic. */
    char tmp[HFC_PATH_MAX];
    for (int attempt = 0;; attempt++) {
        char tag[9];
        random_tag(tag);
        rc = hfc_path(tmp, e, "%s.%s.tmp", out, tag);
        if (rc) return rc;
        if (symlink(target, tmp) == 0) break;
        if (errno != EEXIST || attempt == 15)
            return err_set(e, PTTS_ERR_IO, "cannot create link '%s': %s", tmp, strerror(errno));
    }
    if (rename(tmp, out) != 0) {
        int err = errno;
        unlink(tmp);
        return err_set(e, PTTS_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, out, strerror(err));
    }
    fsync_parent(out);
    return PTTS_OK;
}
