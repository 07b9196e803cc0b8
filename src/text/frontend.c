#include "frontend.h"

#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <unistr.h>

/* The four character rules below (is_space, is_alnum, uc_is_property_uppercase for
 * str.isupper, u8_toupper for str.upper) agree with Python 3.11 on every code point (both
 * libunistring 1.0 and Python 3.11 use Unicode 14). */

/* Python's str.isspace: general category Zs, or bidirectional class WS, B or S. */
static int is_space(ucs4_t c) {
    int bidi = uc_bidi_category(c);
    return bidi == UC_BIDI_WS || bidi == UC_BIDI_B || bidi == UC_BIDI_S ||
           uc_is_general_category(c, UC_CATEGORY_Zs);
}

/* Python's str.isalnum on one character: a letter (L*) or anything with a numeric value
 * (digits, ², ½, Roman numerals...). */
static int is_alnum(ucs4_t c) {
    return uc_is_general_category(c, UC_CATEGORY_L) || uc_numeric_value(c).denominator != 0;
}

/* Python's str.strip(): [*b, *end) is s[0, n) without surrounding whitespace. */
static void strip(const char *s, size_t n, size_t *b, size_t *end) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, j = n;
    ucs4_t c;
    while (i < n) {
        int k = u8_mbtouc(&c, u + i, n - i);
        if (!is_space(c)) break;
        i += (size_t)k;
    }
    while (j > i) {
        const uint8_t *p = u8_prev(&c, u + j, u + i);
        if (!p || !is_space(c)) break;
        j = (size_t)(p - u);
    }
    *b = i;
    *end = j;
}

/* len(str.split()): runs of non-whitespace characters. */
static size_t count_words(const char *s, size_t n) {
    const uint8_t *u = (const uint8_t *)s;
    size_t words = 0;
    int in_word = 0;
    for (size_t i = 0; i < n;) {
        ucs4_t c;
        i += (size_t)u8_mbtouc(&c, u + i, n - i);
        int sp = is_space(c);
        if (!sp && !in_word) words++;
        in_word = !sp;
    }
    return words;
}

/* A space once line breaks are replaced. */
static int is_blank(char c) {
    return c == ' ' || c == '\n' || c == '\r';
}

int text_prepare(const char *text, int pad, int remove_semicolons, char **out, int *guess,
                 ptts_err *e) {
    *out = NULL;
    if (!text) return err_set(e, PTTS_ERR_INVALID_ARG, "text is NULL");
    size_t n = strlen(text), b, end;
    if (u8_check((const uint8_t *)text, n))
        return err_set(e, PTTS_ERR_TEXT, "the text is not valid UTF-8");
    strip(text, n, &b, &end);
    if (b == end) return err_set(e, PTTS_ERR_TEXT, "Text prompt cannot be empty");

    /* Line breaks become spaces, then each "  " becomes " " once, left to right (so four
     * spaces become two), then semicolons become commas. */
    char *t = malloc(end - b + 1);
    if (!t) return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    size_t m = 0;
    for (size_t i = b; i < end;) {
        char ch = is_blank(text[i]) ? ' ' : text[i];
        t[m++] = remove_semicolons && ch == ';' ? ',' : ch;
        i += i + 1 < end && is_blank(text[i]) && is_blank(text[i + 1]) ? 2 : 1;
    }
    size_t words = count_words(t, m);
    if (guess) *guess = words <= 4 ? 3 : 1;

    /* An uppercase first letter (full mapping: ß becomes SS). */
    ucs4_t first, last;
    size_t first_len = (size_t)u8_mbtouc(&first, (const uint8_t *)t, m);
    uint8_t *upper = NULL;
    size_t upper_len = first_len;
    if (!uc_is_property_uppercase(first)) {
        upper = u8_toupper((const uint8_t *)t, first_len, NULL, NULL, NULL, &upper_len);
        if (!upper) {
            free(t);
            return err_set(e, PTTS_ERR_NOMEM, "out of memory");
        }
    }
    /* Neither change alters the word count, so the padding test can reuse it. */
    size_t spaces = pad && words < 5 ? 8 : 0;
    size_t len = spaces + upper_len + (m - first_len);
    char *r = malloc(len + 2);
    if (!r) {
        free(upper);
        free(t);
        return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    }
    memset(r, ' ', spaces);
    memcpy(r + spaces, upper ? (const char *)upper : t, upper_len);
    memcpy(r + spaces + upper_len, t + first_len, m - first_len);
    /* A final letter or digit gets a period (tested after the case change, as upstream). */
    u8_prev(&last, (const uint8_t *)r + len, (const uint8_t *)r);
    if (is_alnum(last)) r[len++] = '.';
    r[len] = 0;
    free(upper);
    free(t);
    *out = r;
    return PTTS_OK;
}

void text_chunks_free(text_chunks *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].text);
        free(c->v[i].ids);
    }
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

/* A piece of text with its token count, before chunks are formed. */
typedef struct segment {
    size_t n_tokens;
    char *text;
} segment;

typedef struct segments {
    segment *v;
    size_t n, cap;
} segments;

static void segments_free(segments *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].text);
    free(s->v);
}

/* Appends (n_tokens, text), taking text; frees it on failure. */
static int segments_push(segments *s, size_t n_tokens, char *text, ptts_err *e) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        segment *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            free(text);
            return err_set(e, PTTS_ERR_NOMEM, "out of memory");
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (segment){n_tokens, text};
    return PTTS_OK;
}

/* encode(text) without its first id: the ids that end a run ("." after the word start). */
static int boundary_ids(const spm_model *tok, const char *marks, int32_t **ids, size_t *n,
                        ptts_err *e) {
    int rc = spm_encode(tok, marks, strlen(marks), ids, n, e);
    if (rc) return rc;
    if (*n) memmove(*ids, *ids + 1, --*n * sizeof **ids);
    return PTTS_OK;
}

static int contains(const int32_t *v, size_t n, int32_t id) {
    for (size_t i = 0; i < n; i++)
        if (v[i] == id) return 1;
    return 0;
}

/* Cuts ids wherever a non-boundary id follows a boundary id, appending each run with its
 * decoded text to out. */
static int cut(const spm_model *tok, const int32_t *ids, size_t n, const int32_t *marks,
               size_t n_marks, segments *out, ptts_err *e) {
    size_t start = 0;
    int after_mark = 0;
    for (size_t i = 0; i <= n; i++) {
        int mark = i < n && contains(marks, n_marks, ids[i]);
        if (i == n || (!mark && after_mark)) {
            char *text = NULL;
            int rc = spm_decode(tok, ids + start, i - start, &text, e);
            if (rc || (rc = segments_push(out, i - start, text, e))) return rc;
            start = i;
        }
        after_mark = mark;
    }
    return PTTS_OK;
}

/* encode(str.strip(text)). */
static int encode_stripped(const spm_model *tok, const char *text, int32_t **ids, size_t *n,
                           ptts_err *e) {
    size_t b, end;
    strip(text, strlen(text), &b, &end);
    return spm_encode(tok, text + b, end - b, ids, n, e);
}

/* The upstream's greedy merge: segments joined by one space while the summed token count
 * stays within max_tokens. */
static int merge(const spm_model *tok, const segments *segs, size_t max_tokens, text_chunks *out,
                 ptts_err *e) {
    size_t total = 0;
    for (size_t i = 0; i < segs->n; i++)
        total += strlen(segs->v[i].text) + 1;
    char *cur = malloc(total + 1);
    out->v = calloc(segs->n ? segs->n : 1, sizeof *out->v);
    if (!cur || !out->v) {
        free(cur);
        return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    }
    size_t len = 0, cur_tokens = 0;
    int rc = PTTS_OK;
    for (size_t i = 0; i <= segs->n && !rc; i++) {
        const segment *s = i < segs->n ? &segs->v[i] : NULL;
        if (s && len && cur_tokens + s->n_tokens <= max_tokens) {
            cur[len++] = ' ';
            memcpy(cur + len, s->text, strlen(s->text));
            len += strlen(s->text);
            cur_tokens += s->n_tokens;
            continue;
        }
        if (len) { /* close the current chunk */
            size_t b, end;
            strip(cur, len, &b, &end);
            text_chunk *c = &out->v[out->n];
            if (!(c->text = strndup(cur + b, end - b))) {
                rc = err_set(e, PTTS_ERR_NOMEM, "out of memory");
                break;
            }
            out->n++;
            rc = spm_encode(tok, c->text, strlen(c->text), &c->ids, &c->n_ids, e);
        }
        if (s) { /* start a new one */
            len = strlen(s->text);
            memcpy(cur, s->text, len);
            cur_tokens = s->n_tokens;
        }
    }
    free(cur);
    return rc;
}

int text_split(const spm_model *tok, const char *text, int max_tokens, int pad,
               int remove_semicolons, text_chunks *out, ptts_err *e) {
    memset(out, 0, sizeof *out);
    if (!tok) return err_set(e, PTTS_ERR_INVALID_ARG, "no tokenizer");
    if (max_tokens < 1)
        return err_set(e, PTTS_ERR_INVALID_ARG, "max_tokens must be at least 1 (got %d)",
                       max_tokens);
    char *prepared = NULL;
    int rc = text_prepare(text, pad, remove_semicolons, &prepared, NULL, e);
    if (rc) return rc;

    int32_t *ids = NULL, *ends = NULL, *commas = NULL, *sub = NULL;
    size_t n_ids = 0, n_ends = 0, n_commas = 0, n_sub = 0;
    segments sentences = {0}, refined = {0};
    if ((rc = encode_stripped(tok, prepared, &ids, &n_ids, e)) ||
        (rc = boundary_ids(tok, ".!...?", &ends, &n_ends, e)) ||
        (rc = boundary_ids(tok, ",;:", &commas, &n_commas, e)) ||
        (rc = cut(tok, ids, n_ids, ends, n_ends, &sentences, e)))
        goto done;

    /* A sentence over the limit is cut on commas, semicolons and colons when it has any. */
    for (size_t i = 0; i < sentences.n; i++) {
        segment *s = &sentences.v[i];
        if (s->n_tokens > (size_t)max_tokens) {
            free(sub);
            sub = NULL;
            size_t before = refined.n;
            if ((rc = encode_stripped(tok, s->text, &sub, &n_sub, e)) ||
                (rc = cut(tok, sub, n_sub, commas, n_commas, &refined, e)))
                goto done;
            if (refined.n - before > 1) continue;
            while (refined.n > before)
                free(refined.v[--refined.n].text);
        }
        char *moved = s->text;
        s->text = NULL; /* refined owns it now (or segments_push freed it) */
        if ((rc = segments_push(&refined, s->n_tokens, moved, e))) goto done;
    }
    rc = merge(tok, &refined, (size_t)max_tokens, out, e);

done:
    segments_free(&sentences);
    segments_free(&refined);
    free(sub);
    free(commas);
    free(ends);
    free(ids);
    free(prepared);
    return rc;
}
