/* Helpers shared by the tokenizer's files: a growable byte buffer and UTF-8 validation
 * with SentencePiece's rules. */
#include "spm_model.h"

int spm_buf_reserve(spm_buf *b, size_t n, ptts_err *e) {
    if (b->p && n < b->cap - b->len) return PTTS_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len <= n) {
        if (cap > SIZE_MAX / 2) return err_set(e, PTTS_ERR_NOMEM, "buffer too large");
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) return err_set(e, PTTS_ERR_NOMEM, "out of memory (%zu bytes)", cap);
    b->p = p;
    b->cap = cap;
    b->p[b->len] = 0;
    return PTTS_OK;
}

int spm_buf_add(spm_buf *b, const void *s, size_t n, ptts_err *e) {
    int rc = spm_buf_reserve(b, n, e);
    if (rc) return rc;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return PTTS_OK;
}

size_t spm_utf8_valid(const uint8_t *s, size_t n) {
    if (n == 0) return 0;
    uint32_t c = s[0];
    if (c < 0x80) return 1;
    size_t len = c >= 0xf0 && c < 0xf8   ? 4
                 : c >= 0xe0 && c < 0xf0 ? 3
                 : c >= 0xc0 && c < 0xe0 ? 2
                                         : 0;
    if (len == 0 || n < len) return 0;
    c &= 0x7f >> len;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c < 0xe000)) return 0;
    return len;
}
