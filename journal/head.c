/*
 * The durable-head hint, journal/head: one 4 KiB shared mapping in which the
 * writer publishes the last seq it has fdatasynced. Followers read only up to
 * it, so a tailing tool never shows an event that is not durable yet.
 *
 * It is a hint, never trusted by recovery and never fsynced: after a crash it
 * can only lag (it is stored after the fdatasync), and open rewrites it.
 *
 *   offset 0  8 bytes  "FOLIOHD1"
 *   offset 8  8 bytes  durable seq, little-endian (machine order on x86-64)
 *   offset 16 8 bytes  writer pid
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "journal_int.h"

#define HEAD_BYTES 4096

int
head_open(const char *dir, bool writable, struct head_map *h)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, HEAD_FILE);
    h->base = NULL;
    h->fd = open(path, (writable ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0600);
    if (h->fd < 0)
        return folio_err_from_errno(errno);
    struct stat st;
    if (fstat(h->fd, &st) != 0 || (st.st_size < HEAD_BYTES && !writable) ||
        (st.st_size < HEAD_BYTES && ftruncate(h->fd, HEAD_BYTES) != 0)) {
        close(h->fd);
        h->fd = -1;
        return FOLIO_E_IO;
    }
    void *p = mmap(NULL, HEAD_BYTES, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
                   h->fd, 0);
    if (p == MAP_FAILED) {
        close(h->fd);
        h->fd = -1;
        return FOLIO_E_IO;
    }
    h->base = p;
    if (writable) {
        memcpy(h->base, HEAD_MAGIC, 8);
        uint64_t pid = (uint64_t)getpid();
        memcpy(h->base + 16, &pid, 8);
    }
    return FOLIO_OK;
}

void
head_store(struct head_map *h, uint64_t durable_seq)
{
    if (h->base != NULL)
        __atomic_store_n((uint64_t *)(void *)(h->base + 8), durable_seq, __ATOMIC_RELEASE);
}

uint64_t
head_load(const struct head_map *h)
{
    if (h->base == NULL || memcmp(h->base, HEAD_MAGIC, 8) != 0)
        return UINT64_MAX;
    return __atomic_load_n((const uint64_t *)(const void *)(h->base + 8), __ATOMIC_ACQUIRE);
}

void
head_close(struct head_map *h)
{
    if (h->base != NULL)
        munmap(h->base, HEAD_BYTES);
    if (h->fd >= 0)
        close(h->fd);
    h->base = NULL;
    h->fd = -1;
}
