/* End-to-end benchmark of a model through the public API, for each thread count and weight
 * type (f32, int8): real-time factor over a whole text with EOS disabled (so that the text
 * alone fixes the length), time to first audio of a 10-word sentence with a voice file,
 * FlowLM step and codec frame times, voice-from-audio times for 5 / 10 / 30 s of audio, and
 * peak memory. Each configuration runs in its own child process so that peaks do not mix.
 * Prints a Markdown report on stdout, progress on stderr.
 *
 *   bench_tts (--model DIR | --config FILE | --language NAME) [--voice AUDIO]
 *             [--threads 1,2] [--weights f32,int8] [--quick]
 *
 * DIR holds config.yaml (bench/run.sh makes one with `pocket-tts debug random-model`);
 * --language loads a released model through the download cache. `make bench` builds it
 * (bench/Makefile.inc), or by hand from the repository root:
 *   cc -std=c17 -O2 -D_GNU_SOURCE -Iinclude bench/bench.c build/libpockettts.a \
 *      -o build/bench_tts -lcjson -lyaml -lunistring -lsndfile -lsoxr -lcurl -lcrypto \
 *      -lmicrohttpd -lm -pthread */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pocket_tts.h"

/* One chunk of about 45 tokens: 213 frames, 17 s of audio with EOS disabled. */
static const char LONG_TEXT[] =
    "The old lighthouse keeper climbed the spiral stairs every evening, counting each step as "
    "his father had taught him. Far below, the waves broke against the rocks with a patient, "
    "endless rhythm.";
static const char QUICK_TEXT[] =
    "The old lighthouse keeper climbed the spiral stairs every evening.";
static const char TEN_WORDS[] = "Please remember to bring your umbrella when you leave today.";
static const double VOICE_SECONDS[] = {5, 10, 30};
#define N_VOICE     3
#define TTFA_RUNS   3
#define MAX_CONFIGS 16

typedef struct result {
    int ok;
    char err[600];
    double load_s, voice_file_ms;
    double rtf, cpu_use; /* pipelined run (two_threads): audio s / wall s, CPU s / wall s */
    double rtf_seq;      /* the same text on one thread of work */
    double lm_step_ms, frame_ms;
    double audio_s;
    int frames;
    double ttfa_ms;                 /* median of TTFA_RUNS */
    double voice_s[N_VOICE];        /* voice state from audio, seconds */
    double rss_loaded_mb;           /* resident after loading the model and the voice */
    double rss_gen_mb, rss_peak_mb; /* peaks: after generation; at the end (voices from audio) */
    /* int8 vs f32 at temperature 0, relative RMS: the first latent (one step from the same
     * state), all latents and the audio (free-running, so differences compound) */
    double q8_first, q8_latents, q8_audio;
} result;

typedef struct bench_opts {
    ptts_model_options mo;
    char config[4096];
    const char *voice_audio;
    char voice_file[4096]; /* the exported voice, loaded by every configuration */
    const char *text;
    int quick;
} bench_opts;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_seconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + (double)u.ru_stime.tv_sec +
           u.ru_stime.tv_usec * 1e-6;
}

static double peak_rss_mb(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0; /* KiB on Linux */
}

static double rss_now_mb(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    if (f) fclose(f);
    return resident * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

static int fail(result *r, const char *what, const char *msg) {
    snprintf(r->err, sizeof r->err, "%s: %s", what, msg);
    return 1;
}

static int stop_at_first_audio(void *ud, const float *s, size_t n) {
    (void)ud, (void)s, (void)n;
    return 1;
}

/* Speech-like test audio (a gliding voiced tone with formant-ish partials and a little
 * noise): the encoder's cost does not depend on the content. */
static float *synth_audio(size_t n, int sample_rate) {
    float *x = malloc(n * sizeof *x);
    uint32_t s = 1;
    for (size_t i = 0; x && i < n; i++) {
        double t = (double)i / sample_rate, f0 = 140 * (1 + 0.1 * sin(2 * M_PI * 0.5 * t));
        double env = 0.5 + 0.5 * sin(2 * M_PI * 3 * t);
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(env * (0.3 * sin(2 * M_PI * f0 * t) + 0.1 * sin(2 * M_PI * 1100 * t)) +
                       0.02 * ((s >> 8) * 0x1p-24 - 0.5));
    }
    return x;
}

/* Child: one configuration, start to end. */
static int run_config(const bench_opts *o, int threads, int quantize, result *r) {
    char err[512];
    ptts_model_options mo = o->mo;
    mo.n_threads = threads;
    mo.quantize = quantize;
    ptts_model *m = NULL;
    ptts_voice *v = NULL;
    ptts_gen *g = NULL;
    double t = now();
    if (ptts_model_open(&m, &mo, err, sizeof err)) return fail(r, "model", err);
    r->load_s = now() - t;
    t = now();
    int rc = ptts_voice_load(m, o->voice_file, 0, &v, err, sizeof err);
    r->voice_file_ms = (now() - t) * 1e3;
    r->rss_loaded_mb = rss_now_mb();
    if (rc)
        rc = fail(r, "voice file", err);
    else if (ptts_gen_new(m, &g, err, sizeof err))
        rc = fail(r, "generation", err);
    ptts_gen_params p = ptts_gen_default_params();
    p.eos_threshold = 1e9f; /* never: each chunk runs to its length limit */
    ptts_gen_stats st;
    /* Warm-up (first-touch of scratch memory), then the time to first audio. */
    if (!rc && ptts_gen_run(g, v, "Hello.", &p, NULL, NULL))
        rc = fail(r, "warm-up", ptts_gen_errmsg(g));
    double ttfa[TTFA_RUNS] = {0};
    for (int i = 0; !rc && i < TTFA_RUNS; i++) {
        int grc = ptts_gen_run(g, v, TEN_WORDS, &p, stop_at_first_audio, NULL);
        ptts_gen_stats_get(g, &st);
        if (grc != PTTS_ERR_CANCELLED) rc = fail(r, "first audio", ptts_gen_errmsg(g));
        ttfa[i] = st.first_audio_ms;
        for (int j = i; j > 0 && ttfa[j] < ttfa[j - 1]; j--) {
            double x = ttfa[j];
            ttfa[j] = ttfa[j - 1];
            ttfa[j - 1] = x;
        }
    }
    r->ttfa_ms = ttfa[TTFA_RUNS / 2];
    /* Whole text, the two threads of the default pipeline (FlowLM | codec). */
    double c0 = cpu_seconds();
    if (!rc && ptts_gen_run(g, v, o->text, &p, NULL, NULL))
        rc = fail(r, "text", ptts_gen_errmsg(g));
    ptts_gen_stats_get(g, &st);
    r->rtf = st.audio_seconds / (st.wall_ms / 1e3);
    r->cpu_use = (cpu_seconds() - c0) / (st.wall_ms / 1e3);
    r->audio_s = st.audio_seconds;
    r->frames = st.n_frames;
    /* Again in sequence, for clean per-component times. */
    p.two_threads = 0;
    if (!rc && ptts_gen_run(g, v, o->text, &p, NULL, NULL))
        rc = fail(r, "text", ptts_gen_errmsg(g));
    ptts_gen_stats_get(g, &st);
    r->rtf_seq = st.audio_seconds / (st.wall_ms / 1e3);
    r->lm_step_ms = st.n_frames ? st.lm_ms / st.n_frames : 0;
    r->frame_ms = st.n_frames ? st.decode_ms / st.n_frames : 0;
    r->rss_gen_mb = peak_rss_mb();
    for (int i = 0; !rc && i < N_VOICE; i++) {
        if (o->quick && i) break;
        int sr = ptts_model_sample_rate(m);
        size_t n = (size_t)(VOICE_SECONDS[i] * sr);
        float *x = synth_audio(n, sr);
        ptts_voice *vv = NULL;
        t = now();
        if (!x)
            rc = fail(r, "voice from audio", "out of memory");
        else if (ptts_voice_from_samples(m, x, n, sr, &vv, err, sizeof err))
            rc = fail(r, "voice from audio", err);
        r->voice_s[i] = now() - t;
        ptts_voice_free(vv);
        free(x);
    }
    r->rss_peak_mb = peak_rss_mb();
    ptts_gen_free(g);
    ptts_voice_free(v);
    ptts_model_free(m);
    r->ok = !rc;
    return rc;
}

/* Growing buffer of floats (latents or audio) filled by the generation callbacks. */
typedef struct floats {
    float *v;
    size_t n, cap;
    int ldim; /* latents: values per frame */
} floats;

static int floats_add(floats *f, const float *x, size_t n) {
    if (f->n + n > f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 1 << 16;
        while (cap < f->n + n)
            cap *= 2;
        float *v = realloc(f->v, cap * sizeof(float));
        if (!v) return 1;
        f->v = v;
        f->cap = cap;
    }
    memcpy(f->v + f->n, x, n * sizeof(float));
    f->n += n;
    return 0;
}

static int on_audio_keep(void *ud, const float *s, size_t n) {
    return floats_add(ud, s, n);
}
static void on_latent_keep(void *ud, const float *x, int ldim) {
    ((floats *)ud)->ldim = ldim;
    floats_add(ud, x, (size_t)ldim);
}

/* Latents and audio of the text at temperature 0 with f32 or int8 weights. */
static int generate_det(const bench_opts *o, int quantize, floats *lat, floats *audio, result *r) {
    char err[512];
    ptts_model_options mo = o->mo;
    mo.quantize = quantize;
    ptts_model *m = NULL;
    ptts_voice *v = NULL;
    ptts_gen *g = NULL;
    int rc = 0;
    if (ptts_model_open(&m, &mo, err, sizeof err))
        rc = fail(r, "model", err);
    else if (ptts_voice_load(m, o->voice_file, 0, &v, err, sizeof err))
        rc = fail(r, "voice file", err);
    else if (ptts_gen_new(m, &g, err, sizeof err))
        rc = fail(r, "generation", err);
    ptts_gen_params p = ptts_gen_default_params();
    p.temperature = 0;
    p.eos_threshold = 1e9f;
    p.on_latent = on_latent_keep;
    p.latent_user_data = lat;
    if (!rc && ptts_gen_run(g, v, o->text, &p, on_audio_keep, audio))
        rc = fail(r, "text", ptts_gen_errmsg(g));
    ptts_gen_free(g);
    ptts_voice_free(v);
    ptts_model_free(m);
    return rc;
}

static double rel_rms(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : 0;
}

/* Child: how far --quantize moves the latents and the audio (the same text, temperature 0). */
static int accuracy(const bench_opts *o, result *r) {
    floats lat[2] = {{0}}, audio[2] = {{0}};
    int rc = generate_det(o, 0, &lat[0], &audio[0], r);
    if (!rc) rc = generate_det(o, 1, &lat[1], &audio[1], r);
    if (!rc && (lat[0].n != lat[1].n || audio[0].n != audio[1].n))
        rc = fail(r, "accuracy", "int8 and f32 gave different lengths");
    if (!rc) {
        r->q8_first = rel_rms(lat[1].v, lat[0].v, (size_t)lat[0].ldim);
        r->q8_latents = rel_rms(lat[1].v, lat[0].v, lat[0].n);
        r->q8_audio = rel_rms(audio[1].v, audio[0].v, audio[0].n);
    }
    for (int i = 0; i < 2; i++) {
        free(lat[i].v);
        free(audio[i].v);
    }
    r->ok = !rc;
    return rc;
}

/* Child: the voice of the audio file, saved for the configurations to load. */
static int export_voice(const bench_opts *o, result *r) {
    char err[512];
    ptts_model *m = NULL;
    ptts_voice *v = NULL;
    int rc = 0;
    if (ptts_model_open(&m, &o->mo, err, sizeof err))
        rc = fail(r, "model", err);
    else if (ptts_voice_load(m, o->voice_audio, 30, &v, err, sizeof err))
        rc = fail(r, "voice", err);
    else if (ptts_voice_save(v, o->voice_file, err, sizeof err))
        rc = fail(r, "voice save", err);
    ptts_voice_free(v);
    ptts_model_free(m);
    r->ok = !rc;
    return rc;
}

enum { JOB_EXPORT_VOICE, JOB_CONFIG, JOB_ACCURACY };

/* Runs a job in a child process and collects its result. */
static void in_child(const bench_opts *o, int job, int threads, int quantize, result *r) {
    memset(r, 0, sizeof *r);
    int fds[2];
    if (pipe(fds)) {
        snprintf(r->err, sizeof r->err, "pipe: %s", strerror(errno));
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(r->err, sizeof r->err, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        result mine;
        memset(&mine, 0, sizeof mine);
        if (job == JOB_EXPORT_VOICE)
            export_voice(o, &mine);
        else if (job == JOB_ACCURACY)
            accuracy(o, &mine);
        else
            run_config(o, threads, quantize, &mine);
        ssize_t w = write(fds[1], &mine, sizeof mine);
        _exit(w == (ssize_t)sizeof mine ? 0 : 1);
    }
    close(fds[1]);
    size_t got = 0;
    while (got < sizeof *r) {
        ssize_t n = read(fds[0], (char *)r + got, sizeof *r - got);
        if (n <= 0 && !(n < 0 && errno == EINTR)) break;
        if (n > 0) got += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != sizeof *r) {
        memset(r, 0, sizeof *r);
        snprintf(r->err, sizeof r->err, "the child died (status %d)", status);
    }
}

/* "model name" of /proc/cpuinfo, its SIMD flags, and the memory. */
static void machine(char *out, size_t cap) {
    char line[4096], model[256] = "unknown CPU", flags[128] = "";
    long mem_kb = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *v = strchr(line, ':');
        if (!v) continue;
        v += 1 + (v[1] == ' ');
        v[strcspn(v, "\n")] = 0;
        if (!strncmp(line, "model name", 10) && !strcmp(model, "unknown CPU"))
            snprintf(model, sizeof model, "%s", v);
        if (!strncmp(line, "flags", 5) && !*flags) {
            static const char *const want[] = {" avx2", " fma", " avx512f", " avx512_vnni",
                                               " avx512_bf16"};
            for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
                const char *p = strstr(v - 1, want[i]);
                size_t k = strlen(want[i]);
                if (p && (p[k] == ' ' || !p[k]))
                    snprintf(flags + strlen(flags), sizeof flags - strlen(flags), "%s", want[i]);
            }
        }
    }
    if (f) fclose(f);
    f = fopen("/proc/meminfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %ld kB", &mem_kb) == 1) break;
    if (f) fclose(f);
    double load = 0;
    f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf", &load) != 1) load = 0;
    if (f) fclose(f);
    snprintf(out, cap, "%s, %ld cores (%s), %.1f GiB RAM; load average %.2f when started", model,
             sysconf(_SC_NPROCESSORS_ONLN), *flags ? flags + 1 : "no AVX2", mem_kb / 1048576.0,
             load);
}

static int parse_list(const char *s, const char *const *names, int *out, int max) {
    int n = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == max) return -1;
        char *end;
        long v = strtol(tok, &end, 10);
        if (names) {
            v = -1;
            for (int i = 0; names[i]; i++)
                if (!strcmp(tok, names[i])) v = i;
            if (v < 0) return -1;
        } else if (*end || v < 1 || v > 256) {
            return -1;
        }
        out[n++] = (int)v;
    }
    return n;
}

static int usage(void) {
    fprintf(stderr,
            "usage: bench_tts (--model DIR | --config FILE | --language NAME) [--voice AUDIO]\n"
            "                 [--threads 1,2] [--weights f32,int8] [--quick]\n");
    return 2;
}

int main(int argc, char **argv) {
    bench_opts o;
    memset(&o, 0, sizeof o);
    o.mo = ptts_model_default_options();
    o.voice_audio = "tests/fixtures/golden/tiny/voice.wav";
    o.text = LONG_TEXT;
    const char *threads_arg = "1,2", *weights_arg = "f32,int8", *source = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) {
            o.quick = 1;
            o.text = QUICK_TEXT;
            continue;
        }
        if (!v) return usage();
        i++;
        if (!strcmp(a, "--model"))
            snprintf(o.config, sizeof o.config, "%s/config.yaml", v), source = v;
        else if (!strcmp(a, "--config"))
            snprintf(o.config, sizeof o.config, "%s", v), source = v;
        else if (!strcmp(a, "--language"))
            o.mo.language = source = v;
        else if (!strcmp(a, "--voice"))
            o.voice_audio = v;
        else if (!strcmp(a, "--threads"))
            threads_arg = v;
        else if (!strcmp(a, "--weights"))
            weights_arg = v;
        else
            return usage();
    }
    if (!source) return usage();
    if (*o.config) o.mo.config_path = o.config;
    static const char *const weight_names[] = {"f32", "int8", NULL};
    int threads[MAX_CONFIGS], weights[2];
    int n_threads = parse_list(threads_arg, NULL, threads, MAX_CONFIGS);
    int n_weights = parse_list(weights_arg, weight_names, weights, 2);
    if (n_threads <= 0 || n_weights <= 0) return usage();

    char tmpdir[] = "/tmp/ptts_bench_XXXXXX";
    if (!mkdtemp(tmpdir)) return perror("mkdtemp"), 1;
    snprintf(o.voice_file, sizeof o.voice_file, "%s/voice.safetensors", tmpdir);
    char mach[512];
    machine(mach, sizeof mach);
    fprintf(stderr, "exporting the voice of %s\n", o.voice_audio);
    result r;
    double t = now();
    in_child(&o, JOB_EXPORT_VOICE, 0, 0, &r);
    double export_s = now() - t;
    if (!r.ok) {
        fprintf(stderr, "bench: %s\n", r.err);
        rmdir(tmpdir);
        return 1;
    }
    result res[2 * MAX_CONFIGS];
    int n = 0;
    for (int w = 0; w < n_weights; w++)
        for (int k = 0; k < n_threads; k++, n++) {
            fprintf(stderr, "running %d thread%s, %s\n", threads[k], threads[k] > 1 ? "s" : "",
                    weight_names[weights[w]]);
            in_child(&o, JOB_CONFIG, threads[k], weights[w], &res[n]);
            if (!res[n].ok) fprintf(stderr, "  failed: %s\n", res[n].err);
        }
    result acc = {0};
    if (n_weights == 2) {
        fprintf(stderr, "comparing int8 with f32 at temperature 0\n");
        in_child(&o, JOB_ACCURACY, 0, 0, &acc);
        if (!acc.ok) fprintf(stderr, "  failed: %s\n", acc.err);
    }
    unlink(o.voice_file);
    rmdir(tmpdir);

    printf("## pocket-tts benchmark\n\n");
    printf("- Machine: %s\n", mach);
    printf("- Model: %s; voice: %s exported to a voice file in %.1f s (model load included)\n",
           source, o.voice_audio, export_s);
    printf("- Text: %zu characters, EOS disabled: %d frames = %.1f s of audio per run\n",
           strlen(o.text), res[0].frames, res[0].audio_s);
    printf("- Real-time factor = audio seconds / wall seconds (higher is faster); \"pipelined\" is "
           "the default generation (FlowLM and codec on two threads), \"sequential\" one thread "
           "of work, whose lm_ms and decode_ms give the step times; CPU use = CPU seconds / wall "
           "seconds of the pipelined run. First audio: a 10-word sentence, median of %d, warm "
           "model. RSS loaded: resident after loading; peaks from getrusage.\n\n",
           TTFA_RUNS);
    printf("| threads | weights | RTF pipelined | CPU use | RTF sequential | first audio ms | "
           "FlowLM step ms | codec frame ms |\n|---|---|---|---|---|---|---|---|\n");
    n = 0;
    for (int w = 0; w < n_weights; w++)
        for (int k = 0; k < n_threads; k++, n++) {
            const result *x = &res[n];
            printf("| %d | %s |", threads[k], weight_names[weights[w]]);
            if (!x->ok)
                printf(" failed: %s |\n", x->err);
            else
                printf(" %.2f | %.2f | %.2f | %.0f | %.1f | %.1f |\n", x->rtf, x->cpu_use,
                       x->rtf_seq, x->ttfa_ms, x->lm_step_ms, x->frame_ms);
        }
    printf("\n| threads | weights | model load s | voice file ms |");
    for (int i = 0; i < N_VOICE && !(o.quick && i); i++)
        printf(" voice from %g s, s |", VOICE_SECONDS[i]);
    printf(" RSS loaded MB | peak RSS gen MB | peak RSS MB |\n|---|---|---|---|");
    for (int i = 0; i < N_VOICE && !(o.quick && i); i++)
        printf("---|");
    printf("---|---|---|\n");
    n = 0;
    for (int w = 0; w < n_weights; w++)
        for (int k = 0; k < n_threads; k++, n++) {
            const result *x = &res[n];
            if (!x->ok) continue;
            printf("| %d | %s | %.2f | %.1f |", threads[k], weight_names[weights[w]], x->load_s,
                   x->voice_file_ms);
            for (int i = 0; i < N_VOICE && !(o.quick && i); i++)
                printf(" %.2f |", x->voice_s[i]);
            printf(" %.0f | %.0f | %.0f |\n", x->rss_loaded_mb, x->rss_gen_mb, x->rss_peak_mb);
        }
    if (acc.ok)
        printf("\nint8 (--quantize) against f32, the same text at temperature 0, relative RMS "
               "difference: first latent (one step from the same voice state) %.2e; free-running "
               "over %d frames (differences compound through the autoregression, more so with "
               "random weights): latents %.2e, audio %.2e.\n",
               acc.q8_first, res[0].frames, acc.q8_latents, acc.q8_audio);
    for (int i = 0; i < n; i++)
        if (!res[i].ok) return 1;
    return n_weights == 2 && !acc.ok;
}
