#include "protobuf.h"

#include <string.h>

/* Nested groups deeper than this are refused rather than followed. */
#define PB_MAX_GROUP_DEPTH 32

static int read_varint(pb_reader *r, uint64_t *v, const char *what, ptts_err *e) {
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end) return err_set(e, PTTS_ERR_FORMAT, "%s: truncated varint", what);
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return PTTS_OK;
        }
    }
    return err_set(e, PTTS_ERR_FORMAT, "%s: varint longer than 10 bytes", what);
}

static int take(pb_reader *r, uint64_t n, const uint8_t **out, const char *what, ptts_err *e) {
    if ((uint64_t)(r->end - r->p) < n)
        return err_set(e, PTTS_ERR_FORMAT, "%s: %llu bytes announced, %zu left", what,
                       (unsigned long long)n, (size_t)(r->end - r->p));
    *out = r->p;
    r->p += n;
    return PTTS_OK;
}

static int read_key(pb_reader *r, pb_field *f, const char *what, ptts_err *e) {
    uint64_t key;
    int rc = read_varint(r, &key, what, e);
    if (rc) return rc;
    f->wire = (int)(key & 7);
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff)
        return err_set(e, PTTS_ERR_FORMAT, "%s: invalid field number %llu", what,
                       (unsigned long long)(key >> 3));
    if (f->wire > PB_I32)
        return err_set(e, PTTS_ERR_FORMAT, "%s: field %llu has invalid wire type %d", what,
                       (unsigned long long)(key >> 3), f->wire);
    f->num = (uint32_t)(key >> 3);
    return PTTS_OK;
}

/* Reads the payload of a field whose key is in f; a group is skipped up to its end. */
static int read_payload(pb_reader *r, pb_field *f, int depth, const char *what, ptts_err *e) {
    const uint8_t *bytes = NULL;
    int rc;
    f->u = 0;
    f->data = NULL;
    f->len = 0;
    switch (f->wire) {
    case PB_VARINT: return read_varint(r, &f->u, what, e);
    case PB_I64:
    case PB_I32: {
        size_t n = f->wire == PB_I64 ? 8 : 4;
        if ((rc = take(r, n, &bytes, what, e))) return rc;
        for (size_t i = 0; i < n; i++)
            f->u |= (uint64_t)bytes[i] << (8 * i);
        return PTTS_OK;
    }
    case PB_LEN: {
        uint64_t n;
        if ((rc = read_varint(r, &n, what, e))) return rc;
        if ((rc = take(r, n, &bytes, what, e))) return rc;
        f->data = bytes;
        f->len = (size_t)n;
        return PTTS_OK;
    }
    case PB_SGROUP:
        if (depth >= PB_MAX_GROUP_DEPTH)
            return err_set(e, PTTS_ERR_FORMAT, "%s: groups nested too deeply", what);
        for (;;) {
            pb_field g;
            if (r->p >= r->end)
                return err_set(e, PTTS_ERR_FORMAT, "%s: group %u is not closed", what, f->num);
            if ((rc = read_key(r, &g, what, e))) return rc;
            if (g.wire == PB_EGROUP) {
                if (g.num != f->num)
                    return err_set(e, PTTS_ERR_FORMAT, "%s: group %u closed as %u", what, f->num,
                                   g.num);
                return PTTS_OK;
            }
            if ((rc = read_payload(r, &g, depth + 1, what, e))) return rc;
        }
    default: /* PB_EGROUP outside a group */
        return err_set(e, PTTS_ERR_FORMAT, "%s: end of group %u without a start", what, f->num);
    }
}

int pb_next(pb_reader *r, pb_field *f, const char *what, ptts_err *e) {
    if (r->p >= r->end) return 0;
    int rc = read_key(r, f, what, e);
    if (!rc) rc = read_payload(r, f, 0, what, e);
    return rc ? rc : 1;
}

int pb_expect(const pb_field *f, int wire, const char *what, ptts_err *e) {
    static const char *const names[] = {"varint",      "fixed64",   "length-delimited",
                                        "group start", "group end", "fixed32"};
    if (f->wire == wire) return PTTS_OK;
    return err_set(e, PTTS_ERR_FORMAT, "%s (field %u): wire type %s, expected %s", what, f->num,
                   names[f->wire], names[wire]);
}

float pb_float(const pb_field *f) {
    uint32_t bits = (uint32_t)f->u;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}
