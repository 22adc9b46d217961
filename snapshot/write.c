/*
 * Writing an archive (folio_snapshot_write).
 *
 * libarchive builds a pax_restricted tar stream through the zstd, gzip or no
 * filter; its output goes to our write callback, which writes through the
 * I/O seam into `<dest>.tmp-<16 hex>` (0600, O_EXCL) and hashes every archive
 * byte with XXH3-128 as it goes. manifest.json is the first entry; each file
 * follows in the manifest's order, streamed in 1 MiB chunks and hashed again,
 * so what is archived is exactly what the manifest claims or the write fails.
 * Then: fdatasync, rename to dest (which must not exist), fsync the parent.
 *
 * Invariant: on every failure or stop, nothing is at dest and the temporary
 * file is gone. (dest is checked before and just before the rename; two
 * writers racing for one dest path is the caller's bug.)
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "snapshot_int.h"

struct wctx {
    int fd;
    uint64_t offset; /* archive bytes written so far */
    XXH3_state_t *archive_hash;
    int io_errno; /* first errno of a failed write callback */
    const struct folio_snapshot_write_opts *opts;
    uint64_t done, total; /* progress over manifest and file bytes */
    uint8_t *buf;
    XXH3_state_t *file_hash;
    struct folio_snapshot_error *err;
};

static la_ssize_t
archive_out(struct archive *a, void *client, const void *buf, size_t len)
{
    struct wctx *w = client;
    if (folio_io_pwrite_all(w->fd, buf, len, (off_t)w->offset) != 0) {
        w->io_errno = errno;
        archive_set_error(a, errno, "writing the archive: %s", strerror(errno));
        return -1;
    }
    XXH3_128bits_update(w->archive_hash, buf, len);
    w->offset += len;
    return (la_ssize_t)len;
}

/* The error of a failed libarchive call: our callback's errno first. */
static int
archive_fail(struct wctx *w, struct archive *a, const char *what)
{
    if (w->io_errno != 0)
        return snap_fail(w->err, snap_errno_code(w->io_errno), "%s: %s", what,
                         strerror(w->io_errno));
    return snap_fail(w->err, FOLIO_E_IO, "%s: %s", what,
                     archive_error_string(a) ? archive_error_string(a) : "libarchive error");
}

static int
set_filter(struct wctx *w, struct archive *a)
{
    const struct folio_snapshot_write_opts *o = w->opts;
    char value[32];
    int rc = ARCHIVE_OK;
    switch (o->compression) {
    case FOLIO_SNAPSHOT_ZSTD: {
        long threads = o->threads > 0 ? o->threads : sysconf(_SC_NPROCESSORS_ONLN);
        if (o->level < -5 || o->level > 22 || o->threads < 0)
            return snap_fail(w->err, FOLIO_E_INVALID, "zstd level %d or threads %d out of range",
                             o->level, o->threads);
        rc = archive_write_add_filter_zstd(a);
        snprintf(value, sizeof(value), "%d", o->level != 0 ? o->level : 3);
        if (rc == ARCHIVE_OK)
            rc = archive_write_set_filter_option(a, "zstd", "compression-level", value);
        snprintf(value, sizeof(value), "%ld", threads > 0 ? threads : 1);
        if (rc == ARCHIVE_OK)
            rc = archive_write_set_filter_option(a, "zstd", "threads", value);
        break;
    }
    case FOLIO_SNAPSHOT_GZIP:
        if (o->level < 0 || o->level > 9)
            return snap_fail(w->err, FOLIO_E_INVALID, "gzip level %d out of range", o->level);
        rc = archive_write_add_filter_gzip(a);
        snprintf(value, sizeof(value), "%d", o->level != 0 ? o->level : 6);
        if (rc == ARCHIVE_OK)
            rc = archive_write_set_filter_option(a, "gzip", "compression-level", value);
        /* No file name or time in the gzip header: equal inputs, equal archives. */
        if (rc == ARCHIVE_OK)
            rc = archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
        break;
    case FOLIO_SNAPSHOT_NONE:
        if (o->level != 0)
            return snap_fail(w->err, FOLIO_E_INVALID, "no compression takes no level");
        rc = archive_write_add_filter_none(a);
        break;
    default:
        return snap_fail(w->err, FOLIO_E_INVALID, "unknown compression %d", (int)o->compression);
    }
    if (rc != ARCHIVE_OK)
        return snap_fail(w->err, FOLIO_E_INVALID, "compression options: %s",
                         archive_error_string(a));
    return FOLIO_OK;
}

static int
write_header(struct wctx *w, struct archive *a, const char *name, uint64_t size, int64_t mtime_s)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0600);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_mtime(e, mtime_s, 0);
    int rc = archive_write_header(a, e);
    archive_entry_free(e);
    if (rc != ARCHIVE_OK) {
        char what[320];
        snprintf(what, sizeof(what), "writing the header of %s", name);
        return archive_fail(w, a, what);
    }
    return FOLIO_OK;
}

static int
write_data(struct wctx *w, struct archive *a, const void *buf, size_t len, const char *name)
{
    if (archive_write_data(a, buf, len) != (la_ssize_t)len) {
        char what[320];
        snprintf(what, sizeof(what), "writing %s into the archive", name);
        return archive_fail(w, a, what);
    }
    w->done += len;
    if (w->opts->progress != NULL)
        w->opts->progress(w->opts->progress_ctx, w->done, w->total);
    return FOLIO_OK;
}

static bool
stopped(const struct wctx *w)
{
    return w->opts->stop != NULL && atomic_load(w->opts->stop);
}

/* Streams one file; its size and XXH3-128 must still be the manifest's. */
static int
write_file(struct wctx *w, struct archive *a, const char *src_dir,
           const struct folio_snapshot_file *f, int64_t mtime_s)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", src_dir, f->name);
    int fd = folio_io_open(path, O_RDONLY | O_NOFOLLOW, 0);
    if (fd < 0)
        return snap_fail(w->err, snap_errno_code(errno), "opening %s: %s", path, strerror(errno));
    struct stat st;
    int rc = FOLIO_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->size)
        rc = snap_fail(w->err, FOLIO_E_SNAPSHOT_CHECKSUM,
                       "%s: not a regular file of %llu bytes as hashed", path,
                       (unsigned long long)f->size);
    if (rc == FOLIO_OK)
        rc = write_header(w, a, f->name, f->size, mtime_s);
    uint64_t off = 0;
    XXH3_128bits_reset(w->file_hash);
    while (rc == FOLIO_OK && off < f->size) {
        if (stopped(w)) {
            rc = snap_fail(w->err, FOLIO_E_CANCELED, "writing the archive: stopped");
            break;
        }
        size_t want = f->size - off < SNAP_CHUNK_BYTES ? (size_t)(f->size - off) : SNAP_CHUNK_BYTES;
        ssize_t n = folio_io_pread_all(fd, w->buf, want, (off_t)off);
        if (n < 0)
            rc = snap_fail(w->err, snap_errno_code(errno), "reading %s: %s", path, strerror(errno));
        else if ((size_t)n != want)
            rc = snap_fail(w->err, FOLIO_E_SNAPSHOT_CHECKSUM, "%s shrank while archived", path);
        if (rc != FOLIO_OK)
            break;
        XXH3_128bits_update(w->file_hash, w->buf, want);
        rc = write_data(w, a, w->buf, want, f->name);
        off += want;
    }
    close(fd);
    if (rc != FOLIO_OK)
        return rc;
    uint8_t digest[16];
    snap_digest128(w->file_hash, digest);
    if (memcmp(digest, f->xxh128, 16) != 0)
        return snap_fail(w->err, FOLIO_E_SNAPSHOT_CHECKSUM,
                         "%s changed since it was hashed (XXH3-128 differs)", path);
    return FOLIO_OK;
}

/* The manifest as JSON, checked by the parser that will read it back. */
static int
manifest_bytes(const struct folio_snapshot_manifest *m, char **json, size_t *len,
               struct folio_snapshot_error *err)
{
    if (folio_snapshot_manifest_to_json(m, json, len) != FOLIO_OK)
        return snap_fail(err, FOLIO_E_INVALID, "the manifest cannot be encoded");
    struct folio_snapshot_error perr = {0};
    struct folio_snapshot_manifest *back = NULL;
    int rc = folio_snapshot_manifest_parse(*json, *len, &back, &perr);
    folio_snapshot_manifest_free(back);
    if (rc != FOLIO_OK) {
        folio_free(*json);
        *json = NULL;
        return snap_fail(err, FOLIO_E_INVALID, "refusing to write an unreadable manifest: %.400s",
                         perr.message);
    }
    return FOLIO_OK;
}

static int
write_stream(struct wctx *w, const struct folio_snapshot_manifest *m, const char *src_dir,
             const char *json, size_t json_len)
{
    struct archive *a = archive_write_new();
    FOLIO_ASSERT(a != NULL);
    int rc = FOLIO_OK;
    int64_t mtime_s = m->created_at_ns / 1000000000;
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK)
        rc = snap_fail(w->err, FOLIO_E_IO, "tar format: %s", archive_error_string(a));
    if (rc == FOLIO_OK)
        rc = set_filter(w, a);
    /* Without this the compressed stream is padded with zeros to 10 KiB, which a
     * zstd reader takes for a broken second frame. */
    if (rc == FOLIO_OK && archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK)
        rc = snap_fail(w->err, FOLIO_E_IO, "tar blocking: %s", archive_error_string(a));
    if (rc == FOLIO_OK && archive_write_open2(a, w, NULL, archive_out, NULL, NULL) != ARCHIVE_OK)
        rc = archive_fail(w, a, "opening the archive");
    if (rc == FOLIO_OK)
        rc = write_header(w, a, FOLIO_SNAPSHOT_MANIFEST_NAME, json_len, mtime_s);
    if (rc == FOLIO_OK)
        rc = write_data(w, a, json, json_len, FOLIO_SNAPSHOT_MANIFEST_NAME);
    for (uint32_t i = 0; rc == FOLIO_OK && i < m->file_count; i++)
        rc = write_file(w, a, src_dir, &m->files[i], mtime_s);
    if (rc == FOLIO_OK && archive_write_close(a) != ARCHIVE_OK)
        rc = archive_fail(w, a, "finishing the archive");
    /* After a failure the stream is abandoned: the temporary file is removed. */
    archive_write_free(a);
    return rc;
}

static void
temp_path(const char *dest, char *out, size_t out_len)
{
    uint8_t rnd[SNAP_TEMP_HEX / 2];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        uint64_t t = (uint64_t)getpid() ^ (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)out;
        memcpy(rnd, &t, sizeof(rnd));
    }
    int n = snprintf(out, out_len, "%s%s", dest, SNAP_TEMP_TAG);
    for (size_t i = 0; i < sizeof(rnd) && n > 0 && (size_t)n + 2 < out_len; i++)
        n += snprintf(out + n, out_len - (size_t)n, "%02x", rnd[i]);
}

static int
dest_free(const char *dest, struct folio_snapshot_error *err)
{
    struct stat st;
    if (lstat(dest, &st) == 0)
        return snap_fail(err, FOLIO_E_EXISTS, "%s already exists", dest);
    if (errno != ENOENT)
        return snap_fail(err, snap_errno_code(errno), "%s: %s", dest, strerror(errno));
    return FOLIO_OK;
}

/* fdatasync, close, rename into place, fsync the parent. fd is closed either way. */
static int
install(int fd, const char *tmp, const char *dest, struct folio_snapshot_error *err)
{
    int rc = FOLIO_OK;
    if (folio_io_fdatasync(fd) != 0)
        rc = snap_fail(err, snap_errno_code(errno), "syncing %s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == FOLIO_OK)
        rc = snap_fail(err, snap_errno_code(errno), "closing %s: %s", tmp, strerror(errno));
    if (rc == FOLIO_OK)
        rc = dest_free(dest, err);
    /* dest_free gives the clear message; the rename itself never replaces a file either. */
    if (rc == FOLIO_OK && folio_io_rename_noreplace(tmp, dest) != 0)
        rc = snap_fail(err, errno == EEXIST ? FOLIO_E_EXISTS : snap_errno_code(errno),
                       "renaming %s to %s: %s", tmp, dest, strerror(errno));
    if (rc != FOLIO_OK)
        return rc;
    char parent[4096];
    snprintf(parent, sizeof(parent), "%s", dest);
    if (folio_io_fsync_dir(dirname(parent)) != 0) {
        /* The archive is complete but not durably named: do not leave it half-promised. */
        rc = snap_fail(err, snap_errno_code(errno), "syncing the directory of %s: %s", dest,
                       strerror(errno));
        folio_io_unlink(dest);
    }
    return rc;
}

int
folio_snapshot_write(const char *dest_path, const struct folio_snapshot_manifest *m,
                     const char *src_dir, const struct folio_snapshot_write_opts *opts,
                     char *archive_xxh128_hex, struct folio_snapshot_error *err)
{
    struct folio_snapshot_write_opts defaults;
    if (opts == NULL) {
        folio_snapshot_write_opts_default(&defaults);
        opts = &defaults;
    }
    char tmp[4096 + 32];
    if (strlen(dest_path) >= 4096 || strlen(dest_path) == 0)
        return snap_fail(err, FOLIO_E_INVALID, "destination path empty or too long");
    int rc = dest_free(dest_path, err);
    if (rc != FOLIO_OK)
        return rc;
    char *json = NULL;
    size_t json_len = 0;
    if ((rc = manifest_bytes(m, &json, &json_len, err)) != FOLIO_OK)
        return rc;
    temp_path(dest_path, tmp, sizeof(tmp));
    struct wctx w = {.opts = opts, .err = err, .total = json_len};
    for (uint32_t i = 0; i < m->file_count; i++)
        w.total += m->files[i].size;
    w.fd = folio_io_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (w.fd < 0) {
        rc = snap_fail(err, snap_errno_code(errno), "creating %s: %s", tmp, strerror(errno));
        folio_free(json);
        return rc;
    }
    w.archive_hash = XXH3_createState();
    w.file_hash = XXH3_createState();
    FOLIO_ASSERT(w.archive_hash != NULL && w.file_hash != NULL);
    XXH3_128bits_reset(w.archive_hash);
    w.buf = folio_malloc(SNAP_CHUNK_BYTES);
    rc = write_stream(&w, m, src_dir, json, json_len);
    if (rc == FOLIO_OK && stopped(&w))
        rc = snap_fail(err, FOLIO_E_CANCELED, "writing the archive: stopped");
    if (rc == FOLIO_OK) {
        rc = install(w.fd, tmp, dest_path, err);
    } else {
        close(w.fd);
    }
    if (rc != FOLIO_OK)
        folio_io_unlink(tmp);
    if (rc == FOLIO_OK && archive_xxh128_hex != NULL) {
        uint8_t digest[16];
        snap_digest128(w.archive_hash, digest);
        snap_hex128(digest, archive_xxh128_hex);
    }
    XXH3_freeState(w.archive_hash);
    XXH3_freeState(w.file_hash);
    folio_free(w.buf);
    folio_free(json);
    return rc;
}
