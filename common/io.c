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
    static const char *const act_names[] = {"none", "fail", "short", "tear", "crash", "before"};
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

void
folio_io_fault_set(const struct folio_io_fault *fault)
{
    pthread_once(&env_once, load_env_plan);
    __atomic_store_n(&fault_active, 0, __ATOMIC_RELEASE);
    for (int i = 0; i < FOLIO_IO_OP_COUNT; i++)
        __atomic_store_n(&op_counts[i], 0, __ATOMIC_RELAXED);
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

static _Noreturn void
die_now(void)
{
    kill(getpid(), SIGKILL);
    _exit(137);
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
        n = part > 0 ? pwrite(fd, buf, part, off) : 0;
        if (act == FOLIO_IO_ACT_TEAR)
            die_now();
        return n;
    }
    default:
        break;
    }
    do {
        n = pwrite(fd, buf, len, off);
    } while (n < 0 && errno == EINTR);
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

int
folio_io_fsync(int fd)
{
    SEAM_CALL(FOLIO_IO_FSYNC, fsync(fd));
}

int
folio_io_fdatasync(int fd)
{
    SEAM_CALL(FOLIO_IO_FSYNC, fdatasync(fd));
}

int
folio_io_rename(const char *from, const char *to)
{
    SEAM_CALL(FOLIO_IO_RENAME, rename(from, to));
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

int
folio_io_open(const char *path, int flags, mode_t mode)
{
    if (!(flags & O_CREAT)) {
        int fd;
        do {
            fd = open(path, flags | O_CLOEXEC);
        } while (fd < 0 && errno == EINTR);
        return fd;
    }
    SEAM_CALL(FOLIO_IO_OPEN, open(path, flags | O_CLOEXEC, mode));
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
