/*
 * Reading archives: the manifest alone (folio_snapshot_read_manifest), full
 * verification (folio_snapshot_verify) and extraction
 * (folio_snapshot_extract). docs/snapshot-format.md, "Checks on import",
 * lists every check made here and the error it gives.
 *
 * libarchive reads through our callback, which hashes every byte of the
 * archive file (XXH3-128), counts progress and polls the stop flag. Only the
 * tar format and the zstd and gzip filters are enabled. Every entry is
 * judged before any byte of it is written: it must be a regular file (no
 * hard link, no symlink, no device, fifo or directory) whose name is exactly
 * the manifest's next name, whose declared size is exactly the manifest's;
 * its data is hashed as it streams. After the last listed file the archive
 * must end, with the tar end-of-archive blocks present.
 *
 * Extraction writes only below dest_dir, and only names the manifest lists
 * (which passed the name rule before any filesystem call): each directory
 * level is made with mkdirat and entered with O_DIRECTORY|O_NOFOLLOW, files
 * are created with O_EXCL|O_NOFOLLOW, 0600. Nothing is ever followed.
 *
 * The archive file itself is opened with O_NONBLOCK (a fifo is refused, not
 * waited on) and, when read_opts.root_dir is set, beneath that directory
 * component by component with O_NOFOLLOW, at the time of the read: a caller
 * that checked the path earlier (the import's registration) cannot be led
 * outside the snapshot directory by a component swapped since.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "snapshot_int.h"

#define READ_BLOCK_BYTES (64u << 10)

struct rctx {
    int fd;
    const struct folio_snapshot_read_opts *opts;
    struct folio_snapshot_error *err;
    uint8_t *inbuf; /* READ_BLOCK_BYTES, handed to libarchive */
    uint8_t *data;  /* SNAP_CHUNK_BYTES, entry data */
    XXH3_state_t *archive_hash;
    XXH3_state_t *file_hash;
    uint64_t read_bytes, file_bytes;
    int io_errno;
    bool canceled;
    /* extraction only */
    int dest_fd;      /* -1: verify */
    char **made_dirs; /* relative paths of directories made, in order */
    size_t made_count, made_cap;
};

static bool
stop_seen(struct rctx *r)
{
    if (r->opts->stop != NULL && atomic_load(r->opts->stop))
        r->canceled = true;
    return r->canceled;
}

static la_ssize_t
archive_in(struct archive *a, void *client, const void **buf)
{
    struct rctx *r = client;
    if (stop_seen(r)) {
        archive_set_error(a, ECANCELED, "stopped");
        return -1;
    }
    ssize_t n;
    do {
        n = read(r->fd, r->inbuf, READ_BLOCK_BYTES);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        r->io_errno = errno;
        archive_set_error(a, errno, "reading the archive: %s", strerror(errno));
        return -1;
    }
    XXH3_128bits_update(r->archive_hash, r->inbuf, (size_t)n);
    r->read_bytes += (uint64_t)n;
    if (r->opts->progress != NULL)
        r->opts->progress(r->opts->progress_ctx, r->read_bytes, r->file_bytes);
    *buf = r->inbuf;
    return n;
}

/* The error of a failed libarchive read: stop and I/O first, else the stream is bad. */
static int
read_fail(struct rctx *r, struct archive *a, const char *what)
{
    if (r->canceled)
        return snap_fail(r->err, FOLIO_E_CANCELED, "%s: stopped", what);
    if (r->io_errno != 0)
        return snap_fail(r->err, snap_errno_code(r->io_errno), "%s: %s", what,
                         strerror(r->io_errno));
    const char *why = archive_error_string(a);
    return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID,
                     "%s: corrupt, truncated or not a snapshot archive (%s)", what,
                     why != NULL ? why : "unexpected end of data");
}

/* A relative path with no "", "." or ".." component. */
static bool
rel_path_ok(const char *rel)
{
    size_t len = strlen(rel), start = 0;
    if (len == 0 || len >= 4096 || rel[0] == '/')
        return false;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && rel[i] != '/')
            continue;
        size_t n = i - start;
        if (n == 0 || n > NAME_MAX || (n == 1 && rel[start] == '.') ||
            (n == 2 && rel[start] == '.' && rel[start + 1] == '.'))
            return false;
        start = i + 1;
    }
    return true;
}

/*
 * Opens rel beneath root, following no link: each directory level from the
 * one above with O_DIRECTORY|O_NOFOLLOW, the file with O_NOFOLLOW. The walk
 * happens at open time, so a component swapped for a link since the caller
 * last looked is refused, not followed out of root.
 */
static int
open_beneath(struct rctx *r, const char *root, const char *rel)
{
    char safe[300];
    snap_printable(rel, safe, sizeof(safe));
    if (!rel_path_ok(rel))
        return snap_fail(r->err, FOLIO_E_INVALID, "`%s` is not a relative path inside %s: refused",
                         safe, root);
    int cur = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return snap_fail(r->err, snap_errno_code(errno), "%s: %s", root, strerror(errno));
    for (const char *start = rel;;) {
        const char *slash = strchr(start, '/');
        size_t n = slash != NULL ? (size_t)(slash - start) : strlen(start);
        char comp[NAME_MAX + 1];
        memcpy(comp, start, n);
        comp[n] = '\0';
        /* O_NONBLOCK: a fifo put where an archive was must be refused, not waited on. */
        int flags = slash != NULL ? O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
                                  : O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
        int next = openat(cur, comp, flags);
        int saved = errno;
        close(cur);
        if (next < 0 && (saved == ELOOP || saved == ENOTDIR))
            return snap_fail(r->err, FOLIO_E_INVALID,
                             "`%s` leaves %s: `%s` is a symbolic link or not a directory", safe,
                             root, comp);
        if (next < 0)
            return snap_fail(r->err, snap_errno_code(saved), "%s/%s: %s", root, safe,
                             strerror(saved));
        if (slash == NULL) {
            r->fd = next;
            return FOLIO_OK;
        }
        cur = next;
        start = slash + 1;
    }
}

static int
open_reader(struct rctx *r, const char *path, struct archive **out)
{
    if (r->opts->root_dir != NULL) {
        int rc = open_beneath(r, r->opts->root_dir, path);
        if (rc != FOLIO_OK)
            return rc;
    } else {
        /* O_NONBLOCK: a fifo put where an archive was must be refused, not waited on. */
        r->fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    }
    if (r->fd < 0)
        return snap_fail(r->err, snap_errno_code(errno), "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(r->fd, &st) != 0)
        return snap_fail(r->err, snap_errno_code(errno), "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID, "%s: not a regular file", path);
    r->file_bytes = (uint64_t)st.st_size;
    struct archive *a = archive_read_new();
    FOLIO_ASSERT(a != NULL);
    *out = a;
    if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
        archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
        archive_read_support_filter_gzip(a) != ARCHIVE_OK)
        return snap_fail(r->err, FOLIO_E_IO, "libarchive lacks tar, zstd or gzip: %s",
                         archive_error_string(a));
    if (archive_read_open(a, r, NULL, archive_in, NULL) != ARCHIVE_OK)
        return read_fail(r, a, path);
    return FOLIO_OK;
}

static const char *
type_name(mode_t type)
{
    switch (type) {
    case AE_IFDIR:
        return "a directory";
    case AE_IFLNK:
        return "a symbolic link";
    case AE_IFCHR:
        return "a character device";
    case AE_IFBLK:
        return "a block device";
    case AE_IFIFO:
        return "a fifo";
    case AE_IFSOCK:
        return "a socket";
    default:
        return "not a regular file";
    }
}

/*
 * Judges an entry header against the file expected next (want NULL: none is
 * expected). name is the manifest's, for duplicates: done files are [0, idx).
 */
static int
check_entry(struct rctx *r, struct archive_entry *e, const char *want, uint64_t want_size,
            const struct folio_snapshot_manifest *m, uint32_t idx)
{
    const char *name = archive_entry_pathname(e);
    char safe[FOLIO_SNAPSHOT_NAME_BYTES_MAX + 1];
    snap_printable(name != NULL ? name : "(unreadable)", safe, sizeof(safe));
    if (name == NULL)
        return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID, "entry with an unreadable name");
    if (archive_entry_hardlink(e) != NULL)
        return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID, "entry '%s' is a hard link", safe);
    if (archive_entry_symlink(e) != NULL || archive_entry_filetype(e) == AE_IFLNK)
        return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID, "entry '%s' is a symbolic link", safe);
    if (archive_entry_filetype(e) != AE_IFREG)
        return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID, "entry '%s' is %s", safe,
                         type_name(archive_entry_filetype(e)));
    if (!snap_name_valid(name, strlen(name)))
        return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID,
                         "entry '%s': name refused (absolute, '..', or outside the name rule)",
                         safe);
    if (want == NULL)
        return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID,
                         "entry '%s' after the last file the manifest lists", safe);
    if (strcmp(name, want) != 0) {
        for (uint32_t i = 0; m != NULL && i < idx; i++)
            if (strcmp(name, m->files[i].name) == 0)
                return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID, "entry '%s' appears twice",
                                 safe);
        return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID,
                         "entry '%s' where the manifest lists '%s' next", safe, want);
    }
    if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0)
        return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID, "entry '%s' has no size", safe);
    uint64_t size = (uint64_t)archive_entry_size(e);
    if (size > want_size)
        return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID,
                         "entry '%s' declares %llu bytes, more than the %llu the manifest lists",
                         safe, (unsigned long long)size, (unsigned long long)want_size);
    if (size < want_size)
        return snap_fail(r->err, FOLIO_E_SNAPSHOT_CHECKSUM,
                         "entry '%s' holds %llu bytes; the manifest lists %llu", safe,
                         (unsigned long long)size, (unsigned long long)want_size);
    return FOLIO_OK;
}

/* The first entry: manifest.json, parsed. */
static int
read_manifest_entry(struct rctx *r, struct archive *a, struct folio_snapshot_manifest **out)
{
    struct archive_entry *e;
    int arc = archive_read_next_header(a, &e);
    if (arc == ARCHIVE_EOF)
        return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID, "the archive is empty: no manifest");
    if (arc != ARCHIVE_OK)
        return read_fail(r, a, "reading the first entry");
    const char *name = archive_entry_pathname(e);
    bool plain = archive_entry_filetype(e) == AE_IFREG && archive_entry_hardlink(e) == NULL &&
                 archive_entry_symlink(e) == NULL;
    if (plain && (name == NULL || strcmp(name, FOLIO_SNAPSHOT_MANIFEST_NAME) != 0)) {
        char safe[FOLIO_SNAPSHOT_NAME_BYTES_MAX + 1];
        snap_printable(name != NULL ? name : "(unreadable)", safe, sizeof(safe));
        return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID,
                         "the first entry is '%s', not " FOLIO_SNAPSHOT_MANIFEST_NAME, safe);
    }
    int rc =
        check_entry(r, e, FOLIO_SNAPSHOT_MANIFEST_NAME, FOLIO_SNAPSHOT_MANIFEST_BYTES_MAX, NULL, 0);
    if (rc == FOLIO_E_SNAPSHOT_CHECKSUM)
        rc = FOLIO_OK; /* smaller than the limit is what a manifest is */
    if (rc == FOLIO_E_SNAPSHOT_INVALID && archive_entry_size_is_set(e) &&
        archive_entry_size(e) > (la_int64_t)FOLIO_SNAPSHOT_MANIFEST_BYTES_MAX)
        rc = snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID,
                       "manifest: %lld bytes, more than the limit of %u",
                       (long long)archive_entry_size(e), FOLIO_SNAPSHOT_MANIFEST_BYTES_MAX);
    if (rc != FOLIO_OK)
        return rc;
    size_t size = (size_t)archive_entry_size(e), got = 0;
    char *json = folio_malloc(size + 1);
    while (got < size) {
        la_ssize_t n = archive_read_data(a, json + got, size - got);
        if (n <= 0) {
            folio_free(json);
            return n < 0 ? read_fail(r, a, "reading the manifest")
                         : snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID,
                                     "reading the manifest: truncated");
        }
        got += (size_t)n;
    }
    /* The end of the entry (libarchive consumes what it returned only on the next call). */
    char extra;
    la_ssize_t n = archive_read_data(a, &extra, 1);
    if (n != 0) {
        folio_free(json);
        return n < 0 ? read_fail(r, a, "reading the manifest")
                     : snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID,
                                 "reading the manifest: more data than its size");
    }
    rc = folio_snapshot_manifest_parse(json, size, out, r->err);
    folio_free(json);
    return rc;
}

/* ---- extraction output ---------------------------------------------------- */

static void
note_made_dir(struct rctx *r, const char *rel, size_t len)
{
    if (r->made_count == r->made_cap) {
        r->made_cap = r->made_cap ? 2 * r->made_cap : 16;
        r->made_dirs = folio_reallocarray(r->made_dirs, r->made_cap, sizeof(char *));
    }
    r->made_dirs[r->made_count++] = folio_strndup(rel, len);
}

/* Opens (creating as needed) every directory level of name; returns the last one's fd. */
static int
enter_dirs(struct rctx *r, const char *name, const char **leaf)
{
    int cur = r->dest_fd;
    const char *start = name, *slash;
    while ((slash = strchr(start, '/')) != NULL) {
        char comp[FOLIO_SNAPSHOT_NAME_BYTES_MAX + 1];
        memcpy(comp, start, (size_t)(slash - start));
        comp[slash - start] = '\0';
        if (mkdirat(cur, comp, 0700) == 0)
            note_made_dir(r, name, (size_t)(slash - name));
        else if (errno != EEXIST) {
            int saved = errno;
            if (cur != r->dest_fd)
                close(cur);
            return snap_fail(r->err, snap_errno_code(saved), "making directory for '%s': %s", name,
                             strerror(saved));
        }
        int next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        if (cur != r->dest_fd)
            close(cur);
        if (next < 0)
            return snap_fail(r->err,
                             saved == ENOTDIR || saved == ELOOP ? FOLIO_E_SNAPSHOT_INVALID
                                                                : snap_errno_code(saved),
                             "entering the directory of '%s': %s", name, strerror(saved));
        cur = next;
        start = slash + 1;
    }
    *leaf = start;
    return cur;
}

static int
open_output(struct rctx *r, const char *name)
{
    const char *leaf = name;
    int dir = enter_dirs(r, name, &leaf);
    if (dir < 0)
        return dir;
    int fd = openat(dir, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int saved = errno;
    if (dir != r->dest_fd)
        close(dir);
    if (fd < 0)
        return snap_fail(r->err,
                         saved == EEXIST || saved == ELOOP ? FOLIO_E_SNAPSHOT_INVALID
                                                           : snap_errno_code(saved),
                         "creating '%s': %s", name, strerror(saved));
    return fd;
}

/* fsyncs every directory made (deepest last made first), then dest_dir. */
static int
sync_dirs(struct rctx *r)
{
    for (size_t i = r->made_count; i-- > 0;) {
        int fd =
            openat(r->dest_fd, r->made_dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || folio_io_fsync(fd) != 0) {
            int saved = errno;
            if (fd >= 0)
                close(fd);
            return snap_fail(r->err, snap_errno_code(saved), "syncing directory '%s': %s",
                             r->made_dirs[i], strerror(saved));
        }
        close(fd);
    }
    if (folio_io_fsync(r->dest_fd) != 0)
        return snap_fail(r->err, snap_errno_code(errno), "syncing the destination: %s",
                         strerror(errno));
    return FOLIO_OK;
}

/* ---- entries -------------------------------------------------------------- */

/* Streams one listed file's data: hashed, and written out when extracting. */
static int
stream_file(struct rctx *r, struct archive *a, const struct folio_snapshot_file *f)
{
    int out = -1, rc = FOLIO_OK;
    if (r->dest_fd >= 0 && (out = open_output(r, f->name)) < 0)
        return out;
    uint64_t got = 0;
    XXH3_128bits_reset(r->file_hash);
    for (;;) {
        if (stop_seen(r)) {
            rc = snap_fail(r->err, FOLIO_E_CANCELED, "reading '%s': stopped", f->name);
            break;
        }
        la_ssize_t n = archive_read_data(a, r->data, SNAP_CHUNK_BYTES);
        if (n < 0) {
            char what[320];
            snprintf(what, sizeof(what), "reading '%s'", f->name);
            rc = read_fail(r, a, what);
            break;
        }
        if (n == 0)
            break;
        XXH3_128bits_update(r->file_hash, r->data, (size_t)n);
        if (out >= 0 && folio_io_pwrite_all(out, r->data, (size_t)n, (off_t)got) != 0) {
            rc = snap_fail(r->err, snap_errno_code(errno), "writing '%s': %s", f->name,
                           strerror(errno));
            break;
        }
        got += (uint64_t)n;
    }
    if (rc == FOLIO_OK && got != f->size)
        rc = snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID, "'%s': %llu bytes of %llu, truncated",
                       f->name, (unsigned long long)got, (unsigned long long)f->size);
    if (rc == FOLIO_OK && out >= 0 && folio_io_fsync(out) != 0)
        rc =
            snap_fail(r->err, snap_errno_code(errno), "syncing '%s': %s", f->name, strerror(errno));
    if (out >= 0)
        close(out);
    uint8_t digest[16];
    snap_digest128(r->file_hash, digest);
    if (rc == FOLIO_OK && memcmp(digest, f->xxh128, 16) != 0) {
        char have[33], want[33];
        snap_hex128(digest, have);
        snap_hex128(f->xxh128, want);
        rc = snap_fail(r->err, FOLIO_E_SNAPSHOT_CHECKSUM,
                       "'%s': XXH3-128 is %s, the manifest says %s", f->name, have, want);
    }
    return rc;
}

/*
 * libarchive reports the end of a tar stream also when the two zero blocks
 * that end it are missing (a file cut right after an entry). Every listed
 * file has been verified then, but the file is not what was written: the
 * end blocks must be there. data_end is the tar-stream offset just after the
 * last entry's data; its padding and both end blocks must have been consumed.
 */
static int
check_tar_end(struct rctx *r, struct archive *a, uint64_t data_end)
{
    uint64_t consumed = (uint64_t)archive_filter_bytes(a, 0);
    uint64_t want = (data_end + 511) / 512 * 512 + 1024;
    if (consumed < want)
        return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID,
                         "the archive is truncated: its end-of-archive blocks are missing");
    return FOLIO_OK;
}

static int
read_entries(struct rctx *r, struct archive *a, const struct folio_snapshot_manifest *m)
{
    struct archive_entry *e;
    /* The manifest's data has just been read: the stream stands at its end. */
    uint64_t data_end = (uint64_t)archive_filter_bytes(a, 0);
    for (uint32_t i = 0; i <= m->file_count; i++) {
        int arc = archive_read_next_header(a, &e);
        if (arc == ARCHIVE_EOF) {
            if (i == m->file_count)
                return check_tar_end(r, a, data_end);
            return snap_fail(r->err, FOLIO_E_SNAPSHOT_INVALID,
                             "the archive ends before '%s' (file %u of %u the manifest lists)",
                             m->files[i].name, i + 1, m->file_count);
        }
        if (arc != ARCHIVE_OK)
            return read_fail(r, a, i < m->file_count ? m->files[i].name : "the archive's end");
        const struct folio_snapshot_file *f = i < m->file_count ? &m->files[i] : NULL;
        int rc = check_entry(r, e, f ? f->name : NULL, f ? f->size : 0, m, i);
        if (rc == FOLIO_OK)
            rc = stream_file(r, a, f);
        if (rc != FOLIO_OK)
            return rc;
        data_end = (uint64_t)archive_filter_bytes(a, 0);
    }
    FOLIO_ASSERT(0 && "unreachable");
    return FOLIO_E_SNAPSHOT_INVALID;
}

/* Reads the rest of the file (bytes after the tar end) into the archive hash. */
static int
drain(struct rctx *r, struct archive *a)
{
    const void *unused;
    la_ssize_t n;
    while ((n = archive_in(a, r, &unused)) > 0)
        ;
    return n < 0 ? read_fail(r, a, "reading the archive's tail") : FOLIO_OK;
}

static int
check_dest_empty(struct rctx *r, const char *dest_dir)
{
    r->dest_fd = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->dest_fd < 0)
        return snap_fail(r->err, snap_errno_code(errno), "%s: %s", dest_dir, strerror(errno));
    int dup_fd = dup(r->dest_fd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (d == NULL) {
        if (dup_fd >= 0)
            close(dup_fd);
        return snap_fail(r->err, FOLIO_E_IO, "%s: %s", dest_dir, strerror(errno));
    }
    struct dirent *de;
    int rc = FOLIO_OK;
    while (rc == FOLIO_OK && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            rc = snap_fail(r->err, FOLIO_E_EXISTS, "%s is not empty", dest_dir);
    closedir(d);
    return rc;
}

/*
 * Extraction writes at most the sizes the manifest declares (each entry is
 * held to its declared size). Their sum, saturating, must fit in the free
 * space of dest_dir's file system (with the largest file once more, for
 * opts.room_for_copy) with SNAP_FREE_RESERVE_BYTES to spare, or
 * nothing is extracted: a small archive that inflates to a huge declared
 * size is refused up front instead of filling the disk the journal shares.
 */
static int
check_free_space(struct rctx *r, const struct folio_snapshot_manifest *m)
{
    uint64_t need = 0, largest = 0;
    for (uint32_t i = 0; i < m->file_count; i++) {
        need = m->files[i].size > UINT64_MAX - need ? UINT64_MAX : need + m->files[i].size;
        largest = m->files[i].size > largest ? m->files[i].size : largest;
    }
    if (r->opts->room_for_copy)
        need = largest > UINT64_MAX - need ? UINT64_MAX : need + largest;
    struct statvfs sv;
    if (fstatvfs(r->dest_fd, &sv) != 0)
        return snap_fail(r->err, snap_errno_code(errno), "free space of the destination: %s",
                         strerror(errno));
    uint64_t unit = sv.f_frsize != 0 ? (uint64_t)sv.f_frsize : (uint64_t)sv.f_bsize;
    uint64_t avail = unit != 0 && (uint64_t)sv.f_bavail > UINT64_MAX / unit
                         ? UINT64_MAX
                         : (uint64_t)sv.f_bavail * unit;
    if (need > avail || avail - need < SNAP_FREE_RESERVE_BYTES)
        return snap_fail(r->err, FOLIO_E_NOSPC,
                         "the archive's files need %llu bytes; the destination's file system has "
                         "%llu bytes free and %llu must stay free: nothing extracted",
                         (unsigned long long)need, (unsigned long long)avail,
                         (unsigned long long)SNAP_FREE_RESERVE_BYTES);
    return FOLIO_OK;
}

static const char *const kind_words[] = {"index", "instance"};

static int
run(const char *path, const char *dest_dir, const struct folio_snapshot_read_opts *opts,
    bool head_only, struct folio_snapshot_manifest **out, char *hex,
    struct folio_snapshot_error *err)
{
    struct folio_snapshot_read_opts defaults;
    if (opts == NULL) {
        folio_snapshot_read_opts_default(&defaults);
        opts = &defaults;
    }
    struct rctx r = {.fd = -1, .dest_fd = -1, .opts = opts, .err = err};
    struct archive *a = NULL;
    struct folio_snapshot_manifest *m = NULL;
    if (out != NULL)
        *out = NULL;
    r.inbuf = folio_malloc(READ_BLOCK_BYTES);
    r.archive_hash = XXH3_createState();
    r.file_hash = XXH3_createState();
    FOLIO_ASSERT(r.archive_hash != NULL && r.file_hash != NULL);
    XXH3_128bits_reset(r.archive_hash);
    int rc = dest_dir != NULL ? check_dest_empty(&r, dest_dir) : FOLIO_OK;
    if (rc == FOLIO_OK)
        rc = open_reader(&r, path, &a);
    if (rc == FOLIO_OK)
        rc = read_manifest_entry(&r, a, &m);
    if (rc == FOLIO_OK && !head_only && m->kind != opts->kind)
        rc = snap_fail(err, FOLIO_E_SNAPSHOT_INVALID, "%s holds an %s snapshot, not an %s one",
                       path, kind_words[m->kind], kind_words[opts->kind]);
    if (rc == FOLIO_OK && !head_only && r.dest_fd >= 0)
        rc = check_free_space(&r, m);
    if (rc == FOLIO_OK && !head_only) {
        r.data = folio_malloc(SNAP_CHUNK_BYTES);
        rc = read_entries(&r, a, m);
        if (rc == FOLIO_OK)
            rc = drain(&r, a);
        if (rc == FOLIO_OK && r.dest_fd >= 0)
            rc = sync_dirs(&r);
    }
    if (rc == FOLIO_OK && hex != NULL && !head_only) {
        uint8_t digest[16];
        snap_digest128(r.archive_hash, digest);
        snap_hex128(digest, hex);
    }
    if (a != NULL)
        archive_read_free(a);
    if (r.fd >= 0)
        close(r.fd);
    if (r.dest_fd >= 0)
        close(r.dest_fd);
    for (size_t i = 0; i < r.made_count; i++)
        folio_free(r.made_dirs[i]);
    folio_free(r.made_dirs);
    folio_free(r.inbuf);
    folio_free(r.data);
    XXH3_freeState(r.archive_hash);
    XXH3_freeState(r.file_hash);
    if (rc == FOLIO_OK && out != NULL)
        *out = m;
    else
        folio_snapshot_manifest_free(m);
    return rc;
}

int
folio_snapshot_read_manifest(const char *path, struct folio_snapshot_manifest **out,
                             struct folio_snapshot_error *err)
{
    return run(path, NULL, NULL, true, out, NULL, err);
}

int
folio_snapshot_read_manifest_in(const char *root_dir, const char *rel,
                                struct folio_snapshot_manifest **out,
                                struct folio_snapshot_error *err)
{
    struct folio_snapshot_read_opts ro;
    folio_snapshot_read_opts_default(&ro);
    ro.root_dir = root_dir;
    return run(rel, NULL, &ro, true, out, NULL, err);
}

int
folio_snapshot_extract(const char *path, const char *dest_dir,
                       const struct folio_snapshot_read_opts *opts,
                       struct folio_snapshot_manifest **out, char *archive_xxh128_hex,
                       struct folio_snapshot_error *err)
{
    return run(path, dest_dir, opts, false, out, archive_xxh128_hex, err);
}

int
folio_snapshot_verify(const char *path, const struct folio_snapshot_read_opts *opts,
                      struct folio_snapshot_manifest **out, char *archive_xxh128_hex,
                      struct folio_snapshot_error *err)
{
    return run(path, NULL, opts, false, out, archive_xxh128_hex, err);
}
