/* Thread pool: every task of every job runs exactly once, jobs back to back and after the
 * workers have gone to sleep, on pools of 1 to 4 threads and none. */
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
    TEST_END();
}
