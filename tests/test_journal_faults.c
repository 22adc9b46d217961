/*
 * I/O faults and crashes through the I/O seam (journal-anchors.md §10 tests
 * 7, 8 and 9; DESIGN.md §4 "Durability", §11 invariants 1, 3 and 7).
 *
 * A scenario runs in a forked child: open a journal (a new one, or one with a
 * torn tail and a leftover next.tmp, so that recovery's ftruncate and unlink
 * run too), three threads make blocking appends until two (or one) segments
 * have rolled, close. Each acknowledged append is logged (seq, task uid) with
 * an O_APPEND write as soon as append returns.
 *
 * The sweep: for every operation (write, fsync, rename, open, truncate,
 * unlink) and every nth call up to what a dry run made, the scenario runs
 * with that call failing (EIO), torn (writes: a few byte counts), followed by
 * SIGKILL, or preceded by SIGKILL. Then the parent checks how the child ended
 * (a failed write or fsync of a segment in use, or a failed rename, aborts
 * with a message naming it; a failed preparation or recovery step does not;
 * crashes end in SIGKILL), reopens the journal without faults, and checks:
 * open succeeds; every acknowledged event is there with its seq and task uid,
 * byte for byte; seqs are contiguous; every event is one the child submitted
 * (or a journal_recovered record), none twice, each thread's events a prefix
 * of what it submitted; appends work; verify is clean.
 *
 * Targeted runs pin down which call is which, with one producer and the
 * preparer known to be idle: the preparer's open/write/fsync failing (EIO or
 * ENOSPC) must not abort and appends must still roll; the active segment's
 * write or fdatasync failing must abort; each I/O call of a segment roll
 * (seal write and sync, header write and sync, rename, directory fsync)
 * failing must abort, and crashing at each must recover.
 *
 * Disk full for real: a child in its own mount namespace runs the journal on
 * a 160 KiB tmpfs until appends fail with FOLIO_E_NOSPC; the journal, copied
 * out, must reopen with every acknowledged event (skipped where mount
 * namespaces are not allowed).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "folio/io.h"
#include "jtest.h"

#define THREADS 3
#define PER_THREAD_MAX 40
#define UID_BASE 100000u
#define LATE_UID 999999u

/* ---- records the child leaves behind ------------------------------------------ */

enum rec_kind { R_OPEN = 1, R_ACK, R_ERR, R_COUNT, R_END, R_NOTE };

struct rec {
    uint32_t kind;
    uint32_t thread;
    uint64_t a, b;
};

static int rec_fd = -1;

static void
rec_put(uint32_t kind, uint32_t thread, uint64_t a, uint64_t b)
{
    struct rec r = {kind, thread, a, b};
    if (write(rec_fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
        _exit(99);
}

/* ---- scenarios ------------------------------------------------------------ */

struct scenario {
    const char *name;
    bool fresh; /* create a new journal; else start from base */
    int per_thread;
    struct jt_snap base;        /* base segments (recovery scenario) */
    struct jt_recs base_events; /* events durable in base */
    uint8_t *ev[THREADS][PER_THREAD_MAX];
    size_t ev_len[THREADS][PER_THREAD_MAX];
    uint64_t calls[FOLIO_IO_OP_COUNT]; /* most calls a dry run made */
};

static struct scenario sc_fresh = {.name = "fresh", .fresh = true, .per_thread = 30};
static struct scenario sc_recover = {.name = "recover", .fresh = false, .per_thread = 16};

static uint64_t
uid_of(int t, int i)
{
    return (uint64_t)(t + 1) * UID_BASE + (uint64_t)i;
}

static void
events_make(struct scenario *sc)
{
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < sc->per_thread; i++)
            sc->ev[t][i] = jt_make_event(uid_of(t, i), 600 + (size_t)((t * 37 + i * 53) % 2400),
                                         &sc->ev_len[t][i]);
}

static void
events_free(struct scenario *sc)
{
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < sc->per_thread; i++)
            folio_free(sc->ev[t][i]);
}

/* Removes everything in dir (the journal's files and quarantine/). */
static void
dir_clear(const char *dir)
{
    jt_remove_quarantine(dir);
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char p[4352];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        jt_join(p, sizeof(p), dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

/* Puts the scenario's starting state into dir. */
static int
scenario_prepare(const struct scenario *sc, const char *dir)
{
    dir_clear(dir);
    if (sc->fresh)
        return 0;
    if (jt_snap_restore(dir, &sc->base) != 0)
        return -1;
    /* A prepared next.tmp left by the last writer: open removes it. */
    uint8_t *zeros = folio_calloc(1, JT_SEG_BYTES);
    char p[4096];
    jt_join(p, sizeof(p), dir, "next.tmp");
    int rc = jt_write_whole(p, zeros, JT_SEG_BYTES);
    folio_free(zeros);
    return rc;
}

/* ---- the child ---------------------------------------------------------------- */

struct child_arg {
    const struct scenario *sc;
    const char *dir;
    const char *rec_path;
    const char *err_path;
    const struct folio_io_fault *plan;
};

struct producer {
    struct folio_journal *j;
    const struct scenario *sc;
    int t;
};

static void *
producer_main(void *arg)
{
    struct producer *p = arg;
    for (int i = 0; i < p->sc->per_thread; i++) {
        struct folio_journal_entry e = {p->sc->ev[p->t][i], p->sc->ev_len[p->t][i]};
        uint64_t seq = 0;
        int err = folio_journal_append(p->j, &e, 1, &seq);
        if (err != 0) {
            rec_put(R_ERR, (uint32_t)p->t, (uint64_t)(int64_t)err, uid_of(p->t, i));
            break;
        }
        rec_put(R_ACK, (uint32_t)p->t, seq, uid_of(p->t, i));
    }
    return NULL;
}

static void
child_records_open(const struct child_arg *a)
{
    int efd = open(a->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (efd >= 0) {
        dup2(efd, 2);
        close(efd);
    }
    rec_fd = open(a->rec_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (rec_fd < 0)
        _exit(98);
    alarm(120); /* a hung child (a deadlock) ends in SIGALRM, reported as a failure */
}

static void
child_finish(void)
{
    for (int op = 0; op < FOLIO_IO_OP_COUNT; op++)
        rec_put(R_COUNT, (uint32_t)op, folio_io_count((enum folio_io_op)op), 0);
    rec_put(R_END, 0, 0, 0);
}

static void
scenario_child(void *arg)
{
    const struct child_arg *a = arg;
    child_records_open(a);
    folio_io_fault_set(a->plan);
    struct folio_journal *j = NULL;
    struct folio_journal_diag d;
    int err = jt_open(a->dir, a->sc->fresh, &j, NULL, &d);
    rec_put(R_OPEN, 0, (uint64_t)(int64_t)err, 0);
    if (err == 0) {
        pthread_t th[THREADS];
        struct producer pr[THREADS];
        for (int t = 0; t < THREADS; t++) {
            pr[t] = (struct producer){j, a->sc, t};
            if (pthread_create(&th[t], NULL, producer_main, &pr[t]) != 0)
                _exit(97);
        }
        for (int t = 0; t < THREADS; t++)
            pthread_join(th[t], NULL);
        folio_journal_close(j);
    }
    child_finish();
}

/* ---- what the child left ------------------------------------------------------- */

struct outcome {
    int status;
    struct rec *recs;
    size_t nrecs;
    bool have_end;
    int open_err;
    uint64_t counts[FOLIO_IO_OP_COUNT];
    char *err_text;
};

static void
outcome_read(const char *rec_path, const char *err_path, int status, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->status = status;
    o->open_err = 1; /* no R_OPEN record */
    size_t len = 0;
    uint8_t *buf = tu_read_file(rec_path, &len);
    o->recs = (struct rec *)(void *)buf;
    o->nrecs = buf ? len / sizeof(struct rec) : 0;
    for (size_t i = 0; i < o->nrecs; i++) {
        const struct rec *r = &o->recs[i];
        if (r->kind == R_OPEN)
            o->open_err = (int)(int64_t)r->a;
        else if (r->kind == R_COUNT && r->thread < FOLIO_IO_OP_COUNT)
            o->counts[r->thread] = r->a;
        else if (r->kind == R_END)
            o->have_end = true;
    }
    size_t elen = 0;
    uint8_t *e = tu_read_file(err_path, &elen);
    o->err_text = folio_calloc(1, elen + 1);
    if (e != NULL)
        memcpy(o->err_text, e, elen);
    folio_free(e);
}

static void
outcome_free(struct outcome *o)
{
    folio_free(o->recs);
    folio_free(o->err_text);
}

static int
run_child(void (*fn)(void *), struct child_arg *a, struct outcome *o)
{
    int status = tu_run_child(fn, a);
    outcome_read(a->rec_path, a->err_path, status, o);
    return status;
}

/* ---- checking the journal after the child --------------------------------------- */

static const char *
status_str(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "signal %d", WTERMSIG(status));
    else
        snprintf(buf, len, "status 0x%x", status);
    return buf;
}

/*
 * Reopens the journal after the child and checks it against what the child
 * acknowledged and submitted (see the file comment).
 */
static void
check_journal(const struct scenario *sc, const char *dir, const struct outcome *o,
              struct jt_fails *fails, const char *label)
{
    struct folio_journal *j = NULL;
    struct folio_journal_diag d;
    struct folio_journal_open_info info;
    int err = jt_open(dir, sc->fresh, &j, &info, &d);
    JT_CHECK(fails, err == 0, "%s: reopen: %s (%s@%llu: %s)", label, folio_err_name(err), d.segment,
             (unsigned long long)d.offset, d.reason);
    if (err != 0)
        return;
    struct jt_recs rs;
    int rerr = jt_read_all(dir, &rs);
    JT_CHECK(fails, rerr == 0, "%s: read after reopen: %s (%s)", label, folio_err_name(rerr),
             rs.diag.reason);
    /* Which seq holds which producer event. */
    uint64_t seq_of[THREADS][PER_THREAD_MAX];
    memset(seq_of, 0, sizeof(seq_of));
    for (size_t i = 0; i < rs.n; i++) {
        const struct jt_rec *r = &rs.r[i];
        if (r->seq != i + 1) {
            jt_fail(fails, "%s: event %zu has seq %llu: not contiguous", label, i,
                    (unsigned long long)r->seq);
            break;
        }
        if (r->seq <= sc->base_events.n) {
            JT_CHECK(fails, jt_rec_equal(r, &sc->base_events.r[i]),
                     "%s: durable event %llu changed", label, (unsigned long long)r->seq);
            continue;
        }
        enum folio_event_type type = FOLIO_EV_NONE;
        uint64_t uid = 0;
        if (!jt_event_info(r->data, r->len, &type, &uid)) {
            jt_fail(fails, "%s: event %llu does not decode", label, (unsigned long long)r->seq);
            continue;
        }
        if (type == FOLIO_EV_JOURNAL_RECOVERED)
            continue;
        int t = (int)(uid / UID_BASE) - 1, k = (int)(uid % UID_BASE);
        if (type != FOLIO_EV_TASK_REGISTERED || t < 0 || t >= THREADS || k >= sc->per_thread) {
            jt_fail(fails, "%s: event %llu (type %d, uid %llu) was never submitted", label,
                    (unsigned long long)r->seq, type, (unsigned long long)uid);
            continue;
        }
        JT_CHECK(fails, seq_of[t][k] == 0, "%s: task %llu appears twice", label,
                 (unsigned long long)uid);
        seq_of[t][k] = r->seq;
        /* Byte for byte what was submitted, apart from the seq the journal stamped. */
        JT_CHECK(fails,
                 r->len == sc->ev_len[t][k] &&
                     memcmp(r->data + FOLIO_EVENT_PREFIX_LEN, sc->ev[t][k] + FOLIO_EVENT_PREFIX_LEN,
                            r->len - FOLIO_EVENT_PREFIX_LEN) == 0 &&
                     jt_event_seq(r->data, r->len) == r->seq,
                 "%s: event %llu is not the one submitted", label, (unsigned long long)r->seq);
    }
    /* Each producer waited for each append: what survived is a prefix, in order. */
    for (int t = 0; t < THREADS; t++)
        for (int k = 1; k < sc->per_thread; k++)
            if (seq_of[t][k] != 0)
                JT_CHECK(fails, seq_of[t][k - 1] != 0 && seq_of[t][k - 1] < seq_of[t][k],
                         "%s: thread %d: event %d present but event %d not before it", label, t, k,
                         k - 1);
    /* Every acknowledged event is there, at its seq. */
    for (size_t i = 0; i < o->nrecs; i++) {
        const struct rec *r = &o->recs[i];
        if (r->kind != R_ACK)
            continue;
        int t = (int)r->thread, k = (int)(r->b % UID_BASE);
        JT_CHECK(fails, seq_of[t][k] == r->a,
                 "%s: acknowledged task %llu (seq %llu) is at seq %llu", label,
                 (unsigned long long)r->b, (unsigned long long)r->a,
                 (unsigned long long)seq_of[t][k]);
    }
    /* The journal takes appends and verifies clean. */
    size_t elen;
    uint8_t *e = jt_make_event(LATE_UID, 200, &elen);
    struct folio_journal_entry en = {e, elen};
    uint64_t seq = 0;
    err = folio_journal_append(j, &en, 1, &seq);
    JT_CHECK(fails, err == 0 && seq == rs.n + 1, "%s: append after reopen: %s seq %llu", label,
             folio_err_name(err), (unsigned long long)seq);
    folio_free(e);
    folio_journal_close(j);
    struct folio_journal_verify_info vi;
    err = folio_journal_verify(dir, &vi, &d);
    JT_CHECK(fails, err == 0 && vi.last_seq == rs.n + 1, "%s: verify: %s (%s@%llu: %s)", label,
             folio_err_name(err), d.segment, (unsigned long long)d.offset, d.reason);
    jt_recs_free(&rs);
}

/* The abort message FOLIO_PANIC printed names an operation of this kind. */
static bool
panic_matches(const char *text, enum folio_io_op op)
{
    static const char *const by_op[][4] = {
        [FOLIO_IO_WRITE] = {"write of frame", "writing segment header", "writing seal", NULL},
        [FOLIO_IO_FSYNC] = {"fdatasync of", "fsync of directory", NULL, NULL},
        [FOLIO_IO_RENAME] = {"journal: rename", NULL, NULL, NULL},
        [FOLIO_IO_TRUNCATE] = {NULL},
        [FOLIO_IO_UNLINK] = {NULL},
        [FOLIO_IO_OPEN] = {NULL},
    };
    if (strstr(text, "folio: fatal") == NULL)
        return false;
    for (int i = 0; i < 4 && by_op[op][i] != NULL; i++)
        if (strstr(text, by_op[op][i]) != NULL)
            return true;
    return false;
}

/* How the child ended must match the fault (see the file comment). */
static void
check_ending(const struct folio_io_fault *f, const struct outcome *o, struct jt_fails *fails,
             const char *label, bool *reached_out)
{
    char sb[64];
    int st = o->status;
    bool kill_action = f->action != FOLIO_IO_ACT_FAIL;
    bool reached = !o->have_end || o->counts[f->op] >= f->nth;
    *reached_out = reached;
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
        JT_CHECK(fails, kill_action, "%s: killed although the fault does not kill", label);
        return;
    }
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) {
        JT_CHECK(fails, !kill_action && panic_matches(o->err_text, f->op),
                 "%s: aborted; stderr: %.300s", label, o->err_text);
        return;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !o->have_end) {
        jt_fail(fails, "%s: child ended with %s; stderr: %.300s", label,
                status_str(st, sb, sizeof(sb)), o->err_text);
        return;
    }
    JT_CHECK(fails, strstr(o->err_text, "fatal") == NULL && strstr(o->err_text, "ERROR") == NULL,
             "%s: stderr: %.300s", label, o->err_text);
    if (!reached) {
        /* The fault never fired: everything must have worked. */
        JT_CHECK(fails, o->open_err == 0, "%s: open %s without a fault", label,
                 folio_err_name(o->open_err));
        for (size_t i = 0; i < o->nrecs; i++)
            JT_CHECK(fails, o->recs[i].kind != R_ERR, "%s: append failed (%s) without a fault",
                     label, folio_err_name((int)(int64_t)o->recs[i].a));
        return;
    }
    JT_CHECK(fails, !kill_action, "%s: survived a crash fault that fired", label);
    /* A failed call that did not abort: preparation or recovery, never a rename. */
    JT_CHECK(fails, f->op != FOLIO_IO_RENAME, "%s: a failed rename did not abort", label);
    JT_CHECK(fails, o->open_err == 0 || o->open_err == FOLIO_E_IO || o->open_err == FOLIO_E_NOSPC,
             "%s: open returned %s", label, folio_err_name(o->open_err));
    /* One failed preparation is retried, so no append may fail because of it. */
    for (size_t i = 0; i < o->nrecs; i++)
        JT_CHECK(fails, o->recs[i].kind != R_ERR, "%s: append failed with %s", label,
                 folio_err_name((int)(int64_t)o->recs[i].a));
}

/* ---- the sweep ------------------------------------------------------------------ */

struct sweep_stats {
    unsigned long runs, aborted, killed, survived_fault, not_reached;
    unsigned long fails;
};

struct sweep_ctx {
    struct scenario *sc;
    char *dir, *rec_path, *err_path;
    struct jt_fails fails;
    struct sweep_stats st;
};

static void
sweep_one(struct sweep_ctx *c, const struct folio_io_fault *f)
{
    char label[160];
    snprintf(label, sizeof(label), "%s: %s nth=%llu action=%d bytes=%zu", c->sc->name,
             folio_io_op_name(f->op), (unsigned long long)f->nth, f->action, f->bytes);
    if (scenario_prepare(c->sc, c->dir) != 0) {
        jt_fail(&c->fails, "%s: cannot prepare", label);
        return;
    }
    struct child_arg a = {c->sc, c->dir, c->rec_path, c->err_path, f};
    struct outcome o;
    run_child(scenario_child, &a, &o);
    bool reached = false;
    check_ending(f, &o, &c->fails, label, &reached);
    check_journal(c->sc, c->dir, &o, &c->fails, label);
    c->st.runs++;
    if (WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGABRT)
        c->st.aborted++;
    else if (WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGKILL)
        c->st.killed++;
    else if (reached)
        c->st.survived_fault++;
    else
        c->st.not_reached++;
    outcome_free(&o);
}

/* Runs every (op, nth, action) whose index falls to this worker. */
static void
sweep_worker(struct scenario *sc, int id, int workers, int out_fd)
{
    struct sweep_ctx c = {.sc = sc};
    c.dir = jt_mkdtemp("jfaultw");
    char p[4096];
    snprintf(p, sizeof(p), "%s.recs", c.dir);
    c.rec_path = folio_strdup(p);
    snprintf(p, sizeof(p), "%s.stderr", c.dir);
    c.err_path = folio_strdup(p);
    /* Torn writes keep 1 byte, exactly one frame header, all but the last byte (the
     * seam caps the count at len - 1), and one of a few other counts in turn. */
    static const size_t tear_fixed[] = {1, 64, 1u << 30};
    static const size_t tear_turn[] = {8, 63, 100, 512, 4095};
    unsigned long index = 0;
    for (int op = 0; op < FOLIO_IO_OP_COUNT; op++) {
        for (uint64_t nth = 1; nth <= sc->calls[op]; nth++) {
            struct folio_io_fault plans[8];
            int n = 0;
            plans[n++] = (struct folio_io_fault){op, FOLIO_IO_ACT_FAIL, nth, EIO, 0, 0};
            if (op == FOLIO_IO_WRITE) {
                for (size_t k = 0; k < FOLIO_ARRAY_LEN(tear_fixed); k++)
                    plans[n++] =
                        (struct folio_io_fault){op, FOLIO_IO_ACT_TEAR, nth, 0, tear_fixed[k], 0};
                plans[n++] = (struct folio_io_fault){op, FOLIO_IO_ACT_TEAR, nth, 0,
                                                     tear_turn[nth % FOLIO_ARRAY_LEN(tear_turn)], 0};
            }
            plans[n++] = (struct folio_io_fault){op, FOLIO_IO_ACT_CRASH, nth, 0, 0, 0};
            plans[n++] = (struct folio_io_fault){op, FOLIO_IO_ACT_BEFORE, nth, 0, 0, 0};
            for (int i = 0; i < n; i++)
                if (index++ % (unsigned long)workers == (unsigned long)id)
                    sweep_one(&c, &plans[i]);
        }
    }
    c.st.fails = c.fails.count;
    ssize_t w = write(out_fd, &c.st, sizeof(c.st));
    tu_rmrf(c.dir);
    unlink(c.rec_path);
    unlink(c.err_path);
    _exit(w == (ssize_t)sizeof(c.st) ? 0 : 5);
}

/* Dry runs: how many calls of each kind the scenario makes (the most of three). */
static void
count_calls(struct scenario *sc)
{
    char *dir = jt_mkdtemp("jfaultdry");
    char rp[4096], ep[4096];
    snprintf(rp, sizeof(rp), "%s.recs", dir);
    snprintf(ep, sizeof(ep), "%s.stderr", dir);
    memset(sc->calls, 0, sizeof(sc->calls));
    for (int run = 0; run < 3; run++) {
        assert_int_equal(scenario_prepare(sc, dir), 0);
        struct child_arg a = {sc, dir, rp, ep, NULL};
        struct outcome o;
        int st = run_child(scenario_child, &a, &o);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0 && o.have_end && o.open_err == 0);
        for (int op = 0; op < FOLIO_IO_OP_COUNT; op++)
            if (o.counts[op] > sc->calls[op])
                sc->calls[op] = o.counts[op];
        /* The scenario rolls segments as intended. */
        struct jt_snap s;
        jt_snap_take(dir, &s);
        assert_true(s.n >= (sc->fresh ? 3 : 2));
        jt_snap_free(&s);
        struct jt_fails f = {0};
        check_journal(sc, dir, &o, &f, "dry run");
        assert_int_equal(f.count, 0);
        outcome_free(&o);
    }
    /* Allow for a little variation between runs (group commit batches differently). */
    sc->calls[FOLIO_IO_WRITE] += 2;
    sc->calls[FOLIO_IO_FSYNC] += 2;
    fprintf(stderr, "%s scenario calls:", sc->name);
    for (int op = 0; op < FOLIO_IO_OP_COUNT; op++)
        fprintf(stderr, " %s=%llu", folio_io_op_name((enum folio_io_op)op),
                (unsigned long long)sc->calls[op]);
    fprintf(stderr, "\n");
    tu_rmrf(dir);
    unlink(rp);
    unlink(ep);
    folio_free(dir);
}

static void
sweep_entry(void *ctx, int i, int n, int fd)
{
    sweep_worker(ctx, i, n, fd);
}

static void
run_sweep(struct scenario *sc)
{
    count_calls(sc);
    double t0 = jt_now();
    struct sweep_stats rs[JT_WORKERS_MAX];
    int workers = 0;
    int dead = jt_fork_workers(sweep_entry, sc, rs, sizeof(rs[0]), &workers);
    struct sweep_stats tot = {0};
    for (int i = 0; i < workers; i++) {
        tot.runs += rs[i].runs;
        tot.aborted += rs[i].aborted;
        tot.killed += rs[i].killed;
        tot.survived_fault += rs[i].survived_fault;
        tot.not_reached += rs[i].not_reached;
        tot.fails += rs[i].fails;
    }
    fprintf(stderr,
            "%s sweep: %lu runs in %.1f s: %lu aborted, %lu killed, %lu survived a failed call, "
            "%lu fault not reached; %lu failures\n",
            sc->name, tot.runs, jt_now() - t0, tot.aborted, tot.killed, tot.survived_fault,
            tot.not_reached, tot.fails);
    assert_int_equal(dead, 0);
    assert_int_equal(tot.fails, 0);
    /* Both kinds of failed call were met: fatal ones and survivable ones. */
    assert_true(tot.aborted > 0);
    assert_true(tot.survived_fault > 0);
    assert_true(tot.killed > 0);
}

static void
test_sweep_fresh_journal(void **state)
{
    (void)state;
    run_sweep(&sc_fresh);
}

static void
test_sweep_recovering_journal(void **state)
{
    (void)state;
    run_sweep(&sc_recover);
    /* The recovery scenario is the one that exercises these. */
    assert_true(sc_recover.calls[FOLIO_IO_TRUNCATE] >= 1);
    assert_true(sc_recover.calls[FOLIO_IO_UNLINK] >= 1);
}

/* ---- targeted: which call is which -------------------------------------------- */

struct tgt_arg {
    const char *dir;
    const char *rec_path, *err_path;
    const struct folio_io_fault *plan;
    int mode;    /* see TGT_* */
    int appends; /* events to append after arming */
};

enum {
    TGT_PREPARER, /* arm before open: the preparer's first calls fail */
    TGT_ACTIVE,   /* arm after one append, preparer idle */
    TGT_ROLL,     /* arm when the next append rolls the segment */
    TGT_NOSPC,    /* the preparer's write fails, then the roll's own retry */
};

#define TGT_EVENT_BYTES 1000u
/* Frames of one 1000-byte event: 64-byte header + (4 + 1000) rounded up to 8. */
#define TGT_FRAME_DISK (64u + 1008u)
/* Frames that fit in a fresh 64 KiB segment, keeping room for its seal. */
#define TGT_FIT ((JT_SEG_BYTES - JT_SEG_HDR - JT_SEAL_DISK) / TGT_FRAME_DISK)

static uint64_t tgt_uid;

static int
tgt_append(struct folio_journal *j)
{
    uint64_t uid = ++tgt_uid;
    uint8_t *e = jt_make_event_exact(uid, TGT_EVENT_BYTES);
    struct folio_journal_entry en = {e, TGT_EVENT_BYTES};
    uint64_t seq = 0;
    int err = folio_journal_append(j, &en, 1, &seq);
    folio_free(e);
    if (err == 0)
        rec_put(R_ACK, 0, seq, uid);
    else
        rec_put(R_ERR, 0, (uint64_t)(int64_t)err, uid);
    return err;
}

/*
 * Waits until the preparer has made its write and fsync: more than the given
 * counts, which are the calls open and the appends so far made themselves.
 */
static void
wait_preparer(uint64_t writes_before, uint64_t fsyncs_before)
{
    for (int i = 0; i < 5000; i++) {
        if (folio_io_count(FOLIO_IO_WRITE) > writes_before &&
            folio_io_count(FOLIO_IO_FSYNC) > fsyncs_before)
            break;
        usleep(1000);
    }
    usleep(20000); /* let it finish its bookkeeping */
}

static void
targeted_child(void *arg)
{
    const struct tgt_arg *a = arg;
    struct child_arg ca = {NULL, a->dir, a->rec_path, a->err_path, NULL};
    child_records_open(&ca);
    struct folio_journal *j = NULL;
    struct folio_journal_diag d;
    folio_io_fault_set(a->mode == TGT_PREPARER || a->mode == TGT_NOSPC ? a->plan : NULL);
    int err = jt_open(a->dir, true, &j, NULL, &d);
    rec_put(R_OPEN, 0, (uint64_t)(int64_t)err, 0);
    if (err != 0) {
        child_finish();
        return;
    }
    if (a->mode == TGT_PREPARER) {
        /* Only the preparer does I/O until the first append. */
        for (int i = 0; i < 5000 && folio_io_count(a->plan->op) < a->plan->nth; i++)
            usleep(1000);
        usleep(20000);
    } else if (a->mode == TGT_ACTIVE) {
        tgt_append(j);
        wait_preparer(2 + 1, 3 + 1); /* first segment: 2 writes, 3 fsyncs; the frame: 1, 1 */
        folio_io_fault_set(a->plan);
    } else if (a->mode == TGT_NOSPC) {
        /* The preparer's zero-fill (write #3, after open's two) failed with the plan. */
        for (int i = 0; i < 5000 && folio_io_count(FOLIO_IO_WRITE) < 3; i++)
            usleep(1000);
        usleep(20000);
        for (unsigned i = 0; i < TGT_FIT; i++)
            tgt_append(j);
        /* The disk stays full: the writer's own attempt at roll time fails too. */
        struct folio_io_fault again = *a->plan;
        again.nth = 1;
        folio_io_fault_set(&again);
    } else {
        /* A fresh journal: append until the next frame no longer fits. */
        for (unsigned i = 0; i < TGT_FIT; i++)
            tgt_append(j);
        struct folio_journal_stats st;
        folio_journal_get_stats(j, &st);
        rec_put(R_NOTE, 0, st.segments_rolled, 0);
        wait_preparer(2 + TGT_FIT, 3 + TGT_FIT);
        folio_io_fault_set(a->plan);
    }
    for (int i = 0; i < a->appends; i++)
        tgt_append(j);
    folio_journal_close(j);
    child_finish();
}

/* Checks the journal after a targeted run: acknowledged events, nothing foreign. */
static void
check_targeted_journal(const char *dir, const struct outcome *o, const char *label)
{
    struct folio_journal *j = NULL;
    struct folio_journal_diag d;
    int err = jt_open(dir, true, &j, NULL, &d);
    if (err != 0)
        fail_msg("%s: reopen: %s (%s)", label, folio_err_name(err), d.reason);
    struct jt_recs rs;
    assert_int_equal(jt_read_all(dir, &rs), 0);
    for (size_t i = 0; i < o->nrecs; i++) {
        const struct rec *r = &o->recs[i];
        if (r->kind != R_ACK)
            continue;
        if (r->a < 1 || r->a > rs.n)
            fail_msg("%s: acknowledged seq %llu lost", label, (unsigned long long)r->a);
        enum folio_event_type type = FOLIO_EV_NONE;
        uint64_t uid = 0;
        assert_true(jt_event_info(rs.r[r->a - 1].data, rs.r[r->a - 1].len, &type, &uid));
        assert_int_equal(uid, r->b);
    }
    uint64_t last_uid = 0;
    for (size_t i = 0; i < rs.n; i++) {
        enum folio_event_type type = FOLIO_EV_NONE;
        uint64_t uid = 0;
        assert_int_equal(rs.r[i].seq, i + 1);
        assert_true(jt_event_info(rs.r[i].data, rs.r[i].len, &type, &uid));
        if (type == FOLIO_EV_JOURNAL_RECOVERED)
            continue;
        /* One producer: its events in order, none twice; besides the acknowledged ones, at
         * most the append the child died in. */
        assert_int_equal(type, FOLIO_EV_TASK_REGISTERED);
        assert_true(uid > last_uid && uid <= tgt_uid);
        last_uid = uid;
    }
    folio_journal_close(j);
    assert_int_equal(folio_journal_verify(dir, NULL, NULL), 0);
    jt_recs_free(&rs);
}

/*
 * tgt_uid advanced in the child only: recount it from the records, plus one
 * for an append the child may have been killed in (written, never answered).
 */
static void
tgt_uid_from_records(const struct outcome *o)
{
    tgt_uid = 0;
    for (size_t i = 0; i < o->nrecs; i++)
        if ((o->recs[i].kind == R_ACK || o->recs[i].kind == R_ERR) && o->recs[i].b > tgt_uid)
            tgt_uid = o->recs[i].b;
    tgt_uid++;
}

static struct outcome
targeted_run(int mode, const struct folio_io_fault *plan, int appends, const char *dir)
{
    char rp[4096], ep[4096];
    snprintf(rp, sizeof(rp), "%s.recs", dir);
    snprintf(ep, sizeof(ep), "%s.stderr", dir);
    dir_clear(dir);
    tgt_uid = 0;
    struct tgt_arg a = {dir, rp, ep, plan, mode, appends};
    struct child_arg ca = {NULL, dir, rp, ep, NULL};
    struct outcome o;
    int st = tu_run_child(targeted_child, &a);
    outcome_read(ca.rec_path, ca.err_path, st, &o);
    tgt_uid_from_records(&o);
    unlink(rp);
    unlink(ep);
    return o;
}

static size_t
count_kind(const struct outcome *o, uint32_t kind)
{
    size_t n = 0;
    for (size_t i = 0; i < o->nrecs; i++)
        n += o->recs[i].kind == kind;
    return n;
}

static void
test_preparer_failures_do_not_abort(void **state)
{
    (void)state;
    char *dir = jt_mkdtemp("jfaultprep");
    static const enum folio_io_op ops[] = {FOLIO_IO_OPEN, FOLIO_IO_WRITE, FOLIO_IO_FSYNC};
    static const int errs[] = {EIO, ENOSPC};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(ops); i++) {
        for (size_t e = 0; e < FOLIO_ARRAY_LEN(errs); e++) {
            /* A fresh journal: open creates the first segment itself (open #1, write #1-2,
             * fsync #1-3); the preparer's calls come next (open #2, write #3, fsync #4). */
            uint64_t nth = ops[i] == FOLIO_IO_WRITE ? 3 : ops[i] == FOLIO_IO_FSYNC ? 4 : 2;
            struct folio_io_fault plan = {ops[i], FOLIO_IO_ACT_FAIL, nth, errs[e], 0, 0};
            char label[96];
            snprintf(label, sizeof(label), "preparer %s #%llu fails with errno %d",
                     folio_io_op_name(ops[i]), (unsigned long long)nth, errs[e]);
            struct outcome o = targeted_run(TGT_PREPARER, &plan, (int)(2 * TGT_FIT + 5), dir);
            char sb[64];
            if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0 || !o.have_end)
                fail_msg("%s: child ended with %s: %.300s", label,
                         status_str(o.status, sb, sizeof(sb)), o.err_text);
            assert_int_equal(o.open_err, 0);
            assert_true(o.counts[ops[i]] >= nth); /* the fault fired */
            assert_int_equal(count_kind(&o, R_ERR), 0);
            assert_int_equal(count_kind(&o, R_ACK), 2 * TGT_FIT + 5);
            check_targeted_journal(dir, &o, label);
            /* It rolled twice despite the failed preparation. */
            struct jt_snap s;
            jt_snap_take(dir, &s);
            assert_true(s.n >= 3);
            jt_snap_free(&s);
            outcome_free(&o);
        }
    }
    tu_rmrf(dir);
    folio_free(dir);
}

static void
test_first_segment_failures(void **state)
{
    (void)state;
    /* Creating the first segment happens inside open: a failure there is an error from
     * open for the preparation calls, and an abort once the segment is being installed. */
    char *dir = jt_mkdtemp("jfaultfirst");
    struct {
        enum folio_io_op op;
        uint64_t nth;
        int open_err; /* 0: must abort */
    } cases[] = {
        {FOLIO_IO_OPEN, 1, FOLIO_E_IO},  {FOLIO_IO_WRITE, 1, FOLIO_E_IO},
        {FOLIO_IO_FSYNC, 1, FOLIO_E_IO}, {FOLIO_IO_WRITE, 2, 0},
        {FOLIO_IO_FSYNC, 2, 0},          {FOLIO_IO_RENAME, 1, 0},
        {FOLIO_IO_FSYNC, 3, 0},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cases); i++) {
        struct folio_io_fault plan = {cases[i].op, FOLIO_IO_ACT_FAIL, cases[i].nth, EIO, 0, 0};
        char label[96];
        snprintf(label, sizeof(label), "first segment: %s #%llu fails",
                 folio_io_op_name(cases[i].op), (unsigned long long)cases[i].nth);
        struct outcome o = targeted_run(TGT_PREPARER, &plan, 3, dir);
        char sb[64];
        if (cases[i].open_err != 0) {
            if (!WIFEXITED(o.status) || o.open_err != cases[i].open_err)
                fail_msg("%s: %s, open %s", label, status_str(o.status, sb, sizeof(sb)),
                         folio_err_name(o.open_err));
        } else if (!WIFSIGNALED(o.status) || WTERMSIG(o.status) != SIGABRT ||
                   !panic_matches(o.err_text, cases[i].op)) {
            fail_msg("%s: %s, stderr %.300s", label, status_str(o.status, sb, sizeof(sb)),
                     o.err_text);
        }
        check_targeted_journal(dir, &o, label);
        outcome_free(&o);
    }
    tu_rmrf(dir);
    folio_free(dir);
}

static void
test_no_space_for_next_segment(void **state)
{
    (void)state;
    char *dir = jt_mkdtemp("jfaultnospc");
    struct folio_io_fault plan = {FOLIO_IO_WRITE, FOLIO_IO_ACT_FAIL, 3, ENOSPC, 0, 0};
    struct outcome o = targeted_run(TGT_NOSPC, &plan, 4, dir);
    char sb[64];
    if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0 || !o.have_end)
        fail_msg("no space: child ended with %s: %.300s", status_str(o.status, sb, sizeof(sb)),
                 o.err_text);
    /* Everything that fitted in the segment was acknowledged; every later append is refused
     * with NOSPC, none acknowledged after the first refusal. */
    assert_int_equal(count_kind(&o, R_ACK), TGT_FIT);
    assert_int_equal(count_kind(&o, R_ERR), 4);
    for (size_t i = 0; i < o.nrecs; i++)
        if (o.recs[i].kind == R_ERR)
            assert_int_equal((int)(int64_t)o.recs[i].a, FOLIO_E_NOSPC);
    assert_null(strstr(o.err_text, "fatal"));
    check_targeted_journal(dir, &o, "no space for the next segment");
    outcome_free(&o);
    tu_rmrf(dir);
    folio_free(dir);
}

static void
test_active_segment_failures_abort(void **state)
{
    (void)state;
    char *dir = jt_mkdtemp("jfaultactive");
    struct {
        enum folio_io_op op;
        int errnum;
        const char *msg;
    } cases[] = {
        {FOLIO_IO_WRITE, EIO, "write of frame"},
        {FOLIO_IO_WRITE, ENOSPC, "write of frame"},
        {FOLIO_IO_FSYNC, EIO, "fdatasync of 0"},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cases); i++) {
        struct folio_io_fault plan = {cases[i].op, FOLIO_IO_ACT_FAIL, 1, cases[i].errnum, 0, 0};
        struct outcome o = targeted_run(TGT_ACTIVE, &plan, 2, dir);
        char sb[64];
        if (!WIFSIGNALED(o.status) || WTERMSIG(o.status) != SIGABRT ||
            strstr(o.err_text, cases[i].msg) == NULL)
            fail_msg("active %s fails: %s, stderr %.300s", folio_io_op_name(cases[i].op),
                     status_str(o.status, sb, sizeof(sb)), o.err_text);
        /* The event before is acknowledged; the failed one never was. */
        assert_int_equal(count_kind(&o, R_ACK), 1);
        check_targeted_journal(dir, &o, "active segment failure");
        outcome_free(&o);
    }
    tu_rmrf(dir);
    folio_free(dir);
}

static void
test_roll_failures_abort_and_crashes_recover(void **state)
{
    (void)state;
    char *dir = jt_mkdtemp("jfaultroll");
    /* The I/O of a roll, in order, before the preparer starts on the next file. */
    struct {
        enum folio_io_op op;
        uint64_t nth;
        const char *msg;
    } calls[] = {
        {FOLIO_IO_WRITE, 1, "writing seal"},
        {FOLIO_IO_FSYNC, 1, "fdatasync of seal"},
        {FOLIO_IO_WRITE, 2, "writing segment header"},
        {FOLIO_IO_FSYNC, 2, "fdatasync of new segment"},
        {FOLIO_IO_RENAME, 1, "journal: rename"},
        {FOLIO_IO_FSYNC, 3, "fsync of directory"},
    };
    static const enum folio_io_action actions[] = {FOLIO_IO_ACT_FAIL, FOLIO_IO_ACT_TEAR,
                                                   FOLIO_IO_ACT_CRASH, FOLIO_IO_ACT_BEFORE};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(calls); i++) {
        for (size_t k = 0; k < FOLIO_ARRAY_LEN(actions); k++) {
            if (actions[k] == FOLIO_IO_ACT_TEAR && calls[i].op != FOLIO_IO_WRITE)
                continue;
            struct folio_io_fault plan = {calls[i].op, actions[k], calls[i].nth, EIO, 40, 0};
            char label[128];
            snprintf(label, sizeof(label), "roll: %s #%llu action %d", folio_io_op_name(plan.op),
                     (unsigned long long)plan.nth, plan.action);
            struct outcome o = targeted_run(TGT_ROLL, &plan, 3, dir);
            /* The segment really was full: nothing rolled before the fault was armed. */
            for (size_t r = 0; r < o.nrecs; r++)
                if (o.recs[r].kind == R_NOTE)
                    assert_int_equal(o.recs[r].a, 0);
            assert_int_equal(count_kind(&o, R_ACK), TGT_FIT);
            char sb[64];
            int want = actions[k] == FOLIO_IO_ACT_FAIL ? SIGABRT : SIGKILL;
            if (!WIFSIGNALED(o.status) || WTERMSIG(o.status) != want ||
                (want == SIGABRT && strstr(o.err_text, calls[i].msg) == NULL))
                fail_msg("%s: %s, stderr %.300s", label, status_str(o.status, sb, sizeof(sb)),
                         o.err_text);
            check_targeted_journal(dir, &o, label);
            outcome_free(&o);
        }
    }
    tu_rmrf(dir);
    folio_free(dir);
}

/* ---- disk full for real ----------------------------------------------------------- */

struct full_arg {
    const char *mnt;     /* empty directory to mount the small tmpfs on */
    const char *copy_to; /* where to copy the journal for the parent */
    const char *rec_path, *err_path;
};

static int
write_id_map(const char *file, const char *map)
{
    int fd = open(file, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, map, strlen(map));
    close(fd);
    return n == (ssize_t)strlen(map) ? 0 : -1;
}

/* Enters a private mount namespace and mounts a 160 KiB tmpfs on mnt. */
static int
small_tmpfs(const char *mnt)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWNS) != 0) {
        char map[64];
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
            return -1;
        write_id_map("/proc/self/setgroups", "deny");
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
        if (write_id_map("/proc/self/uid_map", map) != 0)
            return -1;
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
        if (write_id_map("/proc/self/gid_map", map) != 0)
            return -1;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return -1;
    return mount("folio-full", mnt, "tmpfs", 0, "size=160k");
}

static void
full_child(void *arg)
{
    const struct full_arg *a = arg;
    struct child_arg ca = {NULL, a->mnt, a->rec_path, a->err_path, NULL};
    child_records_open(&ca);
    if (small_tmpfs(a->mnt) != 0) {
        rec_put(R_NOTE, 0, (uint64_t)errno, 0);
        child_finish();
        return;
    }
    char dir[4096];
    jt_join(dir, sizeof(dir), a->mnt, "j");
    struct folio_journal *j = NULL;
    int err = jt_open(dir, true, &j, NULL, NULL);
    rec_put(R_OPEN, 0, (uint64_t)(int64_t)err, 0);
    if (err == 0) {
        int errs = 0;
        for (int i = 0; i < 400 && errs < 3; i++)
            errs += tgt_append(j) != 0;
        folio_journal_close(j);
    }
    char cmd[8400];
    snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", dir, a->copy_to);
    if (system(cmd) != 0)
        _exit(96);
    umount(a->mnt);
    child_finish();
}

static void
test_disk_full(void **state)
{
    (void)state;
    char *base = jt_mkdtemp("jfull");
    char mnt[4096], copy[4096], rp[4096], ep[4096];
    jt_join(mnt, sizeof(mnt), base, "mnt");
    jt_join(copy, sizeof(copy), base, "copy");
    jt_join(rp, sizeof(rp), base, "recs");
    jt_join(ep, sizeof(ep), base, "stderr");
    assert_int_equal(mkdir(mnt, 0700), 0);
    struct full_arg a = {mnt, copy, rp, ep};
    tgt_uid = 0;
    int st = tu_run_child(full_child, &a);
    struct outcome o;
    outcome_read(rp, ep, st, &o);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0 && o.have_end);
    if (o.open_err == 1) {
        fprintf(stderr, "disk full: cannot mount a small tmpfs here (errno %llu): skipped\n",
                (unsigned long long)o.recs[0].a);
        outcome_free(&o);
        tu_rmrf(base);
        folio_free(base);
        skip();
    }
    assert_int_equal(o.open_err, 0);
    /* Appends ran until no segment could be had, then failed with NOSPC, and only that. */
    size_t acks = count_kind(&o, R_ACK), errs = count_kind(&o, R_ERR);
    fprintf(stderr, "disk full: %zu appends acknowledged, then %zu refused\n", acks, errs);
    assert_true(acks >= TGT_FIT);
    assert_int_equal(errs, 3);
    bool after_err = false;
    for (size_t i = 0; i < o.nrecs; i++) {
        if (o.recs[i].kind == R_ERR) {
            assert_int_equal((int)(int64_t)o.recs[i].a, FOLIO_E_NOSPC);
            after_err = true;
        }
        if (o.recs[i].kind == R_ACK)
            assert_false(after_err);
    }
    tgt_uid_from_records(&o);
    /* With space again, the journal opens with everything acknowledged, and goes on. */
    check_targeted_journal(copy, &o, "disk full");
    outcome_free(&o);
    tu_rmrf(base);
    folio_free(base);
}

/* ---- setup ------------------------------------------------------------------------ */

/* The recovery scenario's base: a journal whose newest segment was cut mid-frame. */
static void
make_recover_base(void)
{
    char *dir = jt_mkdtemp("jfaultbase");
    struct folio_journal *j = NULL;
    assert_int_equal(jt_open(dir, true, &j, NULL, NULL), 0);
    for (uint64_t i = 1; i <= 12; i++)
        jt_append_n(j, 500000 + i, 1, 700 + 90 * (size_t)i);
    folio_journal_close(j);
    jt_snap_take(dir, &sc_recover.base);
    assert_int_equal(sc_recover.base.n, 1);
    struct jt_file *f = &sc_recover.base.f[0];
    struct jt_frame fr[64];
    int n = jt_parse_frames(f->data, f->len, fr, 64);
    assert_int_equal(n, 12);
    /* Cut inside the last frame: 11 events durable, a torn one after them. */
    f->len = fr[11].off + 300;
    assert_int_equal(jt_snap_restore(dir, &sc_recover.base), 0);
    assert_int_equal(folio_journal_verify(dir, NULL, NULL), FOLIO_E_TORN_TAIL);
    assert_int_equal(jt_read_all(dir, &sc_recover.base_events), FOLIO_E_TORN_TAIL);
    assert_int_equal(sc_recover.base_events.n, 11);
    tu_rmrf(dir);
    folio_free(dir);
}

static int
setup(void **state)
{
    (void)state;
    events_make(&sc_fresh);
    events_make(&sc_recover);
    make_recover_base();
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    events_free(&sc_fresh);
    events_free(&sc_recover);
    jt_snap_free(&sc_recover.base);
    jt_recs_free(&sc_recover.base_events);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preparer_failures_do_not_abort),
        cmocka_unit_test(test_first_segment_failures),
        cmocka_unit_test(test_no_space_for_next_segment),
        cmocka_unit_test(test_active_segment_failures_abort),
        cmocka_unit_test(test_roll_failures_abort_and_crashes_recover),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_sweep_fresh_journal),
        cmocka_unit_test(test_sweep_recovering_journal),
    };
    /* FOLIO_TEST_FILTER=pattern runs only the matching tests (cmocka wildcards). */
    if (getenv("FOLIO_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("FOLIO_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
