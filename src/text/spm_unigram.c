/* Unigram segmentation: Viterbi over the lattice of pieces, as unigram_model.cc's
 * EncodeOptimized (the library's default). best[i] is the best path over the first i bytes;
 * a character no piece starts with becomes the unknown piece, scored min_score - 10; a
 * user-defined piece scores length * max_score - 0.1 so that it always wins. The arithmetic
 * mixes float and double exactly as the library does, so that ties break the same way. */
#include "spm_model.h"

#define UNK_PENALTY 10.0f

typedef struct best_path {
    float score;
    int32_t id;
    int32_t start; /* -1: not reached yet */
} best_path;

int spm_unigram_encode(const spm_model *m, const char *s, size_t n, spm_tok *toks, size_t *nt,
                       ptts_err *e) {
    best_path *best = malloc((n + 1) * sizeof *best);
    if (!best) return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i <= n; i++)
        best[i] = (best_path){0, -1, -1};
    const float unk_score = m->min_score - UNK_PENALTY;
    const spm_trie *t = &m->trie;
    for (size_t start = 0; start < n;) {
        const float here = best[start].score;
        size_t mblen = spm_char_len((uint8_t)s[start]);
        if (mblen > n - start) mblen = n - start;
        bool has_single = false;
        uint32_t node = 0;
        for (size_t end = start; end < n;) {
            if (!(node = spm_trie_step(t, node, (uint8_t)s[end++]))) break;
            int id = t->nodes[node].id;
            if (id < 0 || m->pieces[id].type == SPM_UNUSED) continue;
            size_t length = end - start;
            double score = m->pieces[id].type == SPM_USER_DEFINED
                               ? (double)((float)length * m->max_score) - 0.1
                               : (double)m->pieces[id].score;
            double cand = score + here;
            best_path *b = &best[end];
            if (b->start < 0 || cand > b->score) *b = (best_path){(float)cand, id, (int32_t)start};
            if (length == mblen) has_single = true;
        }
        if (!has_single) {
            float cand = unk_score + here;
            best_path *b = &best[start + mblen];
            if (b->start < 0 || cand > b->score) *b = (best_path){cand, m->unk, (int32_t)start};
        }
        start += mblen;
    }
    /* Backtrack, then reverse into reading order. */
    size_t k = 0;
    for (size_t end = n; end > 0; end = (size_t)best[end].start)
        toks[k++] =
            (spm_tok){best[end].id, (uint32_t)(end - (size_t)best[end].start), s + best[end].start};
    for (size_t i = 0; i < k / 2; i++) {
        spm_tok tmp = toks[i];
        toks[i] = toks[k - 1 - i];
        toks[k - 1 - i] = tmp;
    }
    *nt = k;
    free(best);
    return PTTS_OK;
}
