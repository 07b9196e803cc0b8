/* libFuzzer target: st_open_memory on arbitrary bytes must fail cleanly or give tensors
 * whose every byte and float conversion can be read. */
#include <stdint.h>
#include <stdlib.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file *f = NULL;
    ptts_err e = {0};
    if (st_open_memory(&f, data, size, &e)) return 0;
    for (size_t i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        if (st_find(f, t->name) != t) abort(); /* names are unique */
        float *x = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *x);
        int64_t *v = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *v);
        if (x && v && st_to_f32(t, x, &e) && st_to_i64(t, v, &e)) abort(); /* one must work */
        free(x);
        free(v);
    }
    st_close(f);
    return 0;
}
