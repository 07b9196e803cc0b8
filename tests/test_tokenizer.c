/* SentencePiece tokenizer: every case of tokenizers/cases.json (produced by the library),
 * the known real ids of pocket_en.model, small models built here for what the fixtures do
 * not reach (expected values from the SentencePiece library), corrupt models, speed. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test.h"
#include "text/sentencepiece.h"

/* ---- cases.json ---- */

static int json_int(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valueint : -12345;
}

/* ids from a JSON array; returns the count, or -1 */
static int json_ids(const cJSON *arr, int32_t *out, int cap) {
    int n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr) {
        if (!cJSON_IsNumber(v) || n >= cap) return -1;
        out[n++] = v->valueint;
    }
    return n;
}

static void ids_text(char *buf, size_t cap, const int32_t *ids, size_t n) {
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && k + 12 < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%d", i ? " " : "", (int)ids[i]);
}

typedef struct tally {
    int pass_enc, n_enc, pass_dec, n_dec;
    char first[1024]; /* first mismatch */
} tally;

static void mismatch(tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mismatch(tally *t, const char *fmt, ...) {
    if (t->first[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->first, sizeof t->first, fmt, ap);
    va_end(ap);
}

static void run_encode_case(const spm_model *m, const cJSON *c, tally *t) {
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "text"));
    const char *want_dec = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "decoded"));
    const cJSON *want_pieces = cJSON_GetObjectItemCaseSensitive(c, "pieces");
    int32_t want[4096];
    int nw = json_ids(cJSON_GetObjectItemCaseSensitive(c, "ids"), want, 4096);
    t->n_enc++;
    if (!text || !want_dec || nw < 0 || cJSON_GetArraySize(want_pieces) != nw) {
        mismatch(t, "malformed case");
        return;
    }
    ptts_err e = {0};
    int32_t *ids = NULL;
    size_t n = 0;
    char got[8192], exp[8192];
    if (spm_encode(m, text, strlen(text), &ids, &n, &e)) {
        mismatch(t, "encode '%s' failed: %s", text, e.msg);
        return;
    }
    bool ok = n == (size_t)nw && !memcmp(ids, want, n * sizeof *ids);
    if (!ok) {
        ids_text(got, sizeof got, ids, n);
        ids_text(exp, sizeof exp, want, (size_t)nw);
        mismatch(t, "encode '%s': ids %s, expected %s", text, got, exp);
    }
    char **pieces = NULL;
    size_t np = 0;
    if (ok && spm_encode_pieces(m, text, strlen(text), &pieces, &np, &e)) {
        mismatch(t, "encode_pieces '%s' failed: %s", text, e.msg);
        ok = false;
    }
    for (size_t i = 0; ok && i < np; i++) {
        const char *w = cJSON_GetStringValue(cJSON_GetArrayItem(want_pieces, (int)i));
        if (np != (size_t)nw || !w || strcmp(w, pieces[i])) {
            mismatch(t, "encode '%s': piece '%s', expected '%s'", text, pieces[i], w ? w : "?");
            ok = false;
        }
    }
    free(pieces);
    char *dec = NULL;
    if (ok && spm_decode(m, ids, n, &dec, &e)) {
        mismatch(t, "decode of '%s' failed: %s", text, e.msg);
        ok = false;
    }
    if (ok && strcmp(dec, want_dec)) {
        mismatch(t, "decode of '%s': '%s', expected '%s'", text, dec, want_dec);
        ok = false;
    }
    free(dec);
    free(ids);
    t->pass_enc += ok;
}

static void run_decode_case(const spm_model *m, const cJSON *c, tally *t) {
    const char *want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "decoded"));
    int32_t ids[4096];
    int n = json_ids(cJSON_GetObjectItemCaseSensitive(c, "ids"), ids, 4096);
    char idtext[8192];
    ptts_err e = {0};
    char *dec = NULL;
    t->n_dec++;
    if (!want || n < 0) {
        mismatch(t, "malformed decode case");
        return;
    }
    ids_text(idtext, sizeof idtext, ids, (size_t)n);
    if (spm_decode(m, ids, (size_t)n, &dec, &e))
        mismatch(t, "decode [%s] failed: %s", idtext, e.msg);
    else if (strcmp(dec, want))
        mismatch(t, "decode [%s]: '%s', expected '%s'", idtext, dec, want);
    else
        t->pass_dec++;
    free(dec);
}

/* Runs a cases.json whose models are in dir. */
static void test_cases_json(const char *dir, int want_models) {
    char path[4096];
    snprintf(path, sizeof path, "%s/cases.json", dir);
    char *json = read_file(path, NULL);
    CHECK(json != NULL, "cannot read %s", path);
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    CHECK(root != NULL, "%s does not parse", path);
    int n_models = 0;
    const cJSON *model;
    cJSON_ArrayForEach(model, root) {
        snprintf(path, sizeof path, "%s/%s", dir, model->string);
        ptts_err e = {0};
        spm_model *m = NULL;
        int rc = spm_load(&m, path, &e);
        CHECK(rc == PTTS_OK, "load %s: %s", model->string, e.msg);
        if (rc) continue;
        n_models++;
        CHECK(spm_vocab_size(m) == json_int(model, "vocab_size"), "%s: vocab size %d",
              model->string, spm_vocab_size(m));
        CHECK(spm_unk_id(m) == json_int(model, "unk_id") &&
                  spm_bos_id(m) == json_int(model, "bos_id") &&
                  spm_eos_id(m) == json_int(model, "eos_id") &&
                  spm_pad_id(m) == json_int(model, "pad_id"),
              "%s: special ids %d %d %d %d", model->string, spm_unk_id(m), spm_bos_id(m),
              spm_eos_id(m), spm_pad_id(m));
        tally t = {0};
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(model, "encode")) {
            run_encode_case(m, c, &t);
        }
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(model, "decode")) {
            run_decode_case(m, c, &t);
        }
        printf("%-24s encode %d/%d, decode %d/%d\n", model->string, t.pass_enc, t.n_enc, t.pass_dec,
               t.n_dec);
        CHECK(t.n_enc > 0 && t.n_dec > 0, "%s: no cases", model->string);
        CHECK(t.pass_enc == t.n_enc && t.pass_dec == t.n_dec, "%s: first mismatch: %s",
              model->string, t.first);
        spm_free(m);
    }
    CHECK(n_models == want_models, "%d models in %s/cases.json", n_models, dir);
    cJSON_Delete(root);
    free(json);
}

/* ---- the released vocabulary ---- */

static void test_pocket_known_ids(void) {
    static const int32_t want[] = {2994, 262, 285, 277, 267, 1115, 272, 265, 1456,
                                   603,  597, 602, 854, 640, 260,  848, 263};
    const char *text = "Hello, this is a test of the Pocket TTS system.";
    ptts_err e = {0};
    spm_model *m = NULL;
    int rc = spm_load(&m, fixture("tokenizers/pocket_en.model"), &e);
    CHECK(rc == PTTS_OK, "%s", e.msg);
    if (rc) return;
    int32_t *ids = NULL;
    size_t n = 0;
    rc = spm_encode(m, text, strlen(text), &ids, &n, &e);
    CHECK(rc == PTTS_OK && n == sizeof want / sizeof *want && !memcmp(ids, want, sizeof want),
          "pocket_en ids differ (%zu ids)", n);
    CHECK(spm_vocab_size(m) == 4000 && !strcmp(spm_id_to_piece(m, 0), "<unk>") &&
              !strcmp(spm_id_to_piece(m, 4), "<0x00>") && spm_id_to_piece(m, 4000) == NULL &&
              spm_id_to_piece(m, -1) == NULL && spm_piece_to_id(m, "<0xFF>") == 259 &&
              spm_piece_to_id(m, "no such piece") == 0,
          "pocket_en vocabulary accessors");
    free(ids);

    /* Invalid UTF-8 encodes as U+FFFD, one per bad byte (byte pieces EF BF BD). */
    rc = spm_encode(m, "a\xff\xc3", 3, &ids, &n, &e);
    CHECK(rc == PTTS_OK && n == 7 && ids[1] == 4 + 0xEF && ids[2] == 4 + 0xBF &&
              ids[3] == 4 + 0xBD && ids[4] == 4 + 0xEF,
          "invalid UTF-8: %zu ids", n);
    free(ids);
    char *text_out = NULL;
    int32_t bad[] = {4 + 0xC3, 4 + 0xA9, 4 + 0xC3, 27, 4 + 0xFF, 4000};
    CHECK(spm_decode(m, bad, 6, &text_out, &e) == PTTS_ERR_INVALID_ARG && !text_out,
          "an id out of range is refused");
    CHECK(spm_decode(m, bad, 5, &text_out, &e) == PTTS_OK, "%s", e.msg);
    CHECK(text_out && !strcmp(text_out, "\xC3\xA9\xEF\xBF\xBD\x17\xEF\xBF\xBD"),
          "byte pieces reassembled, bad ones U+FFFD: '%s'", text_out ? text_out : "");
    free(text_out);
    CHECK(spm_decode(m, NULL, 0, &text_out, &e) == PTTS_OK && text_out && !*text_out,
          "empty decode");
    free(text_out);
    CHECK(spm_encode(m, NULL, 0, &ids, &n, &e) == PTTS_OK && ids && n == 0, "empty encode");
    free(ids);

    /* Speed: a 1000-word text. */
    static const char *words[] = {"the",    "quick",   "brown", "fox,",     "jumps",
                                  "over",   "lazy",    "dogs.", "Pocket",   "TTS",
                                  "speaks", "English", "text",  "quietly;", "numbers",
                                  "like",   "42",      "and",   "names!"};
    char big[16384];
    size_t k = 0;
    for (int i = 0; i < 1000; i++)
        k += (size_t)snprintf(big + k, sizeof big - k, "%s ",
                              words[(i * 7 + i / 3) % (sizeof words / sizeof *words)]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = spm_encode(m, big, k, &ids, &n, &e);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("encode of 1000 words (%zu bytes, %zu ids): %.2f ms\n", k, n, ms);
    CHECK(rc == PTTS_OK && n > 1000, "1000-word encode");
    CHECK(ms < 100, "1000-word encode took %.1f ms", ms); /* ~1 ms optimized; loose for ASan */
    free(ids);
    spm_free(m);
}

/* ---- corrupt models ---- */

/* Loads buf; a failure must leave no model and say why; a model that loads must encode
 * and decode without trouble. Returns the load status. */
static int load_any(const void *buf, size_t len) {
    static const char text[] = "Hello  W\xc3\xb6rld <break> \xef\xac\x81 12 \xe2\x96\x81x\xff.";
    ptts_err e = {0};
    spm_model *m = (spm_model *)&e; /* must be overwritten */
    int rc = spm_load_memory(&m, buf, len, &e);
    if (rc) {
        if (m != NULL || !e.msg[0] || e.code != rc) {
            CHECK(0, "failed load (%d) left a model or no message", rc);
            return rc;
        }
        return rc;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    char *dec = NULL;
    if (spm_encode(m, text, sizeof text - 1, &ids, &n, &e) == PTTS_OK) {
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= spm_vocab_size(m)) CHECK(0, "id %d out of range", ids[i]);
        if (spm_decode(m, ids, n, &dec, &e) == PTTS_OK && !dec) CHECK(0, "decode gave NULL");
    } else if (!e.msg[0]) {
        CHECK(0, "encode failed without a message");
    }
    free(dec);
    free(ids);
    spm_free(m);
    return rc;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) { /* xorshift64*: deterministic */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

typedef struct pbw { /* protobuf writer for hand-made inputs */
    uint8_t b[1 << 16];
    size_t n;
} pbw;

static void put_varint(pbw *w, uint64_t v) {
    do {
        w->b[w->n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
}
static void put_key(pbw *w, uint32_t num, int wire) {
    put_varint(w, (uint64_t)num << 3 | (uint64_t)wire);
}
static void put_bytes(pbw *w, uint32_t num, const void *p, size_t n) {
    put_key(w, num, 2);
    put_varint(w, n);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void put_piece(pbw *w, const char *piece, float score, int type) {
    pbw sub = {.n = 0};
    uint32_t bits;
    memcpy(&bits, &score, 4);
    put_bytes(&sub, 1, piece, strlen(piece));
    put_key(&sub, 2, 5);
    for (int i = 0; i < 4; i++)
        sub.b[sub.n++] = (uint8_t)(bits >> (8 * i));
    put_key(&sub, 3, 0);
    put_varint(&sub, (uint64_t)type);
    put_bytes(w, 1, sub.b, sub.n);
}

/* A model with a few pieces, then `tail` appended (raw protobuf bytes). */
static int load_small(const pbw *tail, ptts_err *e, spm_model **m) {
    static pbw w;
    w.n = 0;
    put_piece(&w, "<unk>", 0, 2);
    put_piece(&w, "<s>", 0, 3);
    put_piece(&w,
              "\xe2\x96\x81"
              "a",
              -1, 1);
    put_piece(&w, "b", -2, 1);
    put_piece(&w, "a", -3, 1);
    memcpy(w.b + w.n, tail->b, tail->n);
    w.n += tail->n;
    *m = NULL;
    return spm_load_memory(m, w.b, w.n, e);
}

static void expect_load(const pbw *tail, int want, const char *what) {
    ptts_err e = {0};
    spm_model *m;
    int rc = load_small(tail, &e, &m);
    CHECK(rc == want && (rc ? m == NULL && e.msg[0] : m != NULL), "%s: status %d (%s)", what, rc,
          e.msg);
    if (m && want == PTTS_OK) { /* "ab" encodes as ▁a b whatever was skipped */
        int32_t *ids = NULL;
        size_t n = 0;
        rc = spm_encode(m, "ab", 2, &ids, &n, &e);
        CHECK(rc == PTTS_OK && n == 2 && ids[0] == 2 && ids[1] == 3, "%s: encode", what);
        free(ids);
    }
    spm_free(m);
}

static void test_wire_format(void) {
    pbw t = {.n = 0};
    expect_load(&t, PTTS_OK, "plain");
    /* Fields of unknown number are skipped, whatever their wire type (groups too). */
    put_key(&t, 99, 0);
    put_varint(&t, 12345678901ull);
    put_key(&t, 98, 1);
    memcpy(t.b + t.n, "12345678", 8), t.n += 8;
    put_bytes(&t, 97, "abc", 3);
    put_key(&t, 96, 5);
    memcpy(t.b + t.n, "1234", 4), t.n += 4;
    put_key(&t, 95, 3);
    put_key(&t, 1, 0);
    put_varint(&t, 7);
    put_key(&t, 94, 3);
    put_key(&t, 94, 4);
    put_key(&t, 95, 4);
    pbw ts = {.n = 0}; /* and inside nested messages */
    put_key(&ts, 1000, 0);
    put_varint(&ts, 1);
    put_bytes(&ts, 7, "x", 1);
    put_bytes(&t, 2, ts.b, ts.n);
    put_bytes(&t, 3, ts.b, ts.n);
    put_bytes(&t, 4, ts.b, ts.n);
    expect_load(&t, PTTS_OK, "unknown fields");

    struct {
        const char *what;
        uint8_t bytes[16];
        size_t n;
    } bad[] = {
        {"pieces as a varint", {1 << 3 | 0, 5}, 2},
        {"trainer_spec as fixed32", {2 << 3 | 5, 0, 0, 0, 0}, 5},
        {"model_type as bytes", {2 << 3 | 2, 3, 3 << 3 | 2, 1, 2}, 5},
        {"byte_fallback as fixed64", {2 << 3 | 2, 10, 0x98, 0x02, 1, 2, 3, 4, 5, 6, 7, 8}, 12},
        {"unk_surface as a varint", {2 << 3 | 2, 3, 0xe0, 0x02, 1}, 5},
        {"normalizer flag as bytes", {3 << 3 | 2, 3, 3 << 3 | 2, 1, 1}, 5},
        {"charsmap as a varint", {3 << 3 | 2, 2, 2 << 3 | 0, 1}, 4},
        {"field number 0", {0 << 3 | 0, 1}, 2},
        {"wire type 6", {9 << 3 | 6, 1}, 2},
        {"wire type 7", {9 << 3 | 7, 1}, 2},
        {"11-byte varint",
         {9 << 3, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1},
         12},
        {"truncated varint", {9 << 3, 0x80}, 2},
        {"length past the end", {9 << 3 | 2, 5, 1, 2}, 4},
        {"huge length", {9 << 3 | 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 10},
        {"fixed64 past the end", {9 << 3 | 1, 1, 2, 3}, 4},
        {"end group without start", {9 << 3 | 4}, 1},
        {"group not closed", {9 << 3 | 3, 8, 1}, 3},
        {"group closed by another", {9 << 3 | 3, 10 << 3 | 4}, 2},
        {"piece without text", {1 << 3 | 2, 2, 3 << 3, 1}, 4},
        {"piece with a NUL", {1 << 3 | 2, 4, 1 << 3 | 2, 2, 'x', 0}, 6},
        {"duplicate piece", {1 << 3 | 2, 3, 1 << 3 | 2, 1, 'b'}, 5},
        {"second unknown piece", {1 << 3 | 2, 5, 1 << 3 | 2, 1, 'u', 3 << 3, 2}, 7},
        {"byte piece without byte_fallback",
         {1 << 3 | 2, 8, 1 << 3 | 2, 4, '<', '0', 'x', 'A', 3 << 3, 6},
         10},
        {"byte_fallback without byte pieces", {2 << 3 | 2, 3, 0x98, 0x02, 1}, 5},
        {"charsmap shorter than its header", {3 << 3 | 2, 5, 2 << 3 | 2, 3, 1, 0, 0}, 7},
        {"charsmap trie past the blob", {3 << 3 | 2, 8, 2 << 3 | 2, 6, 9, 0, 0, 0, 1, 2}, 10},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        t.n = bad[i].n;
        memcpy(t.b, bad[i].bytes, t.n);
        expect_load(&t, PTTS_ERR_FORMAT, bad[i].what);
    }
    /* A type number the proto does not define leaves the piece NORMAL (proto2 enums). */
    t.n = 0;
    pbw p = {.n = 0};
    put_bytes(&p, 1, "c", 1);
    put_key(&p, 3, 0);
    put_varint(&p, 77);
    put_bytes(&t, 1, p.b, p.n);
    expect_load(&t, PTTS_OK, "unknown piece type");
    /* A model with no unknown piece is refused. */
    ptts_err e = {0};
    spm_model *m = (spm_model *)&e;
    t.n = 0;
    put_piece(&t, "a", 0, 1);
    CHECK(spm_load_memory(&m, t.b, t.n, &e) == PTTS_ERR_FORMAT && !m, "no <unk>: %s", e.msg);
    CHECK(spm_load_memory(&m, "", 0, &e) == PTTS_ERR_FORMAT && !m, "empty model: %s", e.msg);
    CHECK(spm_load(&m, "tests/no/such.model", &e) == PTTS_ERR_IO && !m, "missing file");
    CHECK(spm_load_memory(NULL, "", 0, &e) == PTTS_ERR_INVALID_ARG, "NULL out");
    spm_free(NULL);
}

static void test_corrupt_models(void) {
    static const char *const files[] = {"tests/data/tokenizers/char.model",
                                        "tests/data/tokenizers/uni_unused.model",
                                        "tests/data/tokenizers/bpe_unused.model",
                                        "tests/data/tokenizers/word.model",
                                        "tests/data/tokenizers/uni_raw.model",
                                        NULL,
                                        NULL,
                                        NULL,
                                        NULL,
                                        NULL};
    static const char *const fixtures[] = {"pocket_en.model", "bpe1000.model",
                                           "unigram4000_id.model", "unigram4000_nfkc.model",
                                           "unigram_cf800.model"};
    char paths[5][4096];
    const char *all[10];
    memcpy(all, files, sizeof all);
    for (int i = 0; i < 5; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "tokenizers/%s", fixtures[i]);
        snprintf(paths[i], sizeof paths[i], "%s", fixture(rel));
        all[5 + i] = paths[i];
    }
    int loaded = 0, refused = 0;
    for (int f = 0; f < 10; f++) {
        size_t len = 0;
        uint8_t *buf = (uint8_t *)read_file(all[f], &len);
        CHECK(buf != NULL && load_any(buf, len) == PTTS_OK, "%s does not load", all[f]);
        if (!buf) continue;
        /* Every truncation of the two smallest (one with character maps), strided for
         * the others. */
        size_t step = f < 2 ? 1 : len / 300 + 1;
        for (size_t cut = 0; cut < len; cut += step)
            load_any(buf, cut) ? refused++ : loaded++;
        /* Random bytes changed, in the whole file and in its last quarter (where the
         * character maps of the large models are). */
        uint8_t *copy = malloc(len);
        for (int k = 0; copy && k < 300; k++) {
            memcpy(copy, buf, len);
            size_t from = k % 2 ? len - len / 4 : 0;
            for (int j = 0, nflip = 1 + (int)(rnd() % 4); j < nflip; j++)
                copy[from + rnd() % (len - from)] = (uint8_t)rnd();
            load_any(copy, len) ? refused++ : loaded++;
        }
        free(copy);
        free(buf);
    }
    /* Garbage, and garbage behind a valid piece list. */
    uint8_t junk[4096];
    for (int k = 0; k < 2000; k++) {
        size_t n = rnd() % sizeof junk;
        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)(k % 3 ? rnd() : rnd() % 32);
        load_any(junk, n) ? refused++ : loaded++;
    }
    printf("corrupt models: %d refused, %d loaded (and encoded)\n", refused, loaded);
    CHECK(refused > 1000 && loaded > 100, "%d refused, %d loaded", refused, loaded);
}

int main(void) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", fixture("tokenizers"));
    test_cases_json(dir, 5);
    /* WORD, CHAR, UNUSED pieces, whitespace as suffix, a denormalizer, no dummy prefix */
    test_cases_json("tests/data/tokenizers", 5);
    test_pocket_known_ids();
    test_wire_format();
    test_corrupt_models();
    TEST_END();
}
