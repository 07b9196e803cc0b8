/* pocket-tts: command dispatcher. Each command lives in its own cmd_*.c file. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "pocket_tts.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"generate", cmd_generate, "speak a text into a WAV file"},
    {"export-voice", cmd_export_voice, "save the voice of an audio file for --voice"},
    {"voices", cmd_voices, "list the predefined voices of a language"},
    {"serve", cmd_serve, "serve text-to-speech over HTTP (web page, upstream and OpenAI APIs)"},
    {"version", cmd_version, "print the version"},
    {"tokenize", cmd_tokenize, "print the token ids or text chunks of a text"},
    {"debug", cmd_debug, "developer tools (random-model: a model with random weights)"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: pocket-tts COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\n`pocket-tts COMMAND --help` describes a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) return cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "pocket-tts: unknown command '%s' (try --help)\n", argv[1]);
    return 2;
}
