/* libFuzzer target: the text front-end (prepare, then split with the English tokenizer) on
 * arbitrary bytes must fail cleanly or give chunks whose ids are their text's encoding.
 * Runs from the repository root (the tokenizer is a fixture). The first byte sets
 * max_tokens, pad and remove_semicolons. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static spm_model *tok; /* loaded once: the harness owns it for the whole run */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ptts_err e = {0};
    if (!tok && spm_load(&tok, "tests/fixtures/tokenizers/pocket_en.model", &e)) abort();
    if (!size) return 0;
    int max_tokens = 1 + data[0] % 64, pad = data[0] >> 6 & 1, semi = data[0] >> 7;
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;

    char *out = NULL;
    int rc = text_prepare(text, pad, semi, &out, NULL, &e);
    if (rc ? out != NULL || !e.msg[0] : out == NULL) abort();
    free(out);

    text_chunks c;
    rc = text_split(tok, text, max_tokens, pad, semi, &c, &e);
    if (rc && (c.n || !e.msg[0])) abort();
    for (size_t i = 0; i < c.n; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (spm_encode(tok, c.v[i].text, strlen(c.v[i].text), &ids, &n, &e) || n != c.v[i].n_ids ||
            (n && memcmp(ids, c.v[i].ids, n * sizeof *ids)))
            abort();
        free(ids);
    }
    text_chunks_free(&c);
    free(text);
    return 0;
}
