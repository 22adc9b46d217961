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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "folio/snapshot.h"
#include "testutil.h"

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
    m->created_at_ns = 1795364620123456789LL; /* 2026-11-22T14:23:40.123456789Z */
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
static const char *const rt_names[] = {
    "VERSION", "empty", "small.txt", "journal/00000000000000000001.seg",
    "indexes/6f1d1f8e-0c4e-4b8a-9a7e-1b2c3d4e5f60/data.mdb", "indexes/7a2e2a9f/x/y/z.bin"};

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
        assert_true(strcmp((char *)d, "manifest.json") == 0 &&
                    memcmp(d + 257, "ustar", 5) == 0);
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
    struct folio_snapshot_manifest *m =
        hashed_manifest(src, FOLIO_SNAPSHOT_KIND_INDEX, names, 1);
    char hex[33];
    write_ok(arch, m, src, FOLIO_SNAPSHOT_ZSTD, hex);

    struct folio_snapshot_error err = {0};
    struct folio_snapshot_manifest *x = NULL;
    struct folio_snapshot_read_opts ro;
    folio_snapshot_read_opts_default(&ro);
    ro.kind = FOLIO_SNAPSHOT_KIND_INSTANCE;
    assert_int_equal(folio_snapshot_verify(arch, &ro, NULL, NULL, &err),
                     FOLIO_E_SNAPSHOT_INVALID);
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

    /* A primary key not set yet is null in JSON and NULL back. */
    folio_free(m->primary_key);
    m->primary_key = NULL;
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(folio_snapshot_manifest_to_json(m, &json, &len), 0);
    assert_non_null(strstr(json, "\"primaryKey\": null"));
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_zstd),
        cmocka_unit_test(test_round_trip_gzip),
        cmocka_unit_test(test_round_trip_none),
        cmocka_unit_test(test_round_trip_index_kind),
        cmocka_unit_test(test_read_manifest_head_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
