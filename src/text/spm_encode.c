/* Encoding: normalize, segment with the model's algorithm, then post-process as
 * SentencePieceProcessor::PopulateSentencePieceText does: an unknown piece becomes its
 * UTF-8 bytes as <0xXX> pieces when byte_fallback is on, else runs of unknown pieces merge
 * into one. WORD and CHAR models, being one loop each, are segmented here. */
#include "spm_model.h"

/* WORD (word_model.cc): a new word starts at the text's start and at each U+2581. */
static void word_encode(const spm_model *m, const char *s, size_t n, spm_tok *toks, size_t *nt) {
    size_t k = 0;
    for (size_t pos = 0; pos < n;) {
        size_t c = spm_char_len((uint8_t)s[pos]);
        if (c > n - pos) c = n - pos;
        if (pos == 0 || (c == SPM_SPACE_LEN && !memcmp(s + pos, SPM_SPACE, c)))
            toks[k++] = (spm_tok){0, 0, s + pos};
        toks[k - 1].len += (uint32_t)c;
        pos += c;
    }
    for (size_t i = 0; i < k; i++)
        toks[i].id = spm_lookup(m, toks[i].s, toks[i].len);
    *nt = k;
}

/* CHAR (char_model.cc): characters, and user-defined pieces whole. */
static void char_encode(const spm_model *m, const char *s, size_t n, spm_tok *toks, size_t *nt) {
    size_t k = 0;
    for (size_t pos = 0; pos < n; k++) {
        size_t c = m->has_user_defined ? spm_match_user_defined(m, s + pos, n - pos) : 0;
        if (!c) c = spm_char_len((uint8_t)s[pos]);
        if (c > n - pos) c = n - pos;
        toks[k] = (spm_tok){spm_lookup(m, s + pos, c), (uint32_t)c, s + pos};
        pos += c;
    }
    *nt = k;
}

/* Encodes text into *out (malloc'd, *n pieces); the pieces' text lives in norm. */
static int encode(const spm_model *m, const char *text, size_t len, spm_buf *norm, spm_tok **out,
                  size_t *n, ptts_err *e) {
    *out = NULL;
    *n = 0;
    if (!m) return err_set(e, PTTS_ERR_INVALID_ARG, "spm_encode: model is NULL");
    if (!text && len) return err_set(e, PTTS_ERR_INVALID_ARG, "spm_encode: text is NULL");
    int rc = spm_normalize(&m->norm, m->has_user_defined ? m : NULL, text, len, norm, e);
    if (rc) return rc;
    size_t nn = norm->len;
    if (nn > INT32_MAX)
        return err_set(e, PTTS_ERR_INVALID_ARG, "text too long to encode (%zu bytes)", len);
    /* Every piece covers at least one byte, and so does every byte piece. */
    spm_tok *seg = malloc((nn + 1) * sizeof *seg), *toks = malloc((nn + 1) * sizeof *toks);
    if (!seg || !toks) {
        free(seg);
        free(toks);
        return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    }
    size_t ns = 0, k = 0;
    if (nn) {
        const char *s = norm->p;
        switch (m->type) {
        case SPM_BPE: rc = spm_bpe_encode(m, s, nn, seg, &ns, e); break;
        case SPM_WORD: word_encode(m, s, nn, seg, &ns); break;
        case SPM_CHAR: char_encode(m, s, nn, seg, &ns); break;
        default: rc = spm_unigram_encode(m, s, nn, seg, &ns, e); break;
        }
    }
    bool prev_unk = false;
    for (size_t i = 0; i < ns && !rc; i++) {
        const spm_tok *t = &seg[i];
        int type = m->pieces[t->id].type;
        bool unk = type == SPM_UNKNOWN;
        if (type == SPM_CONTROL) {
            /* The library fails here too ("all normalized characters are not consumed"). */
            rc = err_set(e, PTTS_ERR_FORMAT, "text segments into control piece '%s'",
                         m->pieces[t->id].str);
        } else if (unk && m->byte_fallback) {
            for (uint32_t j = 0; j < t->len; j++) {
                int id = m->byte_id[(uint8_t)t->s[j]];
                toks[k++] = (spm_tok){id, m->pieces[id].len, m->pieces[id].str};
            }
        } else if (unk && prev_unk) {
            toks[k - 1].len += t->len; /* adjacent in the normalized text */
        } else {
            toks[k++] = *t;
        }
        prev_unk = unk;
    }
    free(seg);
    if (rc) {
        free(toks);
        return rc;
    }
    *out = toks;
    *n = k;
    return PTTS_OK;
}

int spm_encode(const spm_model *m, const char *text, size_t len, int32_t **ids, size_t *n,
               ptts_err *e) {
    if (!ids || !n) return err_set(e, PTTS_ERR_INVALID_ARG, "spm_encode: NULL output");
    *ids = NULL;
    *n = 0;
    spm_buf norm = {0};
    spm_tok *toks;
    size_t nt;
    int rc = encode(m, text, len, &norm, &toks, &nt, e);
    free(norm.p);
    if (rc) return rc;
    int32_t *out = malloc((nt ? nt : 1) * sizeof *out);
    if (out) {
        for (size_t i = 0; i < nt; i++)
            out[i] = toks[i].id;
        *ids = out;
        *n = nt;
    } else {
        rc = err_set(e, PTTS_ERR_NOMEM, "out of memory");
    }
    free(toks);
    return rc;
}

int spm_encode_pieces(const spm_model *m, const char *text, size_t len, char ***pieces, size_t *n,
                      ptts_err *e) {
    if (!pieces || !n) return err_set(e, PTTS_ERR_INVALID_ARG, "spm_encode_pieces: NULL output");
    *pieces = NULL;
    *n = 0;
    spm_buf norm = {0};
    spm_tok *toks;
    size_t nt;
    int rc = encode(m, text, len, &norm, &toks, &nt, e);
    if (rc) {
        free(norm.p);
        return rc;
    }
    size_t bytes = (nt + 1) * sizeof(char *);
    for (size_t i = 0; i < nt; i++)
        bytes += toks[i].len + 1;
    char **out = malloc(bytes);
    if (out) {
        char *dst = (char *)(out + nt + 1);
        for (size_t i = 0; i < nt; i++) {
            out[i] = dst;
            memcpy(dst, toks[i].s, toks[i].len);
            dst[toks[i].len] = 0;
            dst += toks[i].len + 1;
        }
        out[nt] = NULL;
        *pieces = out;
        *n = nt;
    } else {
        rc = err_set(e, PTTS_ERR_NOMEM, "out of memory");
    }
    free(toks);
    free(norm.p);
    return rc;
}
