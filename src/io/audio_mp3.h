/* Internal to the audio reader (audio.c): MPEG audio (MP3, and layers I/II) decoded with
 * libmpg123 set quiet. libsndfile 1.2.0 would decode it with libmpg123 too, but leaves
 * it printing notes about damaged frames to stderr, so MPEG data never reaches it. */
#ifndef PTTS_AUDIO_MP3_H
#define PTTS_AUDIO_MP3_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/error.h"

/* A seekable read-only input: an open file descriptor when buf is NULL, else buf[0..len). */
typedef struct audio_src {
    int fd;
    const unsigned char *buf;
    size_t len;
} audio_src;

/* Whether src starts with an ID3v2 tag or an MPEG audio frame header. That covers all
 * that libsndfile 1.2.0 hands to libmpg123: a frame header at the start (its test, to
 * the bit) or anything behind ID3v2 tags, which it skips in ways of its own; what an
 * ID3v2 tag precedes is MP3 in practice, and libsndfile refuses most else behind one.
 * Reads src without moving a file descriptor's offset. */
bool audio_mp3_detect(const audio_src *src);

/* Decodes src as MPEG audio to mono, keeping at most max_seconds (<= 0: all of it); as
 * audio_read_memory_max() in audio.h. Damaged frames are skipped; a change of sample
 * rate mid-stream ends the audio there. */
int audio_mp3_decode(const audio_src *src, double max_seconds, float **samples, size_t *n,
                     int *sample_rate, ptts_err *e);

#endif
