/*
 * Snapshot archives (DESIGN.md §8, docs/snapshot-format.md).
 *
 * One archive = a tar (pax) stream, compressed with zstd (default), gzip or
 * nothing, whose first entry is `manifest.json` and whose other entries are
 * exactly the files the manifest lists, in the manifest's order, each a
 * regular file of the declared size whose XXH3-128 is the declared one.
 *
 * Two kinds share the format:
 *   - "index": one index env (entry `data.mdb`), made by a
 *     singleIndexSnapshotCreation task; imported by singleIndexSnapshotImport.
 *   - "instance": a whole data directory (checkpoint, journal segments,
 *     content files, every index as `indexes/<uuid>/data.mdb`), made by a
 *     snapshotCreation task; started from with `foliod --import-snapshot`.
 *
 * This module knows archives and manifests only: nothing about the scheduler
 * or the index store. Every write goes through the I/O seam (folio/io.h).
 * No call keeps state between calls; every call is safe from any thread.
 */
#ifndef FOLIO_SNAPSHOT_H
#define FOLIO_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FOLIO_SNAPSHOT_FORMAT_NAME "folio-snapshot"
#define FOLIO_SNAPSHOT_FORMAT_VERSION 1        /* what this build writes and reads */
#define FOLIO_SNAPSHOT_MANIFEST_NAME "manifest.json"
#define FOLIO_SNAPSHOT_MANIFEST_BYTES_MAX (4u << 20) /* larger: snapshot_invalid */
#define FOLIO_SNAPSHOT_FILES_MAX 100000        /* entries a manifest may list */
#define FOLIO_SNAPSHOT_NAME_BYTES_MAX 255      /* one entry name, relative */
#define FOLIO_SNAPSHOT_SUFFIX ".idx.snapshot"  /* single-index archive file names */
#define FOLIO_SNAPSHOT_INSTANCE_SUFFIX ".snapshot"

enum folio_snapshot_kind {
    FOLIO_SNAPSHOT_KIND_INDEX = 0,   /* "index" */
    FOLIO_SNAPSHOT_KIND_INSTANCE,    /* "instance" */
};

enum folio_snapshot_compression {
    FOLIO_SNAPSHOT_ZSTD = 0,         /* default; multithreaded */
    FOLIO_SNAPSHOT_GZIP,
    FOLIO_SNAPSHOT_NONE,
};

/* "zstd" | "gzip" | "none" → 0 and *out; else FOLIO_E_INVALID. */
int folio_snapshot_compression_parse(const char *name, enum folio_snapshot_compression *out);
const char *folio_snapshot_compression_name(enum folio_snapshot_compression c);

/* One file of the archive. name: relative, '/'-separated, no "", ".", ".."
 * component, no leading '/', at most FOLIO_SNAPSHOT_NAME_BYTES_MAX bytes,
 * bytes [A-Za-z0-9._-] and '/' only. */
struct folio_snapshot_file {
    char *name;
    uint64_t size;
    uint8_t xxh128[16];              /* XXH3-128 of the content, canonical (big-endian) */
};

/*
 * The manifest (manifest.json, a JSON object; docs/snapshot-format.md has
 * every field). Strings are NUL-terminated and owned by the manifest.
 */
struct folio_snapshot_manifest {
    enum folio_snapshot_kind kind;
    uint32_t format_version;         /* FOLIO_SNAPSHOT_FORMAT_VERSION when written (0: that) */
    char *engine_version;            /* "0.1.0": the folio that wrote it (NULL when
                                      * writing: this build's FOLIO_VERSION_STRING) */
    int64_t created_at_ns;           /* UTC, written as RFC 3339 with nanoseconds */
    char *source_instance_uid;       /* the data directory's instance-uid */
    uint64_t seq;                    /* journal seq the data is consistent at */
    uint64_t task_uid;               /* index: the marker's task uid; instance: 0 */
    /* kind "index" only (NULL / 0 otherwise) */
    char *index_uid;
    char *primary_key;               /* NULL: none yet */
    char *settings_json;             /* the index's settings object, compact JSON */
    uint64_t document_count;
    /* kind "instance" only: indexes in the archive (uid and uuid pairs) */
    uint32_t index_count;
    char **index_uids;
    char **index_uuids;
    /* every other entry of the archive, in archive order */
    struct folio_snapshot_file *files;
    uint32_t file_count;
};

/* Frees everything the manifest owns, then m itself. NULL is accepted. */
void folio_snapshot_manifest_free(struct folio_snapshot_manifest *m);

/*
 * Errors carry one of FOLIO_E_SNAPSHOT_INVALID (malformed archive or
 * manifest, hostile or unexpected entry, truncated stream),
 * FOLIO_E_SNAPSHOT_CHECKSUM (a file's size or XXH3-128 differs from the
 * manifest), FOLIO_E_SNAPSHOT_VERSION (format version or engine major
 * version not this build's: the message says both), FOLIO_E_NOT_FOUND,
 * FOLIO_E_NOSPC, FOLIO_E_IO, FOLIO_E_CANCELED (stop flag seen),
 * FOLIO_E_NOMEM; the message says what and where, for an operator.
 */
struct folio_snapshot_error {
    int code;
    char message[512];
};

/* Progress: bytes done of bytes total (total 0 when unknown). */
typedef void (*folio_snapshot_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/*
 * Manifest JSON. to_json writes the manifest as a pretty-printed object
 * (caller frees *out with folio_free); parse validates every field's type and
 * range, rejects unknown top-level fields and names that break the rules
 * above, and checks format and engine-major version last (so a well-formed
 * manifest from another version gives FOLIO_E_SNAPSHOT_VERSION, a broken one
 * FOLIO_E_SNAPSHOT_INVALID).
 * to_json: FOLIO_E_INVALID if a number is above INT64_MAX, the kind is unknown
 * or settings_json is not a JSON object. parse: *out is NULL on failure.
 */
int folio_snapshot_manifest_to_json(const struct folio_snapshot_manifest *m, char **out,
                                    size_t *out_len);
int folio_snapshot_manifest_parse(const char *json, size_t len,
                                  struct folio_snapshot_manifest **out,
                                  struct folio_snapshot_error *err);

/*
 * Fills m->files[i].size and .xxh128 for every listed file from
 * src_dir/<name>. stop (may be NULL) is polled between 1 MiB reads.
 */
int folio_snapshot_hash_files(const char *src_dir, struct folio_snapshot_manifest *m,
                              const atomic_bool *stop, folio_snapshot_progress_fn progress,
                              void *ctx, struct folio_snapshot_error *err);

struct folio_snapshot_write_opts {
    enum folio_snapshot_compression compression;
    int level;                       /* 0: the codec's default (zstd 3, gzip 6) */
    int threads;                     /* zstd workers; 0: one per online CPU */
    const atomic_bool *stop;         /* NULL: never stops */
    folio_snapshot_progress_fn progress;
    void *progress_ctx;
};

void folio_snapshot_write_opts_default(struct folio_snapshot_write_opts *o);

/*
 * Writes the archive: manifest.json first, then every file of m (already
 * hashed) from src_dir/<name>, re-checking each file's size and XXH3-128 as it
 * streams (a file that changed: FOLIO_E_SNAPSHOT_CHECKSUM). The archive is
 * written to `<dest_path>.tmp-<random>` (mode 0600, O_EXCL), fdatasynced,
 * renamed to dest_path (which must not exist: FOLIO_E_EXISTS), and the parent
 * directory fsynced. On any failure or stop nothing is left at dest_path and
 * the temporary file is removed. archive_xxh128_hex (33 bytes, may be NULL)
 * receives the XXH3-128 of the archive file's bytes, lowercase hex.
 * The parent directory must exist (the caller makes it, 0700).
 * The manifest is checked with folio_snapshot_manifest_parse's rules before
 * anything is written: one the reader would refuse is FOLIO_E_INVALID, as
 * are bad options (zstd level -5..22, gzip 1..9, none: level 0).
 */
int folio_snapshot_write(const char *dest_path, const struct folio_snapshot_manifest *m,
                         const char *src_dir, const struct folio_snapshot_write_opts *opts,
                         char *archive_xxh128_hex, struct folio_snapshot_error *err);

/*
 * The name an index uid goes by in <snapshot-dir>/indexes/<name>/ and at the
 * head of its archives' names. A uid of up to FOLIO_SNAPSHOT_UID_NAME_MAX
 * bytes is its own name. A longer one (uids may have 400 bytes, file names
 * only 255) is its first FOLIO_SNAPSHOT_UID_NAME_KEEP bytes, `~` and the 16
 * lowercase hex digits of the XXH3-64 of the whole uid: `~` is in no uid, so
 * the name cannot be another uid's. out needs FOLIO_SNAPSHOT_UID_NAME_BYTES.
 */
#define FOLIO_SNAPSHOT_UID_NAME_MAX 128u
#define FOLIO_SNAPSHOT_UID_NAME_KEEP 96u
#define FOLIO_SNAPSHOT_UID_NAME_BYTES (FOLIO_SNAPSHOT_UID_NAME_MAX + 1u)
void folio_snapshot_uid_name(const char *uid, size_t uid_len,
                             char out[FOLIO_SNAPSHOT_UID_NAME_BYTES]);
/*
 * True if name is what folio_snapshot_uid_name gives for some valid uid, or
 * a whole uid of up to FOLIO_SNAPSHOT_UID_NAME_LEGACY_MAX bytes: before
 * folio_snapshot_uid_name, uids of 129 to 197 bytes were written whole.
 */
#define FOLIO_SNAPSHOT_UID_NAME_LEGACY_MAX 255u
bool folio_snapshot_uid_name_valid(const char *name);

/* True if name is a temporary file folio_snapshot_write left (for start-up clean-up). */
bool folio_snapshot_is_temp_name(const char *name);

/*
 * Reads only the head: the first entry must be manifest.json (else
 * FOLIO_E_SNAPSHOT_INVALID); returns the parsed manifest. Cheap: it reads
 * the manifest entry and stops.
 */
int folio_snapshot_read_manifest(const char *path, struct folio_snapshot_manifest **out,
                                 struct folio_snapshot_error *err);
/* The same for rel opened beneath root_dir, as read_opts.root_dir says. */
int folio_snapshot_read_manifest_in(const char *root_dir, const char *rel,
                                    struct folio_snapshot_manifest **out,
                                    struct folio_snapshot_error *err);

struct folio_snapshot_read_opts {
    const atomic_bool *stop;
    folio_snapshot_progress_fn progress;   /* bytes of the archive file read */
    void *progress_ctx;
    /* expected kind; a different one is FOLIO_E_SNAPSHOT_INVALID */
    enum folio_snapshot_kind kind;
    /*
     * NULL: path is opened as given. Else path is relative to root_dir and
     * is opened beneath it without following any symbolic link: every
     * directory level is entered with O_DIRECTORY|O_NOFOLLOW from the one
     * above, the file with O_NOFOLLOW. An absolute path, a "", "." or ".."
     * component, or a link or non-directory on the way is FOLIO_E_INVALID
     * (the path leaves root_dir), checked when the file is opened, so a
     * component swapped after an earlier check is still refused.
     */
    const char *root_dir;
    /*
     * The free-space check before extraction also leaves room for one more
     * copy of the largest file: for a caller that rewrites each extracted
     * file next to itself (the scheduler compacts every imported env).
     */
    bool room_for_copy;
};

void folio_snapshot_read_opts_default(struct folio_snapshot_read_opts *o);

/*
 * Streams the archive into dest_dir (must exist and be empty), accepting
 * only: manifest.json first; then regular files whose names are in the
 * manifest, in its order, each once, of exactly the declared size, with the
 * declared XXH3-128; nothing after the last. Refused with
 * FOLIO_E_SNAPSHOT_INVALID (nothing written beyond dest_dir, ever): names
 * with "..", absolute paths, symlinks, hardlinks, devices, fifos,
 * directories, duplicates, unlisted names, sizes above the declared one,
 * missing files, data after the end, a truncated or corrupt stream.
 * Before any entry is read, the manifest's declared sizes (summed,
 * saturating) must fit in dest_dir's free space with 64 MiB to spare, else
 * FOLIO_E_NOSPC and nothing is written.
 * Subdirectories named by the files are made 0700; files are 0600 and
 * fsynced, then every directory made. On failure dest_dir may hold partial
 * files: the caller removes dest_dir. A dest_dir that is not empty is
 * FOLIO_E_EXISTS. opts NULL: defaults (kind "index"). The archive-file hash
 * covers every byte of the file. out (may be NULL) receives the manifest;
 * archive_xxh128_hex (may be NULL) the XXH3-128 of the archive file.
 */
int folio_snapshot_extract(const char *path, const char *dest_dir,
                           const struct folio_snapshot_read_opts *opts,
                           struct folio_snapshot_manifest **out, char *archive_xxh128_hex,
                           struct folio_snapshot_error *err);

/* Same checks as extract, writing nothing (folio snapshot verify). */
int folio_snapshot_verify(const char *path, const struct folio_snapshot_read_opts *opts,
                          struct folio_snapshot_manifest **out, char *archive_xxh128_hex,
                          struct folio_snapshot_error *err);

/* Engine major version of a version string ("0.1.0" → 0); -1 if malformed. */
int folio_snapshot_engine_major(const char *version);

#endif
