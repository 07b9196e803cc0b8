#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "pocket_tts.h"

int cmd_version(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--help") && strcmp(argv[1], "-h")) {
        fprintf(stderr, "pocket-tts: version takes no arguments (try pocket-tts version --help)\n");
        return 2;
    }
    if (argc > 1) {
        printf("usage: pocket-tts version\n\nPrints the program's version.\n");
        return 0;
    }
    printf("pocket-tts %s\n", PTTS_VERSION);
    return 0;
}
