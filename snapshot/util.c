/*
 * Small pieces of the snapshot module: error messages, the entry-name rule,
 * hex, compression names, option defaults, temporary names, the engine
 * major version, and hashing the files an archive is about to hold.
 *
 * folio_snapshot_hash_files reads each file once in 1 MiB chunks; the writer
 * hashes every byte again as it streams, so a file that changes between the
 * two (it must not: the caller hashes a private copy) is caught, not archived.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "snapshot_int.h"

int
snap_fail(struct folio_snapshot_error *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int
snap_errno_code(int errnum)
{
    switch (errnum) {
    case ENOSPC:
    case EDQUOT:
        return FOLIO_E_NOSPC;
    case ENOENT:
        return FOLIO_E_NOT_FOUND;
    case ENOMEM:
        return FOLIO_E_NOMEM;
    case EEXIST:
        return FOLIO_E_EXISTS;
    default:
        return FOLIO_E_IO;
    }
}

static bool
name_byte_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool
snap_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > FOLIO_SNAPSHOT_NAME_BYTES_MAX)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != '/') {
            if (!name_byte_ok((unsigned char)name[i]))
                return false;
            continue;
        }
        /* A component ends at i: it must not be "", "." or "..". */
        size_t n = i - start;
        if (n == 0 || (n == 1 && name[start] == '.') ||
            (n == 2 && name[start] == '.' && name[start + 1] == '.'))
            return false;
        start = i + 1;
    }
    return true;
}

void
snap_hex128(const uint8_t in[16], char out[33])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[32] = '\0';
}

bool
snap_unhex128(const char *hex, size_t len, uint8_t out[16])
{
    if (len != 32)
        return false;
    for (int i = 0; i < 16; i++) {
        int hi = folio_hex_value((unsigned char)hex[2 * i]),
            lo = folio_hex_value((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

void
snap_digest128(struct XXH3_state_s *st, uint8_t out[16])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
    memcpy(out, c.digest, 16);
}

void
snap_printable(const char *s, char *out, size_t out_len)
{
    size_t i = 0;
    if (out_len == 0)
        return;
    for (; s != NULL && s[i] != '\0' && i + 1 < out_len; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[i] = '\0';
}

int
folio_snapshot_compression_parse(const char *name, enum folio_snapshot_compression *out)
{
    static const char *const names[] = {"zstd", "gzip", "none"};
    for (unsigned i = 0; name != NULL && i < FOLIO_ARRAY_LEN(names); i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum folio_snapshot_compression)i;
            return FOLIO_OK;
        }
    }
    return FOLIO_E_INVALID;
}

const char *
folio_snapshot_compression_name(enum folio_snapshot_compression c)
{
    switch (c) {
    case FOLIO_SNAPSHOT_ZSTD:
        return "zstd";
    case FOLIO_SNAPSHOT_GZIP:
        return "gzip";
    case FOLIO_SNAPSHOT_NONE:
        return "none";
    }
    return "?";
}

void
folio_snapshot_write_opts_default(struct folio_snapshot_write_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->compression = FOLIO_SNAPSHOT_ZSTD;
}

void
folio_snapshot_read_opts_default(struct folio_snapshot_read_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->kind = FOLIO_SNAPSHOT_KIND_INDEX;
}

bool
folio_snapshot_is_temp_name(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base != NULL ? base + 1 : name;
    size_t len = strlen(base), tag = strlen(SNAP_TEMP_TAG);
    if (len < tag + SNAP_TEMP_HEX + 1)
        return false;
    const char *suffix = base + len - SNAP_TEMP_HEX - tag;
    if (memcmp(suffix, SNAP_TEMP_TAG, tag) != 0)
        return false;
    for (const char *p = suffix + tag; *p != '\0'; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* Reads a run of decimal digits (no leading zero unless "0"); -1 if none or too big. */
static long
version_number(const char **p)
{
    const char *s = *p;
    long v = 0;
    if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (*s - '0');
        if (v > 1000000)
            return -1;
    }
    *p = s;
    return v;
}

int
folio_snapshot_engine_major(const char *version)
{
    if (version == NULL || strlen(version) > SNAP_VERSION_BYTES_MAX)
        return -1;
    const char *p = version;
    long major = version_number(&p);
    if (major < 0 || *p++ != '.' || version_number(&p) < 0 || *p++ != '.' || version_number(&p) < 0)
        return -1;
    if (*p == '\0')
        return (int)major;
    /* A pre-release or build suffix: "-rc.1", "+abc". */
    if (*p != '-' && *p != '+')
        return -1;
    for (p++; *p != '\0'; p++)
        if (!name_byte_ok((unsigned char)*p) && *p != '+')
            return -1;
    return (int)major;
}

/* Hashes one open file in chunks; fills size and digest. */
static int
hash_fd(int fd, const char *name, uint8_t *buf, XXH3_state_t *st, const atomic_bool *stop,
        struct folio_snapshot_file *f, uint64_t *done, uint64_t total,
        folio_snapshot_progress_fn progress, void *ctx, struct folio_snapshot_error *err)
{
    uint64_t size = 0;
    XXH3_128bits_reset(st);
    for (;;) {
        if (stop != NULL && atomic_load(stop))
            return snap_fail(err, FOLIO_E_CANCELED, "hashing %s: stopped", name);
        ssize_t n = folio_io_pread_all(fd, buf, SNAP_CHUNK_BYTES, (off_t)size);
        if (n < 0)
            return snap_fail(err, snap_errno_code(errno), "reading %s: %s", name, strerror(errno));
        if (n == 0)
            break;
        XXH3_128bits_update(st, buf, (size_t)n);
        size += (uint64_t)n;
        *done += (uint64_t)n;
        if (progress != NULL)
            progress(ctx, *done, total);
    }
    f->size = size;
    snap_digest128(st, f->xxh128);
    return FOLIO_OK;
}

static int
open_source(const char *src_dir, const char *name, struct folio_snapshot_error *err)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", src_dir, name) >= (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return folio_io_open(path, O_RDONLY | O_NOFOLLOW, 0);
}

int
folio_snapshot_hash_files(const char *src_dir, struct folio_snapshot_manifest *m,
                          const atomic_bool *stop, folio_snapshot_progress_fn progress, void *ctx,
                          struct folio_snapshot_error *err)
{
    uint64_t total = 0, done = 0;
    int rc = FOLIO_OK;
    for (uint32_t i = 0; i < m->file_count; i++) {
        if (!snap_name_valid(m->files[i].name, strlen(m->files[i].name)))
            return snap_fail(err, FOLIO_E_INVALID, "file name '%s' breaks the naming rule",
                             m->files[i].name);
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", src_dir, m->files[i].name);
        if (lstat(path, &st) != 0)
            return snap_fail(err, snap_errno_code(errno), "%s: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode))
            return snap_fail(err, FOLIO_E_INVALID, "%s: not a regular file", path);
        total += (uint64_t)st.st_size;
    }
    uint8_t *buf = folio_malloc(SNAP_CHUNK_BYTES);
    XXH3_state_t *xs = XXH3_createState();
    FOLIO_ASSERT(xs != NULL);
    for (uint32_t i = 0; i < m->file_count && rc == FOLIO_OK; i++) {
        int fd = open_source(src_dir, m->files[i].name, err);
        if (fd < 0) {
            rc = snap_fail(err, snap_errno_code(errno), "opening %s/%s: %s", src_dir,
                           m->files[i].name, strerror(errno));
            break;
        }
        rc = hash_fd(fd, m->files[i].name, buf, xs, stop, &m->files[i], &done, total, progress, ctx,
                     err);
        close(fd);
    }
    XXH3_freeState(xs);
    folio_free(buf);
    return rc;
}

void
folio_snapshot_uid_name(const char *uid, size_t uid_len, char out[FOLIO_SNAPSHOT_UID_NAME_BYTES])
{
    if (uid_len <= FOLIO_SNAPSHOT_UID_NAME_MAX) {
        memcpy(out, uid, uid_len);
        out[uid_len] = '\0';
        return;
    }
    memcpy(out, uid, FOLIO_SNAPSHOT_UID_NAME_KEEP);
    snprintf(out + FOLIO_SNAPSHOT_UID_NAME_KEEP,
             FOLIO_SNAPSHOT_UID_NAME_BYTES - FOLIO_SNAPSHOT_UID_NAME_KEEP, "~%016llx",
             (unsigned long long)XXH3_64bits(uid, uid_len));
}

static bool
uid_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

bool
folio_snapshot_uid_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > FOLIO_SNAPSHOT_UID_NAME_LEGACY_MAX)
        return false;
    size_t keep = n;
    if (n == FOLIO_SNAPSHOT_UID_NAME_KEEP + 17 && name[FOLIO_SNAPSHOT_UID_NAME_KEEP] == '~') {
        for (size_t i = FOLIO_SNAPSHOT_UID_NAME_KEEP + 1; i < n; i++)
            if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
                return false;
        keep = FOLIO_SNAPSHOT_UID_NAME_KEEP;
    }
    for (size_t i = 0; i < keep; i++)
        if (!uid_char(name[i]))
            return false;
    return true;
}
