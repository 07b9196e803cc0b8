/* What the pocket-tts commands share: option parsing, the model options every command that
 * loads a model takes, loading it with logs and download progress on stderr, a progress
 * line, and the error conventions: one line "pocket-tts: <message>" on stderr, exit status 1
 * for a failure and 2 for a usage error. */
#ifndef PTTS_CLI_COMMON_H
#define PTTS_CLI_COMMON_H

#include <stdint.h>

#include "pocket_tts.h"

/* cli_parse's "go on" result; any other value is the command's exit status. */
#define CLI_CONTINUE (-1)

typedef enum cli_kind {
    CLI_FLAG,   /* no value: sets the int to 1 */
    CLI_STRING, /* const char * (points into argv) */
    CLI_INT,    /* int within [min, max] */
    CLI_DOUBLE, /* finite double within [min, max] */
    CLI_U64,    /* uint64_t */
} cli_kind;

typedef struct cli_opt {
    const char *name;  /* "--max-tokens" */
    const char *alias; /* "-q", or NULL */
    cli_kind kind;
    void *dst;
    double min, max; /* the range of CLI_INT and CLI_DOUBLE values */
} cli_opt;

/* Parses argv[1..argc-1] of command cmd: options as "--name VALUE" or "--name=VALUE" (a
 * value may start with '-'), "--" ending the options, and up to max_pos positional
 * arguments into pos (*n_pos of them). -h/--help prints help to stdout and returns 0; a
 * usage error is reported and returns 2; otherwise CLI_CONTINUE. */
int cli_parse(const char *cmd, const char *help, int argc, char **argv, const cli_opt *opts,
              int n_opts, const char **pos, int max_pos, int *n_pos);

/* The model options of the commands that load one. */
typedef struct cli_model_args {
    const char *config;       /* --config FILE */
    const char *language;     /* --language NAME */
    int quantize;             /* --quantize (only the commands that offer it) */
    int threads;              /* --threads N, 0 = one per core */
    int quiet;                /* -q/--quiet: errors only */
    uint64_t max_voice_bytes; /* voice downloads past this are refused (serve); 0 = none */
} cli_model_args;

/* Table entries for cli_model_args a (all but --quantize), and their help lines. */
#define CLI_MODEL_OPTS(a)                                                                          \
    {"--config", NULL, CLI_STRING, &(a).config, 0, 0},                                             \
        {"--language", NULL, CLI_STRING, &(a).language, 0, 0},                                     \
        {"--threads", NULL, CLI_INT, &(a).threads, 0, 1024}, {                                     \
        "--quiet", "-q", CLI_FLAG, &(a).quiet, 0, 0                                                \
    }
#define CLI_MODEL_HELP                                                                             \
    "  --language NAME        a released model: english (default, = english_2026-04),\n"           \
    "                         english_2026-01, french_24l, german, german_24l, italian,\n"         \
    "                         italian_24l, portuguese, portuguese_24l, spanish, spanish_24l\n"     \
    "  --config FILE          a model config .yaml instead (not with --language)\n"                \
    "  --threads N            compute threads (default: one per core)\n"                           \
    "  -q, --quiet            print errors only\n"

/* The generation options of `generate` and `serve`: integers parse straight into p, the rest
 * through doubles checked by cli_gen_args_finish. */
typedef struct cli_gen_args {
    ptts_gen_params p;
    double temperature, noise_clamp, eos_threshold; /* noise_clamp < 0: not given */
} cli_gen_args;

void cli_gen_args_init(cli_gen_args *g);
#define CLI_GEN_OPTS(g)                                                                            \
    {"--lsd-decode-steps", NULL, CLI_INT, &(g).p.lsd_decode_steps, 1, 1000},                       \
        {"--temperature", NULL, CLI_DOUBLE, &(g).temperature, 0, 1e6},                             \
        {"--noise-clamp", NULL, CLI_DOUBLE, &(g).noise_clamp, 0, 1e30},                            \
        {"--eos-threshold", NULL, CLI_DOUBLE, &(g).eos_threshold, -1e30, 1e30},                    \
        {"--frames-after-eos", NULL, CLI_INT, &(g).p.frames_after_eos, 0, 1000000},                \
        {"--max-tokens", NULL, CLI_INT, &(g).p.max_tokens, 1, 1000000}, {                          \
        "--seed", NULL, CLI_U64, &(g).p.seed, 0, 0                                                 \
    }
/* Checks the values and completes g->p (two threads unless --threads 1): CLI_CONTINUE, or 2
 * after the usage error. */
int cli_gen_args_finish(const char *cmd, cli_gen_args *g, const cli_model_args *ma);

/* Checks the model options (--config and --language exclude each other): CLI_CONTINUE,
 * or 2 after the usage error. */
int cli_check_model_args(const char *cmd, const cli_model_args *a);
/* Loads the model, logging to stderr unless quiet, with download progress when stderr is a
 * terminal. The model logs through a->quiet: a must outlive it. Returns 0, or the exit
 * status after printing the error. */
int cli_open_model(const char *cmd, const cli_model_args *a, ptts_model **out);

/* Prints "pocket-tts: <message>" on stderr; returns 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "pocket-tts: CMD: <message> (try pocket-tts CMD --help)" on stderr; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An information line on stderr (unless quiet), after clearing the progress line. */
void cli_info(int quiet, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The whole of stdin as a string (free() it); NULL when it cannot be read. */
char *cli_read_stdin(void);

/* A one-line status shown in place on stderr when it is a terminal, redrawn at most ten
 * times a second; a no-op otherwise. cli_progress_end clears it. */
void cli_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_progress_end(void);

/* Seconds on a monotonic clock. */
double cli_now(void);

#endif
