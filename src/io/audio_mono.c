#include "audio_mono.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* Rates outside this range are refused: nothing real uses them, and resampling from a
 * tiny rate would multiply a small hostile file into a huge buffer. */
#define AUDIO_MIN_RATE 1000
#define AUDIO_MAX_RATE 1000000

int audio_mono_init(audio_mono *m, int rate, double max_seconds, ptts_err *e) {
    *m = (audio_mono){.max = SIZE_MAX / sizeof(float), .rate = rate};
    if (rate < AUDIO_MIN_RATE || rate > AUDIO_MAX_RATE)
        return err_set(e, PTTS_ERR_UNSUPPORTED, "unsupported sample rate %d Hz", rate);
    if (max_seconds > 0 && max_seconds * rate < (double)m->max)
        m->max = (size_t)(max_seconds * rate);
    return PTTS_OK;
}

size_t audio_mono_room(const audio_mono *m) {
    return m->max - m->len;
}

int audio_mono_add(audio_mono *m, const float *chunk, size_t frames, int channels, ptts_err *e) {
    if (frames > m->max - m->len) frames = m->max - m->len;
    if (m->len + frames > m->cap) {
        size_t nc = m->cap ? m->cap : 65536;
        while (nc < m->len + frames)
            nc = nc > m->max / 2 ? m->max : nc * 2;
        float *p = realloc(m->out, nc * sizeof *p);
        if (!p) return err_set(e, PTTS_ERR_NOMEM, "out of memory decoding audio");
        m->out = p;
        m->cap = nc;
    }
    /* Sum in double so that the mean of 16-bit channels is correctly rounded. */
    for (size_t i = 0; i < frames; i++) {
        double s = 0;
        for (int c = 0; c < channels; c++)
            s += chunk[i * (size_t)channels + (size_t)c];
        if (!isfinite(s))
            return err_set(e, PTTS_ERR_FORMAT, "corrupt audio: sample %zu is not finite",
                           m->len + i);
        m->out[m->len + i] = (float)(s / channels);
    }
    m->len += frames;
    return PTTS_OK;
}

int audio_mono_finish(audio_mono *m, float **samples, size_t *n, int *sample_rate, ptts_err *e) {
    if (!m->len) {
        audio_mono_free(m);
        return err_set(e, PTTS_ERR_FORMAT, "the audio holds no samples");
    }
    *samples = m->out;
    *n = m->len;
    *sample_rate = m->rate;
    *m = (audio_mono){0};
    return PTTS_OK;
}

void audio_mono_free(audio_mono *m) {
    free(m->out);
    *m = (audio_mono){0};
}
