#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A header larger than this is refused: real ones are a few tens of KiB, and cJSON may
 * need ~40 bytes per header byte (e.g. "[0,0,...]"), so this bounds the parse's memory. */
#define ST_MAX_HEADER (16u << 20)

struct st_file {
    const uint8_t *base; /* whole file */
    size_t size;
    int mapped;          /* base is an mmap (else malloc'd) */
    const uint8_t *data; /* byte buffer after the header */
    size_t data_size;
    st_tensor *tensors;
    char **names;
    size_t n;
};

static const struct {
    const char *name;
    st_dtype t;
    size_t size;
} dtypes[] = {
    {"F32", ST_F32, 4}, {"F16", ST_F16, 2},   {"BF16", ST_BF16, 2}, {"F64", ST_F64, 8},
    {"I64", ST_I64, 8}, {"I32", ST_I32, 4},   {"I16", ST_I16, 2},   {"I8", ST_I8, 1},
    {"U8", ST_U8, 1},   {"BOOL", ST_BOOL, 1},
};

size_t st_dtype_size(st_dtype t) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].t == t) return dtypes[i].size;
    return 0;
}

const char *st_dtype_name(st_dtype t) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].t == t) return dtypes[i].name;
    return "?";
}

static int dtype_parse(const char *s, st_dtype *t) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(dtypes[i].name, s)) {
            *t = dtypes[i].t;
            return 1;
        }
    return 0;
}

void st_close(st_file *f) {
    if (!f) return;
    if (f->base) {
        if (f->mapped)
            munmap((void *)f->base, f->size);
        else
            free((void *)f->base);
    }
    for (size_t i = 0; i < f->n; i++)
        free(f->names[i]);
    free(f->names);
    free(f->tensors);
    free(f);
}

static int cmp_by_offset(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->data < y->data ? -1 : x->data > y->data;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

/* Reads a JSON number that must be a whole number in [0, max]. */
static int json_uint(const cJSON *j, uint64_t max, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double v = j->valuedouble;
    if (!(v >= 0) || v > (double)max || v != floor(v)) return 0;
    *out = (uint64_t)v;
    return 1;
}

static int parse_tensor(st_file *f, const cJSON *item, st_tensor *t, ptts_err *e) {
    const char *nm = item->string;
    if (!cJSON_IsObject(item))
        return err_set(e, PTTS_ERR_FORMAT, "tensor '%s' is not an object", nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt)) return err_set(e, PTTS_ERR_FORMAT, "tensor '%s' has no dtype", nm);
    if (!dtype_parse(dt->valuestring, &t->dtype))
        return err_set(e, PTTS_ERR_FORMAT, "tensor '%s' has unknown dtype '%s'", nm,
                       dt->valuestring);
    if (!cJSON_IsArray(sh)) return err_set(e, PTTS_ERR_FORMAT, "tensor '%s' has no shape", nm);
    int nd = cJSON_GetArraySize(sh);
    if (nd > ST_MAX_DIMS)
        return err_set(e, PTTS_ERR_FORMAT, "tensor '%s' has %d dimensions (max %d)", nm, nd,
                       ST_MAX_DIMS);
    t->ndim = nd;
    uint64_t numel = 1;
    for (int i = 0; i < nd; i++) {
        uint64_t d;
        if (!json_uint(cJSON_GetArrayItem(sh, i), (uint64_t)1 << 40, &d))
            return err_set(e, PTTS_ERR_FORMAT, "tensor '%s' has an invalid shape entry", nm);
        t->shape[i] = (int64_t)d;
        if (d && numel > (UINT64_MAX >> 4) / d)
            return err_set(e, PTTS_ERR_FORMAT, "tensor '%s' shape overflows", nm);
        numel *= d;
    }
    t->numel = (int64_t)numel;
    uint64_t b, en;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
        !json_uint(cJSON_GetArrayItem(off, 0), f->data_size, &b) ||
        !json_uint(cJSON_GetArrayItem(off, 1), f->data_size, &en) || b > en)
        return err_set(e, PTTS_ERR_FORMAT, "tensor '%s' has data offsets outside the file", nm);
    if (en - b != numel * st_dtype_size(t->dtype))
        return err_set(e, PTTS_ERR_FORMAT,
                       "tensor '%s' holds %llu bytes but its shape and dtype need %llu", nm,
                       (unsigned long long)(en - b),
                       (unsigned long long)(numel * st_dtype_size(t->dtype)));
    t->data = f->data + b;
    t->nbytes = (size_t)(en - b);
    return PTTS_OK;
}

/* Checks what the tensors share: unique names (sorted, so that a hostile header with
 * millions of entries is not quadratic) and disjoint byte ranges. */
static int check_layout(st_file *f, st_tensor **order, ptts_err *e) {
    for (size_t i = 0; i < f->n; i++)
        order[i] = &f->tensors[i];
    qsort(order, f->n, sizeof *order, cmp_by_name);
    for (size_t i = 1; i < f->n; i++)
        if (!strcmp(order[i - 1]->name, order[i]->name))
            return err_set(e, PTTS_ERR_FORMAT, "tensor '%s' appears twice", order[i]->name);
    qsort(order, f->n, sizeof *order, cmp_by_offset);
    for (size_t i = 1; i < f->n; i++)
        if (order[i - 1]->data + order[i - 1]->nbytes > order[i]->data)
            return err_set(e, PTTS_ERR_FORMAT, "tensors '%s' and '%s' overlap", order[i - 1]->name,
                           order[i]->name);
    return PTTS_OK;
}

static int parse(st_file *f, ptts_err *e) {
    if (f->size < 8) return err_set(e, PTTS_ERR_FORMAT, "file too short for a safetensors header");
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | f->base[i];
    if (hl > ST_MAX_HEADER)
        return err_set(e, PTTS_ERR_FORMAT, "header length %llu is too large",
                       (unsigned long long)hl);
    if (hl > f->size - 8)
        return err_set(e, PTTS_ERR_FORMAT, "header length %llu runs past the end of the file",
                       (unsigned long long)hl);
    f->data = f->base + 8 + hl;
    f->data_size = f->size - 8 - (size_t)hl;
    /* A NUL-terminated copy: cJSON is not built with our sanitizers, and a terminator
     * keeps any read past the length inside our buffer. */
    char *text = malloc((size_t)hl + 1);
    if (!text) return err_set(e, PTTS_ERR_NOMEM, "out of memory reading the header");
    memcpy(text, f->base + 8, (size_t)hl);
    text[hl] = 0;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)hl, &end, 0);
    int rc = PTTS_OK;
    if (!root) {
        rc = err_set(e, PTTS_ERR_FORMAT, "header is not valid JSON");
        goto done;
    }
    /* Writers pad the header with spaces; anything else after the JSON is corruption. */
    for (; end < text + hl; end++)
        if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
            rc = err_set(e, PTTS_ERR_FORMAT, "header has bytes after its JSON object");
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        rc = err_set(e, PTTS_ERR_FORMAT, "header is not a JSON object");
        goto done;
    }
    size_t n = 0;
    for (const cJSON *it = root->child; it; it = it->next)
        if (strcmp(it->string, "__metadata__")) n++;
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    f->names = calloc(n ? n : 1, sizeof *f->names);
    st_tensor **order = calloc(n ? n : 1, sizeof *order);
    if (!f->tensors || !f->names || !order) {
        free(order);
        rc = err_set(e, PTTS_ERR_NOMEM, "out of memory reading the header");
        goto done;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        if (!strcmp(it->string, "__metadata__")) continue;
        st_tensor *t = &f->tensors[f->n];
        if (!(f->names[f->n] = strdup(it->string))) {
            rc = err_set(e, PTTS_ERR_NOMEM, "out of memory reading the header");
            break;
        }
        t->name = f->names[f->n];
        f->n++;
        if ((rc = parse_tensor(f, it, t, e))) break;
    }
    if (!rc) rc = check_layout(f, order, e);
    free(order);
done:
    cJSON_Delete(root);
    free(text);
    return rc;
}

int st_open(st_file **out, const char *path, ptts_err *e) {
    *out = NULL;
    st_file *f = calloc(1, sizeof *f);
    if (!f) return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        free(f);
        return err_set(e, PTTS_ERR_IO, "%s: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        free(f);
        return err_set(e, PTTS_ERR_IO, "%s: not a regular file", path);
    }
    f->size = (size_t)sb.st_size;
    if (f->size) {
        void *p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int er = errno;
            close(fd);
            free(f);
            return err_set(e, PTTS_ERR_IO, "%s: mmap: %s", path, strerror(er));
        }
        f->base = p;
        f->mapped = 1;
    }
    close(fd);
    int rc = parse(f, e);
    if (rc) {
        err_prefix(e, "%s", path);
        st_close(f);
        return rc;
    }
    *out = f;
    return PTTS_OK;
}

int st_open_memory(st_file **out, const void *buf, size_t len, ptts_err *e) {
    *out = NULL;
    st_file *f = calloc(1, sizeof *f);
    uint8_t *copy = malloc(len ? len : 1);
    if (!f || !copy) {
        free(f);
        free(copy);
        return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    }
    if (len) memcpy(copy, buf, len);
    f->base = copy;
    f->size = len;
    int rc = parse(f, e);
    if (rc) {
        st_close(f);
        return rc;
    }
    *out = f;
    return PTTS_OK;
}

size_t st_count(const st_file *f) {
    return f->n;
}

const st_tensor *st_at(const st_file *f, size_t i) {
    return i < f->n ? &f->tensors[i] : NULL;
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

static float half_to_f32(uint16_t h) {
    uint32_t s = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 31, m = h & 1023, bits;
    if (ex == 31)
        bits = s | 0x7f800000u | m << 13;
    else if (ex)
        bits = s | (ex + 112) << 23 | m << 13;
    else if (m) { /* subnormal: renormalise */
        int sh = 0;
        while (!(m & 1024))
            m <<= 1, sh++;
        bits = s | (uint32_t)(113 - sh) << 23 | (m & 1023) << 13;
    } else
        bits = s;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

int st_to_f32(const st_tensor *t, float *dst, ptts_err *e) {
    const uint8_t *p = t->data;
    for (int64_t i = 0; i < t->numel; i++) {
        switch (t->dtype) {
        case ST_F32: memcpy(&dst[i], p + 4 * i, 4); break;
        case ST_F64: {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
            break;
        }
        case ST_F16: dst[i] = half_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8)); break;
        case ST_BF16: {
            uint32_t bits = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&dst[i], &bits, 4);
            break;
        }
        default:
            return err_set(e, PTTS_ERR_FORMAT, "tensor '%s' has dtype %s, expected a float type",
                           t->name, st_dtype_name(t->dtype));
        }
    }
    return PTTS_OK;
}

int st_to_i64(const st_tensor *t, int64_t *dst, ptts_err *e) {
    const uint8_t *p = t->data;
    for (int64_t i = 0; i < t->numel; i++) {
        switch (t->dtype) {
        case ST_I64: memcpy(&dst[i], p + 8 * i, 8); break;
        case ST_I32: {
            int32_t v;
            memcpy(&v, p + 4 * i, 4);
            dst[i] = v;
            break;
        }
        case ST_I16: {
            int16_t v;
            memcpy(&v, p + 2 * i, 2);
            dst[i] = v;
            break;
        }
        case ST_I8: dst[i] = (int8_t)p[i]; break;
        case ST_U8:
        case ST_BOOL: dst[i] = p[i]; break;
        default:
            return err_set(e, PTTS_ERR_FORMAT, "tensor '%s' has dtype %s, expected an integer type",
                           t->name, st_dtype_name(t->dtype));
        }
    }
    return PTTS_OK;
}

int st_load_f32(const st_file *f, const char *name, int ndim, const int64_t *shape, float **out,
                ptts_err *e) {
    *out = NULL;
    const st_tensor *t = st_find(f, name);
    if (!t) return err_set(e, PTTS_ERR_CONFIG, "missing tensor '%s'", name);
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = shape[i] < 0 || shape[i] == t->shape[i];
    if (!ok) {
        char want[128] = "", got[128] = "";
        for (int i = 0; i < ndim; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "," : "",
                     (long long)shape[i]);
        for (int i = 0; i < t->ndim; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "",
                     (long long)t->shape[i]);
        return err_set(e, PTTS_ERR_CONFIG, "tensor '%s' has shape [%s], the config needs [%s]",
                       name, got, want);
    }
    float *d = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    if (!d) return err_set(e, PTTS_ERR_NOMEM, "out of memory loading '%s'", name);
    int rc = st_to_f32(t, d, e);
    if (rc) {
        free(d);
        return rc;
    }
    st_release(f, t);
    *out = d;
    return PTTS_OK;
}

void st_release(const st_file *f, const st_tensor *t) {
    if (!f->mapped || !t->nbytes) return;
    /* Only whole pages inside the tensor: neighbours may still be needed. */
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)t->data + page - 1) & ~(page - 1);
    uintptr_t hi = ((uintptr_t)t->data + t->nbytes) & ~(page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* ---- writer ---- */

typedef struct st_entry {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    void *data;
    size_t nbytes;
} st_entry;

struct st_writer {
    st_entry *v;
    size_t n, cap;
};

int st_writer_new(st_writer **out, ptts_err *e) {
    *out = calloc(1, sizeof **out);
    return *out ? PTTS_OK : err_set(e, PTTS_ERR_NOMEM, "out of memory");
}

void st_writer_free(st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->v[i].name);
        free(w->v[i].data);
    }
    free(w->v);
    free(w);
}

/* Sizes and offsets go into JSON as doubles, which cJSON prints as plain integers below
 * 10^15 (an exponent form above, which other readers refuse). */
#define ST_MAX_BYTES ((uint64_t)1000000000000000)

int st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim, const int64_t *shape,
                  const void *data, ptts_err *e) {
    if (!name || !strcmp(name, "__metadata__"))
        return err_set(e, PTTS_ERR_INVALID_ARG, "invalid tensor name '%s'", name ? name : "(null)");
    size_t esize = st_dtype_size(dtype);
    if (!esize)
        return err_set(e, PTTS_ERR_INVALID_ARG, "tensor '%s': invalid dtype %d", name, dtype);
    if (ndim < 0 || ndim > ST_MAX_DIMS || (ndim && !shape))
        return err_set(e, PTTS_ERR_INVALID_ARG, "tensor '%s': invalid rank %d", name, ndim);
    uint64_t bytes = esize;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] && bytes > ST_MAX_BYTES / (uint64_t)shape[i]))
            return err_set(e, PTTS_ERR_INVALID_ARG, "tensor '%s': invalid shape", name);
        bytes *= (uint64_t)shape[i];
    }
    if (bytes && !data) return err_set(e, PTTS_ERR_INVALID_ARG, "tensor '%s' has no data", name);
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->v[i].name, name))
            return err_set(e, PTTS_ERR_INVALID_ARG, "tensor '%s' added twice", name);
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        st_entry *v = realloc(w->v, cap * sizeof *v);
        if (!v) return err_set(e, PTTS_ERR_NOMEM, "out of memory adding '%s'", name);
        w->v = v;
        w->cap = cap;
    }
    st_entry *t = &w->v[w->n];
    *t = (st_entry){.name = strdup(name), .dtype = dtype, .ndim = ndim, .nbytes = (size_t)bytes};
    t->data = malloc(bytes ? (size_t)bytes : 1);
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return err_set(e, PTTS_ERR_NOMEM, "out of memory adding '%s'", name);
    }
    if (ndim) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    if (bytes) memcpy(t->data, data, (size_t)bytes);
    w->n++;
    return PTTS_OK;
}

/* The JSON header, padded with spaces to a multiple of 8 as upstream safetensors does so
 * that the data starts aligned. Returns a malloc'd buffer of *len bytes, or NULL. */
static char *build_header(const st_writer *w, size_t *len) {
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(root, "__metadata__");
    int ok = meta && cJSON_AddStringToObject(meta, "format", "pt");
    uint64_t off = 0;
    for (size_t i = 0; ok && i < w->n; i++) {
        const st_entry *t = &w->v[i];
        cJSON *o = cJSON_AddObjectToObject(root, t->name);
        cJSON *dt = o ? cJSON_AddStringToObject(o, "dtype", st_dtype_name(t->dtype)) : NULL;
        cJSON *sh = dt ? cJSON_AddArrayToObject(o, "shape") : NULL;
        cJSON *offs = sh ? cJSON_AddArrayToObject(o, "data_offsets") : NULL;
        ok = offs != NULL;
        for (int d = 0; ok && d < t->ndim; d++)
            ok = cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[d]));
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off)) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + t->nbytes)));
        off += t->nbytes;
    }
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!json) return NULL;
    size_t n = strlen(json), padded = (n + 7) & ~(size_t)7;
    char *buf = malloc(padded);
    if (buf) {
        memcpy(buf, json, n);
        memset(buf + n, ' ', padded - n);
        *len = padded;
    }
    cJSON_free(json);
    return buf;
}

static int write_all(int fd, const void *buf, size_t len) {
    const uint8_t *p = buf;
    while (len) {
        ssize_t r = write(fd, p, len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (!r) errno = EIO;
            return -1;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

int st_writer_save(st_writer *w, const char *path, ptts_err *e) {
    uint64_t total = 0;
    for (size_t i = 0; i < w->n; i++)
        total += w->v[i].nbytes;
    if (total > ST_MAX_BYTES) return err_set(e, PTTS_ERR_INVALID_ARG, "%s: data too large", path);
    size_t hlen = 0;
    char *header = build_header(w, &hlen);
    if (!header) return err_set(e, PTTS_ERR_NOMEM, "%s: out of memory building the header", path);
    size_t plen = strlen(path) + 32;
    char *tmp = malloc(plen);
    if (!tmp) {
        free(header);
        return err_set(e, PTTS_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, plen, "%s.tmp.%ld", path, (long)getpid());
    int rc = PTTS_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = err_set(e, PTTS_ERR_IO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    int bad = write_all(fd, le, 8) || write_all(fd, header, hlen);
    for (size_t i = 0; !bad && i < w->n; i++)
        bad = write_all(fd, w->v[i].data, w->v[i].nbytes);
    /* The data must be on disk before the rename makes it visible under its name. */
    bad = bad || fsync(fd);
    int er = errno;
    if (close(fd) && !bad) {
        bad = 1;
        er = errno;
    }
    if (!bad && rename(tmp, path)) {
        bad = 1;
        er = errno;
    }
    if (bad) {
        unlink(tmp);
        rc = err_set(e, PTTS_ERR_IO, "%s: %s", path, strerror(er));
    }
out:
    free(tmp);
    free(header);
    return rc;
}
