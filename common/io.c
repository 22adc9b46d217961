/*
 * The I/O seam (see include/folio/io.h).
 *
 * Each wrapped call bumps a per-operation counter; when the counter reaches
 * the fault plan's nth, the plan's action happens instead of (or after) the
 * call. "Stopping the world" is SIGKILL to ourselves: no atexit handler, no
 * buffered data flushed, exactly what a crash leaves behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folio/error.h"
#include "folio/io.h"

static struct folio_io_fault fault_plan;
static int fault_active;
static uint64_t op_counts[FOLIO_IO_OP_COUNT];
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static const char *const op_names[FOLIO_IO_OP_COUNT] = {
    [FOLIO_IO_WRITE] = "write",       [FOLIO_IO_FSYNC] = "fsync",
    [FOLIO_IO_RENAME] = "rename",     [FOLIO_IO_TRUNCATE] = "truncate",
    [FOLIO_IO_UNLINK] = "unlink",     [FOLIO_IO_OPEN] = "open",
};

const char *
folio_io_op_name(enum folio_io_op op)
{
    return (unsigned)op < FOLIO_IO_OP_COUNT ? op_names[op] : "?";
}

int
folio_io_fault_parse(const char *spec, struct folio_io_fault *out)
{
    static const char *const act_names[] = {"none",  "fail",   "short", "tear",
                                            "crash", "before", "hold"};
    struct folio_io_fault f = {.op = FOLIO_IO_OP_COUNT, .nth = 0};
    char buf[256];
    if (strlen(spec) >= sizeof(buf))
        return FOLIO_E_INVALID;
    strcpy(buf, spec);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL)
            return FOLIO_E_INVALID;
        *eq = '\0';
        const char *val = eq + 1;
        if (strcmp(tok, "op") == 0) {
            for (int i = 0; i < FOLIO_IO_OP_COUNT; i++)
                if (strcmp(val, op_names[i]) == 0)
                    f.op = (enum folio_io_op)i;
        } else if (strcmp(tok, "action") == 0) {
            for (unsigned i = 0; i < sizeof(act_names) / sizeof(act_names[0]); i++)
                if (strcmp(val, act_names[i]) == 0)
                    f.action = (enum folio_io_action)i;
        } else if (strcmp(tok, "nth") == 0) {
            f.nth = strtoull(val, NULL, 10);
        } else if (strcmp(tok, "errno") == 0) {
            f.errnum = atoi(val);
        } else if (strcmp(tok, "bytes") == 0) {
            f.bytes = strtoull(val, NULL, 10);
        } else if (strcmp(tok, "lose") == 0) {
            f.lose_unsynced = atoi(val);
        } else {
            return FOLIO_E_INVALID;
        }
    }
    if (f.op == FOLIO_IO_OP_COUNT || f.nth == 0 || f.action == FOLIO_IO_ACT_NONE)
        return FOLIO_E_INVALID;
    *out = f;
    return FOLIO_OK;
}

static void
load_env_plan(void)
{
    const char *spec = getenv("FOLIO_IO_FAULT");
    struct folio_io_fault f;
    if (spec == NULL || *spec == '\0')
        return;
    if (folio_io_fault_parse(spec, &f) != FOLIO_OK) {
        fprintf(stderr, "folio: ignoring malformed FOLIO_IO_FAULT=%s\n", spec);
        return;
    }
    fault_plan = f;
    __atomic_store_n(&fault_active, 1, __ATOMIC_RELEASE);
}

/* The hold action: the held call waits on hold_cv until released. */
static pthread_mutex_t hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static int hold_waiting, hold_released;

void
folio_io_fault_set(const struct folio_io_fault *fault)
{
    pthread_once(&env_once, load_env_plan);
    __atomic_store_n(&fault_active, 0, __ATOMIC_RELEASE);
    for (int i = 0; i < FOLIO_IO_OP_COUNT; i++)
        __atomic_store_n(&op_counts[i], 0, __ATOMIC_RELAXED);
    pthread_mutex_lock(&hold_mu);
    hold_released = 0;
    pthread_mutex_unlock(&hold_mu);
    if (fault != NULL) {
        fault_plan = *fault;
        __atomic_store_n(&fault_active, 1, __ATOMIC_RELEASE);
    }
}

uint64_t
folio_io_count(enum folio_io_op op)
{
    return __atomic_load_n(&op_counts[op], __ATOMIC_RELAXED);
}

/*
 * Power-loss simulation (lose_unsynced): an undo log of every write since the
 * last successful sync of its descriptor. Each record keeps a dup of the
 * descriptor, so a file closed without a sync is still rolled back.
 */
struct undo_rec {
    int fd;          /* caller's descriptor, -1 once that number was reused */
    int dup_fd;      /* our own descriptor of the same file */
    off_t off;
    size_t old_len;  /* bytes of old content saved (may be < len past EOF) */
    off_t size_before;
    uint8_t *old;
};

#define UNDO_BYTES_MAX (512u << 20)

static pthread_mutex_t undo_mu = PTHREAD_MUTEX_INITIALIZER;
static struct undo_rec *undo_log;
static size_t undo_count, undo_cap, undo_bytes;

static int
lose_mode(void)
{
    return __atomic_load_n(&fault_active, __ATOMIC_ACQUIRE) && fault_plan.lose_unsynced;
}

/* Records the bytes a write of len at off is about to replace (undo_mu held). */
static void
undo_record(int fd, size_t len, off_t off)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    if (undo_count == undo_cap) {
        undo_cap = undo_cap ? undo_cap * 2 : 256;
        undo_log = realloc(undo_log, undo_cap * sizeof(*undo_log));
        if (undo_log == NULL)
            abort();
    }
    struct undo_rec *u = &undo_log[undo_count++];
    u->fd = fd;
    u->dup_fd = dup(fd);
    u->off = off;
    u->size_before = st.st_size;
    u->old_len = off < st.st_size ? (size_t)(st.st_size - off) : 0;
    if (u->old_len > len)
        u->old_len = len;
    u->old = malloc(u->old_len ? u->old_len : 1);
    undo_bytes += u->old_len;
    if (u->old == NULL || u->dup_fd < 0 || undo_bytes > UNDO_BYTES_MAX)
        abort();
    if (u->old_len > 0 && pread(fd, u->old, u->old_len, off) != (ssize_t)u->old_len)
        abort();
}

/* Drops the records of fd: a sync made its writes durable (undo_mu held). */
static void
undo_forget(int fd, int reused)
{
    size_t keep = 0;
    for (size_t i = 0; i < undo_count; i++) {
        struct undo_rec *u = &undo_log[i];
        if (u->fd == fd && reused) {
            u->fd = -1; /* an old file's unsynced writes: still to be rolled back */
        } else if (u->fd == fd) {
            close(u->dup_fd);
            undo_bytes -= u->old_len;
            free(u->old);
            continue;
        }
        undo_log[keep++] = *u;
    }
    undo_count = keep;
}

/* Rolls back every unsynced write, newest first (undo_mu held). */
static void
undo_apply(void)
{
    for (size_t i = undo_count; i-- > 0;) {
        struct undo_rec *u = &undo_log[i];
        if (u->old_len > 0 && pwrite(u->dup_fd, u->old, u->old_len, u->off) < 0)
            abort();
        struct stat st;
        if (fstat(u->dup_fd, &st) == 0 && st.st_size > u->size_before &&
            ftruncate(u->dup_fd, u->size_before) != 0)
            abort();
    }
}

static _Noreturn void
die_now(void)
{
    if (lose_mode()) {
        pthread_mutex_lock(&undo_mu); /* held until death: no write slips in */
        undo_apply();
    }
    kill(getpid(), SIGKILL);
    _exit(137);
}


static void
hold_here(void)
{
    pthread_mutex_lock(&hold_mu);
    hold_waiting = 1;
    while (!hold_released)
        pthread_cond_wait(&hold_cv, &hold_mu);
    hold_waiting = 0;
    pthread_mutex_unlock(&hold_mu);
}

int
folio_io_hold_waiting(void)
{
    pthread_mutex_lock(&hold_mu);
    int w = hold_waiting;
    pthread_mutex_unlock(&hold_mu);
    return w;
}

void
folio_io_hold_release(void)
{
    pthread_mutex_lock(&hold_mu);
    hold_released = 1;
    pthread_cond_broadcast(&hold_cv);
    pthread_mutex_unlock(&hold_mu);
}

/* Counts the call and returns the action to apply to it (NONE if no fault). */
static enum folio_io_action
fault_check(enum folio_io_op op)
{
    pthread_once(&env_once, load_env_plan);
    uint64_t n = __atomic_add_fetch(&op_counts[op], 1, __ATOMIC_RELAXED);
    if (!__atomic_load_n(&fault_active, __ATOMIC_ACQUIRE))
        return FOLIO_IO_ACT_NONE;
    if (fault_plan.op != op || fault_plan.nth != n)
        return FOLIO_IO_ACT_NONE;
    if (fault_plan.action == FOLIO_IO_ACT_BEFORE)
        die_now();
    if (fault_plan.action == FOLIO_IO_ACT_HOLD) {
        hold_here();
        return FOLIO_IO_ACT_NONE;
    }
    return fault_plan.action;
}

static int
fail_with_plan(void)
{
    errno = fault_plan.errnum ? fault_plan.errnum : EIO;
    return -1;
}

ssize_t
folio_io_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    enum folio_io_action act = fault_check(FOLIO_IO_WRITE);
    ssize_t n;
    switch (act) {
    case FOLIO_IO_ACT_FAIL:
        return fail_with_plan();
    case FOLIO_IO_ACT_SHORT:
    case FOLIO_IO_ACT_TEAR: {
        size_t part = fault_plan.bytes < len ? fault_plan.bytes : (len > 0 ? len - 1 : 0);
        if (lose_mode()) {
            pthread_mutex_lock(&undo_mu);
            undo_record(fd, part, off);
            pthread_mutex_unlock(&undo_mu);
        }
        n = part > 0 ? pwrite(fd, buf, part, off) : 0;
        if (act == FOLIO_IO_ACT_TEAR)
            die_now();
        return n;
    }
    default:
        break;
    }
    int lose = lose_mode();
    if (lose) {
        pthread_mutex_lock(&undo_mu);
        undo_record(fd, len, off);
    }
    do {
        n = pwrite(fd, buf, len, off);
    } while (n < 0 && errno == EINTR);
    if (lose)
        pthread_mutex_unlock(&undo_mu);
    if (act == FOLIO_IO_ACT_CRASH)
        die_now();
    return n;
}

/* Shared body of the calls that either happen whole or fail. */
#define SEAM_CALL(op, call)                                                                    \
    do {                                                                                       \
        enum folio_io_action act_ = fault_check(op);                                           \
        if (act_ == FOLIO_IO_ACT_FAIL)                                                         \
            return fail_with_plan();                                                           \
        int rc_;                                                                               \
        do {                                                                                   \
            rc_ = (call);                                                                      \
        } while (rc_ < 0 && errno == EINTR);                                                   \
        if (act_ == FOLIO_IO_ACT_CRASH || act_ == FOLIO_IO_ACT_TEAR)                           \
            die_now();                                                                         \
        return rc_;                                                                            \
    } while (0)

static int
sync_fd(int fd, int data_only)
{
    SEAM_CALL(FOLIO_IO_FSYNC, data_only ? fdatasync(fd) : fsync(fd));
}

/* A successful sync makes the descriptor's writes durable: forget their undo records. */
static int
sync_and_forget(int fd, int data_only)
{
    int rc = sync_fd(fd, data_only);
    if (rc == 0 && lose_mode()) {
        pthread_mutex_lock(&undo_mu);
        undo_forget(fd, 0);
        pthread_mutex_unlock(&undo_mu);
    }
    return rc;
}

int
folio_io_fsync(int fd)
{
    return sync_and_forget(fd, 0);
}

int
folio_io_fdatasync(int fd)
{
    return sync_and_forget(fd, 1);
}

int
folio_io_rename(const char *from, const char *to)
{
    SEAM_CALL(FOLIO_IO_RENAME, rename(from, to));
}

/* rename(2) that fails with EEXIST instead of replacing `to`. */
static int
rename_noreplace(const char *from, const char *to)
{
    int rc = renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
    if (rc == 0 || errno != EINVAL)
        return rc;
    /* A file system without RENAME_NOREPLACE: link(2) refuses an existing name too. */
    if (link(from, to) != 0)
        return -1;
    return unlink(from);
}

int
folio_io_rename_noreplace(const char *from, const char *to)
{
    SEAM_CALL(FOLIO_IO_RENAME, rename_noreplace(from, to));
}

int
folio_io_ftruncate(int fd, off_t len)
{
    SEAM_CALL(FOLIO_IO_TRUNCATE, ftruncate(fd, len));
}

int
folio_io_unlink(const char *path)
{
    SEAM_CALL(FOLIO_IO_UNLINK, unlink(path));
}

static int
open_created(const char *path, int flags, mode_t mode)
{
    SEAM_CALL(FOLIO_IO_OPEN, open(path, flags | O_CLOEXEC, mode));
}

int
folio_io_open(const char *path, int flags, mode_t mode)
{
    int fd;
    if (flags & O_CREAT) {
        fd = open_created(path, flags, mode);
    } else {
        do {
            fd = open(path, flags | O_CLOEXEC);
        } while (fd < 0 && errno == EINTR);
    }
    if (fd >= 0 && lose_mode()) {
        /* Records under this number belong to a file closed without a sync. */
        pthread_mutex_lock(&undo_mu);
        undo_forget(fd, 1);
        pthread_mutex_unlock(&undo_mu);
    }
    return fd;
}

int
folio_io_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = folio_io_pwrite(fd, p, len, off);
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

ssize_t
folio_io_pread_all(int fd, void *buf, size_t len, off_t off)
{
    char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, p + done, len - done, off + (off_t)done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

int
folio_io_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = folio_io_fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* ---- named crash points ---------------------------------------------------- */

static pthread_once_t point_once = PTHREAD_ONCE_INIT;
static char point_name[64];
static uint64_t point_nth;
static uint64_t point_hits;

static void
parse_point(const char *spec)
{
    point_nth = 0;
    point_name[0] = '\0';
    __atomic_store_n(&point_hits, 0, __ATOMIC_RELAXED);
    if (spec == NULL || spec[0] == '\0')
        return;
    const char *colon = strchr(spec, ':');
    size_t n = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
    if (n == 0 || n >= sizeof(point_name)) {
        fprintf(stderr, "folio: ignoring malformed FOLIO_CRASH_POINT=%s\n", spec);
        return;
    }
    uint64_t nth = 1;
    if (colon != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(colon + 1, &end, 10);
        if (errno != 0 || end == colon + 1 || *end != '\0' || v == 0) {
            fprintf(stderr, "folio: ignoring malformed FOLIO_CRASH_POINT=%s\n", spec);
            return;
        }
        nth = v;
    }
    memcpy(point_name, spec, n);
    point_name[n] = '\0';
    point_nth = nth;
}

static void
load_point_env(void)
{
    parse_point(getenv("FOLIO_CRASH_POINT"));
}

void
folio_crash_point_set(const char *spec)
{
    pthread_once(&point_once, load_point_env);
    parse_point(spec);
}

void
folio_crash_point(const char *name)
{
    pthread_once(&point_once, load_point_env);
    if (point_nth == 0 || strcmp(name, point_name) != 0)
        return;
    if (__atomic_add_fetch(&point_hits, 1, __ATOMIC_RELAXED) == point_nth)
        die_now();
}
