/* Random weights in the released checkpoint layout (ptts_debug_random_model): the tensors a
 * config's loaders read, named, shaped and ordered as in the released checkpoints, each with
 * the distribution its values are drawn from. */
#ifndef PTTS_RANDOM_MODEL_H
#define PTTS_RANDOM_MODEL_H

#include <stdint.h>

#include "io/config.h"

enum { RM_NAME_LEN = 96 };

typedef enum rm_fill {
    RM_NORMAL, /* N(mean, std^2); std 0 gives the constant mean */
    RM_FREQS,  /* exp(-ln(10000) i / numel): the flow head's time-embedding frequencies */
} rm_fill;

typedef struct rm_tensor {
    char name[RM_NAME_LEN];
    int ndim;
    int64_t shape[3];
    int64_t numel;
    rm_fill fill;
    float mean, std;
} rm_tensor;

typedef struct rm_plan {
    rm_tensor *v;
    size_t n, cap;
} rm_plan;

/* The tensors of config c in checkpoint order. *p is zeroed first; free it with
 * rm_plan_free, also on failure. */
int rm_plan_build(rm_plan *p, const ptts_config *c, ptts_err *e);
void rm_plan_free(rm_plan *p); /* accepts a zeroed plan */

/* t's numel values into out: a function of seed and t's name only, so that a tensor does
 * not change when others are added or reordered. */
void rm_values(const rm_tensor *t, uint64_t seed, float *out);

#endif
