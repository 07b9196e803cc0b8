/* safetensors reader and writer: fixtures, round trips of every dtype, conversions on
 * known values, and corrupt inputs that must each give their error without a crash. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "test.h"

static char tmpdir[] = "/tmp/ptts_test_st_XXXXXX";

static const char *tmp_path(const char *name) {
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* ---- fixtures ---- */

static void check_shape(const st_file *f, const char *name, st_dtype dt, int ndim,
                        const int64_t *shape) {
    const st_tensor *t = st_find(f, name);
    CHECK(t != NULL, "missing %s", name);
    if (!t) return;
    int ok = t->dtype == dt && t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == shape[i];
    CHECK(ok, "%s: dtype %s ndim %d", name, st_dtype_name(t->dtype), t->ndim);
}

static void test_fixtures(void) {
    ptts_err e = {0};
    st_file *f = NULL;
    int rc = st_open(&f, fixture("golden/tiny/lut.safetensors"), &e);
    CHECK(rc == PTTS_OK, "%s", e.msg);
    if (f) {
        CHECK(st_count(f) == 2);
        check_shape(f, "ids", ST_I64, 1, (int64_t[]){11});
        check_shape(f, "embeddings", ST_F32, 2, (int64_t[]){11, 64});
        int64_t ids[11];
        const int64_t want[11] = {2994, 578, 262, 285, 277, 267, 1115, 263, 0, 3999, 4000};
        CHECK(st_to_i64(st_find(f, "ids"), ids, &e) == PTTS_OK, "%s", e.msg);
        CHECK(!memcmp(ids, want, sizeof ids), "ids differ");
        float *emb = NULL;
        rc = st_load_f32(f, "embeddings", 2, (int64_t[]){-1, 64}, &emb, &e);
        CHECK(rc == PTTS_OK, "%s", e.msg);
        CHECK(emb && emb[0] == 0.7209964990615845f && emb[2] == -2.2137701511383057f);
        free(emb);
        rc = st_load_f32(f, "embeddings", 2, (int64_t[]){11, 63}, &emb, &e);
        CHECK(rc == PTTS_ERR_CONFIG && strstr(e.msg, "[11,64]") && strstr(e.msg, "[11,63]"), "%s",
              e.msg);
        CHECK(st_load_f32(f, "nope", 1, (int64_t[]){1}, &emb, &e) == PTTS_ERR_CONFIG &&
              strstr(e.msg, "'nope'"));
        CHECK(st_to_f32(st_find(f, "ids"), (float[11]){0}, &e) == PTTS_ERR_FORMAT);
        st_close(f);
    }

    const char *names[] = {"flow_lm_steps",       "flow_net",
                           "gen_eos_first_frame", "gen_eos_midway",
                           "gen_noise_clamp",     "gen_noise_temp07",
                           "gen_temp0_lsd4",      "gen_temp0_multichunk",
                           "gen_temp0_short",     "lut",
                           "mimi_decode",         "mimi_encode",
                           "voice_exported",      "voice_legacy",
                           "voice_state"};
    for (int m = 0; m < 2; m++)
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            char rel[128];
            snprintf(rel, sizeof rel, "golden/%s/%s.safetensors", m ? "tiny-v1" : "tiny", names[i]);
            rc = st_open(&f, fixture(rel), &e);
            CHECK(rc == PTTS_OK && st_count(f) >= 2, "%s: %s", rel, e.msg);
            st_close(f);
        }
    rc = st_open(&f, fixture("golden/tiny/mimi_encode.safetensors"), &e);
    CHECK(rc == PTTS_OK, "%s", e.msg);
    if (f) {
        check_shape(f, "audio", ST_F32, 1, (int64_t[]){55199});
        check_shape(f, "latents", ST_F32, 2, (int64_t[]){29, 32});
        st_close(f);
    }
    rc = st_open(&f, fixture("golden/tiny/voice_state.safetensors"), &e);
    CHECK(rc == PTTS_OK, "%s", e.msg);
    if (f) {
        check_shape(f, "transformer.layers.1.self_attn/cache", ST_F32, 5,
                    (int64_t[]){2, 1, 30, 4, 16});
        check_shape(f, "transformer.layers.1.self_attn/offset", ST_I64, 1, (int64_t[]){1});
        st_close(f);
    }
    rc = st_open(&f, fixture("golden/tiny/gen_temp0_short.safetensors"), &e);
    CHECK(rc == PTTS_OK, "%s", e.msg);
    if (f) {
        check_shape(f, "pcm16", ST_I16, 1, (int64_t[]){113280});
        st_close(f);
    }
    const char *models[][2] = {{"models/tiny/model.safetensors", "150"},
                               {"models/tiny-v1/model.safetensors", "173"}};
    for (int m = 0; m < 2; m++) {
        rc = st_open(&f, fixture(models[m][0]), &e);
        CHECK(rc == PTTS_OK && st_count(f) == (size_t)atoi(models[m][1]), "%s: %s", models[m][0],
              e.msg);
        st_close(f);
    }
    rc = st_open(&f, "tests/fixtures/no_such.safetensors", &e);
    CHECK(rc == PTTS_ERR_IO && !f && strstr(e.msg, "no_such.safetensors") &&
              strstr(e.msg, "No such file"),
          "%s", e.msg);
    rc = st_open(&f, "tests/fixtures", &e);
    CHECK(rc == PTTS_ERR_IO && !f, "%s", e.msg);
}

/* ---- writer round trip ---- */

static void test_round_trip(void) {
    ptts_err e = {0};
    st_writer *w = NULL;
    CHECK(st_writer_new(&w, &e) == PTTS_OK);
    if (!w) return;
    /* One tensor per dtype, filled with a byte pattern, plus a scalar and an empty one. */
    const st_dtype all[] = {ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64,
                            ST_I32, ST_I16, ST_I8,   ST_U8,  ST_BOOL};
    const int n_all = (int)(sizeof all / sizeof all[0]);
    uint8_t pattern[2 * 3 * 8];
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i * 37 + 11);
    char name[32];
    for (int i = 0; i < n_all; i++) {
        snprintf(name, sizeof name, "z.t%d_%s", i, st_dtype_name(all[i]));
        int rc = st_writer_add(w, name, all[i], 2, (int64_t[]){2, 3}, pattern, &e);
        CHECK(rc == PTTS_OK, "%s", e.msg);
    }
    float scalar = 2.5f;
    CHECK(st_writer_add(w, "a.scalar", ST_F32, 0, NULL, &scalar, &e) == PTTS_OK, "%s", e.msg);
    CHECK(st_writer_add(w, "empty", ST_F32, 2, (int64_t[]){0, 4}, NULL, &e) == PTTS_OK, "%s",
          e.msg);
    const char *odd = "we\"ird\\ n\u00e4me/\t\x01";
    CHECK(st_writer_add(w, odd, ST_U8, 1, (int64_t[]){1}, "x", &e) == PTTS_OK, "%s", e.msg);
    /* Refusals. */
    CHECK(st_writer_add(w, "a.scalar", ST_F32, 0, NULL, &scalar, &e) == PTTS_ERR_INVALID_ARG &&
          strstr(e.msg, "twice"));
    CHECK(st_writer_add(w, "__metadata__", ST_F32, 0, NULL, &scalar, &e) == PTTS_ERR_INVALID_ARG);
    CHECK(st_writer_add(w, "neg", ST_F32, 1, (int64_t[]){-1}, &scalar, &e) == PTTS_ERR_INVALID_ARG);
    CHECK(st_writer_add(w, "rank", ST_F32, 9, (int64_t[9]){1}, &scalar, &e) ==
          PTTS_ERR_INVALID_ARG);
    CHECK(st_writer_add(w, "dt", (st_dtype)99, 0, NULL, &scalar, &e) == PTTS_ERR_INVALID_ARG);
    CHECK(st_writer_add(w, "big", ST_F64, 3, (int64_t[]){1 << 20, 1 << 20, 1 << 20}, &scalar, &e) ==
          PTTS_ERR_INVALID_ARG);
    CHECK(st_writer_add(w, "nodata", ST_F32, 1, (int64_t[]){2}, NULL, &e) == PTTS_ERR_INVALID_ARG);

    const char *path = tmp_path("rt.safetensors");
    /* Overwrites an existing file atomically. */
    FILE *old = fopen(path, "wb");
    if (old) fputs("old", old), fclose(old);
    int rc = st_writer_save(w, path, &e);
    CHECK(rc == PTTS_OK, "%s", e.msg);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(access(tmp, F_OK) != 0, "temp file left behind");

    size_t len = 0;
    uint8_t *raw = (uint8_t *)read_file(path, &len);
    CHECK(raw != NULL);
    if (raw) {
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--)
            hl = hl << 8 | raw[i];
        CHECK(hl % 8 == 0 && hl + 8 <= len, "header length %llu", (unsigned long long)hl);
        const char *want = "{\"__metadata__\":{\"format\":\"pt\"},\"z.t0_F32\":{\"dtype\":\"F32\","
                           "\"shape\":[2,3],\"data_offsets\":[0,24]},\"z.t1_F16\":{\"dtype\":"
                           "\"F16\",\"shape\":[2,3],\"data_offsets\":[24,36]}";
        CHECK(!memcmp(raw + 8, want, strlen(want)), "header starts %.120s", (char *)raw + 8);
        CHECK(raw[8 + hl - 1] == ' ' || raw[8 + hl - 1] == '}');
        /* Data: the tensors back to back in insertion order, ending the file. */
        size_t total = 0;
        for (int i = 0; i < n_all; i++)
            total += 6 * st_dtype_size(all[i]);
        total += 4 + 1;
        CHECK(len == 8 + hl + total, "file %zu bytes, want %llu", len,
              (unsigned long long)(8 + hl + total));
    }
    free(raw);

    st_file *f = NULL;
    rc = st_open(&f, path, &e);
    CHECK(rc == PTTS_OK, "%s", e.msg);
    if (f) {
        CHECK(st_count(f) == (size_t)n_all + 3);
        size_t off = 0;
        const uint8_t *base = st_at(f, 0)->data;
        for (int i = 0; i < n_all; i++) {
            const st_tensor *t = st_at(f, (size_t)i);
            snprintf(name, sizeof name, "z.t%d_%s", i, st_dtype_name(all[i]));
            size_t nb = 6 * st_dtype_size(all[i]);
            CHECK(t && !strcmp(t->name, name) && t->dtype == all[i] && t->ndim == 2 &&
                      t->shape[0] == 2 && t->shape[1] == 3 && t->numel == 6 && t->nbytes == nb,
                  "tensor %d", i);
            CHECK(t && !memcmp(t->data, pattern, nb) && (const uint8_t *)t->data == base + off,
                  "data of %s", name);
            off += nb;
        }
        const st_tensor *s = st_find(f, "a.scalar");
        CHECK(s && s->ndim == 0 && s->numel == 1 && !memcmp(s->data, &scalar, 4));
        const st_tensor *o = st_find(f, odd);
        CHECK(o && o->nbytes == 1 && *(const char *)o->data == 'x', "escaped name");
        const st_tensor *z = st_find(f, "empty");
        CHECK(z && z->numel == 0 && z->nbytes == 0 && z->shape[0] == 0 && z->shape[1] == 4);
        st_close(f);
    }
    CHECK(st_writer_save(w, "/nonexistent_dir/x.safetensors", &e) == PTTS_ERR_IO &&
              strstr(e.msg, "/nonexistent_dir/x.safetensors"),
          "%s", e.msg);
    st_writer_free(w);
    st_writer_free(NULL);

    /* An empty writer gives a valid file with no tensors. */
    CHECK(st_writer_new(&w, &e) == PTTS_OK);
    CHECK(st_writer_save(w, path, &e) == PTTS_OK, "%s", e.msg);
    st_writer_free(w);
    rc = st_open(&f, path, &e);
    CHECK(rc == PTTS_OK && st_count(f) == 0, "%s", e.msg);
    st_close(f);
    unlink(path);
}

/* ---- conversions on known values ---- */

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static int same_float(float a, float b) {
    return isnan(a) ? isnan(b) : f32_bits(a) == f32_bits(b);
}

static void test_conversions(void) {
    ptts_err e = {0};
    const uint16_t f16[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x8001,
                            0x7C00, 0xFC00, 0x7E00, 0x8000, 0x0000, 0x3555};
    const float f16_want[] = {1.0f,     -2.0f,     65504.0f,       0x1p-24f,  0x3FFp-24f,
                              0x1p-14f, -0x1p-24f, INFINITY,       -INFINITY, NAN,
                              -0.0f,    0.0f,      0.333251953125f};
    const uint16_t bf16[] = {0x3F80, 0xC000, 0x7F80, 0xFF80, 0x7FC0,
                             0x0001, 0x8000, 0x4049, 0x0080, 0x7F7F};
    const float bf16_want[] = {1.0f,      -2.0f, INFINITY,  -INFINITY, NAN,
                               0x1p-133f, -0.0f, 3.140625f, 0x1p-126f, 0x1.FEp127f};
    const size_t n16 = sizeof f16 / 2, nb = sizeof bf16 / 2;
    const double f64[] = {1.5, -1e-3, 1e300, 0.1};
    const int8_t i8[] = {-1, 127, -128};
    const uint8_t u8[] = {255, 0, 1};
    const int16_t i16[] = {-32768, 32767, -1};
    const int32_t i32[] = {INT32_MIN, INT32_MAX, -7};
    const int64_t i64[] = {INT64_MIN, INT64_MAX, -9};
    st_writer *w = NULL;
    CHECK(st_writer_new(&w, &e) == PTTS_OK);
    if (!w) return;
    CHECK(!st_writer_add(w, "f16", ST_F16, 1, (int64_t[]){(int64_t)n16}, f16, &e));
    CHECK(!st_writer_add(w, "bf16", ST_BF16, 1, (int64_t[]){(int64_t)nb}, bf16, &e));
    CHECK(!st_writer_add(w, "f64", ST_F64, 1, (int64_t[]){4}, f64, &e));
    CHECK(!st_writer_add(w, "i8", ST_I8, 1, (int64_t[]){3}, i8, &e));
    CHECK(!st_writer_add(w, "u8", ST_U8, 1, (int64_t[]){3}, u8, &e));
    CHECK(!st_writer_add(w, "bool", ST_BOOL, 1, (int64_t[]){3}, (uint8_t[]){0, 1, 1}, &e));
    CHECK(!st_writer_add(w, "i16", ST_I16, 1, (int64_t[]){3}, i16, &e));
    CHECK(!st_writer_add(w, "i32", ST_I32, 1, (int64_t[]){3}, i32, &e));
    CHECK(!st_writer_add(w, "i64", ST_I64, 1, (int64_t[]){3}, i64, &e));
    const char *path = tmp_path("conv.safetensors");
    CHECK(st_writer_save(w, path, &e) == PTTS_OK, "%s", e.msg);
    st_writer_free(w);
    st_file *f = NULL;
    CHECK(st_open(&f, path, &e) == PTTS_OK, "%s", e.msg);
    if (!f) return;
    float out[16];
    CHECK(st_to_f32(st_find(f, "f16"), out, &e) == PTTS_OK);
    for (size_t i = 0; i < n16; i++)
        CHECK(same_float(out[i], f16_want[i]), "f16 %04x -> %a, want %a", f16[i], out[i],
              f16_want[i]);
    CHECK(st_to_f32(st_find(f, "bf16"), out, &e) == PTTS_OK);
    for (size_t i = 0; i < nb; i++)
        CHECK(same_float(out[i], bf16_want[i]), "bf16 %04x -> %a, want %a", bf16[i], out[i],
              bf16_want[i]);
    CHECK(st_to_f32(st_find(f, "f64"), out, &e) == PTTS_OK);
    CHECK(out[0] == 1.5f && out[1] == -1e-3f && isinf(out[2]) && out[3] == 0.1f);
    int64_t v[3];
    CHECK(!st_to_i64(st_find(f, "i8"), v, &e) && v[0] == -1 && v[1] == 127 && v[2] == -128);
    CHECK(!st_to_i64(st_find(f, "u8"), v, &e) && v[0] == 255 && v[1] == 0 && v[2] == 1);
    CHECK(!st_to_i64(st_find(f, "bool"), v, &e) && v[0] == 0 && v[1] == 1);
    CHECK(!st_to_i64(st_find(f, "i16"), v, &e) && v[0] == -32768 && v[1] == 32767 && v[2] == -1);
    CHECK(!st_to_i64(st_find(f, "i32"), v, &e) && v[0] == INT32_MIN && v[2] == -7);
    CHECK(!st_to_i64(st_find(f, "i64"), v, &e) && v[0] == INT64_MIN && v[1] == INT64_MAX);
    CHECK(st_to_i64(st_find(f, "f16"), v, &e) == PTTS_ERR_FORMAT && strstr(e.msg, "'f16'"));
    st_close(f);
    unlink(path);
}

/* ---- corrupt input ---- */

/* Builds u64 header length hl, the header text, then data_len bytes of data. */
static uint8_t *make(uint64_t hl, const char *json, size_t data_len, size_t *len) {
    size_t jl = strlen(json);
    *len = 8 + jl + data_len;
    uint8_t *b = calloc(1, *len);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(hl >> (8 * i));
    memcpy(b + 8, json, jl);
    for (size_t i = 0; i < data_len; i++)
        b[8 + jl + i] = (uint8_t)i;
    return b;
}

static void expect_error(const char *what, uint64_t hl, const char *json, size_t data_len,
                         const char *msg) {
    size_t len;
    uint8_t *b = make(hl, json, data_len, &len);
    ptts_err e = {0};
    st_file *f = (st_file *)1;
    int rc = st_open_memory(&f, b, len, &e);
    CHECK(rc == PTTS_ERR_FORMAT && f == NULL && strstr(e.msg, msg), "%s: rc %d, '%s'", what, rc,
          e.msg);
    free(b);
}

#define ERR(what, json, data_len, msg) expect_error(what, strlen(json), json, data_len, msg)

static void test_corrupt(void) {
    ptts_err e = {0};
    st_file *f = NULL;
    CHECK(st_open_memory(&f, "\x10\0\0", 3, &e) == PTTS_ERR_FORMAT && strstr(e.msg, "too short"));
    CHECK(st_open_memory(&f, "", 0, &e) == PTTS_ERR_FORMAT);
    expect_error("header past end", 200, "{}", 0, "past the end");
    expect_error("huge header", (uint64_t)1 << 62, "{}", 0, "too large");
    expect_error("max header", UINT64_MAX, "{}", 0, "too large");
    ERR("bad json", "{\"a\":{\"dtype\":\"F32\",", 0, "not valid JSON");
    ERR("not json", "hello   ", 0, "not valid JSON");
    ERR("array", "[1,2,3] ", 0, "not a JSON object");
    ERR("string", "\"x\"    ", 0, "not a JSON object");
    ERR("trailing", "{}  xx  ", 0, "after its JSON");
    /* NUL padding is not whitespace. */
    expect_error("nul padding", 4, "{}", 2, "after its JSON");
    ERR("tensor not object", "{\"a\":3}", 0, "'a' is not an object");
    ERR("no dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "'a' has no dtype");
    ERR("unknown dtype", "{\"a\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
        "unknown dtype 'F8'");
    ERR("no shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "has no shape");
    ERR("negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
        "invalid shape");
    ERR("fractional dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
        "invalid shape");
    ERR("string dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4,
        "invalid shape");
    ERR("many dims",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
        "dimensions");
    ERR("shape overflow",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],"
        "\"data_offsets\":[0,4]}}",
        4, "overflows");
    ERR("offsets out of range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
        4, "outside the file");
    ERR("offsets reversed", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4,
        "outside the file");
    ERR("offsets huge",
        "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[18446744073709551615,1e30]}}", 4,
        "outside the file");
    ERR("offsets short", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
        "outside the file");
    ERR("size mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8,
        "holds 4 bytes but its shape and dtype need 8");
    ERR("overlap",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
        8, "overlap");
    ERR("empty inside another",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
        8, "overlap");
    ERR("duplicate",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
        8, "'a' appears twice");
    /* Deep nesting is refused by cJSON's depth limit rather than overflowing the stack. */
    char deep[4200];
    memset(deep, '[', 4096);
    deep[4096] = 0;
    ERR("deep nesting", deep, 0, "not valid JSON");
    st_close(NULL);

    /* A file truncated on disk: the error names the path. */
    size_t len;
    char *lut = read_file(fixture("golden/tiny/lut.safetensors"), &len);
    const char *path = tmp_path("cut.safetensors");
    FILE *fp = fopen(path, "wb");
    if (fp && lut) fwrite(lut, 1, len - 1, fp), fclose(fp);
    CHECK(st_open(&f, path, &e) == PTTS_ERR_FORMAT && !strncmp(e.msg, path, strlen(path)) &&
              strstr(e.msg, "outside the file"),
          "%s", e.msg);
    unlink(path);
    free(lut);
}

/* Opens buf; on success reads every tensor so that ASan sees any bad pointer. */
static int open_and_touch(const uint8_t *buf, size_t len) {
    ptts_err e = {0};
    st_file *f = NULL;
    int rc = st_open_memory(&f, buf, len, &e);
    if (rc) {
        CHECK(f == NULL && e.msg[0] && !strchr(e.msg, '\n'));
        return rc;
    }
    double sum = 0;
    for (size_t i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        for (size_t k = 0; k < t->nbytes; k++)
            sum += ((const uint8_t *)t->data)[k];
    }
    st_close(f);
    return sum < 0; /* always 0; keeps the reads */
}

static void test_truncations_and_flips(void) {
    ptts_err e = {0};
    st_writer *w = NULL;
    CHECK(st_writer_new(&w, &e) == PTTS_OK);
    if (!w) return;
    CHECK(!st_writer_add(w, "w", ST_F32, 2, (int64_t[]){2, 2}, (float[]){1, 2, 3, 4}, &e));
    CHECK(!st_writer_add(w, "b", ST_F16, 1, (int64_t[]){3}, (uint16_t[]){0x3C00, 1, 2}, &e));
    CHECK(!st_writer_add(w, "i", ST_I64, 1, (int64_t[]){1}, (int64_t[]){7}, &e));
    const char *path = tmp_path("small.safetensors");
    CHECK(st_writer_save(w, path, &e) == PTTS_OK, "%s", e.msg);
    st_writer_free(w);
    size_t len = 0;
    uint8_t *buf = (uint8_t *)read_file(path, &len);
    unlink(path);
    CHECK(buf && len > 100);
    if (!buf) return;
    CHECK(open_and_touch(buf, len) == PTTS_OK);
    /* Every truncation removes data of the last tensor or more: always an error. */
    int refused = 0;
    for (size_t l = 0; l < len; l++)
        refused += open_and_touch(buf, l) == PTTS_ERR_FORMAT;
    CHECK(refused == (int)len, "%d of %zu truncations refused", refused, len);
    /* Byte flips at every position with fixed masks and LCG values: no crash, and either
     * a clean error or a file whose tensors can all be read. */
    uint8_t *copy = malloc(len);
    uint32_t lcg = 12345;
    int ok = 0, bad = 0;
    for (size_t i = 0; i < len; i++)
        for (int m = 0; m < 5; m++) {
            lcg = lcg * 1103515245u + 12345u;
            uint8_t mask = m == 0 ? 0x01 : m == 1 ? 0x80 : m == 2 ? 0xFF : (uint8_t)(lcg >> 16 | 1);
            memcpy(copy, buf, len);
            copy[i] ^= mask;
            if (open_and_touch(copy, len))
                bad++;
            else
                ok++;
        }
    CHECK(ok + bad == (int)len * 5 && bad > 0 && ok > 0, "%d accepted, %d refused", ok, bad);
    printf("byte flips: %d accepted, %d refused\n", ok, bad);
    free(copy);
    free(buf);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_fixtures();
    test_round_trip();
    test_conversions();
    test_corrupt();
    test_truncations_and_flips();
    rmdir(tmpdir);
    TEST_END();
}
