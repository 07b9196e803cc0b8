/* A small persistent thread pool for data-parallel loops:
 *
 *     tpool *pool;
 *     if (tpool_new(&pool, 2, &err) != PTTS_OK) ...;
 *     tpool_run(pool, fn, ctx, n_tasks);   // fn(ctx, 0..n_tasks-1), returns when all are done
 *     tpool_free(pool);
 *
 * The calling thread works too, so n_threads counts it. Tasks are handed out one at a
 * time, so a thread that the OS has descheduled delays no one. Idle workers spin for a
 * short while before sleeping, because model steps issue many small loops back to back.
 * One caller at a time: tpool_run is not reentrant and must not be called from a task.
 *
 * A thread outside the pool that needs a core for a while (the codec beside FlowLM on a
 * machine with as many cores as pool threads) can hold a worker off: between tpool_hold and
 * tpool_release one worker takes no new task and sleeps, and the others (and tpool_run's
 * caller, which never steps aside) do the tasks. */
#ifndef PTTS_TPOOL_H
#define PTTS_TPOOL_H

#include "../common/error.h"

typedef struct tpool tpool;
typedef void (*tpool_fn)(void *ctx, int task);

/* n_threads <= 0 means one per online CPU. The pool starts n_threads - 1 workers. */
int tpool_new(tpool **out, int n_threads, ptts_err *e);
void tpool_free(tpool *p);      /* accepts NULL */
int tpool_size(const tpool *p); /* threads including the caller; 1 for NULL */
/* Runs fn(ctx, i) for every i < n_tasks and returns when all have returned. With a NULL
 * pool the tasks run in order on the calling thread. Allocates nothing. */
void tpool_run(tpool *p, tpool_fn fn, void *ctx, int n_tasks);
/* Holds one more worker off, while there is one (counted: every hold needs a release); any
 * thread may call these. A task already started runs to its end. Both accept NULL. */
void tpool_hold(tpool *p);
void tpool_release(tpool *p);

#endif
