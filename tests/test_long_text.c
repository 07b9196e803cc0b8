/* Memory stays flat while generating 10 minutes of audio from one text (tiny model): the
 * caches are bounded per chunk and nothing grows per frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pocket_tts.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define SLACK_KB 16384 /* ASan's allocator moves RSS on its own */
/* ASan keeps freed blocks in a quarantine that grows RSS by design: keep it small here. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "quarantine_size_mb=4";
}
#else
#define SLACK_KB 2048
#endif

typedef struct probe {
    size_t samples;
    long rss_1min, rss_max_after;
} probe;

static long rss_kb(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int on_audio(void *ud, const float *s, size_t n) {
    (void)s;
    probe *p = ud;
    p->samples += n;
    if (p->samples >= 60 * 24000 && !p->rss_1min) p->rss_1min = rss_kb();
    if (p->rss_1min) {
        long r = rss_kb();
        if (r > p->rss_max_after) p->rss_max_after = r;
    }
    return 0;
}

int main(void) {
    const char *sentence = "The quick brown fox jumps over the lazy dog near the river bank. ";
    size_t reps = 90, len = strlen(sentence);
    char *text = malloc(reps * len + 1);
    for (size_t i = 0; i < reps; i++)
        memcpy(text + i * len, sentence, len);
    text[reps * len] = 0;

    char err[512];
    ptts_model *m;
    ptts_voice *v;
    ptts_gen *g = NULL;
    open_fixture_model("tiny", 0, &m, &v);
    if (v) CHECK(ptts_gen_new(m, &g, err, sizeof err) == 0, "%s", err);
    if (g) {
        ptts_gen_params p = ptts_gen_default_params();
        p.temperature = 0;
        probe pr = {0, 0, 0};
        int rc = ptts_gen_run(g, v, text, &p, on_audio, &pr);
        CHECK(rc == 0, "%s", ptts_gen_errmsg(g));
        double minutes = pr.samples / 24000.0 / 60;
        CHECK(minutes >= 10, "only %.1f minutes generated", minutes);
        CHECK(pr.rss_max_after - pr.rss_1min < SLACK_KB,
              "RSS grew by %ld kB after the first minute", pr.rss_max_after - pr.rss_1min);
        printf("  %.1f minutes of audio: RSS %ld kB at 1 min, peak %ld kB after\n", minutes,
               pr.rss_1min, pr.rss_max_after);
    }
    ptts_gen_free(g);
    ptts_voice_free(v);
    ptts_model_free(m);
    free(text);
    TEST_END();
}
