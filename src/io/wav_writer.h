/* WAV output: mono 16-bit PCM, written as it is generated. The 44-byte header goes out
 * first with "unknown length" sizes (0xFFFFFFFF, which players accept for streams); on
 * close a seekable FILE gets its RIFF and data sizes patched to the exact values, while a
 * pipe or a sink callback (HTTP) keeps the streaming header. */
#ifndef PTTS_WAV_WRITER_H
#define PTTS_WAV_WRITER_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/error.h"

/* Receives len bytes of the file, in order; returns 0 on success, non-zero to fail the
 * write (e.g. the client went away). */
typedef int (*wav_sink_fn)(void *user_data, const void *buf, size_t len);

typedef struct wav_writer wav_writer;

/* Starts a WAV at sample_rate Hz on fp (binary, not in append mode; the caller keeps
 * ownership and closes it after wav_writer_close). Writes the header. */
int wav_writer_open_file(wav_writer **out, FILE *fp, int sample_rate, ptts_err *e);
/* Same through a sink callback: never seekable, so the header stays a streaming one. */
int wav_writer_open_sink(wav_writer **out, wav_sink_fn write, void *user_data, int sample_rate,
                         ptts_err *e);
/* Appends n samples (converted by wav_pcm16) and flushes them to the output. */
int wav_writer_write(wav_writer *w, const float *samples, size_t n, ptts_err *e);
/* Appends n zero samples (e.g. the trailing silence). */
int wav_writer_write_zeros(wav_writer *w, size_t n, ptts_err *e);
/* Patches the sizes when the output can seek, flushes, and frees w (even on error).
 * Accepts NULL. */
int wav_writer_close(wav_writer *w, ptts_err *e);

/* The sample conversion of SPEC 5: trunc(clamp(s, -1, 1) * 32767), toward zero. NaN
 * becomes 0 (a cast of NaN would be undefined). */
static inline int16_t wav_pcm16(float s) {
    if (!(s == s)) return 0;
    s = s < -1.0f ? -1.0f : s > 1.0f ? 1.0f : s;
    return (int16_t)truncf(s * 32767.0f);
}

#endif
