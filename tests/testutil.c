/*
 * Test helpers (see testutil.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "folio/common.h"
#include "testutil.h"

char *
tu_mkdtemp(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s/folio-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (mkdtemp(buf) == NULL) {
        fprintf(stderr, "mkdtemp %s: %s\n", buf, strerror(errno));
        abort();
    }
    return folio_strdup(buf);
}

void
tu_rmrf(const char *path)
{
    char *cmd = NULL;
    if (asprintf(&cmd, "rm -rf '%s'", path) < 0)
        abort();
    if (system(cmd) != 0)
        fprintf(stderr, "warning: %s failed\n", cmd);
    free(cmd);
}

char *
tu_path(const char *a, const char *b)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", a, b) < 0)
        abort();
    char *q = folio_strdup(p);
    free(p);
    return q;
}

uint8_t *
tu_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    uint8_t *buf = folio_malloc((size_t)st.st_size + 1);
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    close(fd);
    *len = done;
    return buf;
}

void
tu_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
    close(fd);
}

off_t
tu_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return st.st_size;
}

void
tu_copy_tree(const char *src, const char *dst)
{
    char *cmd = NULL;
    if (asprintf(&cmd, "rm -rf '%s' && cp -a '%s' '%s'", dst, src, dst) < 0)
        abort();
    int rc = system(cmd);
    free(cmd);
    assert_int_equal(rc, 0);
}

int
tu_run_child(void (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

int
tu_system(const char *cmd, char **out)
{
    fflush(NULL);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    size_t cap = 4096, len = 0;
    char *buf = folio_malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 1024) {
            cap *= 2;
            buf = folio_realloc(buf, cap);
        }
    }
    buf[len] = '\0';
    int status = pclose(p);
    if (out != NULL)
        *out = buf;
    else
        folio_free(buf);
    if (status < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

uint64_t
tu_seed(void)
{
    const char *s = getenv("FOLIO_TEST_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    fprintf(stderr, "seed: FOLIO_TEST_SEED=%llu\n", (unsigned long long)seed);
    return seed;
}

uint64_t
tu_rand(uint64_t *state)
{
    /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint8_t *
tu_make_event(uint64_t task_uid, size_t approx_len, size_t *len)
{
    char uid[512];
    size_t pad = approx_len > 80 ? approx_len - 80 : 1;
    if (pad > sizeof(uid) - 1)
        pad = sizeof(uid) - 1;
    for (size_t i = 0; i < pad; i++)
        uid[i] = (char)('a' + (task_uid + i) % 26);
    uid[pad] = '\0';
    struct folio_str idx = folio_str_c(uid);
    struct folio_event ev = {.type = FOLIO_EV_TASK_REGISTERED, .at_ns = 1700000000000000000ll};
    ev.u.task_registered.task_uid = task_uid;
    ev.u.task_registered.kind = folio_str_c("documentAdditionOrUpdate");
    ev.u.task_registered.index_uids.items = &idx;
    ev.u.task_registered.index_uids.count = 1;
    ev.u.task_registered.enqueued_at_ns = 1700000000000000000ll;
    uint8_t *buf = NULL;
    int err = folio_event_encode(&ev, &buf, len);
    assert_int_equal(err, 0);
    return buf;
}

uint64_t
tu_event_task_uid(const uint8_t *data, size_t len)
{
    struct folio_event ev;
    int err = folio_event_decode(data, len, &ev);
    assert_int_equal(err, 0);
    assert_int_equal(ev.type, FOLIO_EV_TASK_REGISTERED);
    uint64_t uid = ev.u.task_registered.task_uid;
    folio_event_clear(&ev);
    return uid;
}
