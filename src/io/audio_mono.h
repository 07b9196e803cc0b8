/* Internal to the audio readers (audio.c, audio_mp3.c): collects decoded interleaved
 * chunks as mono samples, with the checks every format shares (sample rate range,
 * finite samples, a frame limit, at least one sample). */
#ifndef PTTS_AUDIO_MONO_H
#define PTTS_AUDIO_MONO_H

#include <stddef.h>

#include "../common/error.h"

typedef struct audio_mono {
    float *out;
    size_t len, cap, max; /* max: frames to keep */
    int rate;
} audio_mono;

/* Starts an empty collection at rate Hz keeping at most max_seconds (<= 0: no limit);
 * refuses rates outside 1 kHz..1 MHz. */
int audio_mono_init(audio_mono *m, int rate, double max_seconds, ptts_err *e);
/* Frames that can still be added before the limit. */
size_t audio_mono_room(const audio_mono *m);
/* Appends up to audio_mono_room() of frames x channels interleaved samples as their
 * channel mean; the rest is dropped. Refuses non-finite samples. */
int audio_mono_add(audio_mono *m, const float *chunk, size_t frames, int channels, ptts_err *e);
/* Hands the samples over (*samples is malloc'd), or refuses an empty collection. Either
 * way m is left empty. */
int audio_mono_finish(audio_mono *m, float **samples, size_t *n, int *sample_rate, ptts_err *e);
/* Drops the samples collected so far. */
void audio_mono_free(audio_mono *m);

#endif
