/* SentencePiece's normalizer (normalizer.cc): the precompiled character map, user-defined
 * pieces kept as they are, the dummy prefix, whitespace squeezing and escaping to U+2581.
 *
 * The character map blob is <u32 LE trie size><Darts-clone double array><replacements>: the
 * longest key of the double array that prefixes the text gives an offset into the
 * NUL-separated replacements. Unmapped text passes one character at a time; a byte that
 * does not start valid UTF-8 becomes U+FFFD. */
#include "spm_model.h"

/* SentencePiece considers at most this many prefixes of the text (kMaxTrieResultsSize). */
#define MAX_PREFIXES 32

int spm_charsmap_load(spm_normalizer *nz, const uint8_t *blob, size_t len, const char *what,
                      ptts_err *e) {
    if (len <= 4) return err_set(e, PTTS_ERR_FORMAT, "%s: character map is broken", what);
    size_t trie =
        (size_t)blob[0] | (size_t)blob[1] << 8 | (size_t)blob[2] << 16 | (size_t)blob[3] << 24;
    if (trie > len - 4)
        return err_set(e, PTTS_ERR_FORMAT, "%s: character map trie (%zu bytes) exceeds the blob",
                       what, trie);
    nz->n_units = trie / 4;
    nz->repl_len = len - 4 - trie;
    nz->units = malloc((nz->n_units ? nz->n_units : 1) * sizeof *nz->units);
    nz->repl = malloc(nz->repl_len + 1);
    if (!nz->units || !nz->repl) return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nz->n_units; i++) {
        const uint8_t *u = blob + 4 + 4 * i;
        nz->units[i] =
            (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    memcpy(nz->repl, blob + 4 + trie, nz->repl_len);
    nz->repl[nz->repl_len] = 0;
    return PTTS_OK;
}

/* Darts-clone unit fields. */
static inline uint32_t unit_offset(uint32_t u) {
    return (u >> 10) << ((u & (1u << 9)) >> 6);
}
static inline uint32_t unit_label(uint32_t u) {
    return u & ((1u << 31) | 0xff);
}
static inline bool unit_has_leaf(uint32_t u) {
    return (u >> 8) & 1;
}

/* Darts-clone commonPrefixSearch, keeping the longest of the first MAX_PREFIXES matches;
 * an index outside the array ends the search (the library does not check). Returns the
 * match length (0: none) and its value in *value. */
static size_t charsmap_match(const spm_normalizer *nz, const uint8_t *s, size_t n,
                             uint32_t *value) {
    if (nz->n_units == 0) return 0;
    size_t best = 0;
    int found = 0;
    uint32_t pos = unit_offset(nz->units[0]);
    for (size_t i = 0; i < n && found < MAX_PREFIXES; i++) {
        pos ^= s[i];
        if (pos >= nz->n_units) break;
        uint32_t u = nz->units[pos];
        if (unit_label(u) != s[i]) break;
        pos ^= unit_offset(u);
        if (unit_has_leaf(u)) {
            if (pos >= nz->n_units) break;
            *value = nz->units[pos] & 0x7fffffffu;
            best = i + 1;
            found++;
        }
    }
    return best;
}

/* normalizer.cc NormalizePrefix: the replacement of the start of s and the bytes used. */
static int normalize_prefix(const spm_normalizer *nz, const spm_model *ud, const uint8_t *s,
                            size_t n, const char **rep, size_t *rep_len, size_t *used,
                            ptts_err *e) {
    size_t k = ud ? spm_match_user_defined(ud, (const char *)s, n) : 0;
    if (k) {
        *rep = (const char *)s;
        *rep_len = *used = k;
        return PTTS_OK;
    }
    uint32_t value = 0;
    if ((k = charsmap_match(nz, s, n, &value))) {
        if (value >= nz->repl_len)
            return err_set(e, PTTS_ERR_FORMAT,
                           "character map '%s': entry %u outside its %zu "
                           "bytes of replacements",
                           nz->name, value, nz->repl_len);
        *rep = nz->repl + value;
        *rep_len = strlen(*rep); /* repl is NUL-terminated at repl_len */
        *used = k;
        return PTTS_OK;
    }
    if ((k = spm_utf8_valid(s, n))) {
        *rep = (const char *)s;
        *rep_len = *used = k;
    } else {
        *rep = "\xEF\xBF\xBD"; /* U+FFFD for the one byte */
        *rep_len = 3;
        *used = 1;
    }
    return PTTS_OK;
}

static int add_space(const spm_normalizer *nz, spm_buf *out, ptts_err *e) {
    return nz->escape_whitespaces ? spm_buf_add(out, SPM_SPACE, SPM_SPACE_LEN, e)
                                  : spm_buf_add(out, " ", 1, e);
}

int spm_normalize(const spm_normalizer *nz, const spm_model *ud, const char *text, size_t len,
                  spm_buf *out, ptts_err *e) {
    const uint8_t *s = (const uint8_t *)text;
    const char *rep;
    size_t rep_len, used, pos = 0;
    int rc = PTTS_OK;
    out->len = 0;
    if (out->p) out->p[0] = 0;
    if (len == 0) return PTTS_OK;
    if (nz->remove_extra_whitespaces) { /* leading spaces (after mapping) go */
        for (; pos < len; pos += used) {
            if ((rc = normalize_prefix(nz, ud, s + pos, len - pos, &rep, &rep_len, &used, e)))
                return rc;
            if (rep_len != 1 || rep[0] != ' ') break;
        }
    }
    if (pos == len) return PTTS_OK;
    /* Most text keeps its size; reserving 3x avoids regrowth, as the library does. */
    if ((rc = spm_buf_reserve(out, len < SIZE_MAX / 4 ? 3 * len : len, e))) return rc;
    if (!nz->treat_whitespace_as_suffix && nz->add_dummy_prefix && (rc = add_space(nz, out, e)))
        return rc;
    bool prev_space = nz->remove_extra_whitespaces;
    for (; pos < len; pos += used) {
        if ((rc = normalize_prefix(nz, ud, s + pos, len - pos, &rep, &rep_len, &used, e)))
            return rc;
        while (prev_space && rep_len > 0 && rep[0] == ' ')
            rep++, rep_len--;
        if (rep_len > 0) prev_space = rep[rep_len - 1] == ' ';
        for (size_t i = 0; i < rep_len; i++) { /* runs without spaces, then one space */
            const char *sp = memchr(rep + i, ' ', rep_len - i);
            size_t run = sp ? (size_t)(sp - rep) - i : rep_len - i;
            if (run && (rc = spm_buf_add(out, rep + i, run, e))) return rc;
            if ((i += run) < rep_len && (rc = add_space(nz, out, e))) return rc;
        }
        if (!nz->remove_extra_whitespaces) prev_space = false;
    }
    if (nz->remove_extra_whitespaces) { /* trailing spaces go too */
        const char *sp = nz->escape_whitespaces ? SPM_SPACE : " ";
        size_t sl = nz->escape_whitespaces ? SPM_SPACE_LEN : 1;
        while (out->len >= sl && !memcmp(out->p + out->len - sl, sp, sl))
            out->len -= sl;
        out->p[out->len] = 0;
    }
    if (nz->treat_whitespace_as_suffix && nz->add_dummy_prefix) rc = add_space(nz, out, e);
    return rc;
}
