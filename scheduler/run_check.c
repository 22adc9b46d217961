/*
 * The check of an imported index, out of process. An index archive's
 * checksums prove only that its data.mdb is the file its author meant; a
 * crafted one can make LMDB read through a wild page pointer and crash the
 * process that opens it (random bytes rewritten in a real index, with the
 * checksums redone, crash folio_index_verify about once in eighty tries). So
 * before foliod opens an imported env it runs itself as `foliod
 * --check-index DIR` (opts.index_check_program), which opens the env,
 * replaces it by a compacted copy of itself, verifies that copy, and
 * reports through its exit status: a crash ends that child, and the import
 * fails with snapshot_invalid instead of taking the server down. The copy is
 * what makes the first write safe: LMDB's free-page list and last-page count
 * are read only by write transactions, so no read-only check can vouch for
 * the archive's; a compacted copy has an empty list and its own count.
 *
 * The child is started with posix_spawn (no fork of this multithreaded
 * process), its stdin is /dev/null, its stdout and stderr come back through a
 * pipe (the first CHECK_OUTPUT_MAX bytes are kept for the message), and it
 * is killed when the task is canceled or after CHECK_TIMEOUT_MS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "run_int.h"

#define CHECK_OUTPUT_MAX 600
#define CHECK_TIMEOUT_MS (30 * 60 * 1000)
#define CHECK_POLL_MS 100

extern char **environ;

/* Where check_here writes the compacted env, inside the env's directory; removed after. */
#define CHECK_COMPACT_DIR ".compact"

/*
 * Replaces dir/data.mdb by a compacted copy of the verified env idx, which
 * this closes. The copy holds what the env's B-trees reach and nothing else:
 * no free-page list (which read-only transactions never read, so the check
 * cannot vouch for it, and which the first write would trust), and a last
 * page that is the file's own. 0, or an error with err set.
 */
static int
compact_in_place(struct folio_index *idx, const char *dir, struct folio_index_error *err)
{
    char *sub = run_path(dir, CHECK_COMPACT_DIR);
    char *copy = run_path(sub, "data.mdb");
    char *data = run_path(dir, "data.mdb");
    unlink(copy); /* a check that was killed may have left one */
    int rc = FOLIO_OK;
    if (mkdir(sub, 0700) != 0 && errno != EEXIST) {
        snprintf(err->message, sizeof(err->message), "cannot create `%s`: %s", sub,
                 strerror(errno));
        rc = folio_err_from_errno(errno);
    }
    if (rc == FOLIO_OK)
        rc = folio_index_copy_compact(idx, sub, err);
    folio_index_free(idx);
    if (rc == FOLIO_OK && (folio_io_rename(copy, data) != 0 || folio_io_fsync_dir(dir) != 0)) {
        snprintf(err->message, sizeof(err->message), "cannot put the compacted copy in place: %s",
                 strerror(errno));
        rc = folio_err_from_errno(errno);
    }
    unlink(copy);
    rmdir(sub);
    folio_free(data);
    folio_free(copy);
    folio_free(sub);
    return rc;
}

/* Opens dir's env read-only (verifying it when verify); *out is the open index on 0. */
static int
open_ro(const char *dir, bool verify, struct folio_index **out, struct folio_index_error *err)
{
    struct folio_index_options o;
    folio_index_options_default(&o);
    o.read_only = true;
    o.no_lock = true;
    *out = NULL;
    int rc = folio_index_open(dir, &o, out, err);
    if (rc == 0 && verify)
        rc = folio_index_verify(*out, err);
    if (rc != 0) {
        folio_index_free(*out);
        *out = NULL;
    }
    return rc;
}

/*
 * The check itself, in this process: 0, FOLIO_E_SNAPSHOT_INVALID or another
 * error. The env is copied compacted first and the copy is what is verified
 * (a malformed tree fails the copy, or crashes the child that makes it); on
 * 0 dir/data.mdb is that verified copy, and the server opens only that.
 */
static int
check_here(const char *dir, char *why, size_t why_len)
{
    struct folio_index *idx = NULL;
    struct folio_index_error err = {0};
    bool local = false; /* a failure of this machine (no room, I/O), not of the file */
    int rc = open_ro(dir, false, &idx, &err);
    if (rc == 0) {
        rc = compact_in_place(idx, dir, &err); /* closes idx */
        idx = NULL;
        local = rc != FOLIO_OK && rc != FOLIO_E_CORRUPT;
    }
    if (rc == 0)
        rc = open_ro(dir, true, &idx, &err);
    folio_index_free(idx);
    if (rc == 0)
        return FOLIO_OK;
    snprintf(why, why_len, "%s", err.message[0] ? err.message : folio_err_message(rc));
    bool bad = !local && (rc == FOLIO_E_CORRUPT || rc == FOLIO_E_VERSION || rc == FOLIO_E_NOT_FOUND);
    return bad ? FOLIO_E_SNAPSHOT_INVALID : rc;
}

int
folio_sched_check_index_main(const char *dir)
{
    /*
     * This child writes in the import's work directory: it must not outlive
     * the server that started it, whose next start empties tmp/.
     */
    pid_t parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
        printf("the server that started the check is gone\n");
        return FOLIO_CHECK_INDEX_UNCHECKED;
    }
    char why[700];
    int rc = check_here(dir, why, sizeof(why));
    if (rc == FOLIO_OK)
        return FOLIO_CHECK_INDEX_SOUND;
    printf("%s\n", why);
    fflush(stdout);
    if (rc == FOLIO_E_NOSPC)
        return FOLIO_CHECK_INDEX_NOSPC;
    return rc == FOLIO_E_SNAPSHOT_INVALID ? FOLIO_CHECK_INDEX_INVALID : FOLIO_CHECK_INDEX_UNCHECKED;
}

/* Starts PROGRAM --check-index dir with stdout and stderr to out_fd. */
static int
check_spawn(const char *program, const char *dir, int out_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return FOLIO_E_NOMEM;
    int rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
    /*
     * The calling thread blocks SIGINT and SIGTERM (foliod's loop takes them)
     * and the process ignores SIGPIPE: the child starts with neither.
     */
    posix_spawnattr_t at;
    sigset_t none, deflt;
    sigemptyset(&none);
    sigemptyset(&deflt);
    sigaddset(&deflt, SIGPIPE);
    sigaddset(&deflt, SIGINT);
    sigaddset(&deflt, SIGTERM);
    bool attr = rc == 0 && posix_spawnattr_init(&at) == 0;
    if (rc == 0 && !attr)
        rc = ENOMEM;
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(&at, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(&at, &deflt);
    if (rc == 0)
        rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {(char *)program, (char *)"--check-index", (char *)dir, NULL};
    if (rc == 0)
        rc = posix_spawn(pid, program, &fa, &at, argv, environ);
    if (attr)
        posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        errno = rc;
        return folio_err_from_errno(rc);
    }
    return FOLIO_OK;
}

/* Reads what the child writes until it closes the pipe, it is stopped or time is up. */
static void
check_collect(int fd, pid_t pid, const atomic_bool *stop, char *out, size_t *len, bool *killed,
              bool *canceled)
{
    int64_t deadline = folio_clock_mono_ns() + (int64_t)CHECK_TIMEOUT_MS * 1000000;
    for (;;) {
        if (stop != NULL && atomic_load(stop)) {
            *canceled = true;
            break;
        }
        if (folio_clock_mono_ns() > deadline) {
            *killed = true;
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, CHECK_POLL_MS);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        char buf[512];
        ssize_t got = read(fd, buf, sizeof(buf));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return; /* the child closed its end: it is ending */
        size_t keep = (size_t)got;
        if (*len + keep > CHECK_OUTPUT_MAX)
            keep = CHECK_OUTPUT_MAX - *len;
        memcpy(out + *len, buf, keep);
        *len += keep;
    }
    kill(pid, SIGKILL);
}

int
run_check_index(const char *program, const char *dir, const atomic_bool *stop, char *why,
                size_t why_len)
{
    if (program == NULL)
        return check_here(dir, why, why_len);
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        snprintf(why, why_len, "cannot start the index check: %s", strerror(errno));
        return folio_err_from_errno(errno);
    }
    pid_t pid = -1;
    int rc = check_spawn(program, dir, pipefd[1], &pid);
    close(pipefd[1]);
    if (rc != FOLIO_OK) {
        close(pipefd[0]);
        snprintf(why, why_len, "cannot start the index check `%s`: %s", program,
                 folio_err_message(rc));
        return rc;
    }
    char out[CHECK_OUTPUT_MAX + 1];
    size_t len = 0;
    bool killed = false, canceled = false;
    check_collect(pipefd[0], pid, stop, out, &len, &killed, &canceled);
    close(pipefd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
        len--;
    out[len] = '\0';
    if (canceled) {
        snprintf(why, why_len, "the import was canceled");
        return FOLIO_E_CANCELED;
    }
    if (killed) {
        snprintf(why, why_len, "its check took longer than %d s and was stopped",
                 CHECK_TIMEOUT_MS / 1000);
        return FOLIO_E_SNAPSHOT_INVALID;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == FOLIO_CHECK_INDEX_SOUND)
        return FOLIO_OK;
    if (WIFEXITED(status) && WEXITSTATUS(status) == FOLIO_CHECK_INDEX_INVALID) {
        snprintf(why, why_len, "%s", out);
        return FOLIO_E_SNAPSHOT_INVALID;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == FOLIO_CHECK_INDEX_NOSPC) {
        snprintf(why, why_len, "%s", out);
        return FOLIO_E_NOSPC;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == FOLIO_CHECK_INDEX_UNCHECKED) {
        snprintf(why, why_len, "%s", out);
        return FOLIO_E_IO;
    }
    /* A signal, or an exit no check makes (a sanitizer's report, say): the file crashed it. */
    if (WIFSIGNALED(status))
        snprintf(why, why_len, "reading it crashed the check (signal %d): the file is damaged",
                 WTERMSIG(status));
    else
        snprintf(why, why_len, "reading it ended the check abnormally (status %d): the file is "
                               "damaged",
                 WEXITSTATUS(status));
    return FOLIO_E_SNAPSHOT_INVALID;
}
