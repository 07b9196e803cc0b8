/* Audio input: every format libsndfile writes here is read back through audio_read_file
 * and audio_read_memory (exact values for lossless ones), resampling keeps a sine's
 * frequency and amplitude, voice.wav matches the reference's reading of it exactly, and
 * corrupt or truncated files give an error or a prefix of the audio, never a crash and
 * never a byte on stderr. MP3 goes to libmpg123 directly exactly when libsndfile would
 * have handed it to libmpg123 (which prints there) itself. */
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/audio.h"
#include "io/audio_mp3.h"
#include "io/safetensors.h"
#include "test.h"

/* libsndfile 1.2.0 (and its current master) leaks libvorbis' header state when an Ogg
 * Vorbis file fails to open (ogg_vorbis.c sets codec_close only after the headers parse):
 * about 6 KB per broken file, outside our code. LeakSanitizer is told to skip that one. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:vorbis_info_init\n";
}

static char tmpdir[] = "/tmp/ptts_test_audio_XXXXXX";

static const char *tmp_path(const char *name) {
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* Sends fd 2 to a fresh temporary file until stderr_end(), which returns how many bytes
 * were written to it: the library must never print. */
static int stderr_saved = -1;

static void stderr_begin(void) {
    fflush(stderr);
    int fd = open(tmp_path("stderr"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    stderr_saved = dup(2);
    dup2(fd, 2);
    close(fd);
}

static long stderr_end(void) {
    struct stat st = {0};
    fflush(stderr);
    fstat(2, &st);
    dup2(stderr_saved, 2);
    close(stderr_saved);
    unlink(tmp_path("stderr"));
    return (long)st.st_size;
}

static uint32_t lcg_next(uint32_t *s) {
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Writes frames x channels interleaved samples: ints (libsndfile's 32-bit scale) when
 * ints is non-NULL, else floats. Returns 0 on success. */
static int write_sf(const char *path, int format, int channels, int rate, const int *ints,
                    const float *floats, size_t frames) {
    SF_INFO info = {.samplerate = rate, .channels = channels, .format = format};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f) return -1;
    sf_count_t w = ints ? sf_writef_int(f, ints, (sf_count_t)frames)
                        : sf_writef_float(f, floats, (sf_count_t)frames);
    return sf_close(f) || w != (sf_count_t)frames;
}

/* Reads path both from the file and from memory; checks that both agree and returns the
 * samples (NULL on error, with the message in e). */
static float *read_both(const char *path, size_t *n, int *rate, ptts_err *e) {
    float *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    int ra = 0, rb = 0;
    int rc = audio_read_file(path, &a, &na, &ra, e);
    size_t len = 0;
    char *buf = read_file(path, &len);
    ptts_err e2 = {0};
    int rc2 = buf ? audio_read_memory(buf, len, &b, &nb, &rb, &e2) : -1;
    CHECK(rc == rc2 && na == nb && ra == rb && (!na || !memcmp(a, b, na * sizeof *a)),
          "%s: file and memory reads differ (%d/%d, %zu/%zu: %s / %s)", path, rc, rc2, na, nb,
          e->msg, e2.msg);
    free(buf);
    free(b);
    *n = na;
    *rate = ra;
    return a;
}

/* ---- lossless formats: exact values ---- */

typedef struct pcm_case {
    const char *file;
    int format, channels, rate, bits; /* bits 0 = float data */
} pcm_case;

static void test_lossless(void) {
    const pcm_case cases[] = {
        {"u8.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 1, 8000, 8},
        {"s16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 24000, 16},
        {"s24.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 1, 44100, 24},
        {"s32.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_32, 1, 48000, 32},
        {"f32.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 16000, 0},
        {"f32x.wav", SF_FORMAT_WAVEX | SF_FORMAT_FLOAT, 1, 16000, 0},
        {"stereo.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 2, 22050, 16},
        {"5ch.wav", SF_FORMAT_WAVEX | SF_FORMAT_PCM_16, 5, 32000, 16},
        {"s24x.wav", SF_FORMAT_WAVEX | SF_FORMAT_PCM_24, 2, 96000, 24},
        {"s16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1, 24000, 16},
        {"stereo.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 2, 48000, 24},
        {"s16.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 1, 11025, 16},
    };
    const size_t frames = 3000;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const pcm_case *pc = &cases[c];
        size_t ns = frames * (size_t)pc->channels;
        int *ints = malloc(ns * sizeof *ints);
        float *floats = malloc(ns * sizeof *floats), *want = malloc(frames * sizeof *want);
        uint32_t seed = 7u + (uint32_t)c;
        /* Full-scale extremes first, then noise over the whole range. */
        for (size_t i = 0; i < ns; i++) {
            if (pc->bits) {
                int64_t lo = -((int64_t)1 << (pc->bits - 1)), hi = -lo - 1;
                int64_t v = i == 0 ? lo : i == 1 ? hi : i == 2 ? 0 : i == 3 ? -1 : 1;
                if (i > 4)
                    v = lo + (int64_t)(((uint64_t)lcg_next(&seed) << 16 ^ lcg_next(&seed)) %
                                       (uint64_t)(hi - lo + 1));
                ints[i] = (int)(v * ((int64_t)1 << (32 - pc->bits)));
                /* libsndfile's normalised read: int32 as float times 2^-31. */
                floats[i] = (float)ints[i] * 0x1p-31f;
            } else {
                floats[i] = i < 2 ? (i ? -3.5f : 1.25f) : (float)lcg_next(&seed) / 0x800000 - 1;
            }
        }
        for (size_t i = 0; i < frames; i++) {
            double s = 0;
            for (int k = 0; k < pc->channels; k++)
                s += floats[i * (size_t)pc->channels + (size_t)k];
            want[i] = (float)(s / pc->channels);
        }
        const char *path = tmp_path(pc->file);
        int wr = write_sf(path, pc->format, pc->channels, pc->rate, pc->bits ? ints : NULL, floats,
                          frames);
        CHECK(wr == 0, "writing %s: %s", pc->file, sf_strerror(NULL));
        ptts_err e = {0};
        size_t n = 0;
        int rate = 0;
        float *got = read_both(path, &n, &rate, &e);
        CHECK(got && n == frames && rate == pc->rate, "%s: %s (n=%zu rate=%d)", pc->file, e.msg, n,
              rate);
        if (got && n == frames) {
            double d = max_abs_diff(got, want, frames);
            CHECK(d == 0, "%s: max diff %g", pc->file, d);
            if (pc->bits == 16 && pc->channels == 1)
                CHECK(got[0] == -1.0f && got[1] == 32767 / 32768.0f && got[3] == -1 / 32768.0f,
                      "%s: 16-bit scale is not s/32768", pc->file);
        }
        free(got);
        free(ints);
        free(floats);
        free(want);
        unlink(path);
    }
}

/* ---- lossy formats: a sine keeps its frequency and amplitude ---- */

/* Amplitude of the component at freq over x[from, to), by projection. */
static double tone_amplitude(const float *x, size_t from, size_t to, double freq, int rate) {
    double s = 0, c = 0;
    for (size_t i = from; i < to; i++) {
        double ph = 2 * M_PI * freq * (double)i / rate;
        s += x[i] * sin(ph);
        c += x[i] * cos(ph);
    }
    return 2 * sqrt(s * s + c * c) / (double)(to - from);
}

static void test_lossy(void) {
    const struct {
        const char *file;
        int format, rate;
    } cases[] = {
        {"tone.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 48000},
        {"tone.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000},
        {"tone.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100},
        {"tone24k.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 24000}, /* MPEG-2 */
        {"tone8k.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 8000},   /* MPEG-2.5 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int rate = cases[c].rate;
        size_t frames = (size_t)rate; /* 1 s */
        float *x = malloc(frames * sizeof *x);
        for (size_t i = 0; i < frames; i++)
            x[i] = 0.5f * (float)sin(2 * M_PI * 440.0 * i / rate);
        const char *path = tmp_path(cases[c].file);
        SF_INFO chk = {.samplerate = rate, .channels = 1, .format = cases[c].format};
        if (!sf_format_check(&chk)) {
            printf("%s: libsndfile cannot write this format here; skipped\n", cases[c].file);
            free(x);
            continue;
        }
        CHECK(write_sf(path, cases[c].format, 1, rate, NULL, x, frames) == 0, "writing %s: %s",
              cases[c].file, sf_strerror(NULL));
        ptts_err e = {0};
        size_t n = 0;
        int r = 0;
        float *got = read_both(path, &n, &r, &e);
        CHECK(got && r == rate, "%s: %s", cases[c].file, e.msg);
        if (got) {
            /* Codecs may add or trim up to a frame of priming/padding at the ends. */
            CHECK(n + 2400 >= frames && n <= frames + 2400, "%s: %zu samples of %zu", cases[c].file,
                  n, frames);
            size_t to = (n < frames ? n : frames) - (size_t)rate / 10;
            double amp = tone_amplitude(got, (size_t)rate / 10, to, 440.0, rate);
            double peak = 0;
            for (size_t i = 0; i < n; i++)
                peak = fmax(peak, fabs(got[i]));
            /* Opus overshoots a little while its pre-roll settles. */
            CHECK(fabs(amp - 0.5) < 0.02 && peak < 0.7, "%s: amplitude %.4f peak %.4f",
                  cases[c].file, amp, peak);
            printf("%s: %zu samples (wrote %zu), 440 Hz amplitude %.4f (wrote 0.5), peak %.4f\n",
                   cases[c].file, n, frames, amp, peak);
        }
        free(got);
        free(x);
        unlink(path);
    }
}

/* ---- resampling ---- */

static void test_resample(void) {
    ptts_err e = {0};
    const int rin = 44100, rout = 24000;
    const double freq = 1000.0, amp = 0.8;
    size_t n = (size_t)rin; /* 1 s */
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(amp * sin(2 * M_PI * freq * i / rin));
    float *y = NULL;
    size_t ny = 0;
    CHECK(audio_resample(x, n, rin, rout, &y, &ny, &e) == PTTS_OK, "%s", e.msg);
    CHECK(ny == (size_t)rout, "%zu samples out", ny);
    if (y && ny == (size_t)rout) {
        /* Against the ideal sine at the new rate (same phase: no delay), away from the
         * ends where the filter sees the signal start and stop. */
        double maxerr = 0;
        for (size_t i = 1000; i < ny - 1000; i++)
            maxerr = fmax(maxerr, fabs(y[i] - amp * sin(2 * M_PI * freq * i / rout)));
        double a = tone_amplitude(y, 1200, 1200 + 24 * 900, freq, rout); /* 900 periods */
        CHECK(maxerr < 1e-5 && fabs(a - amp) < 1e-5, "44100->24000: max error %.3g, amp %.7f",
              maxerr, a);
        printf("resample 44100->24000, 1 kHz sine 0.8: max |error| %.3g vs the ideal sine, "
               "amplitude %.7f\n",
               maxerr, a);
    }
    free(y);
    /* Upsampling, and a length that is not a whole number of output samples. */
    CHECK(audio_resample(x, 1001, rin, 48000, &y, &ny, &e) == PTTS_OK && ny >= 1089 && ny <= 1090,
          "%zu", ny);
    free(y);
    /* Equal rates: an exact copy. */
    CHECK(audio_resample(x, n, rin, rin, &y, &ny, &e) == PTTS_OK && ny == n &&
          !memcmp(x, y, n * sizeof *x));
    free(y);
    CHECK(audio_resample(x, 0, rin, rout, &y, &ny, &e) == PTTS_OK && ny == 0);
    free(y);
    CHECK(audio_resample(x, n, 0, rout, &y, &ny, &e) == PTTS_ERR_INVALID_ARG && !y);
    CHECK(audio_resample(x, n, rin, -5, &y, &ny, &e) == PTTS_ERR_INVALID_ARG && !y);
    free(x);
}

/* ---- the test voice against the reference's reading ---- */

static void test_voice_fixture(void) {
    ptts_err e = {0};
    size_t n = 0;
    int rate = 0;
    float *a = read_both(fixture("golden/tiny/voice.wav"), &n, &rate, &e);
    CHECK(a && rate == 24000, "%s", e.msg);
    st_file *f = NULL;
    float *ref = NULL;
    CHECK(st_open(&f, fixture("golden/tiny/mimi_encode.safetensors"), &e) == PTTS_OK, "%s", e.msg);
    if (f) CHECK(st_load_f32(f, "audio", 1, (int64_t[]){-1}, &ref, &e) == PTTS_OK, "%s", e.msg);
    if (a && ref) {
        size_t nref = (size_t)st_find(f, "audio")->numel;
        CHECK(n == nref, "%zu samples, reference %zu", n, nref);
        double d = max_abs_diff(a, ref, n < nref ? n : nref);
        CHECK(d == 0, "voice.wav differs from the reference by %g", d);
        printf("voice.wav: %zu samples at %d Hz, max |diff| vs mimi_encode audio = %g\n", n, rate,
               d);
    }
    free(ref);
    st_close(f);
    free(a);
    /* Keeping the first 0.5 s. */
    CHECK(audio_read_file_max(fixture("golden/tiny/voice.wav"), 0.5, &a, &n, &rate, &e) ==
                  PTTS_OK &&
              n == 12000,
          "%zu", n);
    free(a);
}

/* ---- errors, truncations, byte flips ---- */

/* Reads buf from memory: nothing may be printed, and on success the samples must be
 * finite and, when prefix is given, equal its first n samples. Returns the status. */
static int read_checked(const uint8_t *buf, size_t len, const float *prefix, size_t prefix_n) {
    ptts_err e = {0};
    float *s = NULL;
    size_t n = 0;
    int rate = 0;
    stderr_begin();
    int rc = audio_read_memory(buf, len, &s, &n, &rate, &e);
    long printed = stderr_end();
    CHECK(printed == 0, "%ld bytes printed to stderr (rc %d: %s)", printed, rc, e.msg);
    if (rc) {
        CHECK(!s && !n && e.msg[0] && !strchr(e.msg, '\n'), "rc %d", rc);
        return rc;
    }
    int finite = n > 0;
    for (size_t i = 0; i < n; i++)
        finite &= isfinite(s[i]);
    CHECK(finite, "non-finite or empty output");
    if (prefix) CHECK(n <= prefix_n && !memcmp(s, prefix, n * sizeof *s), "not a prefix");
    free(s);
    return rc;
}

static void test_errors(void) {
    ptts_err e = {0};
    float *s = (float *)1;
    size_t n = 1;
    int rate = 0;
    int rc = audio_read_file("tests/fixtures/no_such.wav", &s, &n, &rate, &e);
    CHECK(rc == PTTS_ERR_IO && !s && !n && strstr(e.msg, "no_such.wav") &&
              strstr(e.msg, "No such file"),
          "%s", e.msg);
    printf("missing file: %s\n", e.msg);
    rc = audio_read_file(fixture("README.md"), &s, &n, &rate, &e);
    CHECK(rc == PTTS_ERR_FORMAT && strstr(e.msg, "README.md"), "%s", e.msg);
    printf("not audio: %s\n", e.msg);
    rc = audio_read_file("tests", &s, &n, &rate, &e);
    CHECK(rc != PTTS_OK && !s, "%s", e.msg);
    CHECK(audio_read_memory("", 0, &s, &n, &rate, &e) == PTTS_ERR_FORMAT);
    CHECK(audio_read_memory("RIFF", 4, &s, &n, &rate, &e) == PTTS_ERR_FORMAT);

    /* A valid WAV with no samples. */
    const char *path = tmp_path("empty.wav");
    CHECK(write_sf(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 24000, (int[]){0}, NULL, 0) == 0);
    rc = audio_read_file(path, &s, &n, &rate, &e);
    CHECK(rc == PTTS_ERR_FORMAT && strstr(e.msg, "no samples"), "%s", e.msg);
    printf("zero-length audio: %s\n", e.msg);
    /* A float WAV holding NaN. */
    path = tmp_path("nan.wav");
    CHECK(write_sf(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 24000, NULL, (float[]){0, NAN, 1},
                   3) == 0);
    rc = audio_read_file(path, &s, &n, &rate, &e);
    CHECK(rc == PTTS_ERR_FORMAT && strstr(e.msg, "not finite"), "%s", e.msg);
    /* An absurd sample rate. */
    path = tmp_path("rate.wav");
    CHECK(write_sf(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 10, (int[]){0, 1 << 16}, NULL, 2) ==
          0);
    rc = audio_read_file(path, &s, &n, &rate, &e);
    CHECK(rc == PTTS_ERR_UNSUPPORTED && strstr(e.msg, "10 Hz"), "%s", e.msg);
    unlink(tmp_path("empty.wav"));
    unlink(tmp_path("nan.wav"));
    unlink(path);

    /* Small files of each kind: every truncation (a sampled set for the lossy ones) and
     * byte flips at every position. */
    const struct {
        const char *file;
        int format, exact_prefix, trunc_step;
    } kinds[] = {
        {"t.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 1},
        {"t24x.wav", SF_FORMAT_WAVEX | SF_FORMAT_PCM_24, 1, 1},
        {"tf.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 1},
        {"t.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1, 1},
        {"t.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 0, 7},
        {"t.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 0, 7},
    };
    const size_t frames = 400;
    float x[400];
    for (size_t i = 0; i < frames; i++)
        x[i] = (float)(0.6 * sin(i * 0.07) + 0.2 * sin(i * 0.9));
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        path = tmp_path(kinds[k].file);
        CHECK(write_sf(path, kinds[k].format, 1, 24000, NULL, x, frames) == 0, "%s", kinds[k].file);
        size_t len = 0;
        uint8_t *buf = (uint8_t *)read_file(path, &len);
        float *full = NULL;
        size_t nfull = 0;
        rc = audio_read_memory(buf, len, &full, &nfull, &rate, &e);
        CHECK(rc == PTTS_OK, "%s: %s", kinds[k].file, e.msg);
        const float *prefix = kinds[k].exact_prefix ? full : NULL;
        int errors = 0, reads = 0;
        for (size_t l = 0; l < len; l += (size_t)kinds[k].trunc_step, reads++)
            errors += read_checked(buf, l, prefix, nfull) != PTTS_OK;
        printf("%s (%zu bytes): truncations %d refused, %d read%s;", kinds[k].file, len, errors,
               reads - errors, prefix ? " a prefix" : "");
        uint8_t *copy = malloc(len);
        uint32_t seed = 99;
        errors = reads = 0;
        for (size_t i = 0; i < len; i += 1 + (len > 2000) * 3, reads += 2) {
            for (int m = 0; m < 2; m++) {
                memcpy(copy, buf, len);
                copy[i] ^= m ? (uint8_t)(lcg_next(&seed) | 1) : 0xFF;
                errors += read_checked(copy, len, NULL, 0) != PTTS_OK;
            }
        }
        printf(" byte flips %d refused, %d read\n", errors, reads - errors);
        free(copy);
        free(full);
        free(buf);
        unlink(path);
    }
}

/* ---- MP3 specifics: channel mix, early stop, ID3 tags, routing ---- */

/* Reads buf from memory, expecting success; returns the samples (n, rate set). */
static float *read_mem(const void *buf, size_t len, double max_seconds, size_t *n, int *rate) {
    ptts_err e = {0};
    float *s = NULL;
    int rc = audio_read_memory_max(buf, len, max_seconds, &s, n, rate, &e);
    CHECK(rc == PTTS_OK, "%s", e.msg);
    return s;
}

/* Whether libsndfile takes the first bytes of the file at fd for a format of its own
 * (its MPEG test fires even where its open then fails). */
static int sndfile_recognises(int fd) {
    lseek(fd, 0, SEEK_SET);
    SF_INFO info = {0};
    /* libsndfile closes the descriptor it is given when the open fails. */
    SNDFILE *snd = sf_open_fd(dup(fd), SFM_READ, &info, SF_TRUE);
    int yes = snd || !strstr(sf_strerror(NULL), "not recognised");
    if (snd) sf_close(snd);
    return yes;
}

static void test_mp3(void) {
    /* Stereo: L = a + b, R = a - b, so the mono mix keeps a (440 Hz) and drops b. */
    const int rate = 44100;
    const size_t frames = (size_t)rate;
    float *x = malloc(2 * frames * sizeof *x);
    for (size_t i = 0; i < frames; i++) {
        float a = 0.5f * (float)sin(2 * M_PI * 440.0 * i / rate);
        float b = 0.3f * (float)sin(2 * M_PI * 1000.0 * i / rate);
        x[2 * i] = a + b;
        x[2 * i + 1] = a - b;
    }
    const char *path = tmp_path("stereo.mp3");
    CHECK(write_sf(path, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 2, rate, NULL, x, frames) == 0,
          "writing stereo.mp3: %s", sf_strerror(NULL));
    free(x);
    size_t len = 0, n = 0, nk = 0;
    int r = 0;
    uint8_t *mp3 = (uint8_t *)read_file(path, &len);
    ptts_err e = {0};
    float *all = read_both(path, &n, &r, &e);
    CHECK(all && r == rate && n + 2400 >= frames && n <= frames + 2400, "%s (n=%zu)", e.msg, n);
    if (!all || !mp3) {
        free(all);
        free(mp3);
        return;
    }
    size_t to = (n < frames ? n : frames) - (size_t)rate / 10;
    double a440 = tone_amplitude(all, (size_t)rate / 10, to, 440.0, rate);
    double a1k = tone_amplitude(all, (size_t)rate / 10, to, 1000.0, rate);
    CHECK(fabs(a440 - 0.5) < 0.02 && a1k < 0.01, "stereo.mp3 mix: 440 Hz %.4f, 1 kHz %.4f", a440,
          a1k);
    printf("stereo.mp3: %zu samples, mono mix 440 Hz amplitude %.4f (0.5), 1 kHz %.4f (0)\n", n,
           a440, a1k);

    /* max_seconds stops at exactly that many samples, a prefix of the whole. */
    float *part = read_mem(mp3, len, 0.25, &nk, &r);
    CHECK(part && nk == (size_t)rate / 4 && !memcmp(part, all, nk * sizeof *part), "0.25 s: %zu",
          nk);
    free(part);
    CHECK(audio_read_file_max(path, 0.25, &part, &nk, &r, &e) == PTTS_OK &&
              nk == (size_t)rate / 4 && !memcmp(part, all, nk * sizeof *part),
          "0.25 s from the file: %zu %s", nk, e.msg);
    free(part);

    /* Two ID3v2.3 tags in front (a title frame, then an empty tag) change nothing. */
    static const uint8_t tags[] = {'I', 'D', '3', 3,   0,   0, 0, 0, 0, 16,  'T', 'I',
                                   'T', '2', 0,   0,   0,   6, 0, 0, 0, 'v', 'o', 'i',
                                   'c', 'e', 'I', 'D', '3', 4, 0, 0, 0, 0,   0,   0};
    uint8_t *tagged = malloc(sizeof tags + len);
    memcpy(tagged, tags, sizeof tags);
    memcpy(tagged + sizeof tags, mp3, len);
    part = read_mem(tagged, sizeof tags + len, 0, &nk, &r);
    CHECK(part && nk == n && !memcmp(part, all, n * sizeof *part), "ID3-tagged: %zu of %zu", nk, n);
    free(part);

    /* Garbage behind a tag, without and with a frame header: a clean error or samples,
     * and not a byte printed. */
    uint32_t seed = 5;
    for (size_t i = sizeof tags; i < sizeof tags + len; i++)
        tagged[i] = (uint8_t)lcg_next(&seed);
    tagged[sizeof tags] = 0;
    CHECK(read_checked(tagged, sizeof tags + len, NULL, 0) == PTTS_ERR_FORMAT);
    memcpy(tagged + sizeof tags, mp3, 4);
    read_checked(tagged, sizeof tags + len, NULL, 0);
    /* Frames with every other byte garbled. */
    for (size_t i = sizeof tags + 4; i < sizeof tags + len; i += 2)
        tagged[i] = (uint8_t)lcg_next(&seed);
    int rc = read_checked(tagged, sizeof tags + len, NULL, 0);
    printf("MP3 garbled behind an ID3 tag: %s\n", rc ? "refused" : "read");
    free(tagged);
    free(all);
    free(mp3);
    unlink(path);

    /* libmpg123 gets all that libsndfile would have handed it: every 4-byte header
     * FF xx yy exactly when libsndfile's own test takes it for MPEG, and anything behind
     * an ID3 tag (libsndfile skips tags in ways of its own). */
    path = tmp_path("head.bin");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    uint8_t buf[64];
    int agree = 0, total = 0, mpeg = 0;
    stderr_begin(); /* libsndfile's own libmpg123 prints here */
    for (int tag = 0; tag < 2; tag++) {
        for (int b = 0; b < 65536; b += tag ? 7 : 1, total++) {
            memset(buf, 0, sizeof buf);
            if (tag) memcpy(buf, "ID3\3", 4);
            uint8_t *h = buf + 10 * tag;
            h[0] = 0xFF, h[1] = (uint8_t)(b >> 8), h[2] = (uint8_t)b, h[3] = 0xC4;
            CHECK(pwrite(fd, buf, sizeof buf, 0) == (ssize_t)sizeof buf);
            audio_src src = {-1, buf, sizeof buf}, fsrc = {fd, NULL, 0};
            int ours = audio_mp3_detect(&src);
            agree +=
                (tag ? ours : ours == sndfile_recognises(fd)) && ours == audio_mp3_detect(&fsrc);
            mpeg += ours;
        }
    }
    stderr_end();
    close(fd);
    unlink(path);
    CHECK(agree == total, "MPEG detection differs from libsndfile's on %d of %d headers",
          total - agree, total);
    printf("MPEG detection agrees with libsndfile's on %d of %d headers (%d MPEG)\n", agree, total,
           mpeg);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_lossless();
    test_lossy();
    test_mp3();
    test_resample();
    test_voice_fixture();
    test_errors();
    rmdir(tmpdir);
    TEST_END();
}
