/* protobuf.h - a reader for the protobuf wire format: one field at a time, every length
 * checked against the buffer. Messages are (key varint = number << 3 | wire type, payload)*;
 * the payload is a varint, 8 or 4 little-endian bytes, or a varint length and that many
 * bytes (strings, bytes and nested messages alike). */
#ifndef PTTS_PROTOBUF_H
#define PTTS_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_SGROUP = 3, PB_EGROUP = 4, PB_I32 = 5 };

typedef struct pb_reader {
    const uint8_t *p, *end;
} pb_reader;

typedef struct pb_field {
    uint32_t num;        /* field number, >= 1 */
    int wire;            /* PB_* */
    uint64_t u;          /* PB_VARINT value, PB_I64 / PB_I32 raw bits */
    const uint8_t *data; /* PB_LEN: the payload (borrowed from the buffer) */
    size_t len;
} pb_field;

static inline pb_reader pb_reader_of(const void *data, size_t len) {
    const uint8_t *p = data;
    return (pb_reader){p, p + len};
}

/* Reads the next field of the message in r. Returns 1 with *f filled, 0 at the end of the
 * message, or a negative status on malformed input (e names it, with `what` as context).
 * Groups (a deprecated encoding, only ever in fields we do not know) are skipped whole. */
int pb_next(pb_reader *r, pb_field *f, const char *what, ptts_err *e);

/* Checks that f has the wire type a known field must have; `what` names the field. */
int pb_expect(const pb_field *f, int wire, const char *what, ptts_err *e);

/* Values of scalar fields, as protobuf converts them. */
static inline int32_t pb_int32(const pb_field *f) {
    return (int32_t)(uint32_t)f->u; /* negative int32 values are sent as 64-bit varints */
}
static inline int pb_bool(const pb_field *f) {
    return f->u != 0;
}
float pb_float(const pb_field *f);

#endif
