/* WAV writer: exact header bytes on a seekable file, the streaming header through a pipe
 * and a sink, the sample conversion (against the reference's pcm16), and reading back. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/audio.h"
#include "io/safetensors.h"
#include "io/wav_writer.h"
#include "test.h"

static char tmpdir[] = "/tmp/ptts_test_wav_XXXXXX";

static const char *tmp_path(const char *name) {
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static uint32_t u32_at(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The 44 header bytes for a mono 16-bit file at 24 kHz with the given sizes. */
static void expected_header(uint8_t h[44], uint32_t riff, uint32_t data) {
    static const uint8_t fixed[44] = {'R',  'I',  'F', 'F', 0, 0, 0, 0, 'W', 'A', 'V', 'E', 'f',
                                      'm',  't',  ' ', 16,  0, 0, 0, 1, 0,   1,   0, /* PCM, mono */
                                      0xC0, 0x5D, 0,   0,                            /* 24000 Hz */
                                      0x80, 0xBB, 0,   0, /* 48000 bytes/s */
                                      2,    0,    16,  0, /* block align 2, 16 bits */
                                      'd',  'a',  't', 'a', 0, 0, 0, 0};
    memcpy(h, fixed, 44);
    for (int i = 0; i < 4; i++) {
        h[4 + i] = (uint8_t)(riff >> (8 * i));
        h[40 + i] = (uint8_t)(data >> (8 * i));
    }
}

static void test_conversion(void) {
    const struct {
        float s;
        int16_t want;
    } cases[] = {
        {1.0f, 32767},       {-1.0f, -32767},   {1.5f, 32767},       {-1.5f, -32767},
        {-0.99999f, -32766}, {0.99999f, 32766}, {0.5f, 16383},       {-0.5f, -16383},
        {0.25f, 8191},       {1e-6f, 0},        {-1e-6f, 0},         {0x1p-15f, 0},
        {-0x1p-15f, 0},      {3.1e-5f, 1},      {-3.1e-5f, -1},      {0.0f, 0},
        {-0.0f, 0},          {INFINITY, 32767}, {-INFINITY, -32767}, {NAN, 0},
        {1e30f, 32767},      {-1e30f, -32767},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(wav_pcm16(cases[i].s) == cases[i].want, "%a -> %d, want %d", cases[i].s,
              wav_pcm16(cases[i].s), cases[i].want);

    /* The reference's pcm16 is exactly this conversion of its audio. */
    const char *gens[] = {
        "golden/tiny/gen_temp0_short.safetensors", "golden/tiny/gen_noise_temp07.safetensors",
        "golden/tiny-v1/gen_temp0_multichunk.safetensors", "golden/tiny/mimi_decode.safetensors"};
    for (size_t g = 0; g < sizeof gens / sizeof gens[0]; g++) {
        ptts_err e = {0};
        st_file *f = NULL;
        float *audio = NULL;
        CHECK(st_open(&f, fixture(gens[g]), &e) == PTTS_OK, "%s", e.msg);
        if (!f) continue;
        CHECK(st_load_f32(f, "audio", 1, (int64_t[]){-1}, &audio, &e) == PTTS_OK, "%s", e.msg);
        const st_tensor *pcm = st_find(f, "pcm16");
        CHECK(pcm && pcm->dtype == ST_I16 && audio && pcm->numel == st_find(f, "audio")->numel);
        if (pcm && audio) {
            int64_t *ref = malloc((size_t)pcm->numel * sizeof *ref);
            CHECK(st_to_i64(pcm, ref, &e) == PTTS_OK);
            size_t bad = 0;
            for (int64_t i = 0; i < pcm->numel; i++)
                bad += wav_pcm16(audio[i]) != ref[i];
            CHECK(bad == 0, "%s: %zu of %lld samples differ from pcm16", gens[g], bad,
                  (long long)pcm->numel);
            free(ref);
        }
        free(audio);
        st_close(f);
    }
}

static void test_seekable(void) {
    ptts_err e = {0};
    const char *path = tmp_path("a.wav");
    FILE *fp = fopen(path, "wb");
    wav_writer *w = NULL;
    CHECK(wav_writer_open_file(&w, fp, 24000, &e) == PTTS_OK, "%s", e.msg);
    CHECK(wav_writer_write(w, (float[]){0.5f, -1.0f, 2.0f}, 3, &e) == PTTS_OK);
    CHECK(wav_writer_write_zeros(w, 2, &e) == PTTS_OK);
    CHECK(wav_writer_write(w, NULL, 0, &e) == PTTS_OK);
    CHECK(wav_writer_close(w, &e) == PTTS_OK, "%s", e.msg);
    fclose(fp);
    size_t len = 0;
    uint8_t *b = (uint8_t *)read_file(path, &len);
    uint8_t want[54];
    expected_header(want, 36 + 10, 10);
    const uint8_t data[10] = {0xFF, 0x3F, 0x01, 0x80, 0xFF, 0x7F, 0, 0, 0, 0};
    memcpy(want + 44, data, 10);
    CHECK(b && len == 54 && !memcmp(b, want, 54), "seekable file bytes differ (len %zu)", len);
    free(b);

    /* The header after existing bytes in the stream is patched where it is. */
    fp = fopen(path, "wb");
    fputs("JUNK", fp);
    CHECK(wav_writer_open_file(&w, fp, 24000, &e) == PTTS_OK);
    float ramp[10000];
    for (int i = 0; i < 10000; i++)
        ramp[i] = (float)i / 10000;
    CHECK(wav_writer_write(w, ramp, 10000, &e) == PTTS_OK);
    CHECK(wav_writer_write_zeros(w, 5000, &e) == PTTS_OK);
    CHECK(wav_writer_close(w, &e) == PTTS_OK);
    fclose(fp);
    b = (uint8_t *)read_file(path, &len);
    CHECK(b && len == 4 + 44 + 30000 && !memcmp(b, "JUNKRIFF", 8) && u32_at(b + 8) == 36 + 30000 &&
          u32_at(b + 44) == 30000 && !memcmp(b + 40, "data", 4));
    free(b);

    /* Empty audio: sizes 36 and 0. */
    fp = fopen(path, "wb");
    CHECK(wav_writer_open_file(&w, fp, 24000, &e) == PTTS_OK);
    CHECK(wav_writer_close(w, &e) == PTTS_OK);
    fclose(fp);
    b = (uint8_t *)read_file(path, &len);
    expected_header(want, 36, 0);
    CHECK(b && len == 44 && !memcmp(b, want, 44));
    free(b);
    unlink(path);
    CHECK(wav_writer_close(NULL, &e) == PTTS_OK);
}

static void test_streaming(void) {
    ptts_err e = {0};
    int fds[2];
    CHECK(pipe(fds) == 0);
    FILE *wp = fdopen(fds[1], "wb");
    wav_writer *w = NULL;
    CHECK(wav_writer_open_file(&w, wp, 24000, &e) == PTTS_OK, "%s", e.msg);
    /* The header is out before any sample: a player can start at once. */
    uint8_t b[64];
    CHECK(read(fds[0], b, 44) == 44);
    uint8_t want[44];
    expected_header(want, 0xFFFFFFFFu, 0xFFFFFFFFu);
    CHECK(!memcmp(b, want, 44), "pipe header");
    CHECK(wav_writer_write(w, (float[]){0.25f, -0.25f}, 2, &e) == PTTS_OK);
    CHECK(read(fds[0], b, 4) == 4 && b[0] == 0xFF && b[1] == 0x1F && b[2] == 0x01 && b[3] == 0xE0,
          "samples are flushed with each write");
    CHECK(wav_writer_close(w, &e) == PTTS_OK, "%s", e.msg);
    fclose(wp);
    CHECK(read(fds[0], b, sizeof b) == 0, "nothing after close on a pipe");
    close(fds[0]);
}

typedef struct sink_buf {
    uint8_t data[256];
    size_t len, calls, fail_after;
} sink_buf;

static int to_buf(void *ud, const void *buf, size_t len) {
    sink_buf *s = ud;
    if (++s->calls > s->fail_after || s->len + len > sizeof s->data) return -1;
    memcpy(s->data + s->len, buf, len);
    s->len += len;
    return 0;
}

static void test_sink(void) {
    ptts_err e = {0};
    sink_buf s = {.fail_after = 100};
    wav_writer *w = NULL;
    CHECK(wav_writer_open_sink(&w, to_buf, &s, 24000, &e) == PTTS_OK, "%s", e.msg);
    CHECK(wav_writer_write(w, (float[]){1.0f}, 1, &e) == PTTS_OK);
    CHECK(wav_writer_close(w, &e) == PTTS_OK);
    uint8_t want[44];
    expected_header(want, 0xFFFFFFFFu, 0xFFFFFFFFu);
    CHECK(s.len == 46 && !memcmp(s.data, want, 44) && s.data[44] == 0xFF && s.data[45] == 0x7F);

    /* A sink that refuses: the error reaches the caller. */
    s = (sink_buf){.fail_after = 1};
    CHECK(wav_writer_open_sink(&w, to_buf, &s, 24000, &e) == PTTS_OK);
    CHECK(wav_writer_write(w, (float[]){0.1f}, 1, &e) == PTTS_ERR_IO && strstr(e.msg, "sink"), "%s",
          e.msg);
    CHECK(wav_writer_close(w, &e) == PTTS_OK);
    s = (sink_buf){.fail_after = 0};
    w = (wav_writer *)1;
    CHECK(wav_writer_open_sink(&w, to_buf, &s, 24000, &e) == PTTS_ERR_IO && w == NULL);
    CHECK(wav_writer_open_sink(&w, to_buf, &s, 0, &e) == PTTS_ERR_INVALID_ARG && w == NULL);

    /* A full disk. */
    FILE *full = fopen("/dev/full", "wb");
    if (full) {
        int rc = wav_writer_open_file(&w, full, 24000, &e);
        CHECK(rc == PTTS_ERR_IO && strstr(e.msg, "No space"), "%s", e.msg);
        fclose(full);
    }
}

static void test_read_back(void) {
    ptts_err e = {0};
    const char *path = tmp_path("sine.wav");
    const size_t n = 12345;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(1.2 * sin(i * 0.01) * exp(-(double)i / n));
    FILE *fp = fopen(path, "wb");
    wav_writer *w = NULL;
    CHECK(wav_writer_open_file(&w, fp, 24000, &e) == PTTS_OK);
    CHECK(wav_writer_write(w, x, n, &e) == PTTS_OK);
    CHECK(wav_writer_write_zeros(w, 4800, &e) == PTTS_OK);
    CHECK(wav_writer_close(w, &e) == PTTS_OK);
    fclose(fp);
    float *y = NULL;
    size_t ny = 0;
    int rate = 0;
    CHECK(audio_read_file(path, &y, &ny, &rate, &e) == PTTS_OK, "%s", e.msg);
    CHECK(ny == n + 4800 && rate == 24000, "%zu samples at %d Hz", ny, rate);
    if (y && ny == n + 4800) {
        size_t bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += y[i] != wav_pcm16(x[i]) / 32768.0f;
        for (size_t i = n; i < ny; i++)
            bad += y[i] != 0;
        CHECK(bad == 0, "%zu samples differ after the round trip", bad);
    }
    free(y);
    free(x);
    unlink(path);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_conversion();
    test_seekable();
    test_streaming();
    test_sink();
    test_read_back();
    rmdir(tmpdir);
    TEST_END();
}
