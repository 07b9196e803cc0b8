/* pocket-tts serve: the HTTP server command (options, model, voices, lifetime). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "server/server.h"

static const char cmd[] = "serve";

static const char help[] =
    "usage: pocket-tts serve [OPTIONS]\n"
    "\n"
    "Serves text-to-speech over HTTP: a web page at /, GET /health, POST /tts (multipart\n"
    "form: text, voice_url or voice_wav; as the upstream server), POST /v1/audio/speech\n"
    "(OpenAI-style JSON: input, voice, response_format wav or pcm) and GET /v1/voices.\n"
    "Audio is streamed as it is generated.\n"
    "\n"
    "  --host HOST             address to listen on (default localhost; 0.0.0.0 = all)\n"
    "  --port N                port (default 8000; 0 = any free port, printed)\n"
    "  --workers N             generations run in parallel (default 2)\n"
    "  --queue N               requests that may wait for a worker; more get 503\n"
    "                          (default 16)\n"
    "  --voice [NAME=]VOICE    a voice loaded at startup (name, audio or .safetensors file,\n"
    "                          URL) that requests may use as NAME (letters, digits, _ and\n"
    "                          -); repeatable. The first is the default voice (otherwise\n"
    "                          the language's default voice).\n"
    "  --allow-remote-voices   let requests give http(s):// voice URLs (the server then\n"
    "                          fetches what clients point it to)\n"
    "  --voice-cache N         voice states kept in memory (default 16)\n"
    "  --max-text-chars N      longest text accepted (default 5000)\n"
    "  --max-upload-mb X       largest voice upload (default 20)\n"
    "  --max-voice-download-mb X  largest voice file fetched for a request (default 100)\n"
    "  --request-timeout S     a request's longest time, queueing included (default 300)\n"
    "  --temperature T, --lsd-decode-steps N, --noise-clamp X, --eos-threshold X,\n"
    "  --frames-after-eos N, --max-tokens N, --seed N\n"
    "                          generation settings, as for pocket-tts generate\n"
    "  --quantize              int8 weights for the FlowLM transformer (less "
    "memory)\n" CLI_MODEL_HELP "  -h, --help              this help\n";

/* NAME=SPEC when NAME is a plain name; else the whole of arg is the spec. */
static void split_voice(char *arg, const char **name, const char **spec) {
    char *eq = strchr(arg, '=');
    *name = NULL;
    *spec = arg;
    if (!eq || eq == arg) return;
    for (const char *c = arg; c < eq; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", *c))
            return; /* a path or URL that contains '=' */
    *eq = 0;
    *name = arg;
    *spec = eq + 1;
}

/* The signals that stop the server. */
static void stop_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

/* Moves every --voice value out of argv (cli_parse keeps one value per option), leaving
 * the other arguments in order in args. Returns the number of voices, or -1 (usage error
 * printed). */
static int take_voices(int argc, char **argv, char **args, int *nargs, char **voice_args) {
    int nv = 0, n = 0, options_done = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i > 0 && !options_done && !strcmp(a, "--")) options_done = 1;
        if (i > 0 && !options_done && !strncmp(a, "--voice", 7) && (!a[7] || a[7] == '=')) {
            if (a[7] == '=') {
                voice_args[nv++] = argv[i] + 8;
            } else if (i + 1 < argc) {
                voice_args[nv++] = argv[++i];
            } else {
                cli_usage_error(cmd, "--voice needs a value");
                return -1;
            }
            continue;
        }
        args[n++] = argv[i];
    }
    *nargs = n;
    return nv;
}

static int serve(ptts_model *m, voices *vs, const ptts_gen_params *p, int n_workers, int queue,
                 const char *host, int port, const srv_limits *lim, int quiet) {
    char err[512];
    workers *w = NULL;
    http_server *h = NULL;
    if (workers_start(&w, m, vs, p, n_workers, queue, err, sizeof err)) return cli_fail("%s", err);
    int bound = 0;
    if (http_start(&h, host, port, w, vs, lim, quiet, &bound, err, sizeof err)) {
        workers_stop(w);
        return cli_fail("%s", err);
    }
    /* Printed even with -q: with --port 0 it is the only way to learn the port. */
    int v6 = strchr(host, ':') != NULL; /* an IPv6 address goes in brackets in a URL */
    fprintf(stderr, "pocket-tts: serving on http://%s%s%s:%d (workers: %d, queue: %d)\n",
            v6 ? "[" : "", host, v6 ? "]" : "", bound, n_workers, queue);
    sigset_t stop;
    stop_signals(&stop);
    int sig = 0;
    sigwait(&stop, &sig);
    cli_info(quiet, "pocket-tts: stopping (%s)", sig == SIGINT ? "SIGINT" : "SIGTERM");
    /* No new connections; running and queued jobs are cancelled, which releases every
     * connection thread waiting on them; then the connections are closed. */
    http_quiesce(h);
    workers_stop(w);
    http_stop(h);
    return 0;
}

int cmd_serve(int argc, char **argv) {
    const char *host = "localhost";
    int port = 8000, n_workers = 2, queue = 16, cache = 16, allow_remote = 0;
    int max_text = 5000, timeout = 300;
    double max_upload_mb = 20, max_download_mb = 100;
    cli_model_args ma = {0};
    cli_gen_args ga;
    cli_gen_args_init(&ga);
    const cli_opt opts[] = {
        {"--host", NULL, CLI_STRING, &host, 0, 0},
        {"--port", NULL, CLI_INT, &port, 0, 65535},
        {"--workers", NULL, CLI_INT, &n_workers, 1, 256},
        {"--queue", NULL, CLI_INT, &queue, 0, 100000},
        {"--allow-remote-voices", NULL, CLI_FLAG, &allow_remote, 0, 0},
        {"--voice-cache", NULL, CLI_INT, &cache, 0, 100000},
        {"--max-text-chars", NULL, CLI_INT, &max_text, 1, 10000000},
        {"--max-upload-mb", NULL, CLI_DOUBLE, &max_upload_mb, 0.001, 4096},
        {"--max-voice-download-mb", NULL, CLI_DOUBLE, &max_download_mb, 0.001, 1 << 20},
        {"--request-timeout", NULL, CLI_INT, &timeout, 1, 86400 * 7},
        {"--quantize", NULL, CLI_FLAG, &ma.quantize, 0, 0},
        CLI_GEN_OPTS(ga),
        CLI_MODEL_OPTS(ma),
    };
    /* args: argv without the --voice options; voice_args[i] splits into names[i], specs[i]. */
    char **args = malloc((size_t)argc * sizeof *args),
         **voice_args = malloc((size_t)argc * sizeof *args);
    const char **names = malloc((size_t)argc * sizeof *names),
               **specs = malloc((size_t)argc * sizeof *specs);
    int nargs = 0, nv = -1, rc = 1;
    if (!args || !voice_args || !names || !specs)
        cli_fail("out of memory");
    else if ((nv = take_voices(argc, argv, args, &nargs, voice_args)) < 0)
        rc = 2;
    else
        rc = cli_parse(cmd, help, nargs, args, opts, sizeof opts / sizeof opts[0], NULL, 0, NULL);
    if (rc == CLI_CONTINUE) rc = cli_check_model_args(cmd, &ma);
    if (rc == CLI_CONTINUE) rc = cli_gen_args_finish(cmd, &ga, &ma);
    for (int i = 0; i < nv && rc == CLI_CONTINUE; i++) {
        split_voice(voice_args[i], &names[i], &specs[i]);
        if (!names[i] && i > 0)
            rc = cli_usage_error(
                cmd, "--voice %s: only the first voice may go without a NAME=", specs[i]);
    }
    free(args);
    free(voice_args); /* names and specs point into argv */
    if (rc != CLI_CONTINUE) {
        free(names);
        free(specs);
        return rc;
    }
    const ptts_gen_params p = ga.p;
    ma.max_voice_bytes = (uint64_t)(max_download_mb * (1 << 20));
    srv_limits lim = {
        .max_text_chars = max_text,
        .max_upload_bytes = (size_t)(max_upload_mb * (1 << 20)),
        /* Every worker busy with an upload, and two more arriving. */
        .body_budget = (size_t)(max_upload_mb * (1 << 20)) * (size_t)(n_workers + 2),
        .request_timeout_s = timeout,
        /* Those served, those queued, and room for quick requests and refusals. */
        .max_connections = n_workers + queue + 32,
    };

    /* Signals are taken by sigwait in this thread only: block them before any thread starts
     * (they inherit the mask). A closed socket must not kill the process. */
    sigset_t stop;
    stop_signals(&stop);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    ptts_model *m = NULL;
    voices *vs = NULL;
    int quiet = ma.quiet;
    rc = cli_open_model(cmd, &ma, &m);
    /* From here on the model's own warnings (a chunk without EOS...) would be unattributed
     * noise among the request lines: keep its errors only. */
    ma.quiet = 1;
    char err[512];
    if (!rc && voices_new(&vs, m, allow_remote, cache)) rc = cli_fail("out of memory");
    for (int i = 0; i < nv && !rc; i++) {
        if (voices_add(vs, names[i], specs[i], err, sizeof err))
            rc = cli_fail("%s", err);
        else
            cli_info(quiet, "loaded the voice %s%s%s", names[i] ? names[i] : "",
                     names[i] ? " = " : "", specs[i]);
    }
    free(names);
    free(specs);
    if (!rc) rc = serve(m, vs, &p, n_workers, queue, host, port, &lim, quiet);
    voices_free(vs);
    ptts_model_free(m);
    return rc;
}
