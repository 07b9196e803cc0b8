/* BPE segmentation, as bpe_model.cc: start from characters (a user-defined piece is one
 * frozen symbol), then repeatedly merge the adjacent pair that forms the piece with the
 * highest score (ties: the leftmost). An agenda entry whose symbols changed since it was
 * pushed is stale and skipped. A merged piece of type UNUSED is split back into the pair
 * it was last formed from. */
#include "spm_model.h"

typedef struct pair {
    float score;
    int32_t left, right;
    uint32_t size; /* bytes of the merged piece when pushed */
} pair;

typedef struct symbol {
    int32_t prev, next; /* -1 at the ends */
    uint32_t off, len;  /* text s[off, off + len); len 0: merged away */
    bool freeze;
} symbol;

/* A merge into an UNUSED piece: its text and where its left part ended. */
typedef struct split {
    uint32_t off, len, left;
} split;

/* Text still to resegment: s[off, off + len). */
typedef struct span {
    uint32_t off, len;
} span;

typedef struct bpe {
    const spm_model *m;
    const char *s;
    symbol *sym;
    pair *heap;
    size_t n_heap;
    split *splits;
    size_t n_splits;
    span *stack;
} bpe;

static bool before(const pair *a, const pair *b) { /* a leaves the agenda first */
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(bpe *b, pair p) {
    size_t i = b->n_heap++;
    while (i > 0 && before(&p, &b->heap[(i - 1) / 2])) {
        b->heap[i] = b->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    b->heap[i] = p;
}

static pair heap_pop(bpe *b) {
    pair top = b->heap[0], last = b->heap[--b->n_heap];
    size_t i = 0, n = b->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&b->heap[c + 1], &b->heap[c])) c++;
        if (!before(&b->heap[c], &last)) break;
        b->heap[i] = b->heap[c];
        i = c;
    }
    if (n) b->heap[i] = last;
    return top;
}

static void add_pair(bpe *b, int32_t l, int32_t r) {
    if (l < 0 || r < 0 || b->sym[l].freeze || b->sym[r].freeze) return;
    uint32_t off = b->sym[l].off, len = b->sym[l].len + b->sym[r].len;
    int id = spm_lookup_normal(b->m, b->s + off, len);
    if (id < 0) return;
    heap_push(b, (pair){b->m->pieces[id].score, l, r, len});
    if (b->m->pieces[id].type == SPM_UNUSED)
        b->splits[b->n_splits++] = (split){off, len, b->sym[l].len};
}

/* The split recorded last for the text t[0..len), or NULL. A linear search: only models
 * with UNUSED pieces record splits, and those are rare. */
static const split *find_split(const bpe *b, const char *t, uint32_t len) {
    for (size_t i = b->n_splits; i-- > 0;)
        if (b->splits[i].len == len && !memcmp(b->s + b->splits[i].off, t, len))
            return &b->splits[i];
    return NULL;
}

int spm_bpe_encode(const spm_model *m, const char *s, size_t n, spm_tok *toks, size_t *nt,
                   ptts_err *e) {
    /* Pushes: n - 1 initial pairs and at most 2 per merge, and so splits; each split
     * deepens the resegmentation stack by one. */
    bpe b = {.m = m,
             .s = s,
             .sym = malloc(n * sizeof *b.sym),
             .heap = malloc(3 * n * sizeof *b.heap),
             .splits = malloc(3 * n * sizeof *b.splits),
             .stack = malloc((n + 1) * sizeof *b.stack)};
    int rc = PTTS_OK;
    if (!b.sym || !b.heap || !b.splits || !b.stack) {
        rc = err_set(e, PTTS_ERR_NOMEM, "out of memory");
        goto done;
    }
    int32_t ns = 0;
    for (size_t pos = 0; pos < n; ns++) {
        size_t k = m->has_user_defined ? spm_match_user_defined(m, s + pos, n - pos) : 0;
        bool freeze = k > 0;
        if (!k) {
            k = spm_char_len((uint8_t)s[pos]);
            if (k > n - pos) k = n - pos;
        }
        b.sym[ns] = (symbol){ns - 1, pos + k < n ? ns + 1 : -1, (uint32_t)pos, (uint32_t)k, freeze};
        pos += k;
    }
    for (int32_t i = 1; i < ns; i++)
        add_pair(&b, i - 1, i);
    while (b.n_heap) {
        pair top = heap_pop(&b);
        symbol *l = &b.sym[top.left], *r = &b.sym[top.right];
        if (!l->len || !r->len || l->len + r->len != top.size) continue;
        l->len += r->len;
        l->next = r->next;
        if (r->next >= 0) b.sym[r->next].prev = top.left;
        r->len = 0;
        add_pair(&b, l->prev, top.left);
        add_pair(&b, top.left, l->next);
    }
    /* Resegment UNUSED pieces depth-first, left part first. */
    size_t k = 0;
    for (int32_t i = 0; i >= 0; i = b.sym[i].next) {
        size_t depth = 0;
        b.stack[depth++] = (span){b.sym[i].off, b.sym[i].len};
        while (depth) {
            span w = b.stack[--depth];
            const char *t = s + w.off;
            int id = spm_lookup(m, t, w.len);
            const split *sp = m->pieces[id].type == SPM_UNUSED ? find_split(&b, t, w.len) : NULL;
            if (!sp) {
                toks[k++] = (spm_tok){id, w.len, t};
                continue;
            }
            b.stack[depth++] = (span){w.off + sp->left, w.len - sp->left};
            b.stack[depth++] = (span){w.off, sp->left};
        }
    }
    *nt = k;
done:
    free(b.sym);
    free(b.heap);
    free(b.splits);
    free(b.stack);
    return rc;
}
