/* Throughput of the linear-layer kernels on every instruction set this CPU runs, on one
 * thread and on a pool of two: matrix-vector products as GB/s of weights streamed from
 * memory (enough copies of the layer to defeat the caches, as a FlowLM step reads ~320 MB),
 * the codec-sized product 16x512x3584 as GFLOP/s (weights hot in cache), and the cost of
 * one pool round trip.
 *
 * Build and run from the repository root: `make bench-kernels`. An optional argument sets the
 * seconds spent per measurement (default 1). Each figure is the best of 10 rounds, which filters
 * out rounds slowed by other processes. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/kernels_ops.h"
#include "kernels/tpool.h"

#define STREAM_BYTES (384u << 20) /* f32 weights cycled through per matrix-vector product */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *rand_vec(size_t n) {
    float *v = malloc(n * sizeof *v);
    unsigned s = 12345;
    for (size_t i = 0; v && i < n; i++)
        v[i] = ((s = s * 1103515245u + 12345u) >> 8) * 0x1p-23f - 1;
    return v;
}

/* Seconds per call of lin_forward over the copies L[0..n) in turn: best of 10 rounds. */
static double time_calls(lin *L, int n, const float *x, int T, float *y, tpool *pool, double secs) {
    double best = 1e30;
    for (int round = 0; round < 10; round++) {
        int calls = 0;
        double t0 = now(), t;
        do {
            lin_forward(&L[calls % n], x, T, y, pool);
            calls++;
        } while ((t = now() - t0) < secs / 10 || calls < n);
        best = t / calls < best ? t / calls : best;
    }
    return best;
}

/* Makes n copies of an out x in layer with path `ops`; returns how many were made. */
static int make_copies(lin *L, int n, const float *w, int out, int in, int q8, const k_ops *ops) {
    ptts_err e = {0};
    for (int i = 0; i < n; i++) {
        if ((q8 ? lin_init_q8 : lin_init)(&L[i], w, NULL, out, in, &e) != PTTS_OK) {
            fprintf(stderr, "%s\n", e.msg);
            return i;
        }
        L[i].ops = ops;
    }
    return n;
}

static void bench_matvec(const k_ops *ops, int out, int in, tpool *pool, double secs) {
    const size_t bytes = (size_t)out * in * sizeof(float);
    int n = (int)(STREAM_BYTES / bytes) + 1;
    float *w = rand_vec((size_t)out * in), *x = rand_vec((size_t)in), *y = rand_vec((size_t)out);
    lin *L = calloc((size_t)n, sizeof *L);
    if (!w || !x || !y || !L) return;
    for (int q8 = 0; q8 < 2; q8++) {
        int made = make_copies(L, n, w, out, in, q8, ops);
        if (made == n) {
            const double wbytes = q8 ? (double)bytes / 4 : (double)bytes;
            double t1 = time_calls(L, n, x, 1, y, NULL, secs);
            double t2 = time_calls(L, n, x, 1, y, pool, secs);
            printf("  matvec %4dx%-4d %-4s  1 thread %6.1f GB/s (%5.0f us)   2 threads %6.1f "
                   "GB/s (%5.0f us)\n",
                   out, in, q8 ? "int8" : "f32", wbytes / t1 * 1e-9, t1 * 1e6, wbytes / t2 * 1e-9,
                   t2 * 1e6);
        }
        for (int i = 0; i < made; i++)
            lin_free(&L[i]);
    }
    free(w), free(x), free(y), free(L);
}

static void bench_gemm(const k_ops *ops, int T, int out, int in, tpool *pool, double secs) {
    float *w = rand_vec((size_t)out * in), *x = rand_vec((size_t)T * in);
    float *y = rand_vec((size_t)T * out);
    if (!w || !x || !y) return;
    for (int q8 = 0; q8 < 2; q8++) {
        lin L;
        if (make_copies(&L, 1, w, out, in, q8, ops) == 1) {
            const double flop = 2.0 * T * out * in;
            double t1 = time_calls(&L, 1, x, T, y, NULL, secs);
            double t2 = time_calls(&L, 1, x, T, y, pool, secs);
            printf("  gemm %dx%dx%d %-4s  1 thread %6.1f GFLOP/s (%5.0f us)   2 threads %6.1f "
                   "GFLOP/s (%5.0f us)\n",
                   T, out, in, q8 ? "int8" : "f32", flop / t1 * 1e-9, t1 * 1e6, flop / t2 * 1e-9,
                   t2 * 1e6);
            lin_free(&L);
        }
    }
    free(w), free(x), free(y);
}

static void busy_10us(void *ctx, int task) {
    (void)ctx, (void)task;
    const double t0 = now();
    while (now() - t0 < 10e-6)
        continue;
}

/* A job of two 10 us tasks: 10 us plus the pool's overhead when both threads take one. */
static void bench_pool(tpool *pool) {
    const int n = 5000;
    double t0 = now();
    for (int i = 0; i < n; i++)
        tpool_run(pool, busy_10us, NULL, 2);
    printf("pool: job of two 10 us tasks takes %.1f us\n", (now() - t0) / n * 1e6);
}

int main(int argc, char **argv) {
    const double secs = argc > 1 ? atof(argv[1]) : 1.0;
    tpool *pool = NULL;
    ptts_err e = {0};
    if (tpool_new(&pool, 2, &e) != PTTS_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    bench_pool(pool);
    static const k_path all[] = {K_GENERIC, K_AVX2, K_AVX512, K_NEON};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        const k_ops *ops = k_ops_get(all[i]);
        if (!ops) continue;
        printf("%s:\n", ops->name);
        bench_matvec(ops, 1024, 4096, pool, secs);
        bench_matvec(ops, 3072, 1024, pool, secs);
        bench_gemm(ops, 16, 512, 3584, pool, secs);
    }
    tpool_free(pool);
    return 0;
}
