/* libFuzzer target: a SentencePiece ModelProto from arbitrary bytes must load or be refused
 * with a message; a model that loads must encode a fixed text (spaces, a character the
 * character maps rewrite, user-defined-looking pieces, invalid UTF-8) into ids within the
 * vocabulary, and decode them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/sentencepiece.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char text[] =
    "  Hello,  \xef\xbc\xb7orld\xe3\x80\x80<break> \xef\xac\x81 12 \xe2\x96\x81"
    "a b \xf0\x9f\x99\x82\xff\xc3 xyz.  ";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ptts_err e = {0};
    spm_model *m = NULL;
    if (spm_load_memory(&m, data, size, &e)) {
        if (m || !e.msg[0]) abort();
        return 0;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    if (spm_encode(m, text, sizeof text - 1, &ids, &n, &e) == PTTS_OK) {
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= spm_vocab_size(m)) abort();
        char *dec = NULL;
        if (spm_decode(m, ids, n, &dec, &e) == PTTS_OK && !dec) abort();
        free(dec);
        char **pieces = NULL;
        size_t np = 0;
        if (spm_encode_pieces(m, text, sizeof text - 1, &pieces, &np, &e) == PTTS_OK && np != n)
            abort();
        free(pieces);
    } else if (!e.msg[0]) {
        abort();
    }
    free(ids);
    spm_free(m);
    return 0;
}
