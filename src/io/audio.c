#include "audio.h"

#include <errno.h>
#include <fcntl.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio_mono.h"
#include "audio_mp3.h"

/* Size in floats of the decode buffer (frames x channels per sf_readf_float call). */
#define AUDIO_CHUNK 8192

/* A read-only file in memory for libsndfile's virtual I/O. */
typedef struct mem_src {
    const unsigned char *buf;
    sf_count_t len, pos;
} mem_src;

static sf_count_t mem_len(void *ud) {
    return ((mem_src *)ud)->len;
}

static sf_count_t mem_seek(sf_count_t off, int whence, void *ud) {
    mem_src *m = ud;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->len;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return -1;
    if (off < -base || off > INT64_MAX - base) return -1;
    m->pos = base + off;
    return m->pos;
}

static sf_count_t mem_read(void *ptr, sf_count_t count, void *ud) {
    mem_src *m = ud;
    if (count <= 0 || m->pos >= m->len) return 0;
    if (count > m->len - m->pos) count = m->len - m->pos;
    memcpy(ptr, m->buf + m->pos, (size_t)count);
    m->pos += count;
    return count;
}

static sf_count_t mem_write(const void *ptr, sf_count_t count, void *ud) {
    (void)ptr, (void)count, (void)ud;
    return 0;
}

static sf_count_t mem_tell(void *ud) {
    return ((mem_src *)ud)->pos;
}

/* Decodes an open stream to mono, keeping at most max_seconds (<= 0: all of it). */
static int decode(SNDFILE *snd, const SF_INFO *info, double max_seconds, float **samples, size_t *n,
                  int *sample_rate, ptts_err *e) {
    int ch = info->channels;
    if (ch < 1 || ch > AUDIO_CHUNK)
        return err_set(e, PTTS_ERR_FORMAT, "unsupported channel count %d", ch);
    audio_mono m;
    int rc = audio_mono_init(&m, info->samplerate, max_seconds, e);
    if (rc) return rc;
    /* Normalised float reads scale integer PCM by 1/2^(bits-1) (s16 / 32768 exactly). */
    sf_command(snd, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    float chunk[AUDIO_CHUNK];
    sf_count_t per_read = AUDIO_CHUNK / ch;
    for (size_t room; !rc && (room = audio_mono_room(&m)) > 0;) {
        sf_count_t got =
            sf_readf_float(snd, chunk, (size_t)per_read < room ? per_read : (sf_count_t)room);
        if (got <= 0) break;
        rc = audio_mono_add(&m, chunk, (size_t)got, ch, e);
    }
    int er = sf_error(snd);
    if (!rc && er) rc = err_set(e, PTTS_ERR_FORMAT, "corrupt audio: %s", sf_error_number(er));
    if (!rc) rc = audio_mono_finish(&m, samples, n, sample_rate, e);
    audio_mono_free(&m);
    return rc;
}

/* libsndfile reports why an open failed only through a process-wide slot; the message is
 * informative and a race can at worst swap it for another thread's. */
static int open_failed(ptts_err *e) {
    return err_set(e, PTTS_ERR_FORMAT, "not a readable audio file (%s)", sf_strerror(NULL));
}

int audio_read_file_max(const char *path, double max_seconds, float **samples, size_t *n,
                        int *sample_rate, ptts_err *e) {
    *samples = NULL;
    *n = 0;
    /* Opened here so that a missing file gets the system's reason, not a format error. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(e, PTTS_ERR_IO, "%s: %s", path, strerror(errno));
    audio_src src = {fd, NULL, 0};
    int rc;
    if (audio_mp3_detect(&src)) {
        rc = audio_mp3_decode(&src, max_seconds, samples, n, sample_rate, e);
    } else {
        /* libsndfile 1.2.0 closes the descriptor when sf_open_fd fails, whatever it is
         * told: it gets a copy of its own, so that ours is closed exactly once. */
        int sfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        SF_INFO info = {0};
        SNDFILE *snd = sfd < 0 ? NULL : sf_open_fd(sfd, SFM_READ, &info, SF_TRUE);
        if (sfd < 0)
            rc = err_set(e, PTTS_ERR_IO, "%s", strerror(errno));
        else
            rc = snd ? decode(snd, &info, max_seconds, samples, n, sample_rate, e) : open_failed(e);
        if (snd) sf_close(snd);
    }
    close(fd);
    if (rc) err_prefix(e, "%s", path);
    return rc;
}

int audio_read_memory_max(const void *buf, size_t len, double max_seconds, float **samples,
                          size_t *n, int *sample_rate, ptts_err *e) {
    *samples = NULL;
    *n = 0;
    if (!len) return err_set(e, PTTS_ERR_FORMAT, "the audio upload is empty");
    audio_src src = {-1, buf, len};
    if (audio_mp3_detect(&src))
        return audio_mp3_decode(&src, max_seconds, samples, n, sample_rate, e);
    SF_VIRTUAL_IO io = {mem_len, mem_seek, mem_read, mem_write, mem_tell};
    mem_src m = {buf, (sf_count_t)len, 0};
    SF_INFO info = {0};
    SNDFILE *snd = sf_open_virtual(&io, SFM_READ, &info, &m);
    int rc = snd ? decode(snd, &info, max_seconds, samples, n, sample_rate, e) : open_failed(e);
    if (snd) sf_close(snd);
    return rc;
}

int audio_read_file(const char *path, float **samples, size_t *n, int *sample_rate, ptts_err *e) {
    return audio_read_file_max(path, 0, samples, n, sample_rate, e);
}

int audio_read_memory(const void *buf, size_t len, float **samples, size_t *n, int *sample_rate,
                      ptts_err *e) {
    return audio_read_memory_max(buf, len, 0, samples, n, sample_rate, e);
}

int audio_resample(const float *in, size_t n, int rate_in, int rate_out, float **out, size_t *n_out,
                   ptts_err *e) {
    *out = NULL;
    *n_out = 0;
    if (rate_in <= 0 || rate_out <= 0)
        return err_set(e, PTTS_ERR_INVALID_ARG, "invalid sample rates %d -> %d Hz", rate_in,
                       rate_out);
    /* Room for ceil(n * rate_out / rate_in) samples, computed without overflow. */
    uint64_t whole = n / (uint64_t)rate_in, rest = n % (uint64_t)rate_in;
    if (whole > (SIZE_MAX / sizeof(float) - 1) / (uint64_t)rate_out)
        return err_set(e, PTTS_ERR_NOMEM, "audio too long to resample");
    size_t cap = (size_t)(whole * (uint64_t)rate_out +
                          (rest * (uint64_t)rate_out + (uint64_t)rate_in - 1) / (uint64_t)rate_in);
    float *o = malloc((cap ? cap : 1) * sizeof *o);
    if (!o) return err_set(e, PTTS_ERR_NOMEM, "out of memory resampling");
    size_t done = n;
    if (rate_in == rate_out) {
        if (n) memcpy(o, in, n * sizeof *o);
    } else {
        soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
        soxr_error_t err =
            soxr_oneshot(rate_in, rate_out, 1, in, n, NULL, o, cap, &done, &io, &q, NULL);
        if (err) {
            free(o);
            return err_set(e, PTTS_ERR_INTERNAL, "resampling %d -> %d Hz failed: %s", rate_in,
                           rate_out, err);
        }
    }
    *out = o;
    *n_out = done;
    return PTTS_OK;
}
