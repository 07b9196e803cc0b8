/* Seedable noise for sampling (xoshiro256** + Box-Muller). One per generation: no globals. */
#ifndef PTTS_RNG_H
#define PTTS_RNG_H

#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
    int has_spare; /* Box-Muller makes normals in pairs */
    double spare;
} rng;

void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);
double rng_uniform(rng *r); /* [0, 1) */
double rng_normal(rng *r);  /* N(0, 1) */
/* n values ~ N(0, std^2); with clamp > 0, values outside [-clamp, clamp] are redrawn
 * (a truncated normal, as the upstream's noise clamp). std = 0 gives zeros. */
void rng_fill_normal(rng *r, float *x, int n, float std, float clamp);

#endif
