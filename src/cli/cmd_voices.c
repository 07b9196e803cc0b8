/* pocket-tts voices: the predefined voices of a language, one per line, the default marked. */
#include <stdio.h>

#include "cli/cli_common.h"
#include "cli/commands.h"

static const char cmd[] = "voices";

static const char help[] =
    "usage: pocket-tts voices [--language NAME]\n"
    "\n"
    "Lists the predefined voices of a language (default english) for generate --voice, one\n"
    "per line; the one used when --voice is not given is marked (default).\n"
    "\n"
    "  --language NAME        english, english_2026-01, french_24l, german, italian,\n"
    "                         portuguese, spanish, ... (as generate --language)\n"
    "  -h, --help             this help\n";

int cmd_voices(int argc, char **argv) {
    const char *language = "english";
    const cli_opt opts[] = {{"--language", NULL, CLI_STRING, &language, 0, 0}};
    int rc = cli_parse(cmd, help, argc, argv, opts, 1, NULL, 0, NULL);
    if (rc != CLI_CONTINUE) return rc;
    const char *const *names = NULL;
    int def = ptts_voice_names(language, &names);
    if (def < 0 || !names) return cli_fail("unknown language '%s'", language);
    for (int i = 0; names[i]; i++)
        printf("%s%s\n", names[i], i == def ? " (default)" : "");
    if (fflush(stdout) || ferror(stdout)) return cli_fail("cannot write the list");
    return 0;
}
