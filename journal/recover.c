/*
 * Recovery of a torn tail (the only damage recovery may repair).
 *
 * journal_walk() has already decided that the damaged bytes at the end of the
 * newest segment are a torn write: no valid frame follows them and they lie
 * within one maximum frame of the last good one. Those bytes were never
 * acknowledged (acks happen only after the fdatasync of a whole frame). They
 * are copied to journal/quarantine/<segment>.<offset>.broken and fsynced, then
 * zeroed in place and the segment restored to its full size, so appends
 * continue at the damage offset with the chain of the last good frame. The
 * caller then appends a journal_recovered event saying what was dropped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "journal_int.h"

#define QUARANTINE_DIR "quarantine"

int
journal_random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return FOLIO_E_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return FOLIO_OK;
}

/*
 * Creates quarantine/<name>, or <name>.1, <name>.2, ... if an earlier
 * recovery (interrupted before it finished zeroing) already used the name:
 * a forensic copy is never overwritten. name is updated to the one used.
 */
static int
quarantine_create(const char *qdir, char *name, size_t name_len)
{
    char base[256], qpath[4608];
    snprintf(base, sizeof(base), "%s", name);
    for (int i = 0; i < 1000; i++) {
        if (i > 0)
            snprintf(name, name_len, "%s.%d", base, i);
        snprintf(qpath, sizeof(qpath), "%s/%s", qdir, name);
        int qfd = folio_io_open(qpath, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (qfd >= 0 || errno != EEXIST)
            return qfd;
    }
    errno = EEXIST;
    return -1;
}

/* Copies bytes [from, to) of fd into quarantine/<name>; durable on return. */
static int
quarantine_copy(struct folio_journal *j, int fd, uint64_t from, uint64_t to, char *name,
                size_t name_len)
{
    char qdir[4096];
    journal_path(j, QUARANTINE_DIR, qdir, sizeof(qdir));
    if (mkdir(qdir, 0700) != 0 && errno != EEXIST)
        return folio_err_from_errno(errno);
    size_t len = (size_t)(to - from);
    uint8_t *buf = folio_malloc(len);
    int err = FOLIO_OK;
    int qfd = -1;
    if (folio_io_pread_all(fd, buf, len, (off_t)from) != (ssize_t)len) {
        err = FOLIO_E_IO;
        goto out;
    }
    qfd = quarantine_create(qdir, name, name_len);
    if (qfd < 0 || folio_io_pwrite_all(qfd, buf, len, 0) != 0 || folio_io_fsync(qfd) != 0 ||
        folio_io_fsync_dir(qdir) != 0 || folio_io_fsync_dir(j->dir) != 0)
        err = folio_err_from_errno(errno);
out:
    if (qfd >= 0)
        close(qfd);
    folio_free(buf);
    return err;
}

int
journal_recover_torn_tail(struct folio_journal *j, const struct walk_end *end,
                          char *quarantine_name, size_t quarantine_len)
{
    char name[SEG_NAME_LEN], path[4096];
    seg_name(end->last_first_seq, name);
    journal_path(j, name, path, sizeof(path));
    quarantine_name[0] = '\0';
    int fd = folio_io_open(path, O_RDWR, 0);
    if (fd < 0)
        return folio_err_from_errno(errno);
    int err = FOLIO_OK;
    if (end->damage_end > end->offset) {
        snprintf(quarantine_name, quarantine_len, "%s.%" PRIu64 ".broken", name, end->offset);
        err = quarantine_copy(j, fd, end->offset, end->damage_end, quarantine_name,
                              quarantine_len);
        if (err != FOLIO_OK)
            goto out;
        uint8_t zeros[4096] = {0};
        for (uint64_t off = end->offset; off < end->damage_end; off += sizeof(zeros)) {
            uint64_t n = end->damage_end - off < sizeof(zeros) ? end->damage_end - off
                                                               : sizeof(zeros);
            if (folio_io_pwrite_all(fd, zeros, n, (off_t)off) != 0) {
                err = folio_err_from_errno(errno);
                goto out;
            }
        }
    }
    if (end->file_size < end->hdr.segment_bytes &&
        folio_io_ftruncate(fd, (off_t)end->hdr.segment_bytes) != 0) {
        err = folio_err_from_errno(errno);
        goto out;
    }
    if (folio_io_fsync(fd) != 0)
        err = folio_err_from_errno(errno);
out:
    close(fd);
    return err;
}
