/*
 * How producers wait inside the journal: the queue lock, and the sleep and
 * wake-up of blocking appends around group commit (writer.c uses both).
 *
 * With many producers blocked in folio_journal_append, putting threads to
 * sleep and waking them is most of the CPU an append costs (on the 2-vCPU VM
 * bench_journal was tuned on, a system call costs about 1 us and a sleep and
 * wake-up about 3 us), so:
 *
 *  - the queue lock is held for a few dozen instructions per append and spins
 *    before it sleeps; a pthread mutex would put a producer to sleep (and cost
 *    a wake-up) on every collision;
 *  - a blocking append sleeps on the futex word of its batch (the items queued
 *    between two takes of the writer, slot batch % WAKE_SLOTS) until
 *    durable_seq reaches its last seq: one system call to sleep, none to set
 *    up or tear down a per-append semaphore;
 *  - after a frame's fdatasync the writer bumps the words of the frame's
 *    batches and wakes one sleeper per slot; the first waiter to see the new
 *    gen wakes all the others with one broadcast. So a frame costs one wake-up
 *    call on the writer thread and one on a producer, whatever its size, and
 *    the writer, whose next frame everyone waits for, spends no time on the
 *    others' wake-ups.
 *
 * Invariants: a waiter checks durable_seq and failed after reading its slot's
 * gen and sleeps only while gen is unchanged, and the writer publishes
 * durable_seq (or failed) before it bumps gen, so no wake-up is lost; each
 * new gen is broadcast by exactly one waiter (passed_gen); a slot shared by
 * two batches only costs a waiter a spurious wake-up.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "journal_int.h"

/* Spins for the queue lock before sleeping on it (each spin a few ns). */
#define QUEUE_LOCK_SPINS 200

static void
futex_wait(uint32_t *word, uint32_t expected)
{
    /* EAGAIN (word changed), EINTR and spurious returns: every caller re-checks. */
    (void)syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void
futex_wake(uint32_t *word, int count)
{
    (void)syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
}

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause");
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* ---- the queue lock ------------------------------------------------------ */

/* q_lock: 0 free, 1 held, 2 held and someone may sleep on it (Drepper, "Futexes are tricky"). */
void
queue_lock(struct folio_journal *j)
{
    uint32_t c = 0;
    if (__atomic_compare_exchange_n(&j->q_lock, &c, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    for (int i = 0; i < QUEUE_LOCK_SPINS; i++) {
        cpu_relax();
        c = 0;
        if (__atomic_load_n(&j->q_lock, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&j->q_lock, &c, 1, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
    }
    while (__atomic_exchange_n(&j->q_lock, 2, __ATOMIC_ACQUIRE) != 0)
        futex_wait(&j->q_lock, 2);
}

void
queue_unlock(struct folio_journal *j)
{
    if (__atomic_exchange_n(&j->q_lock, 0, __ATOMIC_RELEASE) == 2)
        futex_wake(&j->q_lock, 1);
}

/* ---- blocking appends ---------------------------------------------------- */

/*
 * After a wake-up: if the slot's gen moved since this waiter read `seen`, the
 * first waiter to see the new gen wakes every other sleeper of the slot; the
 * rest make no system call.
 */
static void
slot_pass_on(struct wake_slot *s, uint32_t seen)
{
    uint32_t gen = __atomic_load_n(&s->gen, __ATOMIC_SEQ_CST);
    if (gen == seen || __atomic_load_n(&s->passed_gen, __ATOMIC_RELAXED) == gen)
        return;
    if (__atomic_exchange_n(&s->passed_gen, gen, __ATOMIC_SEQ_CST) != gen &&
        __atomic_load_n(&s->sleepers, __ATOMIC_SEQ_CST) > 0)
        futex_wake(&s->gen, INT_MAX);
}

int
wake_wait_durable(struct folio_journal *j, uint64_t batch, uint64_t last_seq)
{
    struct wake_slot *s = &j->wake[batch % WAKE_SLOTS];
    for (;;) {
        uint32_t gen = __atomic_load_n(&s->gen, __ATOMIC_SEQ_CST);
        /* failed first: once it is set, durable_seq no longer moves. */
        int failed = __atomic_load_n(&j->failed, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&j->durable_seq, __ATOMIC_SEQ_CST) >= last_seq)
            return FOLIO_OK;
        if (failed != FOLIO_OK)
            return failed;
        __atomic_add_fetch(&s->sleepers, 1, __ATOMIC_SEQ_CST);
        futex_wait(&s->gen, gen);
        __atomic_sub_fetch(&s->sleepers, 1, __ATOMIC_SEQ_CST);
        slot_pass_on(s, gen);
    }
}

void
wake_batches(struct folio_journal *j, uint64_t lo, uint64_t hi)
{
    uint64_t n = hi - lo + 1 < WAKE_SLOTS ? hi - lo + 1 : WAKE_SLOTS;
    for (uint64_t b = lo; b < lo + n; b++) {
        struct wake_slot *s = &j->wake[b % WAKE_SLOTS];
        __atomic_add_fetch(&s->gen, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&s->sleepers, __ATOMIC_SEQ_CST) > 0)
            futex_wake(&s->gen, 1);
    }
}
