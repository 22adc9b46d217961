/*
 * The snapshot archive module against real files in temporary directories.
 *
 * Round trips: every compression, an empty file, a small one, a multi-MiB
 * one, nested names; what comes out is compared byte for byte with what went
 * in, the archive's own bytes are checked with tools that are not folio (GNU
 * tar lists the entries, the magic number names the compression, the
 * archive hash is recomputed here with xxHash directly).
 *
 * Hostile archives are built here with libarchive's writer, entry by entry
 * (arbitrary names, types, sizes, links), and each must be refused with its
 * error code, with nothing written outside the destination directory.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "folio/snapshot.h"
#include "testutil.h"
#include <jansson.h>
#include <stdatomic.h>

#define BIG_BYTES ((3u << 20) + 17) /* three 1 MiB chunks and a tail */

/* ---- helpers --------------------------------------------------------------- */

static uint8_t *
prng_bytes(size_t len, uint64_t seed)
{
    uint8_t *p = malloc(len ? len : 1);
    uint64_t s = seed;
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(tu_rand(&s) >> 24);
    return p;
}

/* mkdir -p for the parent directories of dir/name, then writes the file. */
static void
put_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        assert_true(mkdir(path, 0700) == 0 || errno == EEXIST);
        *p = '/';
    }
    tu_write_file(path, data, len);
}

static struct folio_snapshot_manifest *
new_manifest(enum folio_snapshot_kind kind, const char *const *names, uint32_t n)
{
    struct folio_snapshot_manifest *m = folio_calloc(1, sizeof(*m));
    m->kind = kind;
    m->format_version = FOLIO_SNAPSHOT_FORMAT_VERSION;
    m->engine_version = folio_strdup(FOLIO_TEST_VERSION);
    m->created_at_ns = 1795357420123456789LL; /* 2026-11-22T14:23:40.123456789Z */
    m->source_instance_uid = folio_strdup("4b0e1c6a-2f8d-4d7e-9a51-0c3f7e2b9d10");
    m->seq = 123;
    if (kind == FOLIO_SNAPSHOT_KIND_INDEX) {
        m->task_uid = 7;
        m->index_uid = folio_strdup("movies");
        m->primary_key = folio_strdup("id");
        m->settings_json = folio_strdup("{\"searchableAttributes\":[\"title\"]}");
        m->document_count = 3;
    } else {
        m->index_count = 2;
        m->index_uids = folio_calloc(2, sizeof(char *));
        m->index_uuids = folio_calloc(2, sizeof(char *));
        m->index_uids[0] = folio_strdup("movies");
        m->index_uuids[0] = folio_strdup("6f1d1f8e-0c4e-4b8a-9a7e-1b2c3d4e5f60");
        m->index_uids[1] = folio_strdup("books");
        m->index_uuids[1] = folio_strdup("7a2e2a9f-1d5f-4c9b-8b8f-2c3d4e5f6071");
    }
    m->files = folio_calloc(n ? n : 1, sizeof(*m->files));
    m->file_count = n;
    for (uint32_t i = 0; i < n; i++)
        m->files[i].name = folio_strdup(names[i]);
    return m;
}

/* The set of files every round trip archives (instance kind: nested names). */
static const char *const rt_names[] = {"VERSION",
                                       "empty",
                                       "small.txt",
                                       "journal/00000000000000000001.seg",
                                       "indexes/6f1d1f8e-0c4e-4b8a-9a7e-1b2c3d4e5f60/data.mdb",
                                       "indexes/7a2e2a9f/x/y/z.bin"};

static void
fill_rt_source(const char *src)
{
    uint8_t *big = prng_bytes(BIG_BYTES, 42);
    uint8_t *mid = prng_bytes(70000, 43);
    put_file(src, "VERSION", "folio 0.1.0\n", 12);
    put_file(src, "empty", "", 0);
    put_file(src, "small.txt", "hello, world\n", 13);
    put_file(src, rt_names[3], mid, 70000);
    put_file(src, rt_names[4], big, BIG_BYTES);
    put_file(src, rt_names[5], "z", 1);
    free(big);
    free(mid);
}

static bool
same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    uint8_t *x = tu_read_file(a, &la), *y = tu_read_file(b, &lb);
    bool same = x != NULL && y != NULL && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

static void
file_hex(const char *path, char out[33])
{
    size_t len = 0;
    uint8_t *data = tu_read_file(path, &len);
    assert_non_null(data);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", c.digest[i]);
    free(data);
}

/* Number of entries in a directory other than . and .. */
static int
dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static struct folio_snapshot_manifest *
hashed_manifest(const char *src, enum folio_snapshot_kind kind, const char *const *names,
                uint32_t n)
{
    struct folio_snapshot_manifest *m = new_manifest(kind, names, n);
    struct folio_snapshot_error err = {0};
    int rc = folio_snapshot_hash_files(src, m, NULL, NULL, NULL, &err);
    if (rc != 0)
        fail_msg("hash_files: %s", err.message);
    return m;
}

static void
write_ok(const char *dest, const struct folio_snapshot_manifest *m, const char *src,
         enum folio_snapshot_compression c, char hex[33])
{
    struct folio_snapshot_write_opts o;
    folio_snapshot_write_opts_default(&o);
    o.compression = c;
    o.threads = 2;
    struct folio_snapshot_error err = {0};
    int rc = folio_snapshot_write(dest, m, src, &o, hex, &err);
    if (rc != 0)
        fail_msg("write %s: %s (%s)", dest, err.message, folio_err_name(rc));
}

/* ---- round trips ----------------------------------------------------------- */

static void
check_magic(const char *path, enum folio_snapshot_compression c)
{
    size_t len = 0;
    uint8_t *d = tu_read_file(path, &len);
    assert_true(len > 512);
    if (c == FOLIO_SNAPSHOT_ZSTD)
        assert_memory_equal(d, "\x28\xb5\x2f\xfd", 4);
    else if (c == FOLIO_SNAPSHOT_GZIP)
        assert_memory_equal(d, "\x1f\x8b", 2);
    else /* ustar: the first header names the manifest, magic at 257 */
        assert_true(strcmp((char *)d, "manifest.json") == 0 && memcmp(d + 257, "ustar", 5) == 0);
    free(d);
}

/* GNU tar (not libarchive) must list exactly the manifest, then the files in order. */
static void
check_tar_listing(const char *path)
{
    char cmd[4200], *out = NULL;
    snprintf(cmd, sizeof(cmd), "tar -tf '%s'", path);
    int st = tu_system(cmd, &out);
    assert_int_equal(st, 0);
    char want[2048] = "manifest.json\n";
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(rt_names); i++) {
        strcat(want, rt_names[i]);
        strcat(want, "\n");
    }
    assert_string_equal(out, want);
    free(out);
}

static void
round_trip(enum folio_snapshot_compression c)
{
    char *dir = tu_mkdtemp("snaprt");
    char *src = tu_path(dir, "src"), *out = tu_path(dir, "out"), *arch = tu_path(dir, "a.snapshot");
    assert_int_equal(mkdir(src, 0700), 0);
    assert_int_equal(mkdir(out, 0700), 0);
    fill_rt_source(src);
    struct folio_snapshot_manifest *m =
        hashed_manifest(src, FOLIO_SNAPSHOT_KIND_INSTANCE, rt_names, FOLIO_ARRAY_LEN(rt_names));
    assert_int_equal(m->files[4].size, BIG_BYTES);
    assert_int_equal(m->files[1].size, 0);
    char whex[33] = "", vhex[33] = "", xhex[33] = "", fhex[33];
    write_ok(arch, m, src, c, whex);

    struct stat st;
    assert_int_equal(stat(arch, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(dir_entries(dir), 3); /* src, out, the archive: no temporary left */
    file_hex(arch, fhex);
    assert_string_equal(whex, fhex);
    check_magic(arch, c);
    check_tar_listing(arch);

    struct folio_snapshot_error err = {0};
    struct folio_snapshot_manifest *head = NULL, *vm = NULL, *xm = NULL;
    assert_int_equal(folio_snapshot_read_manifest(arch, &head, &err), 0);
    assert_int_equal(head->kind, FOLIO_SNAPSHOT_KIND_INSTANCE);
    assert_int_equal(head->seq, 123);
    assert_int_equal(head->created_at_ns, m->created_at_ns);
    assert_string_equal(head->engine_version, FOLIO_TEST_VERSION);
    assert_string_equal(head->source_instance_uid, m->source_instance_uid);
    assert_int_equal(head->index_count, 2);
    assert_string_equal(head->index_uids[1], "books");
    assert_string_equal(head->index_uuids[0], m->index_uuids[0]);
    assert_int_equal(head->file_count, FOLIO_ARRAY_LEN(rt_names));
    for (uint32_t i = 0; i < head->file_count; i++) {
        assert_string_equal(head->files[i].name, rt_names[i]);
        assert_int_equal(head->files[i].size, m->files[i].size);
        assert_memory_equal(head->files[i].xxh128, m->files[i].xxh128, 16);
    }

    struct folio_snapshot_read_opts ro;
    folio_snapshot_read_opts_default(&ro);
    ro.kind = FOLIO_SNAPSHOT_KIND_INSTANCE;
    int rc = folio_snapshot_verify(arch, &ro, &vm, vhex, &err);
    if (rc != 0)
        fail_msg("verify: %s", err.message);
    assert_string_equal(vhex, fhex);
    rc = folio_snapshot_extract(arch, out, &ro, &xm, xhex, &err);
    if (rc != 0)
        fail_msg("extract: %s", err.message);
    assert_string_equal(xhex, fhex);
    assert_int_equal(xm->file_count, m->file_count);
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(rt_names); i++) {
        char *a = tu_path(src, rt_names[i]), *b = tu_path(out, rt_names[i]);
        assert_true(same_file(a, b));
        assert_int_equal(stat(b, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        free(a);
        free(b);
    }
    char *sub = tu_path(out, "indexes/7a2e2a9f/x");
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    assert_int_equal(dir_entries(out), 6 - 3 + 2); /* VERSION empty small.txt journal indexes */

    folio_snapshot_manifest_free(m);
    folio_snapshot_manifest_free(head);
    folio_snapshot_manifest_free(vm);
    folio_snapshot_manifest_free(xm);
    tu_rmrf(dir);
    free(sub);
    free(src);
    free(out);
    free(arch);
    free(dir);
}

static void
test_round_trip_zstd(void **state)
{
    round_trip(FOLIO_SNAPSHOT_ZSTD);
}

static void
test_round_trip_gzip(void **state)
{
    round_trip(FOLIO_SNAPSHOT_GZIP);
}

static void
test_round_trip_none(void **state)
{
    round_trip(FOLIO_SNAPSHOT_NONE);
}

/* Kind "index": the fields only it has survive, and the kind is enforced on import. */
static void
test_round_trip_index_kind(void **state)
{
    char *dir = tu_mkdtemp("snapidx");
    char *src = tu_path(dir, "src"), *out = tu_path(dir, "out");
    char *arch = tu_path(dir, "movies_1.idx.snapshot");
    assert_int_equal(mkdir(src, 0700), 0);
    assert_int_equal(mkdir(out, 0700), 0);
    uint8_t *data = prng_bytes(200000, 7);
    put_file(src, "data.mdb", data, 200000);
    static const char *const names[] = {"data.mdb"};
    struct folio_snapshot_manifest *m = hashed_manifest(src, FOLIO_SNAPSHOT_KIND_INDEX, names, 1);
    char hex[33];
    write_ok(arch, m, src, FOLIO_SNAPSHOT_ZSTD, hex);

    struct folio_snapshot_error err = {0};
    struct folio_snapshot_manifest *x = NULL;
    struct folio_snapshot_read_opts ro;
    folio_snapshot_read_opts_default(&ro);
    ro.kind = FOLIO_SNAPSHOT_KIND_INSTANCE;
    assert_int_equal(folio_snapshot_verify(arch, &ro, NULL, NULL, &err), FOLIO_E_SNAPSHOT_INVALID);
    assert_non_null(strstr(err.message, "index"));
    ro.kind = FOLIO_SNAPSHOT_KIND_INDEX;
    int rc = folio_snapshot_extract(arch, out, &ro, &x, NULL, &err);
    if (rc != 0)
        fail_msg("extract: %s", err.message);
    assert_string_equal(x->index_uid, "movies");
    assert_string_equal(x->primary_key, "id");
    assert_string_equal(x->settings_json, "{\"searchableAttributes\":[\"title\"]}");
    assert_int_equal(x->document_count, 3);
    assert_int_equal(x->task_uid, 7);
    assert_int_equal(x->index_count, 0);
    char *a = tu_path(src, "data.mdb"), *b = tu_path(out, "data.mdb");
    assert_true(same_file(a, b));

    /* An archive that lists no file at all is sound too. */
    char *empty_arch = tu_path(dir, "none.idx.snapshot");
    uint32_t saved_count = m->file_count;
    m->file_count = 0;
    write_ok(empty_arch, m, src, FOLIO_SNAPSHOT_NONE, hex);
    m->file_count = saved_count;
    if (folio_snapshot_verify(empty_arch, &ro, NULL, NULL, &err) != 0)
        fail_msg("no files: %s", err.message);
    size_t elen = 0;
    uint8_t *ed = tu_read_file(empty_arch, &elen);
    tu_write_file(empty_arch, ed, elen - 512);
    assert_int_equal(folio_snapshot_verify(empty_arch, &ro, NULL, NULL, &err),
                     FOLIO_E_SNAPSHOT_INVALID);
    free(ed);
    free(empty_arch);

    /* A primary key not set yet is null in JSON and NULL back. */
    folio_free(m->primary_key);
    m->primary_key = NULL;
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(folio_snapshot_manifest_to_json(m, &json, &len), 0);
    assert_non_null(strstr(json, "\"primaryKey\": null"));
    assert_non_null(strstr(json, "\"createdAt\": \"2026-11-22T14:23:40.123456789Z\""));
    struct folio_snapshot_manifest *back = NULL;
    assert_int_equal(folio_snapshot_manifest_parse(json, len, &back, &err), 0);
    assert_null(back->primary_key);

    folio_free(json);
    folio_snapshot_manifest_free(back);
    folio_snapshot_manifest_free(m);
    folio_snapshot_manifest_free(x);
    free(data);
    free(a);
    free(b);
    tu_rmrf(dir);
    free(src);
    free(out);
    free(arch);
    free(dir);
}

/* The tar size field (octal, offset 124) of the header at off. */
static size_t
tar_entry_size(const uint8_t *hdr)
{
    char field[13] = {0};
    memcpy(field, hdr + 124, 12);
    return (size_t)strtoull(field, NULL, 8);
}

/* read_manifest reads only the head: it works on an archive cut right after the manifest. */
static void
test_read_manifest_head_only(void **state)
{
    char *dir = tu_mkdtemp("snaphead");
    char *src = tu_path(dir, "src"), *a1 = tu_path(dir, "none"), *a2 = tu_path(dir, "zstd");
    assert_int_equal(mkdir(src, 0700), 0);
    fill_rt_source(src);
    struct folio_snapshot_manifest *m =
        hashed_manifest(src, FOLIO_SNAPSHOT_KIND_INSTANCE, rt_names, FOLIO_ARRAY_LEN(rt_names));
    char hex[33];
    write_ok(a1, m, src, FOLIO_SNAPSHOT_NONE, hex);
    write_ok(a2, m, src, FOLIO_SNAPSHOT_ZSTD, hex);

    size_t len = 0;
    uint8_t *d = tu_read_file(a1, &len);
    size_t json_len = tar_entry_size(d);
    size_t cut = 512 + (json_len + 511) / 512 * 512;
    assert_true(cut < len);
    assert_string_equal((char *)d + cut, "VERSION"); /* the next header starts there */
    tu_write_file(a1, d, cut);
    free(d);
    d = tu_read_file(a2, &len);
    tu_write_file(a2, d, len / 3);
    free(d);

    struct folio_snapshot_error err = {0};
    struct folio_snapshot_manifest *h = NULL;
    struct folio_snapshot_read_opts ro;
    folio_snapshot_read_opts_default(&ro);
    ro.kind = FOLIO_SNAPSHOT_KIND_INSTANCE;
    const char *paths[] = {a1, a2};
    for (int i = 0; i < 2; i++) {
        int rc = folio_snapshot_read_manifest(paths[i], &h, &err);
        if (rc != 0)
            fail_msg("read_manifest %s: %s", paths[i], err.message);
        assert_int_equal(h->file_count, FOLIO_ARRAY_LEN(rt_names));
        folio_snapshot_manifest_free(h);
        h = NULL;
        /* The whole archive is not there: verify must say so. */
        assert_int_equal(folio_snapshot_verify(paths[i], &ro, NULL, NULL, &err),
                         FOLIO_E_SNAPSHOT_INVALID);
    }
    folio_snapshot_manifest_free(m);
    tu_rmrf(dir);
    free(src);
    free(a1);
    free(a2);
    free(dir);
}

static int stray_entries(const char *dir, const char *const *keep);

/* ---- hostile archives, built entry by entry ------------------------------- */

struct hent {
    const char *name;
    unsigned type; /* AE_IFREG when 0 */
    const void *data;
    size_t len;
    int64_t size;         /* declared size; -1: len */
    const char *symlink;  /* AE_IFLNK target */
    const char *hardlink; /* hard link target */
};

static void
build_archive(const char *path, const struct hent *ents, size_t n, bool zstd)
{
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    assert_int_equal(zstd ? archive_write_add_filter_zstd(a) : archive_write_add_filter_none(a),
                     ARCHIVE_OK);
    assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        const struct hent *h = &ents[i];
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, h->name);
        archive_entry_set_filetype(e, h->type ? h->type : AE_IFREG);
        archive_entry_set_perm(e, 0600);
        if (h->type == AE_IFCHR || h->type == AE_IFBLK)
            archive_entry_set_rdev(e, makedev(1, 3));
        if (h->symlink != NULL)
            archive_entry_set_symlink(e, h->symlink);
        if (h->hardlink != NULL)
            archive_entry_set_hardlink(e, h->hardlink);
        int64_t size = h->size >= 0 ? h->size : (int64_t)h->len;
        if (h->type == 0 || h->type == AE_IFREG)
            archive_entry_set_size(e, size);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (h->len > 0)
            assert_int_equal(archive_write_data(a, h->data, h->len), (la_ssize_t)h->len);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* A manifest listing these files with their real sizes and XXH3-128 (hashed here). */
static struct folio_snapshot_manifest *
manifest_for(const char *const *names, const void *const *datas, const size_t *lens, size_t n)
{
    struct folio_snapshot_manifest *m = new_manifest(FOLIO_SNAPSHOT_KIND_INDEX, names, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits(datas[i], lens[i]));
        memcpy(m->files[i].xxh128, c.digest, 16);
        m->files[i].size = lens[i];
    }
    return m;
}

static char *
json_of(const struct folio_snapshot_manifest *m, size_t *len)
{
    char *json = NULL;
    assert_int_equal(folio_snapshot_manifest_to_json(m, &json, len), 0);
    return json;
}

/* Every path under root (relative, files and directories), lstat-checked: no links, no specials. */
static void
walk_out(const char *root, const char *rel, const struct folio_snapshot_manifest *m)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char sub[2048], full[4096 + 2048];
        snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        snprintf(full, sizeof(full), "%s/%s", root, sub);
        struct stat st;
        assert_int_equal(lstat(full, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            walk_out(root, sub, m);
            continue;
        }
        if (!S_ISREG(st.st_mode))
            fail_msg("%s is not a regular file", full);
        bool listed = false;
        for (uint32_t i = 0; m != NULL && i < m->file_count; i++)
            listed |= strcmp(m->files[i].name, sub) == 0;
        if (!listed)
            fail_msg("%s was written but is not in the manifest", full);
    }
    closedir(d);
}

/*
 * Verify and extract must both refuse path with code; extraction writes
 * nothing outside out, and inside out only regular files the manifest lists.
 * The work directory holds exactly: the archive, out (and the victim file).
 */
static void
expect_refused(const char *dir, const char *path, int code, const char *msg_part,
               const struct folio_snapshot_manifest *m)
{
    struct folio_snapshot_error err = {0};
    struct folio_snapshot_read_opts ro;
    folio_snapshot_read_opts_default(&ro);
    int before = dir_entries(dir);
    int rc = folio_snapshot_verify(path, &ro, NULL, NULL, &err);
    if (rc != code)
        fail_msg("verify %s: %s (%s), wanted %s", path, folio_err_name(rc), err.message,
                 folio_err_name(code));
    if (msg_part != NULL && strstr(err.message, msg_part) == NULL)
        fail_msg("verify message '%s' lacks '%s'", err.message, msg_part);
    char *out = tu_path(dir, "out");
    tu_rmrf(out);
    assert_int_equal(mkdir(out, 0700), 0);
    struct folio_snapshot_manifest *got = (struct folio_snapshot_manifest *)1;
    char hex[33] = "untouched";
    rc = folio_snapshot_extract(path, out, &ro, &got, hex, &err);
    if (rc != code)
        fail_msg("extract %s: %s (%s), wanted %s", path, folio_err_name(rc), err.message,
                 folio_err_name(code));
    assert_null(got);
    assert_string_equal(hex, "untouched");
    walk_out(out, "", m);
    tu_rmrf(out);
    assert_int_equal(dir_entries(dir), before);
    free(out);
}

struct hostile_fix {
    char *dir, *arch;
    uint8_t *big;
};

static struct hostile_fix
hostile_setup(const char *tag)
{
    struct hostile_fix f;
    f.dir = tu_mkdtemp(tag);
    f.arch = tu_path(f.dir, "h.idx.snapshot");
    f.big = prng_bytes(100000, 99);
    /* The victim: a file outside out that a hostile entry might aim at. */
    char *victim = tu_path(f.dir, "victim");
    tu_write_file(victim, "keep", 4);
    free(victim);
    return f;
}

static void
hostile_teardown(struct hostile_fix *f)
{
    char *victim = tu_path(f->dir, "victim");
    size_t len = 0;
    uint8_t *v = tu_read_file(victim, &len);
    assert_true(v != NULL && len == 4 && memcmp(v, "keep", 4) == 0);
    free(v);
    free(victim);
    /* Only the archive and the victim remain: nothing was made next to them. */
    static const char *const keep[] = {"victim", "h.idx.snapshot", NULL};
    assert_int_equal(stray_entries(f->dir, keep), 0);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f->arch);
    free(f->big);
}

/* One manifest (data.mdb, small.txt) and a list of entries after it. */
static void
hostile_case(struct hostile_fix *f, const struct hent *after, size_t n, int code,
             const char *msg_part)
{
    static const char *const names[] = {"data.mdb", "small.txt"};
    const void *datas[] = {f->big, "hello\n"};
    size_t lens[] = {100000, 6};
    struct folio_snapshot_manifest *m = manifest_for(names, datas, lens, 2);
    size_t jl = 0;
    char *json = json_of(m, &jl);
    struct hent ents[8];
    ents[0] = (struct hent){.name = "manifest.json", .data = json, .len = jl, .size = -1};
    assert_true(n < 8);
    memcpy(ents + 1, after, n * sizeof(*after));
    for (int z = 0; z < 2; z++) {
        unlink(f->arch);
        build_archive(f->arch, ents, n + 1, z);
        expect_refused(f->dir, f->arch, code, msg_part, m);
    }
    unlink(f->arch);
    folio_free(json);
    folio_snapshot_manifest_free(m);
}

#define BIG(f) .data = (f)->big, .len = 100000, .size = -1
#define SMALL .data = "hello\n", .len = 6, .size = -1

static void
test_hostile_entries(void **state)
{
    struct hostile_fix f = hostile_setup("snaphost");
    char abs_name[4200];
    snprintf(abs_name, sizeof(abs_name), "%s/victim2", f.dir);
    const struct hent dotdot[] = {{.name = "../victim", BIG(&f)}};
    const struct hent absolute[] = {{.name = abs_name, BIG(&f)}};
    const struct hent symlink[] = {
        {.name = "data.mdb", .type = AE_IFLNK, .symlink = "../victim", .size = -1}};
    const struct hent hardlink[] = {{.name = "data.mdb", .hardlink = "../victim", .size = 0}};
    const struct hent chr[] = {{.name = "data.mdb", .type = AE_IFCHR, .size = -1}};
    const struct hent blk[] = {{.name = "data.mdb", .type = AE_IFBLK, .size = -1}};
    const struct hent fifo[] = {{.name = "data.mdb", .type = AE_IFIFO, .size = -1}};
    const struct hent dir[] = {{.name = "data.mdb", .type = AE_IFDIR, .size = -1}};
    const struct hent dup[] = {{.name = "data.mdb", BIG(&f)}, {.name = "data.mdb", BIG(&f)}};
    const struct hent larger[] = {
        {.name = "data.mdb", BIG(&f)},
        {.name = "small.txt", .data = "hello\nmore", .len = 10, .size = -1}};
    const struct hent missing[] = {{.name = "data.mdb", BIG(&f)}};
    const struct hent extra[] = {
        {.name = "data.mdb", BIG(&f)}, {.name = "small.txt", SMALL}, {.name = "extra", SMALL}};
    const struct hent order[] = {{.name = "small.txt", SMALL}, {.name = "data.mdb", BIG(&f)}};
    const struct hent sub_link[] = {
        {.name = "data.mdb", BIG(&f)},
        {.name = "small.txt", .type = AE_IFLNK, .symlink = "/etc", .size = -1}};
    struct {
        const char *label;
        const struct hent *e;
        size_t n;
        int code;
        const char *msg;
    } cases[] = {
        {"../x", dotdot, 1, FOLIO_E_SNAPSHOT_INVALID, "../victim"},
        {"/abs", absolute, 1, FOLIO_E_SNAPSHOT_INVALID, "victim2"},
        {"symlink", symlink, 1, FOLIO_E_SNAPSHOT_INVALID, "symbolic link"},
        {"hardlink", hardlink, 1, FOLIO_E_SNAPSHOT_INVALID, "hard link"},
        {"char device", chr, 1, FOLIO_E_SNAPSHOT_INVALID, "character device"},
        {"block device", blk, 1, FOLIO_E_SNAPSHOT_INVALID, "block device"},
        {"fifo", fifo, 1, FOLIO_E_SNAPSHOT_INVALID, "fifo"},
        {"directory", dir, 1, FOLIO_E_SNAPSHOT_INVALID, "directory"},
        {"duplicate", dup, 2, FOLIO_E_SNAPSHOT_INVALID, "twice"},
        {"larger than declared", larger, 2, FOLIO_E_SNAPSHOT_INVALID, "more than"},
        {"missing file", missing, 1, FOLIO_E_SNAPSHOT_INVALID, "small.txt"},
        {"extra file", extra, 3, FOLIO_E_SNAPSHOT_INVALID, "extra"},
        {"out of order", order, 2, FOLIO_E_SNAPSHOT_INVALID, "data.mdb"},
        {"symlink second", sub_link, 2, FOLIO_E_SNAPSHOT_INVALID, "symbolic link"},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cases); i++) {
        print_message("hostile: %s\n", cases[i].label);
        hostile_case(&f, cases[i].e, cases[i].n, cases[i].code, cases[i].msg);
    }
    struct stat st;
    assert_int_equal(lstat(abs_name, &st), -1);
    hostile_teardown(&f);
}

/* Archives whose head is wrong: no manifest, manifest not first, too big, garbage, empty. */
static void
test_hostile_heads(void **state)
{
    struct hostile_fix f = hostile_setup("snaphead2");
    static const char *const names[] = {"data.mdb"};
    const void *datas[] = {f.big};
    size_t lens[] = {100000};
    struct folio_snapshot_manifest *m = manifest_for(names, datas, lens, 1);
    size_t jl = 0;
    char *json = json_of(m, &jl);
    struct folio_snapshot_error err;
    struct folio_snapshot_manifest *h = NULL;

    const struct hent no_manifest[] = {{.name = "data.mdb", BIG(&f)}};
    const struct hent not_first[] = {
        {.name = "data.mdb", BIG(&f)},
        {.name = "manifest.json", .data = json, .len = jl, .size = -1}};
    size_t huge_len = FOLIO_SNAPSHOT_MANIFEST_BYTES_MAX + 1;
    char *huge = malloc(huge_len);
    memset(huge, ' ', huge_len);
    memcpy(huge, json, jl); /* valid JSON followed by spaces: only its size is wrong */
    const struct hent too_big[] = {
        {.name = "manifest.json", .data = huge, .len = huge_len, .size = -1},
        {.name = "data.mdb", BIG(&f)}};
    const struct hent not_json[] = {
        {.name = "manifest.json", .data = "{\"format\":", .len = 10, .size = -1}};
    const struct hent manifest_dir[] = {{.name = "manifest.json", .type = AE_IFDIR, .size = -1}};
    struct {
        const struct hent *e;
        size_t n;
        const char *msg;
    } cases[] = {{no_manifest, 1, "not manifest.json"},
                 {not_first, 2, "not manifest.json"},
                 {too_big, 2, "limit"},
                 {not_json, 1, "not JSON"},
                 {manifest_dir, 1, "directory"}};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cases); i++) {
        for (int z = 0; z < 2; z++) {
            unlink(f.arch);
            build_archive(f.arch, cases[i].e, cases[i].n, z);
            assert_int_equal(folio_snapshot_read_manifest(f.arch, &h, &err),
                             FOLIO_E_SNAPSHOT_INVALID);
            assert_null(h);
            expect_refused(f.dir, f.arch, FOLIO_E_SNAPSHOT_INVALID, cases[i].msg, m);
        }
    }
    /* An archive with no entry at all, garbage, an empty file. */
    unlink(f.arch);
    build_archive(f.arch, NULL, 0, false);
    expect_refused(f.dir, f.arch, FOLIO_E_SNAPSHOT_INVALID, NULL, m);
    tu_write_file(f.arch, f.big, 100000);
    expect_refused(f.dir, f.arch, FOLIO_E_SNAPSHOT_INVALID, NULL, m);
    assert_int_equal(folio_snapshot_read_manifest(f.arch, &h, &err), FOLIO_E_SNAPSHOT_INVALID);
    tu_write_file(f.arch, "", 0);
    expect_refused(f.dir, f.arch, FOLIO_E_SNAPSHOT_INVALID, NULL, m);
    assert_int_equal(folio_snapshot_read_manifest(f.arch, &h, &err), FOLIO_E_SNAPSHOT_INVALID);
    unlink(f.arch);
    assert_int_equal(folio_snapshot_read_manifest(f.arch, &h, &err), FOLIO_E_NOT_FOUND);
    tu_write_file(f.arch, "", 0);

    free(huge);
    folio_free(json);
    folio_snapshot_manifest_free(m);
    hostile_teardown(&f);
}

/* A manifest edited: checksum, size, format version, engine major version. */
static void
test_edited_manifest(void **state)
{
    struct hostile_fix f = hostile_setup("snapedit");
    static const char *const names[] = {"data.mdb"};
    const void *datas[] = {f.big};
    size_t lens[] = {100000};
    const struct hent data[] = {{.name = "data.mdb", BIG(&f)}};
    struct {
        const char *label;
        int code;
        const char *msg;
    } cases[] = {
        {"checksum", FOLIO_E_SNAPSHOT_CHECKSUM, "XXH3-128"},
        {"size up", FOLIO_E_SNAPSHOT_CHECKSUM, "100001"},
        {"size down", FOLIO_E_SNAPSHOT_INVALID, "99999"},
        {"format version", FOLIO_E_SNAPSHOT_VERSION, "format version 2"},
        {"format version + new field", FOLIO_E_SNAPSHOT_VERSION, "format version 2"},
        {"engine major", FOLIO_E_SNAPSHOT_VERSION, "1.4.2"},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cases); i++) {
        print_message("edited manifest: %s\n", cases[i].label);
        struct folio_snapshot_manifest *m = manifest_for(names, datas, lens, 1);
        if (i == 0)
            m->files[0].xxh128[15] ^= 1;
        if (i == 1)
            m->files[0].size++;
        if (i == 2)
            m->files[0].size--;
        if (i == 3 || i == 4)
            m->format_version = 2;
        if (i == 5) {
            folio_free(m->engine_version);
            m->engine_version = folio_strdup("1.4.2");
        }
        size_t jl = 0;
        char *json = json_of(m, &jl);
        if (i == 4) { /* a field this version does not know */
            json_t *o = json_loadb(json, jl, 0, NULL);
            json_object_set_new(o, "compressionDictionary", json_string("x"));
            folio_free(json);
            char *s = json_dumps(o, 0);
            json = folio_strdup(s);
            jl = strlen(s);
            free(s);
            json_decref(o);
        }
        struct hent ents[2] = {{.name = "manifest.json", .data = json, .len = jl, .size = -1},
                               data[0]};
        for (int z = 0; z < 2; z++) {
            unlink(f.arch);
            build_archive(f.arch, ents, 2, z);
            expect_refused(f.dir, f.arch, cases[i].code, cases[i].msg, m);
        }
        if (i == 5) { /* the message names both versions */
            struct folio_snapshot_error err;
            struct folio_snapshot_manifest *h = NULL;
            assert_int_equal(folio_snapshot_read_manifest(f.arch, &h, &err),
                             FOLIO_E_SNAPSHOT_VERSION);
            assert_non_null(strstr(err.message, "1.4.2"));
            assert_non_null(strstr(err.message, FOLIO_TEST_VERSION));
        }
        unlink(f.arch);
        folio_free(json);
        folio_snapshot_manifest_free(m);
    }
    hostile_teardown(&f);
}

/* Offset of the data of the entry named name in an uncompressed tar; 0 if absent. */
static size_t
tar_data_offset(const uint8_t *d, size_t len, const char *name)
{
    for (size_t off = 0; off + 512 <= len;) {
        if (d[off] == 0)
            return 0;
        size_t size = tar_entry_size(d + off);
        if (strcmp((const char *)d + off, name) == 0)
            return off + 512;
        off += 512 + (size + 511) / 512 * 512;
    }
    return 0;
}

/* Damage to a real archive: truncation at several offsets, one flipped byte, an edit. */
static void
test_damaged_archives(void **state)
{
    char *dir = tu_mkdtemp("snapdmg");
    char *src = tu_path(dir, "src"), *good = tu_path(dir, "good"), *bad = tu_path(dir, "bad");
    assert_int_equal(mkdir(src, 0700), 0);
    fill_rt_source(src);
    struct folio_snapshot_manifest *m =
        hashed_manifest(src, FOLIO_SNAPSHOT_KIND_INSTANCE, rt_names, FOLIO_ARRAY_LEN(rt_names));
    char hex[33];
    struct folio_snapshot_error err;
    struct folio_snapshot_read_opts ro;
    folio_snapshot_read_opts_default(&ro);
    ro.kind = FOLIO_SNAPSHOT_KIND_INSTANCE;
    for (int c = 0; c < 3; c++) {
        unlink(good);
        write_ok(good, m, src, (enum folio_snapshot_compression)c, hex);
        size_t len = 0;
        uint8_t *d = tu_read_file(good, &len);
        size_t big_off = c == FOLIO_SNAPSHOT_NONE ? tar_data_offset(d, len, rt_names[4]) : 0;
        /* Cuts: inside the first header, the manifest, the big file, the last file. */
        /* Cuts: inside the first header, the manifest, the big file, the last file, and
         * (plain tar) inside or before the end-of-archive blocks, which tar readers forgive. */
        size_t cuts[] = {1,
                         300,
                         700,
                         len / 2,
                         len * 3 / 4,
                         c == FOLIO_SNAPSHOT_NONE ? big_off + BIG_BYTES : len - 40,
                         c == FOLIO_SNAPSHOT_NONE ? len - 1 : len - 1,
                         c == FOLIO_SNAPSHOT_NONE ? len - 512 : len - 2,
                         c == FOLIO_SNAPSHOT_NONE ? len - 1024 : len - 3};
        for (size_t k = 0; k < FOLIO_ARRAY_LEN(cuts); k++) {
            tu_write_file(bad, d, cuts[k]);
            int rc = folio_snapshot_verify(bad, &ro, NULL, NULL, &err);
            if (rc != FOLIO_E_SNAPSHOT_INVALID)
                fail_msg("%s cut at %zu of %zu: %s (%s)", folio_snapshot_compression_name(c),
                         cuts[k], len, folio_err_name(rc), err.message);
        }
        /* One flipped byte in the middle of the big file's data. */
        size_t flip = c == FOLIO_SNAPSHOT_NONE ? big_off + BIG_BYTES / 2 : len / 2;
        d[flip] ^= 0x20;
        tu_write_file(bad, d, len);
        int rc = folio_snapshot_verify(bad, &ro, NULL, NULL, &err);
        if (c == FOLIO_SNAPSHOT_NONE)
            assert_int_equal(rc, FOLIO_E_SNAPSHOT_CHECKSUM);
        else if (rc != FOLIO_E_SNAPSHOT_CHECKSUM && rc != FOLIO_E_SNAPSHOT_INVALID)
            fail_msg("%s flipped byte: %s", folio_snapshot_compression_name(c), err.message);
        d[flip] ^= 0x20;
        if (c == FOLIO_SNAPSHOT_NONE) {
            /* A flipped byte in a tar header (the size field of the big file's entry). */
            d[big_off - 512 + 130] ^= 0x01;
            tu_write_file(bad, d, len);
            assert_int_equal(folio_snapshot_verify(bad, &ro, NULL, NULL, &err),
                             FOLIO_E_SNAPSHOT_INVALID);
            d[big_off - 512 + 130] ^= 0x01;
            /* The manifest edited in place: one hex digit of a checksum. */
            char want[33];
            for (int i = 0; i < 16; i++)
                sprintf(want + 2 * i, "%02x", m->files[2].xxh128[i]);
            uint8_t *at = memmem(d, 4096, want, 32);
            assert_non_null(at);
            at[31] = at[31] == '0' ? '1' : '0';
            tu_write_file(bad, d, len);
            assert_int_equal(folio_snapshot_verify(bad, &ro, NULL, NULL, &err),
                             FOLIO_E_SNAPSHOT_CHECKSUM);
            assert_non_null(strstr(err.message, "small.txt"));
        }
        free(d);
    }
    folio_snapshot_manifest_free(m);
    tu_rmrf(dir);
    free(src);
    free(good);
    free(bad);
    free(dir);
}

/* ---- manifest rules ---------------------------------------------------------- */

static int
parse_edited(const char *json, size_t len, const char *path, json_t *value)
{
    json_t *o = json_loadb(json, len, 0, NULL);
    assert_non_null(o);
    json_t *target = o;
    char key[64];
    const char *p = path;
    /* path: "key" or "files.N.key" or "indexes.N.key" */
    while (strchr(p, '.') != NULL) {
        size_t n = (size_t)(strchr(p, '.') - p);
        memcpy(key, p, n);
        key[n] = '\0';
        target = json_is_array(target) ? json_array_get(target, (size_t)atoi(key))
                                       : json_object_get(target, key);
        assert_non_null(target);
        p += n + 1;
    }
    if (value == NULL)
        json_object_del(target, p);
    else
        json_object_set_new(target, p, value);
    char *s = json_dumps(o, 0);
    struct folio_snapshot_manifest *m = NULL;
    struct folio_snapshot_error err = {0};
    int rc = folio_snapshot_manifest_parse(s, strlen(s), &m, &err);
    if (rc == 0)
        assert_non_null(m);
    else
        assert_null(m);
    folio_snapshot_manifest_free(m);
    free(s);
    json_decref(o);
    return rc;
}

static void
test_manifest_rules(void **state)
{
    static const char *const names[] = {"data.mdb", "a/b.txt"};
    struct folio_snapshot_manifest *m = new_manifest(FOLIO_SNAPSHOT_KIND_INDEX, names, 2);
    struct folio_snapshot_manifest *inst = new_manifest(FOLIO_SNAPSHOT_KIND_INSTANCE, names, 2);
    size_t len = 0, ilen = 0;
    char *json = json_of(m, &len), *ijson = json_of(inst, &ilen);
    assert_int_equal(parse_edited(json, len, "seq", json_integer(5)), 0);
    const int I = FOLIO_E_SNAPSHOT_INVALID;
    struct {
        const char *path;
        json_t *value;
        int code;
    } cases[] = {
        {"format", json_string("folio-snap"), I},
        {"format", NULL, I},
        {"formatVersion", json_string("1"), I},
        {"formatVersion", json_integer(-1), I},
        {"engineVersion", json_string("one"), I},
        {"engineVersion", json_string("0.1"), I},
        {"kind", json_string("table"), I},
        {"createdAt", json_string("2026-11-22T16:23:40Z"), I},
        {"createdAt", json_string("2026-02-30T16:23:40.000000000Z"), I},
        {"createdAt", json_integer(0), I},
        {"sourceInstanceUid", json_string(""), I},
        {"sourceInstanceUid", json_string("a b"), I},
        {"seq", json_integer(-3), I},
        {"seq", json_real(1.5), I},
        {"taskUid", NULL, I},
        {"indexUid", json_string("mo/vies"), I},
        {"indexUid", NULL, I},
        {"primaryKey", json_integer(3), I},
        {"settings", json_string("{}"), I},
        {"documentCount", json_integer(-1), I},
        {"indexes", json_array(), I},
        {"somethingNew", json_true(), I},
        {"files", json_object(), I},
        {"files.0.name", json_string("../data.mdb"), I},
        {"files.0.name", json_string("/data.mdb"), I},
        {"files.0.name", json_string("a//b"), I},
        {"files.0.name", json_string("./a"), I},
        {"files.0.name", json_string("a/"), I},
        {"files.0.name", json_string("sp ace"), I},
        {"files.0.name", json_string("manifest.json"), I},
        {"files.0.name", json_string("a/b.txt"), I}, /* a duplicate */
        {"files.0.name", json_string("a"), I},       /* "a" and "a/b.txt" */
        {"files.0.size", json_integer(-1), I},
        {"files.0.xxh3_128", json_string("00"), I},
        {"files.0.xxh3_128", json_string("zz000000000000000000000000000000"), I},
        {"files.0.extra", json_true(), I},
        {"engineVersion", json_string("7.0.0"), FOLIO_E_SNAPSHOT_VERSION},
        {"formatVersion", json_integer(9), FOLIO_E_SNAPSHOT_VERSION},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cases); i++) {
        int rc = parse_edited(json, len, cases[i].path, cases[i].value);
        if (rc != cases[i].code)
            fail_msg("case %zu (%s): %s, wanted %s", i, cases[i].path, folio_err_name(rc),
                     folio_err_name(cases[i].code));
    }
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(parse_edited(json, len, "files.0.name", json_string(longname)), I);
    /* Kind "instance": index-only fields are refused, duplicates in indexes too. */
    assert_int_equal(parse_edited(ijson, ilen, "indexUid", json_string("x")), I);
    assert_int_equal(parse_edited(ijson, ilen, "indexes.1.uid", json_string("movies")), I);
    assert_int_equal(parse_edited(ijson, ilen, "indexes.0.extra", json_true()), I);
    assert_int_equal(parse_edited(ijson, ilen, "taskUid", json_integer(0)), 0);
    /* Duplicate keys and non-objects. */
    struct folio_snapshot_manifest *out = NULL;
    struct folio_snapshot_error err;
    const char *dupkey = "{\"format\":\"folio-snapshot\",\"format\":\"folio-snapshot\"}";
    assert_int_equal(folio_snapshot_manifest_parse(dupkey, strlen(dupkey), &out, &err), I);
    assert_int_equal(folio_snapshot_manifest_parse("[1]", 3, &out, &err), I);
    /* Written with format_version 0 and no engine version: this build's are used. */
    m->format_version = 0;
    folio_free(m->engine_version);
    m->engine_version = NULL;
    char *dflt = json_of(m, &len);
    assert_int_equal(folio_snapshot_manifest_parse(dflt, len, &out, &err), 0);
    assert_int_equal(out->format_version, FOLIO_SNAPSHOT_FORMAT_VERSION);
    assert_string_equal(out->engine_version, FOLIO_TEST_VERSION);
    folio_snapshot_manifest_free(out);
    folio_free(dflt);
    assert_int_equal(folio_snapshot_engine_major("0.1.0"), 0);
    assert_int_equal(folio_snapshot_engine_major("12.3.4-rc.1"), 12);
    assert_int_equal(folio_snapshot_engine_major("1.2"), -1);
    assert_int_equal(folio_snapshot_engine_major("01.2.3"), -1);
    assert_int_equal(folio_snapshot_engine_major(""), -1);
    assert_true(folio_snapshot_is_temp_name("/x/a.idx.snapshot.tmp-0123456789abcdef"));
    assert_false(folio_snapshot_is_temp_name("a.idx.snapshot"));
    assert_false(folio_snapshot_is_temp_name("a.tmp-0123"));
    enum folio_snapshot_compression c;
    assert_int_equal(folio_snapshot_compression_parse("gzip", &c), 0);
    assert_int_equal(c, FOLIO_SNAPSHOT_GZIP);
    assert_int_equal(folio_snapshot_compression_parse("xz", &c), FOLIO_E_INVALID);
    folio_free(json);
    folio_free(ijson);
    folio_snapshot_manifest_free(m);
    folio_snapshot_manifest_free(inst);
}

/* ---- stop, existing destination, I/O faults ------------------------------------- */

struct stopper {
    atomic_bool stop;
    uint64_t after;
    uint64_t calls;
};

static void
stop_after(void *ctx, uint64_t done, uint64_t total)
{
    struct stopper *s = ctx;
    s->calls++;
    if (done >= s->after)
        atomic_store(&s->stop, true);
}

/* Entries of dir other than the ones named (NULL-terminated). */
static int
stray_entries(const char *dir, const char *const *keep)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        bool known = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
        for (const char *const *k = keep; *k != NULL; k++)
            known |= strcmp(de->d_name, *k) == 0;
        if (!known) {
            print_message("stray: %s\n", de->d_name);
            n++;
        }
    }
    closedir(d);
    return n;
}

static void
test_stop_exists_faults(void **state)
{
    char *dir = tu_mkdtemp("snapstop");
    char *src = tu_path(dir, "src"), *dest = tu_path(dir, "a.snapshot"), *out = tu_path(dir, "out");
    assert_int_equal(mkdir(src, 0700), 0);
    fill_rt_source(src);
    static const char *const keep[] = {"src", "out", NULL};
    static const char *const keep_a[] = {"src", "out", "a.snapshot", NULL};
    struct folio_snapshot_manifest *m =
        hashed_manifest(src, FOLIO_SNAPSHOT_KIND_INSTANCE, rt_names, FOLIO_ARRAY_LEN(rt_names));
    struct folio_snapshot_error err;
    struct folio_snapshot_write_opts o;
    struct stopper s = {.after = 1u << 20};
    folio_snapshot_write_opts_default(&o);
    o.stop = &s.stop;
    o.progress = stop_after;
    o.progress_ctx = &s;
    assert_int_equal(mkdir(out, 0700), 0);

    /* Stopped half-way: nothing at dest, no temporary left. */
    assert_int_equal(folio_snapshot_write(dest, m, src, &o, NULL, &err), FOLIO_E_CANCELED);
    assert_true(s.calls > 0);
    assert_int_equal(stray_entries(dir, keep), 0);

    /* A file changed after hashing: refused, nothing left. */
    m->files[2].xxh128[0] ^= 1;
    assert_int_equal(folio_snapshot_write(dest, m, src, NULL, NULL, &err),
                     FOLIO_E_SNAPSHOT_CHECKSUM);
    m->files[2].xxh128[0] ^= 1;
    assert_int_equal(stray_entries(dir, keep), 0);

    /* I/O faults through the seam: the 2nd write fails with ENOSPC, fdatasync, rename. */
    const struct folio_io_fault faults[] = {
        {FOLIO_IO_WRITE, FOLIO_IO_ACT_FAIL, 2, ENOSPC, 0, 0},
        {FOLIO_IO_WRITE, FOLIO_IO_ACT_FAIL, 1, EIO, 0, 0},
        {FOLIO_IO_FSYNC, FOLIO_IO_ACT_FAIL, 1, EIO, 0, 0},
        {FOLIO_IO_RENAME, FOLIO_IO_ACT_FAIL, 1, EIO, 0, 0},
        {FOLIO_IO_OPEN, FOLIO_IO_ACT_FAIL, 1, ENOSPC, 0, 0},
    };
    const int codes[] = {FOLIO_E_NOSPC, FOLIO_E_IO, FOLIO_E_IO, FOLIO_E_IO, FOLIO_E_NOSPC};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(faults); i++) {
        folio_io_fault_set(&faults[i]);
        int rc = folio_snapshot_write(dest, m, src, NULL, NULL, &err);
        uint64_t hits = folio_io_count(faults[i].op);
        folio_io_fault_set(NULL);
        if (rc != codes[i])
            fail_msg("fault %zu (%s): %s (%s)", i, folio_io_op_name(faults[i].op),
                     folio_err_name(rc), err.message);
        assert_true(hits >= faults[i].nth);
        assert_int_equal(stray_entries(dir, keep), 0);
    }

    /* A good write; then a second one to the same dest is refused and changes nothing. */
    char hex[33], hex2[33];
    write_ok(dest, m, src, FOLIO_SNAPSHOT_ZSTD, hex);
    file_hex(dest, hex2);
    assert_int_equal(folio_snapshot_write(dest, m, src, NULL, NULL, &err), FOLIO_E_EXISTS);
    char hex3[33];
    file_hex(dest, hex3);
    assert_string_equal(hex2, hex3);
    assert_int_equal(stray_entries(dir, keep_a), 0);

    /* Extraction stopped after 1 MiB of archive: canceled; out may hold partial files. */
    struct folio_snapshot_read_opts ro;
    folio_snapshot_read_opts_default(&ro);
    ro.kind = FOLIO_SNAPSHOT_KIND_INSTANCE;
    struct stopper rs = {.after = 1u << 20};
    ro.stop = &rs.stop;
    ro.progress = stop_after;
    ro.progress_ctx = &rs;
    assert_int_equal(folio_snapshot_extract(dest, out, &ro, NULL, NULL, &err), FOLIO_E_CANCELED);
    walk_out(out, "", m);
    atomic_store(&rs.stop, false);
    rs.after = UINT64_MAX;
    /* out is not empty now: extraction refuses it. */
    assert_int_equal(folio_snapshot_extract(dest, out, &ro, NULL, NULL, &err), FOLIO_E_EXISTS);
    tu_rmrf(out);
    assert_int_equal(mkdir(out, 0700), 0);
    /* A fault while writing an extracted file: ENOSPC reported as such. */
    struct folio_io_fault wf = {FOLIO_IO_WRITE, FOLIO_IO_ACT_FAIL, 3, ENOSPC, 0, 0};
    folio_io_fault_set(&wf);
    int rc = folio_snapshot_extract(dest, out, &ro, NULL, NULL, &err);
    folio_io_fault_set(NULL);
    assert_int_equal(rc, FOLIO_E_NOSPC);
    walk_out(out, "", m);
    tu_rmrf(out);
    assert_int_equal(mkdir(out, 0700), 0);
    assert_int_equal(folio_snapshot_extract(dest, out, &ro, NULL, NULL, &err), 0);
    assert_true(rs.calls > 0);

    /* Bad options. */
    o = (struct folio_snapshot_write_opts){.compression = FOLIO_SNAPSHOT_GZIP, .level = 12};
    unlink(dest);
    assert_int_equal(folio_snapshot_write(dest, m, src, &o, NULL, &err), FOLIO_E_INVALID);
    assert_int_equal(stray_entries(dir, keep), 0);

    folio_snapshot_manifest_free(m);
    tu_rmrf(dir);
    free(src);
    free(dest);
    free(out);
    free(dir);
}

/* ---- the golden archive (docs/snapshot-format.md, "Worked example") ----------- */

static const char golden_data[] = "folio golden snapshot: not a real LMDB file\n";

static unsigned long long
octal_field(const uint8_t *p, size_t n)
{
    char buf[16] = {0};
    memcpy(buf, p, n);
    return strtoull(buf, NULL, 8);
}

/*
 * tests/data/golden-index.idx.snapshot read by hand as the document
 * describes it (ustar headers, the manifest's fields, the data, the end
 * blocks), then by the module, then written again from the same inputs:
 * the bytes must be the same, so a change to the writer shows up here.
 * FOLIO_SNAPSHOT_GOLDEN_REGEN=PATH writes the re-made archive to PATH.
 */
static void
test_golden_archive(void **state)
{
    size_t len = 0;
    uint8_t *g = tu_read_file(FOLIO_TEST_DATA_DIR "/golden-index.idx.snapshot", &len);
    assert_non_null(g);
    assert_int_equal(len, 3584);
    /* Header 1: manifest.json, a regular file (typeflag '0'), mode 0600, ustar. */
    assert_string_equal((char *)g, "manifest.json");
    assert_int_equal(octal_field(g + 100, 8), 0600);
    assert_int_equal(g[156], '0');
    assert_memory_equal(g + 257,
                        "ustar\0"
                        "00",
                        8);
    assert_int_equal(octal_field(g + 136, 12), 1795357420ULL); /* createdAt, seconds */
    unsigned long sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (i >= 148 && i < 156) ? ' ' : g[i];
    assert_int_equal(octal_field(g + 148, 8), sum);
    size_t jl = (size_t)octal_field(g + 124, 12);
    json_t *mj = json_loadb((char *)g + 512, jl, 0, NULL);
    assert_non_null(mj);
    assert_string_equal(json_string_value(json_object_get(mj, "format")), "folio-snapshot");
    assert_int_equal(json_integer_value(json_object_get(mj, "formatVersion")), 1);
    assert_string_equal(json_string_value(json_object_get(mj, "kind")), "index");
    assert_string_equal(json_string_value(json_object_get(mj, "createdAt")),
                        "2026-11-22T14:23:40.123456789Z");
    json_t *f0 = json_array_get(json_object_get(mj, "files"), 0);
    assert_string_equal(json_string_value(json_object_get(f0, "name")), "data.mdb");
    assert_int_equal(json_integer_value(json_object_get(f0, "size")), strlen(golden_data));
    char want_hex[33];
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(golden_data, strlen(golden_data)));
    for (int i = 0; i < 16; i++)
        sprintf(want_hex + 2 * i, "%02x", c.digest[i]);
    assert_string_equal(json_string_value(json_object_get(f0, "xxh3_128")), want_hex);
    /* Header 2: data.mdb, then its bytes, then two zero blocks ending the file. */
    size_t h2 = 512 + (jl + 511) / 512 * 512;
    assert_string_equal((char *)g + h2, "data.mdb");
    assert_int_equal(octal_field(g + h2 + 124, 12), strlen(golden_data));
    assert_memory_equal(g + h2 + 512, golden_data, strlen(golden_data));
    size_t end = h2 + 512 + (strlen(golden_data) + 511) / 512 * 512;
    assert_int_equal(end + 1024, len);
    assert_true(folio_is_zero(g + end, 1024));

    /* The module reads it. */
    char hex[33], fhex[33];
    struct folio_snapshot_error err;
    struct folio_snapshot_manifest *m = NULL;
    int rc = folio_snapshot_verify(FOLIO_TEST_DATA_DIR "/golden-index.idx.snapshot", NULL, &m, hex,
                                   &err);
    if (rc != 0)
        fail_msg("golden: %s", err.message);
    file_hex(FOLIO_TEST_DATA_DIR "/golden-index.idx.snapshot", fhex);
    assert_string_equal(hex, fhex);

    /* Written again from the same inputs: the same bytes. */
    char *dir = tu_mkdtemp("snapgold");
    char *src = tu_path(dir, "src"), *again = tu_path(dir, "movies.idx.snapshot");
    assert_int_equal(mkdir(src, 0700), 0);
    put_file(src, "data.mdb", golden_data, strlen(golden_data));
    struct folio_snapshot_manifest *w =
        new_manifest(FOLIO_SNAPSHOT_KIND_INDEX, (const char *const[]){"data.mdb"}, 1);
    folio_free(w->settings_json);
    w->settings_json = folio_strdup("{\"searchableAttributes\":[\"title\",\"overview\"],"
                                    "\"filterableAttributes\":[\"year\"]}");
    assert_int_equal(folio_snapshot_hash_files(src, w, NULL, NULL, NULL, &err), 0);
    write_ok(again, w, src, FOLIO_SNAPSHOT_NONE, hex);
    size_t alen = 0;
    uint8_t *a = tu_read_file(again, &alen);
    const char *regen = getenv("FOLIO_SNAPSHOT_GOLDEN_REGEN");
    if (regen != NULL)
        tu_write_file(regen, a, alen);
    assert_int_equal(alen, len);
    assert_memory_equal(a, g, len);

    free(a);
    json_decref(mj);
    folio_snapshot_manifest_free(m);
    folio_snapshot_manifest_free(w);
    tu_rmrf(dir);
    free(src);
    free(again);
    free(dir);
    free(g);
}

/* ---- special files where an archive should be ------------------------------ */

static void
on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_snapshot_archive: a read blocked on a fifo\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(1);
}

/*
 * The archive's final rename never replaces a file: a name taken between the
 * writer's check and its rename (another writer, an operator's copy) stays.
 */
static void
test_rename_never_replaces(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("snapnorepl");
    char *a = tu_path(dir, "a"), *b = tu_path(dir, "b");
    FILE *f = fopen(a, "w");
    assert_non_null(f);
    fputs("new", f);
    fclose(f);
    f = fopen(b, "w");
    assert_non_null(f);
    fputs("taken", f);
    fclose(f);
    uint64_t renames = folio_io_count(FOLIO_IO_RENAME);
    errno = 0;
    assert_int_equal(folio_io_rename_noreplace(a, b), -1);
    assert_int_equal(errno, EEXIST);
    assert_true(folio_io_count(FOLIO_IO_RENAME) > renames);
    char buf[16] = "";
    f = fopen(b, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    assert_string_equal(buf, "taken");
    assert_int_equal(access(a, F_OK), 0);
    assert_int_equal(unlink(b), 0);
    assert_int_equal(folio_io_rename_noreplace(a, b), 0);
    assert_int_equal(access(a, F_OK), -1);
    assert_int_equal(access(b, F_OK), 0);
    assert_int_equal(unlink(b), 0);
    assert_int_equal(rmdir(dir), 0);
    folio_free(a);
    folio_free(b);
    folio_free(dir);
}

/*
 * A fifo named like an archive (a file swapped for one after the registration
 * or the listing looked at it): every reader refuses it at once instead of
 * blocking in open() until someone writes to it.
 */
static void
test_fifo_not_waited_for(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("snapfifo");
    char *fifo = tu_path(dir, "x.idx.snapshot");
    char *out = tu_path(dir, "out");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(mkdir(out, 0700), 0);
    signal(SIGALRM, on_alarm);
    alarm(20);
    struct folio_snapshot_error err = {0};
    struct folio_snapshot_manifest *m = NULL;
    assert_int_equal(folio_snapshot_read_manifest(fifo, &m, &err), FOLIO_E_SNAPSHOT_INVALID);
    assert_non_null(strstr(err.message, "not a regular file"));
    assert_int_equal(folio_snapshot_verify(fifo, NULL, NULL, NULL, &err), FOLIO_E_SNAPSHOT_INVALID);
    assert_int_equal(folio_snapshot_extract(fifo, out, NULL, NULL, NULL, &err),
                     FOLIO_E_SNAPSHOT_INVALID);
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    assert_int_equal(dir_entries(out), 0);
    tu_rmrf(dir);
    free(fifo);
    free(out);
    free(dir);
}

/* One reader call beneath root: its code (the manifest, when read, is freed). */
static int
read_beneath(const char *root, const char *rel, bool extract, const char *out)
{
    struct folio_snapshot_error err = {0};
    struct folio_snapshot_manifest *m = NULL;
    int rc;
    if (!extract) {
        rc = folio_snapshot_read_manifest_in(root, rel, &m, &err);
    } else {
        struct folio_snapshot_read_opts ro;
        folio_snapshot_read_opts_default(&ro);
        ro.root_dir = root;
        rc = folio_snapshot_extract(rel, out, &ro, &m, NULL, &err);
    }
    if (rc == FOLIO_E_INVALID)
        assert_true(strstr(err.message, "leaves") != NULL ||
                    strstr(err.message, "relative") != NULL);
    folio_snapshot_manifest_free(m);
    return rc;
}

/*
 * root_dir: the path is opened beneath the root at every call, following no
 * link, so a directory or the file swapped for a link to the outside since
 * an earlier check is refused; "..", absolute and empty components too.
 */
static void
test_open_beneath_root(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("snapbeneath");
    char *src = tu_path(dir, "src"), *root = tu_path(dir, "root"), *out = tu_path(dir, "out");
    char *outside = tu_path(dir, "outside");
    static const char *const names[] = {"data.mdb"};
    assert_int_equal(mkdir(src, 0700), 0);
    put_file(src, "data.mdb", "some index bytes\n", 17);
    struct folio_snapshot_manifest *m = hashed_manifest(src, FOLIO_SNAPSHOT_KIND_INDEX, names, 1);
    char *sub = tu_path(root, "indexes"), *osub = tu_path(outside, "indexes");
    assert_int_equal(mkdir(root, 0700), 0);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(mkdir(outside, 0700), 0);
    assert_int_equal(mkdir(osub, 0700), 0);
    char *arch = tu_path(sub, "a.idx.snapshot"), *oarch = tu_path(osub, "a.idx.snapshot");
    write_ok(arch, m, src, FOLIO_SNAPSHOT_ZSTD, NULL);
    write_ok(oarch, m, src, FOLIO_SNAPSHOT_ZSTD, NULL);
    assert_int_equal(mkdir(out, 0700), 0);

    assert_int_equal(read_beneath(root, "indexes/a.idx.snapshot", false, NULL), FOLIO_OK);
    assert_int_equal(read_beneath(root, "indexes/a.idx.snapshot", true, out), FOLIO_OK);
    assert_int_equal(dir_entries(out), 1);
    tu_rmrf(out);
    assert_int_equal(mkdir(out, 0700), 0);
    static const char *const bad[] = {"../outside/indexes/a.idx.snapshot",
                                      "indexes/../../outside/indexes/a.idx.snapshot",
                                      "indexes//a.idx.snapshot",
                                      "./indexes/a.idx.snapshot",
                                      "",
                                      "indexes/"};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(bad); i++) {
        assert_int_equal(read_beneath(root, bad[i], false, NULL), FOLIO_E_INVALID);
        assert_int_equal(read_beneath(root, bad[i], true, out), FOLIO_E_INVALID);
    }
    assert_int_equal(read_beneath(root, oarch, false, NULL), FOLIO_E_INVALID); /* absolute */

    /* indexes/ swapped for a link to the outside copy */
    char *moved = tu_path(root, "moved");
    assert_int_equal(rename(sub, moved), 0);
    assert_int_equal(symlink(osub, sub), 0);
    assert_int_equal(read_beneath(root, "indexes/a.idx.snapshot", false, NULL), FOLIO_E_INVALID);
    assert_int_equal(read_beneath(root, "indexes/a.idx.snapshot", true, out), FOLIO_E_INVALID);
    assert_int_equal(unlink(sub), 0);
    assert_int_equal(rename(moved, sub), 0);
    /* the archive itself swapped for a link */
    assert_int_equal(unlink(arch), 0);
    assert_int_equal(symlink(oarch, arch), 0);
    assert_int_equal(read_beneath(root, "indexes/a.idx.snapshot", false, NULL), FOLIO_E_INVALID);
    assert_int_equal(read_beneath(root, "indexes/a.idx.snapshot", true, out), FOLIO_E_INVALID);
    assert_int_equal(dir_entries(out), 0);
    /* a missing file is still "not found" */
    assert_int_equal(read_beneath(root, "indexes/none.idx.snapshot", false, NULL),
                     FOLIO_E_NOT_FOUND);

    folio_snapshot_manifest_free(m);
    tu_rmrf(dir);
    free(dir);
    free(src);
    free(root);
    free(out);
    free(outside);
    free(sub);
    free(osub);
    free(arch);
    free(oarch);
    free(moved);
}

/*
 * A manifest declaring more bytes than the destination's file system has
 * free (a 1 PiB data.mdb; three sizes whose sum wraps around 2^64 to 2) is
 * refused before any entry is read, with no_space_left: a small archive
 * cannot inflate until the disk the journal lives on is full. verify writes
 * nothing and does not care.
 */
static void
test_declared_beyond_free_space(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("snapspace");
    char *arch = tu_path(dir, "big.idx.snapshot"), *out = tu_path(dir, "out");
    assert_int_equal(mkdir(out, 0700), 0);
    static const char *const names[] = {"data.mdb", "b", "c"};
    const void *datas[] = {"hello\n", "b", "c"};
    size_t lens[] = {6, 1, 1};
    const uint64_t sizes[2][3] = {{1ull << 50, 1, 1},
                                  {(uint64_t)INT64_MAX, (uint64_t)INT64_MAX, 4}};
    for (int k = 0; k < 2; k++) {
        struct folio_snapshot_manifest *m = manifest_for(names, datas, lens, 3);
        for (int i = 0; i < 3; i++)
            m->files[i].size = sizes[k][i];
        size_t jl = 0;
        char *json = json_of(m, &jl);
        struct hent ents[] = {{.name = "manifest.json", .data = json, .len = jl, .size = -1},
                              {.name = "data.mdb", .data = "hello\n", .len = 6, .size = -1},
                              {.name = "b", .data = "b", .len = 1, .size = -1},
                              {.name = "c", .data = "c", .len = 1, .size = -1}};
        unlink(arch);
        build_archive(arch, ents, 4, true);
        struct folio_snapshot_error err = {0};
        int rc = folio_snapshot_extract(arch, out, NULL, NULL, NULL, &err);
        if (rc != FOLIO_E_NOSPC)
            fail_msg("case %d: extract: %s (%s), wanted no_space_left", k, folio_err_name(rc),
                     err.message);
        assert_non_null(strstr(err.message, "free"));
        assert_int_equal(dir_entries(out), 0);
        assert_int_equal(folio_snapshot_verify(arch, NULL, NULL, NULL, &err),
                         FOLIO_E_SNAPSHOT_CHECKSUM);
        folio_free(json);
        folio_snapshot_manifest_free(m);
    }
    tu_rmrf(dir);
    free(dir);
    free(arch);
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_zstd),
        cmocka_unit_test(test_round_trip_gzip),
        cmocka_unit_test(test_round_trip_none),
        cmocka_unit_test(test_round_trip_index_kind),
        cmocka_unit_test(test_read_manifest_head_only),
        cmocka_unit_test(test_manifest_rules),
        cmocka_unit_test(test_hostile_entries),
        cmocka_unit_test(test_hostile_heads),
        cmocka_unit_test(test_edited_manifest),
        cmocka_unit_test(test_damaged_archives),
        cmocka_unit_test(test_stop_exists_faults),
        cmocka_unit_test(test_golden_archive),
        cmocka_unit_test(test_fifo_not_waited_for),
        cmocka_unit_test(test_rename_never_replaces),
        cmocka_unit_test(test_open_beneath_root),
        cmocka_unit_test(test_declared_beyond_free_space),
    };
    if (getenv("FOLIO_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("FOLIO_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
