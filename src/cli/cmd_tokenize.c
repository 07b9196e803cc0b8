/* pocket-tts tokenize: token ids of a text, or the chunks a generation would speak. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "pocket_tts.h"

static const char usage[] =
    "usage: pocket-tts tokenize (--tokenizer FILE | --config FILE | --language NAME)\n"
    "                           [--text TEXT] [--chunks [--max-tokens N]]\n"
    "\n"
    "Prints the token ids of TEXT on one line, separated by spaces.\n"
    "\n"
    "  --tokenizer FILE  a SentencePiece tokenizer.model\n"
    "  --config FILE     the tokenizer of a YAML model config (and its text settings)\n"
    "  --language NAME   the tokenizer of a released config (english, french_24l, ...)\n"
    "  --text TEXT       the text; without it (or with -) the text is read from stdin,\n"
    "                    less one final newline\n"
    "  --chunks          run the text front-end as a generation does: one line per chunk,\n"
    "                    its ids, a TAB, then the chunk's text\n"
    "  --max-tokens N    chunk size in tokens (default 50)\n"
    "  -h, --help        this help\n";

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pocket-tts: tokenize: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (try pocket-tts tokenize --help)\n");
    va_end(ap);
    return 2;
}

/* The whole of stdin without one final line ending (what `echo` adds); NULL on failure. */
static char *read_stdin_line(void) {
    char *buf = cli_read_stdin();
    size_t n = buf ? strlen(buf) : 0;
    if (n && buf[n - 1] == '\n') buf[--n] = 0;
    if (n && buf[n - 1] == '\r') buf[--n] = 0;
    return buf;
}

static void print_ids(const int32_t *ids, size_t n) {
    for (size_t i = 0; i < n; i++)
        printf(i ? " %" PRId32 : "%" PRId32, ids[i]);
}

int cmd_tokenize(int argc, char **argv) {
    const char *tokenizer = NULL, *config = NULL, *language = NULL, *text = NULL;
    int chunks = 0, max_tokens = 50, max_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(a, "--chunks")) {
            chunks = 1;
            continue;
        }
        /* Options with a value: "--opt VALUE" or "--opt=VALUE". */
        static const char *const names[] = {"--tokenizer", "--config", "--language", "--text",
                                            "--max-tokens"};
        const char **slots[] = {&tokenizer, &config, &language, &text, NULL};
        size_t k = 0, len = 0;
        for (; k < 5; k++) {
            len = strlen(names[k]);
            if (!strncmp(a, names[k], len) && (a[len] == 0 || a[len] == '=')) break;
        }
        if (k == 5) return usage_error("unknown argument '%s'", a);
        const char *v = a[len] == '=' ? a + len + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!v) return usage_error("%s needs a value", names[k]);
        if (slots[k]) {
            *slots[k] = v;
            continue;
        }
        char *end;
        long m = strtol(v, &end, 10);
        if (!*v || *end || m < 1 || m > 1000000)
            return usage_error("--max-tokens: '%s' is not a positive number", v);
        max_tokens = (int)m;
        max_given = 1;
    }
    if (!!tokenizer + !!config + !!language != 1)
        return usage_error("give one of --tokenizer, --config or --language");
    if (max_given && !chunks) return usage_error("--max-tokens goes with --chunks");

    char err[512];
    ptts_tokenizer *t = NULL;
    int rc = tokenizer ? ptts_tokenizer_open(&t, tokenizer, err, sizeof err)
                       : ptts_tokenizer_open_config(&t, config, language, err, sizeof err);
    if (rc) return cli_fail("%s", err);

    char *input = NULL;
    if (!text || !strcmp(text, "-")) {
        if (!(input = read_stdin_line())) {
            ptts_tokenizer_free(t);
            return cli_fail("cannot read the text from stdin");
        }
        text = input;
    }
    if (!text[strspn(text, " \t\r\n\v\f")]) {
        rc = PTTS_ERR_TEXT; /* the same refusal as the front-end, also without --chunks */
        snprintf(err, sizeof err, "Text prompt cannot be empty");
    } else if (chunks) {
        ptts_text_chunk *c = NULL;
        size_t n = 0;
        rc = ptts_text_split(t, text, max_tokens, &c, &n, err, sizeof err);
        for (size_t i = 0; !rc && i < n; i++) {
            print_ids(c[i].ids, c[i].n_ids);
            printf("\t%s\n", c[i].text);
        }
        ptts_text_chunks_free(c, n);
    } else {
        int32_t *ids = NULL;
        size_t n = 0;
        rc = ptts_tokenize(t, text, &ids, &n, err, sizeof err);
        if (!rc) {
            print_ids(ids, n);
            putchar('\n');
        }
        ptts_free(ids);
    }
    free(input);
    ptts_tokenizer_free(t);
    if (rc) return cli_fail("%s", err);
    if (fflush(stdout) || ferror(stdout)) return cli_fail("cannot write the output");
    return 0;
}
