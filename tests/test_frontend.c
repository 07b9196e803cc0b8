/* Text front-end against tests/fixtures/text/cases.json (upstream prepare_text_prompt and
 * split_into_best_sentences with pocket_en.model), plus Unicode cases whose expected values
 * were computed with the upstream function on Python 3.11. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "text/frontend.h"

static int reported; /* details are printed for the first mismatch only */

static void mismatch(const char *what, const char *input, const char *got, const char *want) {
    if (reported++) return;
    fprintf(stderr, "first mismatch: %s of \"%s\"\n  got  \"%s\"\n  want \"%s\"\n", what, input,
            got, want);
}

static void check_prepare(const char *input, const char *key, const cJSON *want) {
    int pad, semi;
    if (sscanf(key, "prepare_pad%d_semi%d", &pad, &semi) != 2) {
        CHECK(0, "unexpected key %s", key);
        return;
    }
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(want, "text");
    const cJSON *guess = cJSON_GetObjectItemCaseSensitive(want, "frames_after_eos_guess");
    char *out = NULL;
    int g = -1;
    ptts_err e = {0};
    int rc = text_prepare(input, pad, semi, &out, &g, &e);
    CHECK(rc == PTTS_OK && cJSON_IsString(text) && cJSON_IsNumber(guess), "%s: %s", key, e.msg);
    if (rc == PTTS_OK && cJSON_IsString(text)) {
        int same = !strcmp(out, text->valuestring);
        if (!same) mismatch(key, input, out, text->valuestring);
        CHECK(same, "%s of \"%s\"", key, input);
        CHECK(cJSON_IsNumber(guess) && g == guess->valueint, "%s of \"%s\": guess %d", key, input,
              g);
    }
    free(out);
}

static char *ids_str(const int32_t *ids, size_t n, const cJSON *json) {
    static char buf[8192];
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; (ids ? i < n : json != NULL) && len < sizeof buf - 16; i++) {
        long v = ids ? (long)ids[i] : (long)json->valueint;
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%ld", i ? " " : "", v);
        if (!ids) json = json->next;
    }
    return buf;
}

static void check_split(const spm_model *tok, const char *input, const char *key,
                        const cJSON *want) {
    int max, pad, semi;
    if (sscanf(key, "split_max%d_pad%d_semi%d", &max, &pad, &semi) != 3) {
        CHECK(0, "unexpected key %s", key);
        return;
    }
    text_chunks got = {0};
    ptts_err e = {0};
    int rc = text_split(tok, input, max, pad, semi, &got, &e);
    CHECK(rc == PTTS_OK, "%s of \"%s\": %s", key, input, e.msg);
    size_t n_want = (size_t)cJSON_GetArraySize(want);
    if (rc == PTTS_OK && got.n != n_want) {
        char g[32], w[32];
        snprintf(g, sizeof g, "%zu chunks", got.n);
        snprintf(w, sizeof w, "%zu chunks", n_want);
        mismatch(key, input, g, w);
    }
    CHECK(rc != PTTS_OK || got.n == n_want, "%s of \"%s\": %zu chunks, want %zu", key, input, got.n,
          n_want);
    for (size_t i = 0; rc == PTTS_OK && i < got.n && i < n_want; i++) {
        const cJSON *c = cJSON_GetArrayItem(want, (int)i);
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(c, "text");
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(c, "ids");
        int same_text = cJSON_IsString(text) && !strcmp(got.v[i].text, text->valuestring);
        if (!same_text)
            mismatch(key, input, got.v[i].text, cJSON_IsString(text) ? text->valuestring : "?");
        CHECK(same_text, "%s of \"%s\": chunk %zu text", key, input, i);
        int same_ids = cJSON_IsArray(ids) && (size_t)cJSON_GetArraySize(ids) == got.v[i].n_ids;
        for (size_t k = 0; same_ids && k < got.v[i].n_ids; k++)
            same_ids = cJSON_GetArrayItem(ids, (int)k)->valueint == got.v[i].ids[k];
        if (!same_ids) {
            char g[8192];
            snprintf(g, sizeof g, "%s", ids_str(got.v[i].ids, got.v[i].n_ids, NULL));
            mismatch(key, input, g, ids_str(NULL, 0, ids ? ids->child : NULL));
        }
        CHECK(same_ids, "%s of \"%s\": chunk %zu ids", key, input, i);
    }
    text_chunks_free(&got);
}

static void check_error(const spm_model *tok, const char *input, const char *msg) {
    for (int v = 0; v < 4; v++) {
        char *out = NULL;
        ptts_err e = {0};
        int rc = text_prepare(input, v & 1, v >> 1, &out, NULL, &e);
        CHECK(rc == PTTS_ERR_TEXT && !out && !strcmp(e.msg, msg), "prepare \"%s\": %d %s", input,
              rc, e.msg);
        text_chunks c = {0};
        rc = text_split(tok, input, 50, v & 1, v >> 1, &c, &e);
        CHECK(rc == PTTS_ERR_TEXT && c.n == 0 && !strcmp(e.msg, msg), "split \"%s\": %d %s", input,
              rc, e.msg);
        text_chunks_free(&c);
    }
}

static void check_cases(const spm_model *tok) {
    char *json = read_file(fixture("text/cases.json"), NULL);
    cJSON *cases = json ? cJSON_Parse(json) : NULL;
    CHECK(cJSON_IsArray(cases), "cannot read text/cases.json");
    int n_prepare = 0, n_split = 0, n_error = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(c, "text");
        CHECK(cJSON_IsString(text));
        if (!cJSON_IsString(text)) continue;
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(c, "error");
        if (cJSON_IsString(err)) {
            check_error(tok, text->valuestring, err->valuestring);
            n_error++;
            continue;
        }
        const cJSON *item;
        cJSON_ArrayForEach(item, c) {
            if (!strncmp(item->string, "prepare_", 8)) {
                check_prepare(text->valuestring, item->string, item);
                n_prepare++;
            } else if (!strncmp(item->string, "split_", 6)) {
                if (tok) check_split(tok, text->valuestring, item->string, item);
                n_split++;
            }
        }
    }
    printf("cases.json: %d prepare, %d split, %d error variants\n", n_prepare, n_split, n_error);
    CHECK(n_prepare == 76 && n_split == 114 && n_error == 3, "fixture variants");
    cJSON_Delete(cases);
    free(json);
}

static void check_unicode(void) {
    static const struct {
        const char *in;
        int pad, semi;
        const char *out;
        int guess;
    } u[] = {
        {"\xc3\x9ftra\xc3\x9f"
         "e",
         0, 0,
         "SStra\xc3\x9f"
         "e.",
         3},                                          /* ß: full uppercase mapping */
        {"\xcd\x85", 0, 0, "\xce\x99.", 3},           /* U+0345 (Mn) -> Ι, then a letter */
        {"\xc7\x86ungla", 0, 0, "\xc7\x84ungla.", 3}, /* ǆ -> Ǆ */
        {"\xc7\x88", 0, 0, "\xc7\x87.", 3},           /* titlecase ǈ is not upper */
        {"x\xc2\xb2", 0, 0, "X\xc2\xb2.", 3},         /* ² has a numeric value */
        {"\xc2\xbd", 0, 0, "\xc2\xbd.", 3},           /* ½ too */
        {"\xd9\xa3", 0, 0, "\xd9\xa3.", 3},           /* Arabic-Indic three */
        {"\xe2\x93\x90", 0, 0, "\xe2\x92\xb6", 3},    /* ⓐ -> Ⓐ: a symbol, no period */
        {"\xef\xac\x80", 1, 0, "        FF.", 3},     /* ﬀ -> FF */
        {"\xc5\x89", 0, 0, "\xca\xbcN.", 3},          /* ŉ -> ʼN */
        {"a\xc2\xa0\xc2\xa0"
         "b",
         1, 0,
         "        A\xc2\xa0\xc2\xa0"
         "b.",
         3},                                              /* no-break spaces are kept */
        {"  \xe2\x80\x83hi\xe3\x80\x80", 0, 0, "Hi.", 3}, /* em and ideographic spaces strip */
        {"a    b", 0, 0, "A  b.", 3},
        {"a\r\n\r\nb", 0, 0, "A  b.", 3},
        {"one\xe2\x80\xa8two three four five", 1, 0, "One\xe2\x80\xa8two three four five.", 1},
        {"x\x1cy", 0, 0, "X\x1cy.", 3}, /* U+001C is Python whitespace */
        {"i;j", 0, 1, "I,j.", 3},
    };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        char *out = NULL;
        int g = -1;
        ptts_err e = {0};
        int rc = text_prepare(u[i].in, u[i].pad, u[i].semi, &out, &g, &e);
        CHECK(rc == PTTS_OK && !strcmp(out, u[i].out) && g == u[i].guess,
              "unicode case %zu: got \"%s\" %d, want \"%s\" %d (%s)", i, out ? out : "", g,
              u[i].out, u[i].guess, e.msg);
        free(out);
    }
    char *out = NULL;
    ptts_err e = {0};
    CHECK(text_prepare("caf\xe9", 0, 0, &out, NULL, &e) == PTTS_ERR_TEXT && !out, "Latin-1");
}

int main(void) {
    ptts_err e = {0};
    spm_model *tok = NULL;
    int rc = spm_load(&tok, fixture("tokenizers/pocket_en.model"), &e);
    CHECK(rc == PTTS_OK, "%s", e.msg);
    check_cases(tok);
    check_unicode();

    text_chunks c = {0};
    CHECK(text_split(tok, "Hello.", 0, 0, 0, &c, &e) == PTTS_ERR_INVALID_ARG);
    text_chunks_free(&c);
    spm_free(tok);
    TEST_END();
}
