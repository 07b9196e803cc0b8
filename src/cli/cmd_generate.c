/* pocket-tts generate: text to a WAV file (or stdout), as the upstream command does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/commands.h"

static const char cmd[] = "generate";

static const char help[] =
    "usage: pocket-tts generate [OPTIONS]\n"
    "\n"
    "Speaks a text with a voice and writes a WAV file (mono, 16-bit, 24 kHz).\n"
    "\n"
    "  --text TEXT            the text; - reads stdin, as does no --text while stdin is a\n"
    "                         pipe (default: a short self-introduction in the language)\n"
    "  --voice VOICE          a predefined voice name (see pocket-tts voices), an audio file\n"
    "                         to clone (WAV, FLAC, MP3, OGG), a voice .safetensors file, or\n"
    "                         an hf:// or http(s):// URL of one (default: the language's\n"
    "                         default voice, alba in english)\n"
    "  --output-path PATH     the WAV file; - streams it to stdout (default ./tts_output.wav)\n"
    "  --lsd-decode-steps N   flow decoding steps per frame (default 1)\n"
    "  --temperature T        sampling temperature, 0 = deterministic (default 0.7)\n"
    "  --noise-clamp X        truncate the sampling noise to [-X, X] (default: none)\n"
    "  --eos-threshold X      end-of-speech logit threshold (default -4)\n"
    "  --frames-after-eos N   frames generated after the end of speech (default: the\n"
    "                         model's recommendation, else from the text length)\n"
    "  --max-tokens N         text chunk size in tokens (default 50)\n"
    "  --seed N               sampling noise seed (default 0: a fixed seed)\n"
    "  --quantize             int8 weights for the FlowLM transformer (less memory)\n"
    "  --device cpu           the only device there is\n" CLI_MODEL_HELP
    "  -h, --help             this help\n";

/* Upstream's default texts, chosen by the language name containing the key. */
static const struct {
    const char *key, *text;
} default_texts[] = {
    {"english", "Hello world. I am Kyutai's Pocket TTS. I'm fast enough to run on small CPUs. "
                "I hope you'll like me."},
    {"french", "Bonjour le monde. Je suis le TTS de poche de Kyutai. Je suis assez rapide pour "
               "fonctionner sur de petits CPU. J'espère que vous m'aimerez."},
    {"german", "Hallo Welt. Ich bin Pocket TTS von Kyutai. Ich bin schnell genug, um auch auf "
               "kleinen CPUs zu laufen. Ich hoffe, ich gefalle dir."},
    {"portuguese", "Olá mundo. Eu sou o Pocket TTS da Kyutai. Sou rápido o suficiente para "
                   "rodar em CPUs pequenas. Espero que você goste de mim."},
    {"italian", "Ciao mondo. Sono il Pocket TTS di Kyutai. Sono abbastanza veloce da funzionare "
                "su piccole CPU. Spero che ti piacerò."},
    {"spanish", "Hola mundo. Soy el Pocket TTS de Kyutai. Soy lo suficientemente rápido para "
                "funcionar en pequeñas CPU. Espero que te guste."},
};

static const char *default_text(const char *language) {
    for (size_t i = 0; language && i < sizeof default_texts / sizeof default_texts[0]; i++)
        if (strstr(language, default_texts[i].key)) return default_texts[i].text;
    return default_texts[0].text;
}

static int stdin_is_pipe(void) {
    struct stat st;
    return !fstat(STDIN_FILENO, &st) && S_ISFIFO(st.st_mode);
}

typedef struct audio_out {
    ptts_wav *wav;
    int rate, show_progress;
    int started; /* the header is out: the output file now holds this run */
    int wav_failed;
    double t0, seconds;
} audio_out;

/* The header goes out with the first audio, so that a run failing before it (a text the
 * front-end refuses) leaves an existing file as it was. */
static int wav_put(audio_out *o, const float *samples, size_t n) {
    int rc = o->started ? PTTS_OK : ptts_wav_start(o->wav, o->rate);
    o->started = 1;
    if (!rc) rc = samples ? ptts_wav_write(o->wav, samples, n) : ptts_wav_write_silence(o->wav, n);
    o->wav_failed = rc != PTTS_OK;
    return rc;
}

static int on_audio(void *user_data, const float *samples, size_t n) {
    audio_out *o = user_data;
    if (wav_put(o, samples, n)) return 1;
    o->seconds += (double)n / o->rate;
    if (o->show_progress)
        cli_progress("generating: %.1f s of audio in %.1f s", o->seconds, cli_now() - o->t0);
    return 0;
}

/* Loads the voice and speaks text into wav; 0 or the exit status. */
static int speak(ptts_model *m, const char *voice, const char *text, const ptts_gen_params *p,
                 ptts_wav *wav, int quiet) {
    char err[512];
    const char *const *names = NULL;
    if (!voice) {
        int def = ptts_voice_names(ptts_model_language(m), &names);
        if (def < 0 || !names) return cli_fail("this model has no default voice: give --voice");
        voice = names[def];
    }
    double t0 = cli_now();
    ptts_voice *v = NULL;
    if (ptts_voice_load(m, voice, 0, &v, err, sizeof err)) return cli_fail("%s", err);
    cli_info(quiet, "loaded the voice %s in %.2f s", voice, cli_now() - t0);

    ptts_gen *g = NULL;
    if (ptts_gen_new(m, &g, err, sizeof err)) {
        ptts_voice_free(v);
        return cli_fail("%s", err);
    }
    audio_out o = {wav, ptts_model_sample_rate(m), !quiet, 0, 0, cli_now(), 0};
    int rc = ptts_gen_run(g, v, text, p, on_audio, &o);
    /* The upstream ends every file with 0.2 s of silence (SPEC 5). */
    if (!rc) rc = wav_put(&o, NULL, (size_t)o.rate / 5);
    if (rc) {
        const char *msg = o.wav_failed ? ptts_wav_errmsg(wav) : ptts_gen_errmsg(g);
        rc = cli_fail("%s", msg[0] ? msg : ptts_strerror(rc));
    }
    cli_progress_end();
    if (!rc && !quiet) {
        ptts_gen_stats s;
        ptts_gen_stats_get(g, &s);
        double wall = s.wall_ms / 1e3;
        cli_info(quiet,
                 "generated %.2f s of audio in %.2f s: real-time factor %.3f (%.2fx faster than "
                 "real time), first audio after %.0f ms",
                 s.audio_seconds, wall, s.audio_seconds > 0 ? wall / s.audio_seconds : 0,
                 wall > 0 ? s.audio_seconds / wall : 0, s.first_audio_ms);
    }
    ptts_gen_free(g);
    ptts_voice_free(v);
    return rc;
}

int cmd_generate(int argc, char **argv) {
    const char *text = NULL, *voice = NULL, *output = "./tts_output.wav", *device = "cpu";
    cli_model_args ma = {0};
    cli_gen_args ga;
    cli_gen_args_init(&ga);
    const cli_opt opts[] = {
        {"--text", NULL, CLI_STRING, &text, 0, 0},
        {"--voice", NULL, CLI_STRING, &voice, 0, 0},
        {"--output-path", NULL, CLI_STRING, &output, 0, 0},
        {"--quantize", NULL, CLI_FLAG, &ma.quantize, 0, 0},
        {"--device", NULL, CLI_STRING, &device, 0, 0},
        CLI_GEN_OPTS(ga),
        CLI_MODEL_OPTS(ma),
    };
    int rc = cli_parse(cmd, help, argc, argv, opts, sizeof opts / sizeof opts[0], NULL, 0, NULL);
    if (rc != CLI_CONTINUE) return rc;
    if (strcasecmp(device, "cpu"))
        return cli_usage_error(cmd, "--device %s: this build runs on the cpu only", device);
    if ((rc = cli_gen_args_finish(cmd, &ga, &ma)) != CLI_CONTINUE) return rc;
    if ((rc = cli_check_model_args(cmd, &ma)) != CLI_CONTINUE) return rc;
    if (!*output) return cli_usage_error(cmd, "--output-path is empty");
    const ptts_gen_params p = ga.p;

    char *input = NULL;
    if (text ? !strcmp(text, "-") : stdin_is_pipe()) {
        if (!(text = input = cli_read_stdin())) return cli_fail("cannot read the text from stdin");
    } else if (!text) {
        text = default_text(ma.config ? NULL : ma.language);
    }
    if (!text[strspn(text, " \t\r\n\v\f")]) {
        rc = cli_fail("the text is empty%s", input ? " (read from stdin)" : "");
        free(input);
        return rc;
    }

    /* The output first: an unwritable path fails before the model is loaded. */
    char err[512];
    ptts_wav *wav = NULL;
    ptts_model *m = NULL;
    if (ptts_wav_open(&wav, output, err, sizeof err))
        rc = cli_fail("%s", err);
    else
        rc = cli_open_model(cmd, &ma, &m);
    if (!rc) rc = speak(m, voice, text, &p, wav, ma.quiet);
    if (ptts_wav_close(wav, err, sizeof err) && !rc) rc = cli_fail("%s", err);
    if (!rc && strcmp(output, "-")) cli_info(ma.quiet, "wrote %s", output);
    ptts_model_free(m);
    free(input);
    return rc;
}
