/* pocket-tts debug: tools for developers. `random-model` writes a model directory of a
 * released size with random weights (benchmarks and tests without the checkpoints). */
#include <stdio.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"

static const char help[] =
    "usage: pocket-tts debug SUBCOMMAND [OPTIONS]\n"
    "\n"
    "subcommands:\n"
    "  random-model   write a model with random weights in the released layout\n"
    "\n"
    "`pocket-tts debug SUBCOMMAND --help` describes its options.\n";

static const char random_help[] =
    "usage: pocket-tts debug random-model (--language NAME | --config FILE) --out DIR\n"
    "                                     [--seed N] [--tokenizer FILE] [--dtype f32|bf16|f16]\n"
    "\n"
    "Writes DIR/config.yaml (the config with local weights and tokenizer paths),\n"
    "DIR/model.safetensors (every tensor of the released checkpoint layout, random values that\n"
    "keep activations in range; the same for the same seed) and DIR/tokenizer.model.\n"
    "\n"
    "  --language NAME   a released config (english, english_2026-01, french_24l, ...)\n"
    "  --config FILE     a config .yaml instead\n"
    "  --out DIR         the output directory (created if needed)\n"
    "  --seed N          random seed (default 0)\n"
    "  --tokenizer FILE  the tokenizer to copy (default: the config's, if a local file); its\n"
    "                    vocabulary must have n_bins pieces. The released English one is\n"
    "                    reproduced by tests/fixtures/tokenizers/pocket_en.model\n"
    "  --dtype TYPE      f32 (default), bf16 or f16\n"
    "  -q, --quiet       print errors only\n"
    "  -h, --help        this help\n";

static int random_model(int argc, char **argv) {
    static const char cmd[] = "debug random-model";
    const char *config = NULL, *language = NULL, *out = NULL, *tokenizer = NULL, *dtype = "f32";
    uint64_t seed = 0;
    int quiet = 0;
    const cli_opt opts[] = {
        {"--language", NULL, CLI_STRING, &language, 0, 0},
        {"--config", NULL, CLI_STRING, &config, 0, 0},
        {"--out", NULL, CLI_STRING, &out, 0, 0},
        {"--seed", NULL, CLI_U64, &seed, 0, 0},
        {"--tokenizer", NULL, CLI_STRING, &tokenizer, 0, 0},
        {"--dtype", NULL, CLI_STRING, &dtype, 0, 0},
        {"--quiet", "-q", CLI_FLAG, &quiet, 0, 0},
    };
    int n_pos = 0;
    int rc = cli_parse(cmd, random_help, argc, argv, opts, sizeof opts / sizeof opts[0], NULL, 0,
                       &n_pos);
    if (rc != CLI_CONTINUE) return rc;
    if (!config == !language) return cli_usage_error(cmd, "give one of --language and --config");
    if (!out) return cli_usage_error(cmd, "give the output directory (--out DIR)");
    static const char *const dtypes[] = {
        [PTTS_DTYPE_F32] = "f32", [PTTS_DTYPE_BF16] = "bf16", [PTTS_DTYPE_F16] = "f16"};
    int dt = -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(dtype, dtypes[i])) dt = i;
    if (dt < 0) return cli_usage_error(cmd, "--dtype: '%s' is not f32, bf16 or f16", dtype);
    char err[512];
    double t0 = cli_now();
    if (ptts_debug_random_model(config, language, out, tokenizer, seed, dt, err, sizeof err))
        return cli_fail("%s", err);
    cli_info(quiet, "wrote a random %s model (seed %llu, %s) to %s in %.1f s",
             config ? config : language, (unsigned long long)seed, dtype, out, cli_now() - t0);
    return 0;
}

int cmd_debug(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "random-model")) return random_model(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(help, stdout);
        return 0;
    }
    if (argc < 2) return cli_usage_error("debug", "give a subcommand");
    return cli_usage_error("debug", "unknown subcommand '%s'", argv[1]);
}
