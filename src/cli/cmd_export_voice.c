/* pocket-tts export-voice: the voice state of an audio file (its first 30 s), saved in the
 * upstream voice-file layout for --voice. */
#include <stdio.h>

#include "cli/cli_common.h"
#include "cli/commands.h"

static const char cmd[] = "export-voice";

static const char help[] =
    "usage: pocket-tts export-voice [OPTIONS] AUDIO OUT.safetensors\n"
    "\n"
    "Computes the voice state of AUDIO (its first 30 s; WAV, FLAC, MP3, OGG at any rate, or an\n"
    "hf:// or http(s):// URL) and writes it to OUT.safetensors, which generate --voice and the\n"
    "Python package read without the audio encoder.\n"
    "\n" CLI_MODEL_HELP "  -h, --help             this help\n";

#define MAX_SECONDS 30.0 /* what the upstream keeps of a voice prompt */

int cmd_export_voice(int argc, char **argv) {
    cli_model_args ma = {0};
    const cli_opt opts[] = {CLI_MODEL_OPTS(ma)};
    const char *pos[2];
    int n_pos = 0;
    int rc = cli_parse(cmd, help, argc, argv, opts, sizeof opts / sizeof opts[0], pos, 2, &n_pos);
    if (rc != CLI_CONTINUE) return rc;
    if (n_pos != 2) return cli_usage_error(cmd, "give the audio file and the output file");
    ptts_model *m = NULL;
    if ((rc = cli_open_model(cmd, &ma, &m))) return rc;
    char err[512];
    ptts_voice *v = NULL;
    double t0 = cli_now();
    if (ptts_voice_load(m, pos[0], MAX_SECONDS, &v, err, sizeof err))
        rc = cli_fail("%s", err);
    else if (ptts_voice_save(v, pos[1], err, sizeof err))
        rc = cli_fail("%s", err);
    else
        cli_info(ma.quiet, "wrote the voice of %s to %s in %.2f s", pos[0], pos[1], cli_now() - t0);
    ptts_voice_free(v);
    ptts_model_free(m);
    return rc;
}
