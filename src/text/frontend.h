/* Text front-end (SPEC 2): the upstream's prepare_text_prompt and its split into chunks of
 * at most max_tokens tokens on sentence ends, then on commas. Unicode rules follow Python's
 * str methods (strip/split on str.isspace, str.isupper, str.upper, str.isalnum). */
#ifndef PTTS_FRONTEND_H
#define PTTS_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "text/sentencepiece.h"

/* SPEC 2.1: *out (malloc'd) is the text to speak; *guess (may be NULL) is 3 for at most four words,
 * else 1 (frames after EOS = guess + 2). Empty text: PTTS_ERR_TEXT "Text prompt cannot be
 * empty"; text that is not UTF-8: PTTS_ERR_TEXT. */
int text_prepare(const char *text, int pad, int remove_semicolons, char **out, int *guess,
                 ptts_err *e);

/* {text, ids, n_ids}: the public type (pocket_tts.h), so the API hands chunks out as is. */
typedef ptts_text_chunk text_chunk;

typedef struct text_chunks {
    text_chunk *v;
    size_t n;
} text_chunks;

/* SPEC 2.2: *out is zeroed first; free it with text_chunks_free (also after a failure). */
int text_split(const spm_model *tok, const char *text, int max_tokens, int pad,
               int remove_semicolons, text_chunks *out, ptts_err *e);
void text_chunks_free(text_chunks *c); /* accepts NULL; leaves *c empty */

#endif
