/*
 * Power loss, not just a process crash: the I/O seam's lose_unsynced mode
 * rolls back every write no successful fsync covered before killing the
 * process, which is what a machine that loses power may leave behind.
 * SIGKILL alone keeps unsynced data in the page cache, so it cannot catch an
 * acknowledgement given before the fdatasync; this test can.
 *
 * A child appends from several threads and, after each acknowledgement,
 * records (seq, task uid) with write(2) to a witness file outside the seam
 * (the client's view, which survives). The plan kills the child at the Nth
 * fsync or write; the parent reopens the journal and checks that every
 * acknowledged event is there with its task uid, that seqs are contiguous and
 * that the journal verifies.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "folio/journal.h"
#include "testutil.h"

#define THREADS 4
#define PER_THREAD 150

struct child_args {
    const char *dir;
    const char *witness;
    struct folio_io_fault plan;
    bool with_plan;
};

struct thread_args {
    struct folio_journal *j;
    int witness_fd;
    int id;
};

static void *
child_thread(void *arg)
{
    struct thread_args *t = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        uint64_t uid = (uint64_t)t->id * 100000 + (uint64_t)i + 1;
        size_t len;
        uint8_t *ev = tu_make_event(uid, 100 + (size_t)(i % 7) * 40, &len);
        struct folio_journal_entry e = {ev, len};
        uint64_t seq = 0;
        int err = folio_journal_append(t->j, &e, 1, &seq);
        folio_free(ev);
        if (err != 0)
            break;
        uint64_t rec[2] = {seq, uid};
        if (write(t->witness_fd, rec, sizeof(rec)) != sizeof(rec))
            _exit(3);
    }
    return NULL;
}

static void
child_main(void *arg)
{
    struct child_args *a = arg;
    int wfd = open(a->witness, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0600);
    if (wfd < 0)
        _exit(2);
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.segment_bytes = 64 * 1024;
    o.create = true;
    if (a->with_plan)
        folio_io_fault_set(&a->plan);
    struct folio_journal *j = NULL;
    if (folio_journal_open(a->dir, &o, &j, NULL, NULL) != 0)
        _exit(4);
    pthread_t th[THREADS];
    struct thread_args ta[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ta[i] = (struct thread_args){j, wfd, i + 1};
        pthread_create(&th[i], NULL, child_thread, &ta[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    folio_journal_close(j);
    _exit(0);
}

/* Reopens the journal and checks every witnessed acknowledgement against it. */
static void
check_after(const char *dir, const char *witness, const char *label)
{
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.segment_bytes = 64 * 1024;
    o.create = true; /* as a restarting server does: power may have cut before the first segment */
    struct folio_journal *j = NULL;
    struct folio_journal_diag d;
    int err = folio_journal_open(dir, &o, &j, NULL, &d);
    if (err != 0)
        fail_msg("%s: reopen failed: %s: %s at %s+%llu", label, folio_err_name(err), d.reason,
                 d.segment, (unsigned long long)d.offset);
    folio_journal_close(j);
    assert_int_equal(folio_journal_verify(dir, NULL, NULL), 0);

    size_t n = 0;
    uint64_t *uid_at = folio_calloc(THREADS * PER_THREAD + 16, sizeof(uint64_t));
    struct folio_journal_reader *r;
    assert_int_equal(folio_journal_reader_open(dir, 1, 0, &r, NULL), 0);
    struct folio_journal_record rec;
    while (folio_journal_reader_next(r, &rec, NULL) == 0) {
        n++;
        assert_int_equal(rec.seq, n);
        struct folio_event ev;
        assert_int_equal(folio_event_decode(rec.data, rec.len, &ev), 0);
        if (ev.type == FOLIO_EV_TASK_REGISTERED && n < THREADS * PER_THREAD + 16)
            uid_at[n] = ev.u.task_registered.task_uid;
        folio_event_clear(&ev);
    }
    folio_journal_reader_close(r);

    size_t wlen = 0;
    uint64_t *w = (uint64_t *)(void *)tu_read_file(witness, &wlen);
    assert_non_null(w);
    for (size_t i = 0; i + 1 < wlen / sizeof(uint64_t); i += 2) {
        uint64_t seq = w[i], uid = w[i + 1];
        if (seq > n || uid_at[seq] != uid)
            fail_msg("%s: acknowledged seq %llu (task %llu) lost after power loss; journal has "
                     "%zu events",
                     label, (unsigned long long)seq, (unsigned long long)uid, n);
    }
    folio_free(w);
    folio_free(uid_at);
}

static int
run_child(struct child_args *a)
{
    return tu_run_child(child_main, a);
}

/* Sweeps power loss at every nth call of op, up to what a clean run makes. */
static void
sweep(enum folio_io_op op, enum folio_io_action action, uint64_t step)
{
    char *base = tu_mkdtemp("jpower");
    char *dir = tu_path(base, "journal");
    char *witness = tu_path(base, "witness");
    struct child_args dry = {.dir = dir, .witness = witness};
    /* A dry run with a plan that never fires counts the calls. */
    dry.with_plan = true;
    dry.plan = (struct folio_io_fault){.op = op, .action = FOLIO_IO_ACT_FAIL, .nth = UINT64_MAX};
    assert_int_equal(run_child(&dry), 0);
    check_after(dir, witness, "dry run");
    tu_rmrf(dir);
    /* The dry run's call count is not visible here; bound by a generous estimate instead. */
    uint64_t max_nth = op == FOLIO_IO_FSYNC ? 400 : 1400;
    int fired = 0;
    for (uint64_t nth = 1; nth <= max_nth; nth += step) {
        struct child_args a = {.dir = dir, .witness = witness, .with_plan = true};
        a.plan = (struct folio_io_fault){
            .op = op, .action = action, .nth = nth, .bytes = 24, .lose_unsynced = 1};
        int status = run_child(&a);
        char label[96];
        snprintf(label, sizeof(label), "%s %s nth=%llu", folio_io_op_name(op),
                 action == FOLIO_IO_ACT_CRASH  ? "crash"
                 : action == FOLIO_IO_ACT_TEAR ? "tear"
                                               : "before", (unsigned long long)nth);
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            fired++;
        else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            fail_msg("%s: child ended with status 0x%x", label, status);
        check_after(dir, witness, label);
        tu_rmrf(dir);
        if (WIFEXITED(status))
            break; /* past the last call: the plan no longer fires */
    }
    assert_true(fired >= 10);
    tu_rmrf(base);
    folio_free(base);
    folio_free(dir);
    folio_free(witness);
}

static void
test_power_loss_at_each_fsync(void **state)
{
    sweep(FOLIO_IO_FSYNC, FOLIO_IO_ACT_CRASH, 1);
}

static void
test_power_loss_before_writes(void **state)
{
    sweep(FOLIO_IO_WRITE, FOLIO_IO_ACT_BEFORE, 3);
}

static void
test_power_loss_torn_write(void **state)
{
    sweep(FOLIO_IO_WRITE, FOLIO_IO_ACT_TEAR, 7);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_loss_at_each_fsync),
        cmocka_unit_test(test_power_loss_before_writes),
        cmocka_unit_test(test_power_loss_torn_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
