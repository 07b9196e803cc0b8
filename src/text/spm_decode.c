/* Decoding, as SentencePieceProcessor::Decode: pieces joined with U+2581 turned back into
 * spaces; the first space dropped when the normalizer adds a dummy prefix (every leading
 * one when it squeezes whitespace); control pieces dropped; the unknown piece written as
 * unk_surface; runs of byte pieces reassembled into UTF-8, each byte that does not form a
 * valid character becoming U+FFFD; finally the denormalizer, if the model has one. */
#include "spm_model.h"

static int piece_byte(const spm_piece *p) {
    /* a BYTE piece was checked at load to be "<0xXX>" */
    int hi = p->str[3], lo = p->str[4];
    hi = hi <= '9' ? hi - '0' : hi - 'A' + 10;
    lo = lo <= '9' ? lo - '0' : lo - 'A' + 10;
    return hi * 16 + lo;
}

/* Appends the bytes of the byte pieces ids[from, to): valid UTF-8 characters as they are,
 * each other byte as U+FFFD. */
static int flush_bytes(const spm_model *m, const int32_t *ids, size_t from, size_t to, spm_buf *out,
                       ptts_err *e) {
    for (size_t i = from; i < to;) {
        uint8_t b[4]; /* the longest character */
        size_t nb = 0;
        for (; nb < sizeof b && i + nb < to; nb++)
            b[nb] = (uint8_t)piece_byte(&m->pieces[ids[i + nb]]);
        size_t c = spm_utf8_valid(b, nb);
        int rc = c ? spm_buf_add(out, b, c, e) : spm_buf_add(out, "\xEF\xBF\xBD", 3, e);
        if (rc) return rc;
        i += c ? c : 1;
    }
    return PTTS_OK;
}

int spm_decode(const spm_model *m, const int32_t *ids, size_t n, char **text, ptts_err *e) {
    if (!text) return err_set(e, PTTS_ERR_INVALID_ARG, "spm_decode: text is NULL");
    *text = NULL;
    if (!m || (!ids && n)) return err_set(e, PTTS_ERR_INVALID_ARG, "spm_decode: NULL argument");
    int32_t *remap = malloc((n ? n : 1) * sizeof *remap);
    if (!remap) return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= m->n_pieces) {
            free(remap);
            return err_set(e, PTTS_ERR_INVALID_ARG, "invalid id %d at position %zu (of %d pieces)",
                           (int)ids[i], i, m->n_pieces);
        }
        /* The library decodes through the piece text, so a piece that is both reserved
         * and normal decodes as the reserved one. */
        const spm_piece *p = &m->pieces[ids[i]];
        remap[i] = spm_lookup(m, p->str, p->len);
    }
    const spm_normalizer *nz = &m->norm;
    spm_buf out = {0};
    int rc = spm_buf_reserve(&out, 0, e);
    size_t byte_start = 0;
    bool bos_ws = true, bos_ws_seen = false;
    for (size_t i = 0; i < n && !rc; i++) {
        const spm_piece *p = &m->pieces[remap[i]];
        if (p->type == SPM_BYTE) continue;
        if ((rc = flush_bytes(m, remap, byte_start, i, &out, e))) break;
        byte_start = i + 1;
        if (bos_ws_seen || out.len) bos_ws = false;
        bos_ws_seen = false;
        if (p->type == SPM_CONTROL) continue;
        if (p->type == SPM_UNKNOWN) {
            rc = spm_buf_add(&out, m->unk_surface, strlen(m->unk_surface), e);
            continue;
        }
        const char *s = p->str, *end = p->str + p->len;
        if (bos_ws && (nz->add_dummy_prefix || nz->remove_extra_whitespaces) &&
            p->len >= SPM_SPACE_LEN && !memcmp(s, SPM_SPACE, SPM_SPACE_LEN)) {
            s += SPM_SPACE_LEN;
            /* Only this one space goes, unless whitespace is squeezed: then the following
             * pieces lose theirs too while nothing has been written. */
            bos_ws_seen = !nz->remove_extra_whitespaces;
        }
        while (s < end && !rc) {
            const char *sp = memmem(s, (size_t)(end - s), SPM_SPACE, SPM_SPACE_LEN);
            size_t run = sp ? (size_t)(sp - s) : (size_t)(end - s);
            rc = spm_buf_add(&out, s, run, e);
            s += run;
            if (s < end && !rc) {
                rc = spm_buf_add(&out, " ", 1, e);
                s += SPM_SPACE_LEN;
            }
        }
    }
    if (!rc) rc = flush_bytes(m, remap, byte_start, n, &out, e);
    free(remap);
    if (!rc && m->denorm.units) {
        spm_buf den = {0};
        rc = spm_normalize(&m->denorm, NULL, out.p, out.len, &den, e);
        if (!rc) rc = spm_buf_reserve(&den, 0, e);
        free(out.p);
        out = den;
    }
    if (rc) {
        free(out.p);
        return rc;
    }
    *text = out.p;
    return PTTS_OK;
}
