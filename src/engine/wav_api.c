/* Public WAV output (pocket_tts.h, "Audio files"): a destination opened early, then a
 * wav_writer started on it once the sample rate is known. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "io/wav_writer.h"

struct ptts_wav {
    FILE *fp;       /* the file or stdout; NULL for a write callback */
    int own_fp;     /* fp is ours to close (not stdout) */
    char *created;  /* the path when ptts_wav_open created the file, until started */
    char name[256]; /* what errors call the output */
    ptts_write_fn write;
    void *user_data;
    wav_writer *w; /* set by ptts_wav_start */
    ptts_err e;
};

/* Writes to stdout when it cannot be patched in place (appending). */
static int stdout_sink(void *ud, const void *buf, size_t len) {
    FILE *fp = ud;
    return fwrite(buf, 1, len, fp) != len || fflush(fp);
}

static int new_wav(ptts_wav **out, ptts_err *e) {
    *out = calloc(1, sizeof **out);
    return *out ? PTTS_OK : err_set(e, PTTS_ERR_NOMEM, "out of memory");
}

int ptts_wav_open(ptts_wav **out, const char *path, char *err, size_t errlen) {
    ptts_err e = {0};
    if (!out || !path || !*path)
        return err_set(&e, PTTS_ERR_INVALID_ARG, "no output path"), eng_export_err(&e, err, errlen);
    *out = NULL;
    ptts_wav *w = NULL;
    if (new_wav(&w, &e)) return eng_export_err(&e, err, errlen);
    if (!strcmp(path, "-")) {
        w->fp = stdout;
        snprintf(w->name, sizeof w->name, "stdout");
        *out = w;
        return PTTS_OK;
    }
    snprintf(w->name, sizeof w->name, "%s", path);
    /* No O_TRUNC: a run that fails before any audio leaves an existing file as it was. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
        w->created = strdup(path);
        if (!w->created) {
            close(fd);
            unlink(path);
            free(w);
            return err_set(&e, PTTS_ERR_NOMEM, "out of memory"), eng_export_err(&e, err, errlen);
        }
    } else if (errno == EEXIST) {
        fd = open(path, O_WRONLY | O_CLOEXEC);
    }
    if (fd < 0 || !(w->fp = fdopen(fd, "wb"))) {
        err_set(&e, PTTS_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        if (w->created) unlink(w->created);
        free(w->created);
        free(w);
        return eng_export_err(&e, err, errlen);
    }
    w->own_fp = 1;
    *out = w;
    return PTTS_OK;
}

int ptts_wav_open_writer(ptts_wav **out, ptts_write_fn write, void *user_data, char *err,
                         size_t errlen) {
    ptts_err e = {0};
    if (!out || !write)
        return err_set(&e, PTTS_ERR_INVALID_ARG, "NULL argument"), eng_export_err(&e, err, errlen);
    *out = NULL;
    ptts_wav *w = NULL;
    if (new_wav(&w, &e)) return eng_export_err(&e, err, errlen);
    w->write = write;
    w->user_data = user_data;
    snprintf(w->name, sizeof w->name, "the WAV output");
    *out = w;
    return PTTS_OK;
}

int ptts_wav_start(ptts_wav *w, int sample_rate) {
    if (!w) return PTTS_ERR_INVALID_ARG;
    memset(&w->e, 0, sizeof w->e);
    if (w->w)
        return err_set(&w->e, PTTS_ERR_INVALID_ARG, "%s: the WAV is already started", w->name);
    int rc;
    if (!w->fp) {
        rc = wav_writer_open_sink(&w->w, w->write, w->user_data, sample_rate, &w->e);
    } else {
        int fd = fileno(w->fp);
        struct stat st;
        if (w->own_fp && !fstat(fd, &st) && S_ISREG(st.st_mode) && ftruncate(fd, 0))
            return err_set(&w->e, PTTS_ERR_IO, "cannot write '%s': %s", w->name, strerror(errno));
        int flags = fcntl(fd, F_GETFL);
        /* An appending stdout (>>) cannot have its header patched: stream it. */
        if (flags >= 0 && (flags & O_APPEND))
            rc = wav_writer_open_sink(&w->w, stdout_sink, w->fp, sample_rate, &w->e);
        else
            rc = wav_writer_open_file(&w->w, w->fp, sample_rate, &w->e);
    }
    if (rc) return err_prefix(&w->e, "%s", w->name);
    free(w->created); /* a started file is the user's, even if the run fails later */
    w->created = NULL;
    return PTTS_OK;
}

static int check_started(ptts_wav *w) {
    memset(&w->e, 0, sizeof w->e);
    if (!w->w)
        return err_set(&w->e, PTTS_ERR_INVALID_ARG, "%s: ptts_wav_start was not called", w->name);
    return PTTS_OK;
}

int ptts_wav_write(ptts_wav *w, const float *samples, size_t n) {
    if (!w || (!samples && n)) return PTTS_ERR_INVALID_ARG;
    int rc = check_started(w);
    if (!rc && (rc = wav_writer_write(w->w, samples, n, &w->e))) err_prefix(&w->e, "%s", w->name);
    return rc;
}

int ptts_wav_write_silence(ptts_wav *w, size_t n) {
    if (!w) return PTTS_ERR_INVALID_ARG;
    int rc = check_started(w);
    if (!rc && (rc = wav_writer_write_zeros(w->w, n, &w->e))) err_prefix(&w->e, "%s", w->name);
    return rc;
}

const char *ptts_wav_errmsg(const ptts_wav *w) {
    return w ? w->e.msg : "no WAV writer";
}

int ptts_wav_close(ptts_wav *w, char *err, size_t errlen) {
    if (!w) return PTTS_OK;
    ptts_err e = {0};
    int rc = wav_writer_close(w->w, &e);
    if (rc) err_prefix(&e, "%s", w->name);
    if (w->own_fp) {
        if (fclose(w->fp) && !rc) rc = err_set(&e, PTTS_ERR_IO, "%s: %s", w->name, strerror(errno));
    } else if (w->fp && fflush(w->fp) && !rc) {
        rc = err_set(&e, PTTS_ERR_IO, "%s: %s", w->name, strerror(errno));
    }
    if (w->created) unlink(w->created);
    free(w->created);
    free(w);
    return rc ? eng_export_err(&e, err, errlen) : PTTS_OK;
}
