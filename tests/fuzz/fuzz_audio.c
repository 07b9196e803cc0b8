/* libFuzzer target: audio_read_memory on arbitrary bytes must fail cleanly or give finite
 * mono samples at a sane rate. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "io/audio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A libsndfile 1.2.0 leak on Ogg Vorbis files that fail to open (see tests/test_audio.c). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:vorbis_info_init\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    float *s = NULL;
    size_t n = 0;
    int rate = 0;
    ptts_err e = {0};
    if (audio_read_memory(data, size, &s, &n, &rate, &e)) {
        if (s || n || !e.msg[0]) abort();
        return 0;
    }
    if (!n || rate < 1000) abort();
    for (size_t i = 0; i < n; i++)
        if (!isfinite(s[i])) abort();
    free(s);
    return 0;
}
