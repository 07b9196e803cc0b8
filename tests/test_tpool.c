/* Thread pool: every task of every job runs exactly once, jobs back to back and after the
 * workers have gone to sleep, on pools of 1 to 4 threads and none; tpool_hold keeps
 * workers off, one per hold, also while another thread holds and releases during jobs. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/tpool.h"
#include "test.h"

#define MAX_TASKS 300

static atomic_int hits[MAX_TASKS];

static void count(void *ctx, int task) {
    (void)ctx;
    atomic_fetch_add(&hits[task], 1);
}

/* Runs n_jobs jobs of varying sizes; returns the number of tasks not run exactly once. */
static int run_jobs(tpool *p, int n_jobs, int sleep_every) {
    int bad = 0;
    for (int k = 0; k < n_jobs; k++) {
        const int n = (k * 37) % MAX_TASKS;
        for (int i = 0; i < MAX_TASKS; i++)
            atomic_store(&hits[i], 0);
        tpool_run(p, count, NULL, n);
        /* a task run twice, or late for the previous job, leaves a count != 1 */
        for (int i = 0; i < MAX_TASKS; i++)
            bad += atomic_load(&hits[i]) != (i < n);
        if (sleep_every && k % sleep_every == 0) {
            /* long enough for the workers to stop spinning and block */
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    return bad;
}

static atomic_int on_worker; /* tasks run by a thread other than main_thread */
static pthread_t main_thread;

static void count_where(void *ctx, int task) {
    count(ctx, task);
    if (!pthread_equal(pthread_self(), main_thread)) atomic_fetch_add(&on_worker, 1);
    for (volatile int i = 0; i < 20000; i++) { /* long enough for workers to join in */
    }
}

static atomic_int toggling;

/* Holds and releases the pool over and over while the main thread runs jobs. */
static void *toggle(void *arg) {
    tpool *p = arg;
    for (int i = 0; atomic_load(&toggling); i++) {
        tpool_hold(p);
        struct timespec ts = {0, (i % 7) * 20000};
        nanosleep(&ts, NULL);
        tpool_release(p);
    }
    return NULL;
}

static void test_hold(void) {
    ptts_err e = {0};
    tpool *p = NULL;
    CHECK(tpool_new(&p, 3, &e) == PTTS_OK, "%s", e.msg);
    if (!p) return;
    main_thread = pthread_self();
    for (int i = 0; i < 3; i++) /* one hold per worker, one too many */
        tpool_hold(p);
    tpool_release(p);
    for (int k = 0; k < 50; k++)
        tpool_run(p, count_where, NULL, 64);
    CHECK(atomic_load(&on_worker) == 0, "%d tasks ran on workers while both held",
          atomic_load(&on_worker));
    tpool_release(p);
    /* One worker back: it takes tasks again (given time on a busy machine). */
    for (int k = 0; k < 2000 && !atomic_load(&on_worker); k++)
        tpool_run(p, count_where, NULL, 64);
    CHECK(atomic_load(&on_worker) > 0, "no task ran on a worker after a release");
    tpool_release(p);
    pthread_t th;
    atomic_store(&toggling, 1);
    CHECK(pthread_create(&th, NULL, toggle, p) == 0);
    CHECK(run_jobs(p, 3000, 0) == 0, "jobs while another thread holds and releases");
    CHECK(run_jobs(p, 30, 3) == 0, "jobs with sleeps while another thread holds and releases");
    atomic_store(&toggling, 0);
    pthread_join(th, NULL);
    tpool_hold(p); /* freeing a held pool still stops its workers */
    tpool_free(p);
    tpool_hold(NULL);
    tpool_release(NULL);
}

int main(void) {
    ptts_err e = {0};
    CHECK(tpool_size(NULL) == 1);
    CHECK(run_jobs(NULL, 20, 0) == 0, "NULL pool");
    for (int n = 1; n <= 4; n++) {
        tpool *p = NULL;
        CHECK(tpool_new(&p, n, &e) == PTTS_OK, "%s", e.msg);
        if (!p) continue;
        CHECK(tpool_size(p) == n, "size %d", tpool_size(p));
        CHECK(run_jobs(p, 2000, 0) == 0, "%d threads, back to back", n);
        CHECK(run_jobs(p, 30, 3) == 0, "%d threads, with sleeps", n);
        tpool_free(p);
    }
    tpool *p = NULL;
    CHECK(tpool_new(&p, 0, &e) == PTTS_OK, "%s", e.msg); /* one per CPU */
    CHECK(p && tpool_size(p) >= 1);
    tpool_free(p);
    tpool_free(NULL);
    test_hold();
    TEST_END();
}
