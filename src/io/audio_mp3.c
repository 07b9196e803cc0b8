#include "audio_mp3.h"

#include <errno.h>
#include <mpg123.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audio_mono.h"

/* Size in floats of the decode buffer (frames x channels per mpg123_read call). */
#define MP3_CHUNK 8192

/* Reads up to count bytes at off; returns the count read (0 at the end) or -1. Reading
 * a descriptor at an explicit offset leaves its own offset alone. */
static ssize_t src_read_at(const audio_src *src, void *dst, size_t count, int64_t off) {
    if (src->buf) {
        if (off < 0 || (uint64_t)off >= src->len) return 0;
        size_t left = src->len - (size_t)off;
        if (count > left) count = left;
        memcpy(dst, src->buf + off, count);
        return (ssize_t)count;
    }
    ssize_t got;
    do
        got = pread(src->fd, dst, count, (off_t)off);
    while (got < 0 && errno == EINTR);
    return got;
}

/* The first 4 bytes are an MPEG audio frame header: frame sync, and no reserved
 * version, layer, bitrate or sample rate (libsndfile's test, to the bit). */
static bool mpeg_header(const unsigned char *h) {
    return h[0] == 0xFF && (h[1] & 0xE0) == 0xE0 && (h[1] & 0x18) != 0x08 && (h[1] & 0x06) != 0 &&
           (h[2] & 0xF0) != 0xF0 && (h[2] & 0x0C) != 0x0C;
}

bool audio_mp3_detect(const audio_src *src) {
    unsigned char h[4];
    return src_read_at(src, h, sizeof h, 0) == (ssize_t)sizeof h &&
           (!memcmp(h, "ID3", 3) || mpeg_header(h));
}

/* libmpg123's view of src: a position and the length, for its read and seek calls. */
typedef struct mp3_in {
    const audio_src *src;
    int64_t pos, len;
} mp3_in;

static mpg123_ssize_t in_read(void *handle, void *dst, size_t count) {
    mp3_in *in = handle;
    ssize_t got = src_read_at(in->src, dst, count, in->pos);
    if (got > 0) in->pos += got;
    return got;
}

static off_t in_seek(void *handle, off_t off, int whence) {
    mp3_in *in = handle;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? in->pos : in->len;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return -1;
    if (off < -base || off > INT64_MAX - base) return -1;
    in->pos = base + off;
    return (off_t)in->pos;
}

/* Quiet (libmpg123 prints about damaged frames unless told not to), 32-bit float output
 * at the stream's own rate and channels, reading through in. */
static int setup(mpg123_handle *mh, mp3_in *in, ptts_err *e) {
    int rc = mpg123_param(mh, MPG123_ADD_FLAGS, MPG123_QUIET, 0);
    if (!rc) rc = mpg123_format_none(mh);
    const long *rates;
    size_t nrates;
    mpg123_rates(&rates, &nrates);
    for (size_t i = 0; i < nrates && !rc; i++)
        rc = mpg123_format(mh, rates[i], MPG123_MONO | MPG123_STEREO, MPG123_ENC_FLOAT_32);
    if (!rc) rc = mpg123_replace_reader_handle(mh, in_read, in_seek, NULL);
    if (!rc) rc = mpg123_open_handle(mh, in);
    if (rc)
        return err_set(e, PTTS_ERR_INTERNAL, "setting up the MP3 decoder: %s", mpg123_strerror(mh));
    return PTTS_OK;
}

/* Reads decoded chunks into m, which is set up at the first format libmpg123 reports. */
static int decode(mpg123_handle *mh, double max_seconds, audio_mono *m, ptts_err *e) {
    float chunk[MP3_CHUNK];
    int ch = 0; /* 0 until the format is known */
    for (;;) {
        size_t want = sizeof chunk, done = 0;
        if (ch) {
            size_t room = audio_mono_room(m);
            if (!room) return PTTS_OK;
            if (room < MP3_CHUNK / (size_t)ch) want = room * (size_t)ch * sizeof(float);
        }
        int r = mpg123_read(mh, chunk, want, &done);
        if (done && ch) {
            int rc = audio_mono_add(m, chunk, done / (sizeof(float) * (size_t)ch), ch, e);
            if (rc) return rc;
        }
        if (r == MPG123_NEW_FORMAT) {
            long rate;
            int channels, enc;
            if (mpg123_getformat(mh, &rate, &channels, &enc))
                return err_set(e, PTTS_ERR_INTERNAL, "MP3 decoder: %s", mpg123_strerror(mh));
            /* Another stream glued on at another rate: the audio ends where it starts. */
            if (ch && rate != m->rate) return PTTS_OK;
            if (enc != MPG123_ENC_FLOAT_32 || channels < 1 || channels > 2)
                return err_set(e, PTTS_ERR_INTERNAL, "MP3 decoder gave encoding %d, %d channels",
                               enc, channels);
            if (!ch) {
                int rc = audio_mono_init(m, (int)rate, max_seconds, e);
                if (rc) return rc;
            }
            ch = channels;
        } else if (r != MPG123_OK) {
            /* The end, or an error after some audio: keep what decoded, as for a WAV cut
             * short. */
            if (!ch || (r == MPG123_ERR && !m->len))
                return err_set(e, PTTS_ERR_FORMAT, "not a readable audio file (%s)",
                               r == MPG123_ERR ? mpg123_strerror(mh) : "no MPEG audio frame");
            return PTTS_OK;
        }
    }
}

int audio_mp3_decode(const audio_src *src, double max_seconds, float **samples, size_t *n,
                     int *sample_rate, ptts_err *e) {
    *samples = NULL;
    *n = 0;
    mp3_in in = {src, 0, (int64_t)src->len};
    struct stat st;
    if (!src->buf) {
        if (fstat(src->fd, &st)) return err_set(e, PTTS_ERR_IO, "%s", strerror(errno));
        in.len = st.st_size;
    }
    int rc = MPG123_OK;
    mpg123_handle *mh = mpg123_new(NULL, &rc);
    if (!mh)
        return err_set(e, PTTS_ERR_NOMEM, "starting the MP3 decoder: %s",
                       mpg123_plain_strerror(rc));
    audio_mono m = {0};
    rc = setup(mh, &in, e);
    if (!rc) rc = decode(mh, max_seconds, &m, e);
    if (!rc) rc = audio_mono_finish(&m, samples, n, sample_rate, e);
    audio_mono_free(&m);
    mpg123_close(mh);
    mpg123_delete(mh);
    return rc;
}
