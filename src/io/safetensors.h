/* safetensors: read (mmap) and write. Format: u64 LE header length N, N bytes of JSON
 * {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__": {...}}, then data. */
#ifndef PTTS_SAFETENSORS_H
#define PTTS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"

typedef enum st_dtype {
    ST_F32,
    ST_F16,
    ST_BF16,
    ST_F64,
    ST_I64,
    ST_I32,
    ST_I16,
    ST_I8,
    ST_U8,
    ST_BOOL
} st_dtype;

#define ST_MAX_DIMS 8

typedef struct st_tensor {
    const char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    const void *data; /* points into the mapping; may be unaligned */
    size_t nbytes;
} st_tensor;

typedef struct st_file st_file;

/* Maps and validates a file. On error *out is NULL and e says what is wrong. */
int st_open(st_file **out, const char *path, ptts_err *e);
/* Same over a caller buffer (copied). */
int st_open_memory(st_file **out, const void *buf, size_t len, ptts_err *e);
void st_close(st_file *f); /* accepts NULL */

size_t st_count(const st_file *f);
const st_tensor *st_at(const st_file *f, size_t i);           /* in file order */
const st_tensor *st_find(const st_file *f, const char *name); /* NULL if absent */

size_t st_dtype_size(st_dtype t);
const char *st_dtype_name(st_dtype t);

/* Converts a float tensor (F32/F16/BF16/F64) to n f32 values in dst (n == numel). */
int st_to_f32(const st_tensor *t, float *dst, ptts_err *e);
/* Converts an integer tensor to int64 values (n == numel). */
int st_to_i64(const st_tensor *t, int64_t *dst, ptts_err *e);
/* Finds name, checks ndim/shape (shape entries < 0 are wildcards), and returns a
 * malloc'd f32 copy. Errors name the tensor and the mismatch. */
int st_load_f32(const st_file *f, const char *name, int ndim, const int64_t *shape, float **out,
                ptts_err *e);

/* Drops the resident pages of a mapped tensor once it has been copied out, so that loading a
 * model does not hold the file and its converted copy at once. Its data stays readable
 * (pages come back from the file on access). */
void st_release(const st_file *f, const st_tensor *t);

/* Writer: collects tensors (data copied at add time) and writes them in insertion order,
 * back to back, after a header {"__metadata__":{"format":"pt"}, name: {...}, ...} padded
 * with spaces to a multiple of 8 bytes. Save writes PATH.tmp.<pid>, fsyncs it and renames
 * it over PATH, so readers never see a partial file; errors name the path. Add refuses
 * duplicate names, "__metadata__", bad dtypes, ranks or shapes. */
typedef struct st_writer st_writer;
int st_writer_new(st_writer **out, ptts_err *e);
int st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim, const int64_t *shape,
                  const void *data, ptts_err *e);
int st_writer_save(st_writer *w, const char *path, ptts_err *e);
void st_writer_free(st_writer *w);

#endif
