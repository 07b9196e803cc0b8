#include "cli/cli_common.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_STDIN (64u << 20) /* a text larger than this is a mistake */

/* The progress line, drawn on a terminal only. Logs arrive from the generation's worker
 * thread too, so its state and every multi-part write to stderr go under this lock. */
static pthread_mutex_t stderr_lock = PTHREAD_MUTEX_INITIALIZER;
static int progress_visible;
static double progress_last;

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* With stderr_lock held. */
static void clear_progress(void) {
    if (progress_visible) fputs("\r\033[K", stderr);
    progress_visible = 0;
}

void cli_progress_end(void) {
    pthread_mutex_lock(&stderr_lock);
    clear_progress();
    pthread_mutex_unlock(&stderr_lock);
}

void cli_progress(const char *fmt, ...) {
    if (!isatty(STDERR_FILENO)) return;
    double t = cli_now();
    pthread_mutex_lock(&stderr_lock);
    if (!progress_visible || t - progress_last >= 0.1) {
        va_list ap;
        va_start(ap, fmt);
        fputs("\r\033[K", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fflush(stderr);
        progress_visible = 1;
        progress_last = t;
    }
    pthread_mutex_unlock(&stderr_lock);
}

/* Prints one line on stderr, in place of the progress line: prefix, then fmt. */
static void line(const char *prefix, const char *fmt, va_list ap) {
    pthread_mutex_lock(&stderr_lock);
    clear_progress();
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&stderr_lock);
}

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    line("pocket-tts: ", fmt, ap);
    va_end(ap);
    return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_fail("%s: %s (try pocket-tts %s --help)", cmd, msg, cmd);
    return 2;
}

void cli_info(int quiet, const char *fmt, ...) {
    if (quiet) return;
    va_list ap;
    va_start(ap, fmt);
    line("", fmt, ap);
    va_end(ap);
}

char *cli_read_stdin(void) {
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, stdin);
        if (n < cap - 1) break;
        char *nb = cap <= MAX_STDIN ? realloc(buf, cap * 2) : NULL;
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    if (!buf || ferror(stdin)) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

/* Stores the value v of option o; CLI_CONTINUE or the usage error's status. */
static int set_value(const char *cmd, const cli_opt *o, const char *v) {
    char *end;
    errno = 0;
    switch (o->kind) {
    case CLI_FLAG: *(int *)o->dst = 1; return CLI_CONTINUE;
    case CLI_STRING: *(const char **)o->dst = v; return CLI_CONTINUE;
    case CLI_INT: {
        long x = strtol(v, &end, 10);
        if (!*v || *end || errno || x < o->min || x > o->max)
            return cli_usage_error(cmd, "%s: '%s' is not a whole number from %.0f to %.0f", o->name,
                                   v, o->min, o->max);
        *(int *)o->dst = (int)x;
        return CLI_CONTINUE;
    }
    case CLI_DOUBLE: {
        double x = strtod(v, &end);
        if (!*v || *end || !isfinite(x))
            return cli_usage_error(cmd, "%s: '%s' is not a number", o->name, v);
        if (x < o->min || x > o->max)
            return cli_usage_error(cmd, "%s: %s is out of range (%g to %g)", o->name, v, o->min,
                                   o->max);
        *(double *)o->dst = x;
        return CLI_CONTINUE;
    }
    case CLI_U64: {
        unsigned long long x = strtoull(v, &end, 10);
        if (!*v || *end || errno || strchr(v, '-'))
            return cli_usage_error(cmd, "%s: '%s' is not a non-negative whole number", o->name, v);
        *(uint64_t *)o->dst = (uint64_t)x;
        return CLI_CONTINUE;
    }
    }
    return cli_usage_error(cmd, "%s: unhandled option kind", o->name);
}

int cli_parse(const char *cmd, const char *help, int argc, char **argv, const cli_opt *opts,
              int n_opts, const char **pos, int max_pos, int *n_pos) {
    int np = 0, options_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || !a[1]) { /* "-" alone is a positional argument */
            if (np == max_pos) return cli_usage_error(cmd, "unexpected argument '%s'", a);
            pos[np++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            options_done = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(help, stdout);
            return 0;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const cli_opt *o = NULL;
        for (int k = 0; k < n_opts && !o; k++)
            if ((strlen(opts[k].name) == len && !strncmp(a, opts[k].name, len)) ||
                (opts[k].alias && !strcmp(a, opts[k].alias)))
                o = &opts[k];
        if (!o) return cli_usage_error(cmd, "unknown option '%.*s'", (int)len, a);
        const char *v = NULL;
        if (o->kind == CLI_FLAG) {
            if (eq) return cli_usage_error(cmd, "%s takes no value", o->name);
        } else if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            return cli_usage_error(cmd, "%s needs a value", o->name);
        }
        int rc = set_value(cmd, o, v);
        if (rc != CLI_CONTINUE) return rc;
    }
    if (n_pos) *n_pos = np;
    return CLI_CONTINUE;
}

int cli_check_model_args(const char *cmd, const cli_model_args *a) {
    if (a->config && a->language)
        return cli_usage_error(cmd, "--config and --language exclude each other");
    return CLI_CONTINUE;
}

static void on_log(void *user_data, int level, const char *msg) {
    const int *quiet = user_data;
    if (level > PTTS_LOG_INFO || (*quiet && level > PTTS_LOG_ERROR)) return;
    const char *prefix = level == PTTS_LOG_ERROR  ? "error: "
                         : level == PTTS_LOG_WARN ? "warning: "
                                                  : "";
    cli_info(0, "%s%s", prefix, msg);
}

static int on_download(void *user_data, const char *what, uint64_t done, uint64_t total) {
    (void)user_data;
    if (total)
        cli_progress("downloading %s: %.1f / %.1f MB (%.0f%%)", what, done / 1e6, total / 1e6,
                     100.0 * (double)done / (double)total);
    else
        cli_progress("downloading %s: %.1f MB", what, done / 1e6);
    return 0;
}

int cli_open_model(const char *cmd, const cli_model_args *a, ptts_model **out) {
    *out = NULL;
    int rc = cli_check_model_args(cmd, a);
    if (rc != CLI_CONTINUE) return rc;
    ptts_model_options o = ptts_model_default_options();
    o.config_path = a->config;
    if (a->language) o.language = a->language;
    o.quantize = a->quantize;
    o.n_threads = a->threads;
    o.max_voice_bytes = a->max_voice_bytes;
    o.log = on_log;
    o.log_user_data = (void *)&a->quiet;
    if (!a->quiet) o.progress = on_download;
    double t0 = cli_now();
    char err[512];
    if (ptts_model_open(out, &o, err, sizeof err)) return cli_fail("%s", err);
    cli_progress_end();
    const char *name = a->config ? a->config : ptts_model_language(*out);
    cli_info(a->quiet, "loaded the model %s in %.2f s", name ? name : "", cli_now() - t0);
    return 0;
}

void cli_gen_args_init(cli_gen_args *g) {
    g->p = ptts_gen_default_params();
    g->temperature = g->p.temperature;
    g->noise_clamp = -1;
    g->eos_threshold = g->p.eos_threshold;
}

int cli_gen_args_finish(const char *cmd, cli_gen_args *g, const cli_model_args *ma) {
    if (g->noise_clamp == 0) return cli_usage_error(cmd, "--noise-clamp: must be above 0");
    g->p.temperature = (float)g->temperature;
    g->p.noise_clamp = g->noise_clamp > 0 ? (float)g->noise_clamp : 0;
    g->p.eos_threshold = (float)g->eos_threshold;
    g->p.two_threads = ma->threads != 1;
    return CLI_CONTINUE;
}
