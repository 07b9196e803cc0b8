/* Audio input: decodes whatever libsndfile reads (WAV in any PCM/float/EXTENSIBLE form,
 * FLAC, OGG/Vorbis/Opus, AIFF, ...) and MP3 to mono float samples, and resamples (libsoxr).
 * Integer PCM is scaled by 1/2^(bits-1): 16-bit sample s becomes exactly s/32768. Channels
 * are averaged to mono. Refused: sample rates outside 1 kHz..1 MHz, non-finite samples,
 * files truncated inside their header or (FLAC, Ogg) their data; a WAV cut inside its
 * data gives the samples before the cut, as other players do. MPEG audio (MP3) is
 * decoded by libmpg123 directly, set quiet (audio_mp3.c): damaged frames are skipped.
 * Caveat (libsndfile 1.2.0): an Ogg Vorbis file whose headers do not parse leaks ~6 KB. */
#ifndef PTTS_AUDIO_H
#define PTTS_AUDIO_H

#include <stddef.h>

#include "../common/error.h"

/* Decodes the file at path. On success *samples is a malloc'd array of *n > 0 mono
 * samples (free() it) at *sample_rate Hz. On error *samples is NULL, *n is 0 and e names
 * the path and the problem (missing file, not audio or corrupt, no samples). */
int audio_read_file(const char *path, float **samples, size_t *n, int *sample_rate, ptts_err *e);
/* Same over an in-memory file (an upload); buf is only read during the call. */
int audio_read_memory(const void *buf, size_t len, float **samples, size_t *n, int *sample_rate,
                      ptts_err *e);
/* As above, but stop after the first max_seconds of audio (<= 0: no limit). Decoding only
 * what is kept bounds memory on compressed input, where a few bytes can hold minutes. */
int audio_read_file_max(const char *path, double max_seconds, float **samples, size_t *n,
                        int *sample_rate, ptts_err *e);
int audio_read_memory_max(const void *buf, size_t len, double max_seconds, float **samples,
                          size_t *n, int *sample_rate, ptts_err *e);

/* Resamples n mono samples from rate_in to rate_out Hz (libsoxr, high quality, linear
 * phase, no delay). *out (malloc'd, free() it) gets *n_out ~= n * rate_out / rate_in
 * samples; equal rates give an exact copy. */
int audio_resample(const float *in, size_t n, int rate_in, int rate_out, float **out, size_t *n_out,
                   ptts_err *e);

#endif
