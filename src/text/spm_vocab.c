/* Piece lookup: a hash table from text to ids (SentencePiece's PieceToId) and a byte trie
 * over the matchable pieces (its Darts trie: prefix search during encoding). */
#include "spm_model.h"

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static bool is_reserved(int type) {
    return type == SPM_CONTROL || type == SPM_UNKNOWN || type == SPM_BYTE;
}

/* Slot holding the piece s[0..n), or the empty slot where it belongs. */
static spm_slot *find_slot(const spm_model *m, const char *s, size_t n) {
    size_t i = (size_t)hash_bytes(s, n) & m->slot_mask;
    for (;; i = (i + 1) & m->slot_mask) {
        spm_slot *sl = &m->slots[i];
        int id = sl->normal >= 0 ? sl->normal : sl->reserved;
        if (id < 0) return sl;
        const spm_piece *p = &m->pieces[id];
        if (p->len == n && !memcmp(p->str, s, n)) return sl;
    }
}

int spm_lookup_normal(const spm_model *m, const char *s, size_t n) {
    return find_slot(m, s, n)->normal;
}

int spm_lookup(const spm_model *m, const char *s, size_t n) {
    const spm_slot *sl = find_slot(m, s, n);
    return sl->reserved >= 0 ? sl->reserved : sl->normal >= 0 ? sl->normal : m->unk;
}

static int build_hash(spm_model *m, ptts_err *e) {
    size_t size = 16;
    while (size < 2 * (size_t)m->n_pieces)
        size *= 2;
    if (!(m->slots = malloc(size * sizeof *m->slots)))
        return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < size; i++)
        m->slots[i] = (spm_slot){-1, -1};
    m->slot_mask = size - 1;
    for (int id = 0; id < m->n_pieces; id++) {
        const spm_piece *p = &m->pieces[id];
        spm_slot *sl = find_slot(m, p->str, p->len);
        int32_t *field = is_reserved(p->type) ? &sl->reserved : &sl->normal;
        if (*field >= 0)
            return err_set(e, PTTS_ERR_FORMAT, "piece '%s' is defined twice (ids %d and %d)",
                           p->str, *field, id);
        *field = id;
    }
    return PTTS_OK;
}

typedef struct key {
    const char *s;
    uint32_t len;
    int32_t id;
} key;

static int key_cmp(const void *a, const void *b) {
    const key *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Builds the trie breadth-first from the sorted keys, so that each node's edges are
 * contiguous. Node i covers keys [lo[i], hi[i]) sharing their first depth[i] bytes. */
static int build_trie(spm_model *m, ptts_err *e) {
    spm_trie *t = &m->trie;
    size_t nk = 0, total = 1;
    for (int id = 0; id < m->n_pieces; id++) {
        int type = m->pieces[id].type;
        if (type == SPM_NORMAL || type == SPM_USER_DEFINED || type == SPM_UNUSED) {
            nk++;
            total += m->pieces[id].len;
        }
    }
    if (total > UINT32_MAX) return err_set(e, PTTS_ERR_FORMAT, "pieces too long in total");
    key *keys = malloc((nk ? nk : 1) * sizeof *keys);
    uint32_t *lo = malloc(total * sizeof *lo), *hi = malloc(total * sizeof *hi);
    uint32_t *depth = malloc(total * sizeof *depth);
    t->nodes = malloc(total * sizeof *t->nodes);
    t->labels = malloc(total);
    t->target = malloc(total * sizeof *t->target);
    int rc = PTTS_OK;
    if (!keys || !lo || !hi || !depth || !t->nodes || !t->labels || !t->target) {
        rc = err_set(e, PTTS_ERR_NOMEM, "out of memory");
        goto done;
    }
    nk = 0;
    for (int id = 0; id < m->n_pieces; id++) {
        const spm_piece *p = &m->pieces[id];
        if (p->type == SPM_NORMAL || p->type == SPM_USER_DEFINED || p->type == SPM_UNUSED)
            keys[nk++] = (key){p->str, p->len, id};
    }
    qsort(keys, nk, sizeof *keys, key_cmp);
    uint32_t n_nodes = 1, n_edges = 0;
    lo[0] = 0;
    hi[0] = (uint32_t)nk;
    depth[0] = 0;
    for (uint32_t v = 0; v < n_nodes; v++) {
        uint32_t i = lo[v], d = depth[v];
        spm_trie_node *nd = &t->nodes[v];
        nd->id = -1;
        if (i < hi[v] && keys[i].len == d) nd->id = keys[i++].id; /* shortest sorts first */
        nd->first = n_edges;
        while (i < hi[v]) {
            uint8_t c = (uint8_t)keys[i].s[d];
            uint32_t j = i + 1;
            while (j < hi[v] && (uint8_t)keys[j].s[d] == c)
                j++;
            t->labels[n_edges] = c;
            t->target[n_edges++] = n_nodes;
            lo[n_nodes] = i;
            hi[n_nodes] = j;
            depth[n_nodes++] = d + 1;
            i = j;
        }
        nd->count = n_edges - nd->first;
    }
    memset(t->root, 0, sizeof t->root);
    for (uint32_t k = 0; k < t->nodes[0].count; k++)
        t->root[t->labels[k]] = t->target[k];
done:
    free(keys);
    free(lo);
    free(hi);
    free(depth);
    return rc;
}

int spm_vocab_build(spm_model *m, ptts_err *e) {
    int rc = build_hash(m, e);
    return rc ? rc : build_trie(m, e);
}

size_t spm_match_user_defined(const spm_model *m, const char *s, size_t n) {
    /* normalizer.cc's PrefixMatcher: the longest of the first 64 matches */
    size_t best = 0;
    int found = 0;
    uint32_t node = 0;
    for (size_t i = 0; i < n && found < 64; i++) {
        if (!(node = spm_trie_step(&m->trie, node, (uint8_t)s[i]))) break;
        int id = m->trie.nodes[node].id;
        if (id >= 0 && m->pieces[id].type == SPM_USER_DEFINED) {
            best = i + 1;
            found++;
        }
    }
    return best;
}
