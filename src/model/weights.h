/* Checkpoint loading helpers shared by the model files: tensor names are formatted
 * printf-style and every shape is checked by st_load_f32 (errors name the tensor). */
#ifndef PTTS_WEIGHTS_H
#define PTTS_WEIGHTS_H

#include "io/safetensors.h"
#include "kernels/kernels.h"

/* Loads the 1-D tensor `name` of n values into a malloc'd f32 copy (*out). */
int wt_vec(const st_file *f, float **out, int n, ptts_err *e, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

enum { WT_BIAS = 1, WT_Q8 = 2 }; /* wt_lin flags: has a bias; store int8 weights */

/* Loads `<name>.weight [out][in]` and, with WT_BIAS, `<name>.bias [out]` into L; with WT_Q8
 * the weights are kept as int8 with per-row scales (lin_init_q8). */
int wt_lin(const st_file *f, lin *L, int out, int in, int flags, ptts_err *e, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

#endif
