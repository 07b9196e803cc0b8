/* Thread pool: a job is published by bumping `gen`; tasks are claimed from `ticket`
 * (job generation in the high 32 bits, next task index in the low 32), so a worker that
 * wakes late for an old job cannot claim a task of the next one. */
#include "tpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define SPIN_NS 200000 /* idle workers spin this long before sleeping */

struct tpool {
    int n; /* threads including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_uint gen;     /* job generation; workers wait for it to change */
    atomic_int sleepers; /* workers blocked on `wake` */
    atomic_int held;     /* tpool_hold count: that many workers step aside */
    atomic_int started;  /* workers started, which numbers them */
    atomic_bool stop;
    _Atomic uint64_t ticket;
    _Atomic(tpool_fn) fn; /* the current job, valid for generation `gen` */
    _Atomic(void *) ctx;
    atomic_int n_tasks;
    atomic_int done; /* tasks of the current job that have returned */
};

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Worker w (0..n-2) steps aside while held > n - 2 - w: the last ones first. The caller
 * (w = -1) never does. */
static bool aside(tpool *p, int w) {
    return w >= 0 && w >= p->n - 1 - atomic_load(&p->held);
}

/* Runs tasks of job g until none is left (or worker w has to step aside). The job's fields
 * are read with acquire after seeing gen == g: if any of them already belongs to a later
 * job, so does the ticket, and the claim fails. */
static void work(tpool *p, unsigned g, int w) {
    const tpool_fn fn = atomic_load_explicit(&p->fn, memory_order_acquire);
    void *const ctx = atomic_load_explicit(&p->ctx, memory_order_acquire);
    const uint32_t n = (uint32_t)atomic_load_explicit(&p->n_tasks, memory_order_acquire);
    uint64_t t = atomic_load_explicit(&p->ticket, memory_order_acquire);
    while ((uint32_t)(t >> 32) == g && (uint32_t)t < n && !aside(p, w)) {
        if (atomic_compare_exchange_weak_explicit(&p->ticket, &t, t + 1, memory_order_acquire,
                                                  memory_order_acquire)) {
            fn(ctx, (int)(uint32_t)t);
            atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
            t = atomic_load_explicit(&p->ticket, memory_order_acquire);
        }
    }
}

/* Waits for a generation other than `seen` while worker w is not aside: spins, then (or at
 * once when aside) sleeps on the condition. */
static unsigned wait_job(tpool *p, unsigned seen, int w) {
    int64_t t0 = 0;
    for (int i = 0; !aside(p, w); i++) {
        unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen) return g;
        cpu_relax();
        if ((i & 255) != 255) continue;
        int64_t t = now_ns();
        if (!t0) t0 = t;
        if (t - t0 > SPIN_NS) break;
    }
    pthread_mutex_lock(&p->mu);
    /* sleepers, gen and held are seq_cst: either tpool_run (tpool_release) sees this
     * sleeper and broadcasts under the mutex, or this thread sees the new generation (the
     * release). */
    atomic_fetch_add(&p->sleepers, 1);
    unsigned g;
    while (((g = atomic_load(&p->gen)) == seen || aside(p, w)) && !atomic_load(&p->stop))
        pthread_cond_wait(&p->wake, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker(void *arg) {
    tpool *p = arg;
    const int w = atomic_fetch_add(&p->started, 1);
    unsigned seen = 0;
    for (;;) {
        seen = wait_job(p, seen, w);
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) return NULL;
        work(p, seen, w);
    }
}

static void wake_sleepers(tpool *p) {
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
}

/* With every worker held off there is no one to wake (a release wakes them): not waking
 * them keeps a job from costing the holder's core a context switch. */
static void publish(tpool *p, unsigned g) {
    atomic_store(&p->gen, g);
    if (atomic_load(&p->held) < p->n - 1 || atomic_load(&p->stop)) wake_sleepers(p);
}

static void stop_workers(tpool *p, int n_started) {
    atomic_store_explicit(&p->stop, true, memory_order_release);
    publish(p, atomic_load(&p->gen) + 1);
    for (int i = 0; i < n_started; i++)
        pthread_join(p->threads[i], NULL);
}

int tpool_new(tpool **out, int n_threads, ptts_err *e) {
    *out = NULL;
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 && n < 1024 ? (int)n : 1;
    }
    tpool *p = calloc(1, sizeof *p);
    if (!p || !(p->threads = calloc((size_t)n_threads, sizeof *p->threads))) {
        free(p);
        return err_set(e, PTTS_ERR_NOMEM, "out of memory for a pool of %d threads", n_threads);
    }
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    for (int i = 0; i < n_threads - 1; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            stop_workers(p, i);
            p->n = 1;
            tpool_free(p);
            return err_set(e, PTTS_ERR_NOMEM, "cannot start thread %d of a pool of %d", i + 1,
                           n_threads);
        }
    }
    *out = p;
    return PTTS_OK;
}

void tpool_free(tpool *p) {
    if (!p) return;
    if (p->n > 1) stop_workers(p, p->n - 1);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

int tpool_size(const tpool *p) {
    return p ? p->n : 1;
}

void tpool_run(tpool *p, tpool_fn fn, void *ctx, int n_tasks) {
    if (n_tasks <= 0) return;
    if (!p || p->n == 1 || n_tasks == 1) {
        for (int i = 0; i < n_tasks; i++)
            fn(ctx, i);
        return;
    }
    unsigned g = atomic_load_explicit(&p->gen, memory_order_relaxed) + 1;
    /* Retire the previous job's ticket before its fields change (see work()). */
    atomic_store_explicit(&p->ticket, (uint64_t)g << 32, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->fn, fn, memory_order_release);
    atomic_store_explicit(&p->ctx, ctx, memory_order_release);
    atomic_store_explicit(&p->n_tasks, n_tasks, memory_order_release);
    publish(p, g);
    work(p, g, -1);
    for (int i = 0; atomic_load_explicit(&p->done, memory_order_acquire) < n_tasks; i++) {
        if (i < 4096)
            cpu_relax();
        else
            sched_yield(); /* a worker holding a task was descheduled */
    }
}

void tpool_hold(tpool *p) {
    if (p) atomic_fetch_add(&p->held, 1);
}

void tpool_release(tpool *p) {
    if (!p) return;
    atomic_fetch_sub(&p->held, 1);
    wake_sleepers(p);
}
