/* Loading a SentencePiece ModelProto and the accessors of the model. Field numbers are
 * those of sentencepiece_model.proto; fields we do not use are skipped, fields we use must
 * have their declared wire type. Validation follows ModelInterface::InitializePieces. */
#include <errno.h>
#include <float.h>
#include <stdio.h>

#include "protobuf.h"
#include "spm_model.h"

typedef struct view {
    const uint8_t *p;
    size_t n;
    bool set;
} view;

typedef struct raw_normalizer {
    bool present;
    view name, charsmap;
    bool add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
} raw_normalizer;

/* Everything read from the proto besides the pieces, before it is checked. */
typedef struct raw_spec {
    bool ws_suffix;
    view unk_surface, unk_piece, bos_piece, eos_piece, pad_piece;
    raw_normalizer norm, denorm;
} raw_spec;

static int dup_cstr(char **out, const view *v, const char *fallback, ptts_err *e) {
    /* SentencePiece hands these strings on as C strings: they end at a NUL. */
    const char *s = v->set ? (const char *)v->p : fallback;
    size_t n = v->set ? strnlen(s, v->n) : strlen(s);
    if (!(*out = malloc(n + 1))) return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    memcpy(*out, s, n);
    (*out)[n] = 0;
    return PTTS_OK;
}

/* Appends the piece in f to m->pieces, its text at *cursor (counted in advance). */
static int parse_piece(spm_model *m, char **cursor, const pb_field *f, ptts_err *e) {
    char what[64];
    int id = m->n_pieces, rc;
    snprintf(what, sizeof what, "pieces[%d]", id);
    view piece = {0};
    spm_piece *p = &m->pieces[id];
    p->score = 0;
    p->type = SPM_NORMAL;
    pb_reader r = pb_reader_of(f->data, f->len);
    pb_field g;
    while ((rc = pb_next(&r, &g, what, e)) == 1) {
        if (g.num == 1) {
            if ((rc = pb_expect(&g, PB_LEN, "SentencePiece.piece", e))) return rc;
            piece = (view){g.data, g.len, true};
        } else if (g.num == 2) {
            if ((rc = pb_expect(&g, PB_I32, "SentencePiece.score", e))) return rc;
            p->score = pb_float(&g);
        } else if (g.num == 3) {
            if ((rc = pb_expect(&g, PB_VARINT, "SentencePiece.type", e))) return rc;
            /* proto2: an enum value it does not know leaves the field unset */
            if (g.u >= SPM_NORMAL && g.u <= SPM_BYTE) p->type = (int)g.u;
        }
    }
    if (rc < 0) return rc;
    if (piece.n == 0) return err_set(e, PTTS_ERR_FORMAT, "piece %d is empty", id);
    if (memchr(piece.p, 0, piece.n))
        return err_set(e, PTTS_ERR_FORMAT, "piece %d contains a NUL byte", id);
    if (piece.n > UINT32_MAX) return err_set(e, PTTS_ERR_FORMAT, "piece %d is too long", id);
    memcpy(*cursor, piece.p, piece.n);
    (*cursor)[piece.n] = 0;
    p->str = *cursor;
    p->len = (uint32_t)piece.n;
    *cursor += piece.n + 1;
    m->n_pieces++;
    return PTTS_OK;
}

static int parse_trainer(spm_model *m, raw_spec *rs, const pb_field *f, ptts_err *e) {
    pb_reader r = pb_reader_of(f->data, f->len);
    pb_field g;
    int rc;
    while ((rc = pb_next(&r, &g, "trainer_spec", e)) == 1) {
        view *str = NULL;
        switch (g.num) {
        case 3: /* model_type */
            if ((rc = pb_expect(&g, PB_VARINT, "trainer_spec.model_type", e))) return rc;
            if (g.u >= SPM_UNIGRAM && g.u <= SPM_CHAR) m->type = (int)g.u;
            break;
        case 24:
            if ((rc = pb_expect(&g, PB_VARINT, "trainer_spec.treat_whitespace_as_suffix", e)))
                return rc;
            rs->ws_suffix = pb_bool(&g);
            break;
        case 35:
            if ((rc = pb_expect(&g, PB_VARINT, "trainer_spec.byte_fallback", e))) return rc;
            m->byte_fallback = pb_bool(&g);
            break;
        case 44: str = &rs->unk_surface; break;
        case 45: str = &rs->unk_piece; break;
        case 46: str = &rs->bos_piece; break;
        case 47: str = &rs->eos_piece; break;
        case 48: str = &rs->pad_piece; break;
        default: break; /* training options, and unk_id etc.: the ids come from the pieces */
        }
        if (str) {
            if ((rc = pb_expect(&g, PB_LEN, "trainer_spec string field", e))) return rc;
            *str = (view){g.data, g.len, true};
        }
    }
    return rc;
}

static int parse_normalizer(raw_normalizer *rn, const pb_field *f, const char *what, ptts_err *e) {
    pb_reader r = pb_reader_of(f->data, f->len);
    pb_field g;
    int rc;
    rn->present = true;
    while ((rc = pb_next(&r, &g, what, e)) == 1) {
        bool *flag = NULL;
        switch (g.num) {
        case 1:
        case 2:
            if ((rc = pb_expect(&g, PB_LEN, g.num == 1 ? "normalizer name" : "charsmap", e)))
                return rc;
            *(g.num == 1 ? &rn->name : &rn->charsmap) = (view){g.data, g.len, true};
            break;
        case 3: flag = &rn->add_dummy_prefix; break;
        case 4: flag = &rn->remove_extra_whitespaces; break;
        case 5: flag = &rn->escape_whitespaces; break;
        default: break; /* normalization_rule_tsv: only used in training */
        }
        if (flag) {
            if ((rc = pb_expect(&g, PB_VARINT, "normalizer flag", e))) return rc;
            *flag = pb_bool(&g);
        }
    }
    return rc;
}

/* Counts the pieces and their bytes so that the arrays are allocated once. */
static int count_pieces(const void *buf, size_t len, size_t *n, size_t *bytes, ptts_err *e) {
    pb_reader r = pb_reader_of(buf, len);
    pb_field f;
    int rc;
    *n = *bytes = 0;
    while ((rc = pb_next(&r, &f, "ModelProto", e)) == 1) {
        if (f.num != 1) continue;
        if ((rc = pb_expect(&f, PB_LEN, "ModelProto.pieces", e))) return rc;
        ++*n;
        *bytes += f.len + 1;
    }
    if (rc < 0) return rc;
    if (*n > INT32_MAX) return err_set(e, PTTS_ERR_FORMAT, "too many pieces (%zu)", *n);
    return PTTS_OK;
}

static int parse_model(spm_model *m, raw_spec *rs, const void *buf, size_t len, ptts_err *e) {
    size_t n, bytes;
    int rc = count_pieces(buf, len, &n, &bytes, e);
    if (rc) return rc;
    m->pieces = calloc(n ? n : 1, sizeof *m->pieces);
    m->arena = malloc(bytes + 1);
    if (!m->pieces || !m->arena) return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    char *cursor = m->arena;
    *rs = (raw_spec){0};
    rs->norm = rs->denorm = (raw_normalizer){
        .add_dummy_prefix = true, .remove_extra_whitespaces = true, .escape_whitespaces = true};
    pb_reader r = pb_reader_of(buf, len);
    pb_field f;
    while ((rc = pb_next(&r, &f, "ModelProto", e)) == 1) {
        rc = PTTS_OK;
        switch (f.num) {
        case 1: rc = parse_piece(m, &cursor, &f, e); break;
        case 2:
            if (!(rc = pb_expect(&f, PB_LEN, "ModelProto.trainer_spec", e)))
                rc = parse_trainer(m, rs, &f, e);
            break;
        case 3:
        case 5: {
            const char *what = f.num == 3 ? "normalizer_spec" : "denormalizer_spec";
            if (!(rc = pb_expect(&f, PB_LEN, what, e)))
                rc = parse_normalizer(f.num == 3 ? &rs->norm : &rs->denorm, &f, what, e);
            break;
        }
        default: break; /* self_test_data (a training check), extensions */
        }
        if (rc) return rc;
    }
    if (rc < 0) return rc;
    return PTTS_OK;
}

static int byte_of_piece(const spm_piece *p) {
    /* exactly "<0xXX>" with upper-case hex digits, as ByteToPiece writes them */
    static const char hex[] = "0123456789ABCDEF";
    if (p->len != 6 || memcmp(p->str, "<0x", 3) || p->str[5] != '>') return -1;
    const char *hi = memchr(hex, p->str[3], 16), *lo = memchr(hex, p->str[4], 16);
    if (!hi || !lo) return -1;
    return (int)((hi - hex) * 16 + (lo - hex));
}

static int check_pieces(spm_model *m, ptts_err *e) {
    bool byte_seen[256] = {0};
    int n_matchable = 0;
    m->unk = -1;
    m->min_score = FLT_MAX; /* as unigram_model.cc starts: FLT_MIN is the smallest positive */
    m->max_score = FLT_MIN;
    for (int i = 0; i < m->n_pieces; i++) {
        const spm_piece *p = &m->pieces[i];
        if (p->type == SPM_UNKNOWN) {
            if (m->unk >= 0)
                return err_set(e, PTTS_ERR_FORMAT, "pieces %d and %d are both unknown", m->unk, i);
            m->unk = i;
        } else if (p->type == SPM_BYTE) {
            int b = byte_of_piece(p);
            if (!m->byte_fallback)
                return err_set(e, PTTS_ERR_FORMAT,
                               "byte piece '%s' is found although byte_fallback is false", p->str);
            if (b < 0) return err_set(e, PTTS_ERR_FORMAT, "byte piece '%s' is invalid", p->str);
            byte_seen[b] = true;
        } else if (p->type == SPM_USER_DEFINED) {
            m->has_user_defined = true;
        } else if (p->type == SPM_NORMAL) {
            if (p->score < m->min_score) m->min_score = p->score;
            if (p->score > m->max_score) m->max_score = p->score;
        }
        n_matchable +=
            p->type == SPM_NORMAL || p->type == SPM_USER_DEFINED || p->type == SPM_UNUSED;
    }
    if (m->unk < 0) return err_set(e, PTTS_ERR_FORMAT, "no unknown piece (<unk>) is defined");
    if (m->byte_fallback)
        for (int b = 0; b < 256; b++)
            if (!byte_seen[b])
                return err_set(e, PTTS_ERR_FORMAT,
                               "byte_fallback is on but there is no piece <0x%02X>", b);
    if (m->type == SPM_UNIGRAM && n_matchable == 0)
        return err_set(e, PTTS_ERR_FORMAT, "a Unigram model without normal pieces");
    return PTTS_OK;
}

static int build_normalizer(spm_normalizer *nz, const raw_normalizer *rn, const char *what,
                            ptts_err *e) {
    nz->add_dummy_prefix = rn->add_dummy_prefix;
    nz->remove_extra_whitespaces = rn->remove_extra_whitespaces;
    nz->escape_whitespaces = rn->escape_whitespaces;
    int rc = dup_cstr(&nz->name, &rn->name, "", e);
    if (rc || rn->charsmap.n == 0) return rc;
    return spm_charsmap_load(nz, rn->charsmap.p, rn->charsmap.n, what, e);
}

/* The special ids as SentencePieceProcessor::unk_id() etc. find them: by piece text. */
static int special_id(const spm_model *m, const view *v, const char *fallback, int type) {
    const char *s = v->set && v->n ? (const char *)v->p : fallback;
    size_t n = v->set && v->n ? strnlen(s, v->n) : strlen(s);
    int id = spm_lookup(m, s, n);
    return m->pieces[id].type == type ? id : -1;
}

int spm_load_memory(spm_model **out, const void *buf, size_t len, ptts_err *e) {
    if (!out) return err_set(e, PTTS_ERR_INVALID_ARG, "spm_load_memory: out is NULL");
    *out = NULL;
    if (!buf && len) return err_set(e, PTTS_ERR_INVALID_ARG, "spm_load_memory: buf is NULL");
    spm_model *m = calloc(1, sizeof *m);
    if (!m) return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    m->type = SPM_UNIGRAM;
    raw_spec rs;
    int rc = parse_model(m, &rs, buf, len, e);
    if (!rc) rc = check_pieces(m, e);
    if (!rc) rc = spm_vocab_build(m, e);
    if (!rc) {
        rc = build_normalizer(&m->norm, &rs.norm, "normalizer_spec", e);
        m->norm.treat_whitespace_as_suffix = rs.ws_suffix;
    }
    /* SentencePiece ignores a denormalizer without a character map. */
    if (!rc && rs.denorm.present && rs.denorm.charsmap.n)
        rc = build_normalizer(&m->denorm, &rs.denorm, "denormalizer_spec", e);
    if (!rc) rc = dup_cstr(&m->unk_surface, &rs.unk_surface, " \xE2\x81\x87 ", e);
    if (rc) {
        spm_free(m);
        return rc;
    }
    for (int b = 0; b < 256 && m->byte_fallback; b++) {
        char piece[7];
        snprintf(piece, sizeof piece, "<0x%02X>", b);
        m->byte_id[b] = spm_lookup(m, piece, 6);
    }
    m->api_unk = special_id(m, &rs.unk_piece, "<unk>", SPM_UNKNOWN);
    m->api_bos = special_id(m, &rs.bos_piece, "<s>", SPM_CONTROL);
    m->api_eos = special_id(m, &rs.eos_piece, "</s>", SPM_CONTROL);
    m->api_pad = special_id(m, &rs.pad_piece, "<pad>", SPM_CONTROL);
    *out = m;
    return PTTS_OK;
}

int spm_load(spm_model **out, const char *path, ptts_err *e) {
    if (out) *out = NULL;
    if (!path) return err_set(e, PTTS_ERR_INVALID_ARG, "spm_load: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, PTTS_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    spm_buf b = {0};
    char chunk[1 << 16];
    size_t got;
    int rc = PTTS_OK;
    while (!rc && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = spm_buf_add(&b, chunk, got, e);
    if (!rc && ferror(f)) rc = err_set(e, PTTS_ERR_IO, "cannot read '%s'", path);
    fclose(f);
    if (!rc && (rc = spm_load_memory(out, b.p, b.len, e))) err_prefix(e, "%s", path);
    free(b.p);
    return rc;
}

static void normalizer_free(spm_normalizer *nz) {
    free(nz->name);
    free(nz->units);
    free(nz->repl);
}

void spm_free(spm_model *m) {
    if (!m) return;
    free(m->pieces);
    free(m->arena);
    free(m->slots);
    free(m->trie.nodes);
    free(m->trie.labels);
    free(m->trie.target);
    free(m->unk_surface);
    normalizer_free(&m->norm);
    normalizer_free(&m->denorm);
    free(m);
}

int spm_vocab_size(const spm_model *m) {
    return m ? m->n_pieces : 0;
}

const char *spm_id_to_piece(const spm_model *m, int id) {
    return m && id >= 0 && id < m->n_pieces ? m->pieces[id].str : NULL;
}

int spm_piece_to_id(const spm_model *m, const char *piece) {
    if (!m) return -1;
    return piece ? spm_lookup(m, piece, strlen(piece)) : m->unk;
}

int spm_unk_id(const spm_model *m) {
    return m ? m->api_unk : -1;
}
int spm_bos_id(const spm_model *m) {
    return m ? m->api_bos : -1;
}
int spm_eos_id(const spm_model *m) {
    return m ? m->api_eos : -1;
}
int spm_pad_id(const spm_model *m) {
    return m ? m->api_pad : -1;
}
