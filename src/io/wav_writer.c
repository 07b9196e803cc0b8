#include "wav_writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WAV_HEADER  44
#define WAV_UNKNOWN 0xFFFFFFFFu
/* Samples converted per sink call. */
#define WAV_BLOCK 4096

struct wav_writer {
    wav_sink_fn write;
    void *ud;
    FILE *fp;        /* set when writing to a FILE */
    off_t header_at; /* where the header starts in fp; -1 when fp cannot seek */
    uint64_t frames;
    uint8_t block[2 * WAV_BLOCK];
};

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int file_sink(void *ud, const void *buf, size_t len) {
    FILE *fp = ud;
    /* Flushed per block so that a reader at the other end of a pipe hears audio now. */
    return fwrite(buf, 1, len, fp) != len || fflush(fp);
}

static int emit(wav_writer *w, const void *buf, size_t len, ptts_err *e) {
    if (!w->write(w->ud, buf, len)) return PTTS_OK;
    if (w->fp) return err_set(e, PTTS_ERR_IO, "writing WAV output: %s", strerror(errno));
    return err_set(e, PTTS_ERR_IO, "the WAV output sink refused the data");
}

static int start(wav_writer **out, wav_writer *w, int sample_rate, ptts_err *e) {
    *out = NULL;
    if (sample_rate <= 0 || sample_rate > 0x7FFFFFFF / 2) {
        free(w);
        return err_set(e, PTTS_ERR_INVALID_ARG, "invalid WAV sample rate %d", sample_rate);
    }
    uint8_t h[WAV_HEADER];
    memcpy(h, "RIFF\0\0\0\0WAVEfmt ", 16);
    put_u32(h + 4, WAV_UNKNOWN);
    put_u32(h + 16, 16);                        /* fmt chunk size */
    put_u32(h + 20, 1 | 1u << 16);              /* PCM, 1 channel */
    put_u32(h + 24, (uint32_t)sample_rate);     /* frames per second */
    put_u32(h + 28, (uint32_t)sample_rate * 2); /* bytes per second */
    put_u32(h + 32, 2 | 16u << 16);             /* block align 2, 16 bits */
    memcpy(h + 36, "data", 4);
    put_u32(h + 40, WAV_UNKNOWN);
    int rc = emit(w, h, sizeof h, e);
    if (rc) {
        free(w);
        return rc;
    }
    *out = w;
    return PTTS_OK;
}

int wav_writer_open_file(wav_writer **out, FILE *fp, int sample_rate, ptts_err *e) {
    wav_writer *w = calloc(1, sizeof *w);
    if (!w) return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    w->write = file_sink;
    w->ud = w->fp = fp;
    w->header_at = ftello(fp); /* -1 (ESPIPE) for pipes and terminals */
    return start(out, w, sample_rate, e);
}

int wav_writer_open_sink(wav_writer **out, wav_sink_fn write, void *user_data, int sample_rate,
                         ptts_err *e) {
    wav_writer *w = calloc(1, sizeof *w);
    if (!w) return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    w->write = write;
    w->ud = user_data;
    w->header_at = -1;
    return start(out, w, sample_rate, e);
}

/* Sends n samples, from src when non-NULL, else zeros. */
static int put(wav_writer *w, const float *src, size_t n, ptts_err *e) {
    while (n) {
        size_t k = n < WAV_BLOCK ? n : WAV_BLOCK;
        for (size_t i = 0; i < k; i++) {
            uint16_t v = src ? (uint16_t)wav_pcm16(src[i]) : 0;
            w->block[2 * i] = (uint8_t)v;
            w->block[2 * i + 1] = (uint8_t)(v >> 8);
        }
        int rc = emit(w, w->block, 2 * k, e);
        if (rc) return rc;
        w->frames += k;
        if (src) src += k;
        n -= k;
    }
    return PTTS_OK;
}

int wav_writer_write(wav_writer *w, const float *samples, size_t n, ptts_err *e) {
    return put(w, samples, n, e);
}

int wav_writer_write_zeros(wav_writer *w, size_t n, ptts_err *e) {
    return put(w, NULL, n, e);
}

/* Writes v at byte offset at of the header. */
static int patch(FILE *fp, off_t at, uint32_t v) {
    uint8_t b[4];
    put_u32(b, v);
    return fseeko(fp, at, SEEK_SET) || fwrite(b, 1, 4, fp) != 4;
}

int wav_writer_close(wav_writer *w, ptts_err *e) {
    if (!w) return PTTS_OK;
    int rc = PTTS_OK;
    uint64_t bytes = 2 * w->frames;
    /* Past 4 GiB the sizes cannot be written; the streaming header is the best left. */
    if (w->header_at >= 0 && bytes <= WAV_UNKNOWN - 36) {
        off_t end = ftello(w->fp);
        if (end < 0 || patch(w->fp, w->header_at + 4, (uint32_t)(36 + bytes)) ||
            patch(w->fp, w->header_at + 40, (uint32_t)bytes) || fseeko(w->fp, end, SEEK_SET) ||
            fflush(w->fp))
            rc = err_set(e, PTTS_ERR_IO, "finishing WAV output: %s", strerror(errno));
    }
    free(w);
    return rc;
}
