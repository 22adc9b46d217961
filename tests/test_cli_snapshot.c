/*
 * `folio snapshot inspect|verify` (FOLIO_CLI_PATH), run as a real program on
 * archives this test writes with the snapshot module: a sound one (exit 0,
 * text and --json, the archive's XXH3-128 checked against one computed here
 * from the file's bytes), one with a flipped data byte (verify exits 1 and
 * names snapshot_checksum_mismatch; inspect, which reads only the head,
 * still works), garbage, a missing file, --help and usage errors.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/snapshot.h"
#include "testutil.h"

#define DATA_BYTES ((2u << 20) + 5)

struct fixture {
    char *dir, *good, *bad, *garbage;
    char data_hex[33], archive_hex[33];
};

static void
hex_of(const void *data, size_t len, char out[33])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", c.digest[i]);
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = tu_mkdtemp("clisnap");
    char *src = tu_path(f->dir, "src");
    assert_int_equal(mkdir(src, 0700), 0);
    uint8_t *data = malloc(DATA_BYTES);
    uint64_t s = 5;
    for (size_t i = 0; i < DATA_BYTES; i++)
        data[i] = (uint8_t)(tu_rand(&s) >> 33);
    char *dpath = tu_path(src, "data.mdb");
    tu_write_file(dpath, data, DATA_BYTES);
    hex_of(data, DATA_BYTES, f->data_hex);

    struct folio_snapshot_manifest *m = folio_calloc(1, sizeof(*m));
    m->kind = FOLIO_SNAPSHOT_KIND_INDEX;
    m->format_version = FOLIO_SNAPSHOT_FORMAT_VERSION;
    m->engine_version = folio_strdup(FOLIO_TEST_VERSION);
    m->created_at_ns = 1795357420000000001LL;
    m->source_instance_uid = folio_strdup("4b0e1c6a-2f8d-4d7e-9a51-0c3f7e2b9d10");
    m->seq = 41;
    m->task_uid = 9;
    m->index_uid = folio_strdup("movies");
    m->primary_key = folio_strdup("id");
    m->settings_json = folio_strdup("{\"filterableAttributes\":[\"year\"]}");
    m->document_count = 1234;
    m->file_count = 1;
    m->files = folio_calloc(1, sizeof(*m->files));
    m->files[0].name = folio_strdup("data.mdb");
    struct folio_snapshot_error err;
    assert_int_equal(folio_snapshot_hash_files(src, m, NULL, NULL, NULL, &err), 0);

    f->good = tu_path(f->dir, "movies.idx.snapshot");
    f->bad = tu_path(f->dir, "bad.idx.snapshot");
    f->garbage = tu_path(f->dir, "garbage.idx.snapshot");
    struct folio_snapshot_write_opts o;
    folio_snapshot_write_opts_default(&o);
    assert_int_equal(folio_snapshot_write(f->good, m, src, &o, NULL, &err), 0);
    o.compression = FOLIO_SNAPSHOT_NONE;
    assert_int_equal(folio_snapshot_write(f->bad, m, src, &o, NULL, &err), 0);
    size_t len = 0;
    uint8_t *a = tu_read_file(f->good, &len);
    hex_of(a, len, f->archive_hex);
    free(a);
    /* The uncompressed copy: one byte of data.mdb flipped (its data starts after two headers). */
    a = tu_read_file(f->bad, &len);
    uint8_t *at = memmem(a, len, data + 1000, 64);
    assert_non_null(at);
    at[10] ^= 0x40;
    tu_write_file(f->bad, a, len);
    tu_write_file(f->garbage, data, 100000);
    free(a);
    free(data);
    free(dpath);
    free(src);
    folio_snapshot_manifest_free(m);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    tu_rmrf(f->dir);
    free(f->dir);
    free(f->good);
    free(f->bad);
    free(f->garbage);
    free(f);
    return 0;
}

/* Runs folio with args; stdout in *out, stderr (2>&1 when both) as asked. Returns exit code. */
static int
run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
run(char **out, const char *fmt, ...)
{
    char args[8192], cmd[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "'%s' %s", FOLIO_CLI_PATH, args);
    return tu_system(cmd, out);
}

static void
test_verify_good(void **state)
{
    struct fixture *f = *state;
    char *out = NULL;
    assert_int_equal(run(&out, "snapshot verify '%s'", f->good), 0);
    assert_true(strncmp(out, "ok: ", 4) == 0);
    assert_non_null(strstr(out, f->archive_hex));
    folio_free(out);

    assert_int_equal(run(&out, "snapshot verify --json '%s'", f->good), 0);
    json_error_t je;
    json_t *o = json_loads(out, 0, &je);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "index");
    assert_string_equal(json_string_value(json_object_get(o, "archiveXxh3_128")),
                        f->archive_hex);
    assert_int_equal(json_integer_value(json_object_get(o, "dataBytes")), DATA_BYTES);
    assert_int_equal(json_integer_value(json_object_get(o, "archiveBytes")),
                     tu_file_size(f->good));
    json_decref(o);
    folio_free(out);
}

static void
test_inspect(void **state)
{
    struct fixture *f = *state;
    char *out = NULL;
    assert_int_equal(run(&out, "snapshot inspect '%s'", f->good), 0);
    assert_non_null(strstr(out, "index uid:   movies\n"));
    assert_non_null(strstr(out, "documents:   1234\n"));
    assert_non_null(strstr(out, "(zstd)"));
    assert_non_null(strstr(out, f->data_hex));
    assert_non_null(strstr(out, "created:     2026-11-22T14:23:40.000000001Z\n"));
    folio_free(out);

    /* NDJSON: the manifest line, then one line per file. */
    assert_int_equal(run(&out, "snapshot inspect --json '%s'", f->good), 0);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    *nl = '\0';
    json_t *m = json_loads(out, 0, NULL), *file = json_loads(nl + 1, 0, NULL);
    assert_non_null(m);
    assert_non_null(file);
    assert_string_equal(json_string_value(json_object_get(m, "type")), "manifest");
    assert_string_equal(json_string_value(json_object_get(m, "indexUid")), "movies");
    assert_string_equal(json_string_value(json_object_get(m, "primaryKey")), "id");
    assert_string_equal(json_string_value(json_object_get(m, "compression")), "zstd");
    assert_string_equal(json_string_value(json_object_get(m, "createdAt")),
                        "2026-11-22T14:23:40.000000001Z");
    assert_int_equal(json_integer_value(json_object_get(m, "seq")), 41);
    assert_int_equal(json_integer_value(json_object_get(m, "taskUid")), 9);
    assert_true(json_is_array(json_object_get(json_object_get(m, "settings"),
                                              "filterableAttributes")));
    assert_string_equal(json_string_value(json_object_get(file, "type")), "file");
    assert_string_equal(json_string_value(json_object_get(file, "name")), "data.mdb");
    assert_int_equal(json_integer_value(json_object_get(file, "size")), DATA_BYTES);
    assert_string_equal(json_string_value(json_object_get(file, "xxh3_128")), f->data_hex);
    json_decref(m);
    json_decref(file);
    folio_free(out);
}

static void
test_bad_archives(void **state)
{
    struct fixture *f = *state;
    char *out = NULL;
    assert_int_equal(run(&out, "snapshot verify '%s' 2>&1", f->bad), 1);
    assert_non_null(strstr(out, "snapshot_checksum_mismatch"));
    assert_non_null(strstr(out, "data.mdb"));
    folio_free(out);
    assert_int_equal(run(&out, "snapshot verify --json '%s' 2>/dev/null", f->bad), 1);
    json_t *o = json_loads(out, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(o, "error")),
                        "snapshot_checksum_mismatch");
    json_decref(o);
    folio_free(out);
    /* The head is intact: inspect reads only it. */
    assert_int_equal(run(&out, "snapshot inspect '%s'", f->bad), 0);
    assert_non_null(strstr(out, "(none)"));
    folio_free(out);

    assert_int_equal(run(&out, "snapshot verify '%s' 2>&1", f->garbage), 1);
    assert_non_null(strstr(out, "snapshot_invalid"));
    folio_free(out);
    assert_int_equal(run(&out, "snapshot inspect '%s' 2>&1", f->garbage), 1);
    folio_free(out);
    assert_int_equal(run(&out, "snapshot verify '%s/nope' 2>&1", f->dir), 66);
    assert_non_null(strstr(out, "not_found"));
    folio_free(out);
}

static void
test_usage(void **state)
{
    char *out = NULL;
    assert_int_equal(run(&out, "snapshot verify --help"), 0);
    assert_non_null(strstr(out, "Exit 0 only if the archive is sound"));
    folio_free(out);
    assert_int_equal(run(&out, "snapshot --help"), 0);
    assert_non_null(strstr(out, "inspect"));
    folio_free(out);
    assert_int_equal(run(NULL, "snapshot 2>/dev/null"), 64);
    assert_int_equal(run(NULL, "snapshot verify 2>/dev/null"), 64);
    assert_int_equal(run(NULL, "snapshot verify a b 2>/dev/null"), 64);
    assert_int_equal(run(NULL, "snapshot verify --bogus x 2>/dev/null"), 64);
    assert_int_equal(run(NULL, "snapshot list x 2>/dev/null"), 64);
    assert_int_equal(run(&out, "--help"), 0);
    assert_non_null(strstr(out, "snapshot verify FILE"));
    folio_free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_good),
        cmocka_unit_test(test_inspect),
        cmocka_unit_test(test_bad_archives),
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
