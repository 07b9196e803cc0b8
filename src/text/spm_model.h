/* spm_model.h - internals of the SentencePiece tokenizer shared by its files:
 * sentencepiece.c (loading, accessors), spm_vocab.c (piece lookup), spm_normalizer.c,
 * spm_unigram.c and spm_bpe.c (segmentation), spm_encode.c, spm_decode.c, spm_util.c
 * (byte buffer, UTF-8). */
#ifndef PTTS_SPM_MODEL_H
#define PTTS_SPM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sentencepiece.h"

/* ModelProto.SentencePiece.Type */
enum {
    SPM_NORMAL = 1,
    SPM_UNKNOWN = 2,
    SPM_CONTROL = 3,
    SPM_USER_DEFINED = 4,
    SPM_UNUSED = 5,
    SPM_BYTE = 6
};
/* TrainerSpec.ModelType */
enum { SPM_UNIGRAM = 1, SPM_BPE = 2, SPM_WORD = 3, SPM_CHAR = 4 };

/* "▁" (U+2581), which stands for a space inside pieces. */
#define SPM_SPACE     "\xe2\x96\x81"
#define SPM_SPACE_LEN 3

typedef struct spm_piece {
    const char *str; /* NUL-terminated, in the model's string arena */
    uint32_t len;
    float score;
    int type; /* SPM_NORMAL ... */
} spm_piece;

/* Byte trie over the pieces that text can match (NORMAL, USER_DEFINED, UNUSED): node 0 is
 * the root; a node's children are edges [first, first + count), sorted by label. */
typedef struct spm_trie_node {
    uint32_t first;
    uint32_t count;
    int32_t id; /* piece ending here, or -1 */
} spm_trie_node;

typedef struct spm_trie {
    spm_trie_node *nodes;
    uint8_t *labels;    /* per edge */
    uint32_t *target;   /* per edge: child node */
    uint32_t root[256]; /* child of the root per byte, 0 if none (speeds the first step) */
} spm_trie;

/* Hash table from piece text to ids. SentencePiece keeps two maps: matchable pieces and
 * reserved ones (CONTROL, UNKNOWN, BYTE); an entry holds the id from each, -1 if absent. */
typedef struct spm_slot {
    int32_t normal, reserved; /* normal < 0 && reserved < 0: empty slot */
} spm_slot;

/* NormalizerSpec, with the precompiled character map unpacked: a Darts-clone double array
 * (32-bit units) whose values are offsets of NUL-terminated replacements in `repl`. */
typedef struct spm_normalizer {
    char *name;
    uint32_t *units; /* NULL: no character map */
    size_t n_units;
    char *repl; /* NUL-terminated after repl_len */
    size_t repl_len;
    bool add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
    bool treat_whitespace_as_suffix; /* from TrainerSpec */
} spm_normalizer;

struct spm_model {
    int type; /* SPM_UNIGRAM ... */
    bool byte_fallback;
    int n_pieces;
    spm_piece *pieces;
    char *arena; /* piece strings */
    spm_slot *slots;
    size_t slot_mask; /* table size - 1 (a power of two) */
    spm_trie trie;
    bool has_user_defined;
    int unk;                                /* the UNKNOWN piece: what unmatched text encodes to */
    int32_t byte_id[256];                   /* id of <0xXX>, when byte_fallback */
    float min_score, max_score;             /* over NORMAL pieces (Unigram) */
    int api_unk, api_bos, api_eos, api_pad; /* as spm_unk_id() etc. report them */
    char *unk_surface;                      /* what decoding writes for the unknown piece */
    spm_normalizer norm;
    spm_normalizer denorm; /* used only when it has a character map */
};

/* spm_util.c: a growable byte buffer; p is NUL-terminated whenever it is non-NULL. */
typedef struct spm_buf {
    char *p;
    size_t len, cap;
} spm_buf;

int spm_buf_add(spm_buf *b, const void *s, size_t n, ptts_err *e);
/* Makes room for n more bytes (and the NUL) without changing the contents. */
int spm_buf_reserve(spm_buf *b, size_t n, ptts_err *e);

/* One encoded piece: its id and its text (inside the normalized string, or the vocabulary
 * string for byte pieces). */
typedef struct spm_tok {
    int32_t id;
    uint32_t len;
    const char *s;
} spm_tok;

/* Length of the UTF-8 character starting with byte c, from its first byte alone (as
 * SentencePiece's OneCharLen: 1 for stray continuation bytes). */
static inline size_t spm_char_len(uint8_t c) {
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

/* Decodes one UTF-8 character; returns its length, or 0 if s[0..n) does not start with a
 * valid one (overlong forms, surrogates and values past U+10FFFF are invalid). */
size_t spm_utf8_valid(const uint8_t *s, size_t n);

/* spm_vocab.c */
int spm_vocab_build(spm_model *m, ptts_err *e);
/* Id of the piece s[0..n): reserved pieces first, then matchable ones, else m->unk. */
int spm_lookup(const spm_model *m, const char *s, size_t n);
/* Id of the matchable piece s[0..n), -1 if none. */
int spm_lookup_normal(const spm_model *m, const char *s, size_t n);
/* Child of a trie node by byte, 0 if none (the root is never a child). */
static inline uint32_t spm_trie_step(const spm_trie *t, uint32_t node, uint8_t c) {
    if (node == 0) return t->root[c];
    const spm_trie_node *nd = &t->nodes[node];
    uint32_t lo = nd->first, hi = nd->first + nd->count;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (t->labels[mid] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < nd->first + nd->count && t->labels[lo] == c ? t->target[lo] : 0;
}
/* Length of the longest user-defined piece that starts s[0..n), 0 if none. */
size_t spm_match_user_defined(const spm_model *m, const char *s, size_t n);

/* spm_normalizer.c */
int spm_charsmap_load(spm_normalizer *nz, const uint8_t *blob, size_t len, const char *what,
                      ptts_err *e);
/* Normalizes text into out (cleared first). user_defined: the model whose user-defined
 * pieces pass through unchanged, NULL for none. */
int spm_normalize(const spm_normalizer *nz, const spm_model *user_defined, const char *text,
                  size_t len, spm_buf *out, ptts_err *e);

/* Segmenters: split normalized text s[0..n) into pieces appended to toks (room for n). */
int spm_unigram_encode(const spm_model *m, const char *s, size_t n, spm_tok *toks, size_t *nt,
                       ptts_err *e);
int spm_bpe_encode(const spm_model *m, const char *s, size_t n, spm_tok *toks, size_t *nt,
                   ptts_err *e);

#endif
