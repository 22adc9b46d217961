/*
 * Table 1c of bench_journal: what putting blocking producers to sleep and
 * waking them costs by itself, on this machine, with no journal around it.
 *
 * P threads loop: take a seq under the journal's queue lock (queue_lock), then
 * sleep in the journal's own wake_wait_durable until it is "durable". One
 * waker thread stands in for the writer: it takes everything queued (a new
 * batch per take, as queue_take does), publishes durable_seq and wakes the
 * batch with the journal's wake_batches. No event is built, copied, hashed or
 * written; nothing is allocated. So the rate is an upper bound for table 1's
 * blocking rows on any disk: what is left of an append's CPU is the kernel's
 * sleep and wake-up of a thread.
 *
 * Only the fields wake.c reads are used (q_lock, durable_seq, failed, wake[]);
 * the journal structure is otherwise zero and never opened.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "benchutil.h"
#include "folio/common.h"
#include "folio/error.h"
#include "journal_int.h"
#include "journal_wake.h"

struct wake_bench {
    struct folio_journal *j;       /* only the queue lock and the wake fields */
    uint64_t pending;              /* seqs handed out and not yet taken (under q_lock) */
    uint32_t waker_idle;           /* futex word: 1 while the waker sleeps (set under q_lock) */
    atomic_bool stop;
    uint64_t takes;                /* the waker's takes ("frames") */
    pthread_barrier_t start;
};

struct wake_producer {
    pthread_t thread;
    struct wake_bench *b;
    uint64_t wakes;
    uint8_t pad[64];
};

static void
futex_call(uint32_t *word, int op, uint32_t val)
{
    (void)syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

static void *
wake_producer_main(void *arg)
{
    struct wake_producer *p = arg;
    struct wake_bench *b = p->b;
    pthread_barrier_wait(&b->start);
    while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
        queue_lock(b->j);
        uint64_t seq = ++b->j->next_seq;
        uint64_t batch = b->j->open_batch;
        b->pending++;
        bool wake = b->waker_idle != 0; /* as queue_put reads writer_idle */
        if (wake)
            __atomic_store_n(&b->waker_idle, 0, __ATOMIC_RELAXED);
        queue_unlock(b->j);
        if (wake)
            futex_call(&b->waker_idle, FUTEX_WAKE_PRIVATE, 1);
        if (wake_wait_durable(b->j, batch, seq) != FOLIO_OK)
            break;
        __atomic_store_n(&p->wakes, p->wakes + 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* Sleeps until a producer has queued something; false once asked to stop. */
static bool
waker_idle_wait(struct wake_bench *b)
{
    for (;;) {
        if (atomic_load_explicit(&b->stop, memory_order_relaxed))
            return false;
        queue_lock(b->j);
        bool empty = b->pending == 0;
        if (empty)
            __atomic_store_n(&b->waker_idle, 1, __ATOMIC_RELAXED);
        queue_unlock(b->j);
        if (!empty)
            return true;
        futex_call(&b->waker_idle, FUTEX_WAIT_PRIVATE, 1);
    }
}

static void *
waker_main(void *arg)
{
    struct wake_bench *b = arg;
    pthread_barrier_wait(&b->start);
    while (waker_idle_wait(b)) {
        queue_lock(b->j);
        uint64_t last = b->j->next_seq, batch = b->j->open_batch++;
        b->pending = 0;
        queue_unlock(b->j);
        __atomic_store_n(&b->j->durable_seq, last, __ATOMIC_RELEASE);
        wake_batches(b->j, batch, batch);
        __atomic_store_n(&b->takes, b->takes + 1, __ATOMIC_RELAXED);
    }
    /* Let every producer out: a failure ends their waits. */
    __atomic_store_n(&b->j->failed, FOLIO_E_CLOSED, __ATOMIC_SEQ_CST);
    wake_batches(b->j, 0, WAKE_SLOTS - 1);
    return NULL;
}

void
wake_bench_run(unsigned producers, double seconds, struct wake_bench_result *out)
{
    struct wake_bench b = {.pending = 0};
    size_t jbytes = (sizeof(struct folio_journal) + 63) & ~(size_t)63;
    b.j = aligned_alloc(64, jbytes);
    FOLIO_ASSERT(b.j != NULL);
    memset(b.j, 0, jbytes);
    atomic_init(&b.stop, false);
    pthread_barrier_init(&b.start, NULL, producers + 2);
    struct wake_producer *ps = folio_calloc(producers, sizeof(*ps));
    pthread_t waker;
    if (pthread_create(&waker, NULL, waker_main, &b) != 0)
        FOLIO_PANIC("bench: cannot start a thread");
    for (unsigned i = 0; i < producers; i++) {
        ps[i].b = &b;
        if (pthread_create(&ps[i].thread, NULL, wake_producer_main, &ps[i]) != 0)
            FOLIO_PANIC("bench: cannot start a thread");
    }
    pthread_barrier_wait(&b.start);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double cpu0 = bench_cpu_seconds();
    int64_t t0 = bench_now_ns();
    bench_sleep_ns((int64_t)(seconds * 1e9));
    uint64_t wakes = 0;
    for (unsigned i = 0; i < producers; i++)
        wakes += __atomic_load_n(&ps[i].wakes, __ATOMIC_RELAXED);
    uint64_t takes = __atomic_load_n(&b.takes, __ATOMIC_RELAXED);
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;
    double cpu = bench_cpu_seconds() - cpu0;
    getrusage(RUSAGE_SELF, &r1);
    atomic_store(&b.stop, true);
    queue_lock(b.j);
    __atomic_store_n(&b.waker_idle, 0, __ATOMIC_RELAXED);
    queue_unlock(b.j);
    futex_call(&b.waker_idle, FUTEX_WAKE_PRIVATE, 1);
    pthread_join(waker, NULL);
    for (unsigned i = 0; i < producers; i++)
        pthread_join(ps[i].thread, NULL);
    double csw = (double)(r1.ru_nvcsw - r0.ru_nvcsw) + (double)(r1.ru_nivcsw - r0.ru_nivcsw);
    *out = (struct wake_bench_result){
        .wakes_per_s = (double)wakes / elapsed,
        .wakes_per_take = takes > 0 ? (double)wakes / (double)takes : 0,
        .cpu_pct = 100.0 * cpu / elapsed,
        .cpu_us_per_wake = wakes > 0 ? 1e6 * cpu / (double)wakes : 0,
        .csw_per_wake = wakes > 0 ? csw / (double)wakes : 0,
    };
    pthread_barrier_destroy(&b.start);
    folio_free(ps);
    free(b.j);
}
