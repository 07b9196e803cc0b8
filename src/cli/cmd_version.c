#include <stdio.h>

#include "cli/commands.h"
#include "pocket_tts.h"

int cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("pocket-tts %s\n", PTTS_VERSION);
    return 0;
}
