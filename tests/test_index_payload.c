/*
 * Tests of the document payload parsers: JSON (object or array of objects),
 * NDJSON and CSV, through folio_index_payload_count and, where the parsed
 * values matter, through a real index (add, then read back).
 *
 * Expected documents are written by hand from Meilisearch's CSV rules
 * (header "name:type", values strings unless typed, empty is null) and
 * RFC 4180 quoting. Malformed inputs check the error code and that the
 * message names the right line (and column for JSON).
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "indexutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"

static struct folio_index_error E;

static int
count_fmt(enum folio_index_format f, const char *data, size_t len, uint64_t *n)
{
    struct folio_index_payload p = {.format = f, .data = data, .len = len};
    memset(&E, 0, sizeof(E));
    *n = 12345;
    return folio_index_payload_count(&p, n, &E);
}

static void
assert_count(enum folio_index_format f, const char *data, uint64_t expected)
{
    uint64_t n;
    int rc = count_fmt(f, data, strlen(data), &n);
    if (rc != 0)
        fprintf(stderr, "payload %s: %s\n", data, E.message);
    assert_int_equal(rc, 0);
    assert_int_equal(n, expected);
}

static void
assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL) {
        fprintf(stderr, "expected \"%s\" in \"%s\"\n", needle, haystack);
        fail();
    }
}

static void
assert_bad(enum folio_index_format f, const char *data, int code, const char *says)
{
    uint64_t n;
    assert_int_equal(count_fmt(f, data, strlen(data), &n), code);
    assert_int_equal(n, 12345); /* untouched on failure */
    if (says != NULL)
        assert_contains(E.message, says);
}

/* Adds the payload to a fresh index with primary key "id", returns all documents. */
static char *
load_all(enum folio_index_format f, const char *data, char delimiter)
{
    char *dir = tu_mkdtemp("payload");
    struct folio_index *idx = NULL;
    struct folio_index_marker m = {.task_uid = 1, .batch_seq = 1};
    assert_int_equal(folio_index_create(dir, NULL, "id", &m, &idx, &E), 0);
    struct folio_index_payload p = {
        .format = f, .data = data, .len = strlen(data), .csv_delimiter = delimiter};
    m.task_uid = 2;
    int rc = folio_index_documents_add(idx, &p, FOLIO_INDEX_REPLACE, NULL, &m, NULL, &E);
    if (rc != 0)
        fprintf(stderr, "add: %s\n", E.message);
    assert_int_equal(rc, 0);
    char *json = NULL;
    assert_int_equal(folio_index_documents_get(idx, 0, 1000, NULL, 0, &json, NULL, NULL, &E), 0);
    iu_remove(idx, dir);
    return json;
}

static void
assert_loaded(enum folio_index_format f, const char *data, char delimiter, const char *expected)
{
    char *got = load_all(f, data, delimiter);
    assert_string_equal(got, expected);
    folio_free(got);
}

/* ---- JSON ----------------------------------------------------------------------- */

static void
test_json(void **state)
{
    const enum folio_index_format J = FOLIO_INDEX_FORMAT_JSON;
    assert_count(J, "{\"id\":1}", 1);
    assert_count(J, " \n[ {\"id\":1} ,\n {\"id\":2}\t]\r\n", 2);
    assert_count(J, "[]", 0);
    assert_count(J, "[{},{}]", 2); /* ids are not checked without an index */
    assert_loaded(J, "[{\"id\":1,\"a\":{\"b\":[1,\"x\"]}},{\"id\":\"k\"}]", 0,
                  "[{\"id\":1,\"a\":{\"b\":[1,\"x\"]}},{\"id\":\"k\"}]");

    assert_bad(J, "", FOLIO_E_MISSING_PAYLOAD, "A json payload is missing.");
    assert_bad(J, "42", FOLIO_E_MALFORMED_PAYLOAD,
               "The `json` payload provided is malformed: expected an object or an array of "
               "objects (line 1, column 1).");
    assert_bad(J, "[{\"id\":1}, 7]", FOLIO_E_MALFORMED_PAYLOAD,
               "found an integer (line 1, column 12)");
    assert_bad(J, "[{\"id\":1},\n {\"id\":2},\n [3]]", FOLIO_E_MALFORMED_PAYLOAD,
               "found an array (line 3, column 2)");
    assert_bad(J, "[{\"id\":1},\n{\"a\":}]", FOLIO_E_MALFORMED_PAYLOAD, "(line 2, column");
    assert_bad(J, "[{\"id\":1}", FOLIO_E_MALFORMED_PAYLOAD, "expected `,` or `]`");
    assert_bad(J, "[{\"id\":1},]", FOLIO_E_MALFORMED_PAYLOAD, "(line 1, column 11)");
    assert_bad(J, "[{\"id\":1}] x", FOLIO_E_MALFORMED_PAYLOAD,
               "unexpected data after the end of the payload (line 1, column 12)");
    assert_bad(J, "{\"id\":1} {\"id\":2}", FOLIO_E_MALFORMED_PAYLOAD, "unexpected data");
    assert_bad(J, "[{\"id\":1}{\"id\":2}]", FOLIO_E_MALFORMED_PAYLOAD, "(line 1, column 10)");
    /*
     * Integers run from INT64_MIN to UINT64_MAX (serde_json's, which
     * Meilisearch uses); beyond, they are refused, not rounded.
     */
    assert_count(J, "[{\"id\":9223372036854775808},{\"id\":18446744073709551615}]", 2);
    assert_bad(J, "[{\"id\":18446744073709551616}]", FOLIO_E_MALFORMED_PAYLOAD,
               "too big integer near '18446744073709551616' (line 1, column");
    assert_bad(J, "[{\"id\":-9223372036854775809}]", FOLIO_E_MALFORMED_PAYLOAD,
               "too big negative integer");
    assert_bad(J, "[{\"a\":18446744073709551615,\"id\":18446744073709551616}]",
               FOLIO_E_MALFORMED_PAYLOAD, "too big integer");
    /* The big-integer path refuses \u0000 too, and keeps error positions. */
    assert_bad(J, "[{\"id\":1},\n{\"a\":18446744073709551615,\"s\":\"\\u0000\"}]",
               FOLIO_E_MALFORMED_PAYLOAD, "\\u0000 (a NUL character) is not accepted in a string");
    assert_contains(E.message, "(line 2, column 32)"); /* the backslash */
    assert_bad(J, "[{\"id\":1},\n{\"a\":18446744073709551615, \"b\":}]",
               FOLIO_E_MALFORMED_PAYLOAD, "(line 2, column 32)");
    assert_bad(J, "[{\"id\":1},\n{\"a\":1844674407370955161, \"b\":}]",
               FOLIO_E_MALFORMED_PAYLOAD, "(line 2, column 31)");
    assert_bad(J, "[{\"a\":18446744073709551615}, 7]", FOLIO_E_MALFORMED_PAYLOAD,
               "found an integer (line 1, column 30)");
    /* Without a big integer too: the same words, not jansson's flag name, at the backslash. */
    assert_bad(J, "[{\"id\":1},\n{\"s\":\"\\u0000\"}]", FOLIO_E_MALFORMED_PAYLOAD,
               "\\u0000 (a NUL character) is not accepted in a string");
    assert_contains(E.message, "(line 2, column 7)");
    /* Not at the end of its string either, after an escaped backslash's `\\u0000` text. */
    assert_bad(J, "[{\"id\":1},\n{\"s\":\"a\\\\u0000b\\u0000cd\"}]", FOLIO_E_MALFORMED_PAYLOAD,
               "\\u0000 (a NUL character) is not accepted in a string");
    assert_contains(E.message, "(line 2, column 16)");
    assert_bad(J, "[{\"s\":\"\xff\"}]", FOLIO_E_MALFORMED_PAYLOAD, NULL);
}

static void
test_payload_limits(void **state)
{
    /* The caller's size limit, and the default. */
    struct folio_index_payload p = {.format = FOLIO_INDEX_FORMAT_JSON, .data = "[{},{},{}]",
                                    .len = 10, .bytes_max = 9};
    uint64_t n = 0;
    assert_int_equal(folio_index_payload_count(&p, &n, &E), FOLIO_E_PAYLOAD_TOO_LARGE);
    assert_string_equal(E.message, "The provided payload reached the size limit. The maximum "
                                   "accepted payload size is 9 B.");
    p.bytes_max = 10;
    assert_int_equal(folio_index_payload_count(&p, &n, &E), 0);
    assert_int_equal(n, 3);
    p.bytes_max = 0;
    p.len = (100u << 20) + 1;
    assert_int_equal(folio_index_payload_count(&p, &n, &E), FOLIO_E_PAYLOAD_TOO_LARGE);
    assert_contains(E.message, "100 MiB");

    /* Nesting: 128 levels of objects and arrays are fine, 129 are not. */
    for (int depth = 128; depth <= 129; depth++) {
        size_t len = (size_t)depth * 6 + 16;
        char *doc = folio_malloc(len);
        size_t o = 0;
        o += (size_t)sprintf(doc + o, "{\"a\":");
        for (int i = 1; i < depth; i++)
            doc[o++] = '[';
        doc[o++] = '1';
        for (int i = 1; i < depth; i++)
            doc[o++] = ']';
        doc[o++] = '}';
        doc[o] = '\0';
        int rc = count_fmt(FOLIO_INDEX_FORMAT_JSON, doc, o, &n);
        assert_int_equal(rc, depth == 128 ? 0 : FOLIO_E_MALFORMED_PAYLOAD);
        if (rc != 0)
            assert_contains(E.message, "nested deeper than 128 levels");
        folio_free(doc);
    }

    /* One document of more than 16 MiB. */
    size_t big = (16u << 20) + 100;
    char *doc = folio_malloc(big + 32);
    int o = sprintf(doc, "[{\"id\":1,\"s\":\"");
    memset(doc + o, 'x', big);
    strcpy(doc + o + big, "\"}]");
    assert_int_equal(count_fmt(FOLIO_INDEX_FORMAT_JSON, doc, strlen(doc), &n),
                     FOLIO_E_MALFORMED_PAYLOAD);
    assert_contains(E.message, "larger than 16777216 bytes (line 1, column 2)");
    folio_free(doc);
}

/* ---- NDJSON --------------------------------------------------------------------- */

static void
test_ndjson(void **state)
{
    const enum folio_index_format N = FOLIO_INDEX_FORMAT_NDJSON;
    assert_count(N, "{\"id\":1}\n{\"id\":2}\n\n{\"id\":3}\n", 3);
    assert_count(N, "{\"id\":1}", 1);
    assert_count(N, "{\"id\":1}\r\n{\"id\":2}\r\n", 2);
    assert_count(N, "{\"id\":\n1}\n", 1); /* a document may span lines */
    assert_count(N, " \n\n", 0);
    assert_loaded(N, "{\"id\":1,\"t\":\"a\"}\n{\"id\":2}\n", 0,
                  "[{\"id\":1,\"t\":\"a\"},{\"id\":2}]");
    assert_bad(N, "", FOLIO_E_MISSING_PAYLOAD, "A ndjson payload is missing.");
    assert_bad(N, "{\"id\":1}\n{\"id\":2,}\n{\"id\":3}\n", FOLIO_E_MALFORMED_PAYLOAD,
               "The `ndjson` payload provided is malformed: ");
    assert_bad(N, "{\"id\":1}\n{\"id\":2,}\n{\"id\":3}\n", FOLIO_E_MALFORMED_PAYLOAD, "(line 2,");
    assert_bad(N, "{\"id\":1}\n\n\n[1]\n", FOLIO_E_MALFORMED_PAYLOAD,
               "found an array (line 4, column 1)");
    assert_bad(N, "{\"id\":1}\n  \"x\"\n", FOLIO_E_MALFORMED_PAYLOAD,
               "found a string (line 2, column 3)");
    assert_bad(N, "{\"id\":1}\n{\"id\":2", FOLIO_E_MALFORMED_PAYLOAD, "(line 2,");
}

/* ---- CSV ------------------------------------------------------------------------ */

static void
test_csv(void **state)
{
    const enum folio_index_format C = FOLIO_INDEX_FORMAT_CSV;
    assert_count(C, "id,name\n1,foo\n2,bar\n", 2);
    assert_count(C, "id,name\n", 0);
    assert_count(C, "id,name", 0);
    assert_count(C, "\n\n", 0);
    assert_count(C, "id\n1\n\n\n2", 2); /* empty lines are skipped */

    /* Untyped values are strings. */
    assert_loaded(C, "id,name\n1,foo\n2,bar\n", 0,
                  "[{\"id\":\"1\",\"name\":\"foo\"},{\"id\":\"2\",\"name\":\"bar\"}]");
    /* Typed columns; an unknown type suffix is part of the name. */
    assert_loaded(C,
                  "id:number,price:number,ok:boolean,name:string,raw:foo,a:b:number\n"
                  "1, 2.5 ,true,x,y,-3\n"
                  "2,1e3, false ,,,\n",
                  0,
                  "[{\"id\":1,\"price\":2.5,\"ok\":true,\"name\":\"x\",\"raw:foo\":\"y\","
                  "\"a:b\":-3},"
                  "{\"id\":2,\"price\":1000.0,\"ok\":false,\"name\":null,\"raw:foo\":null,"
                  "\"a:b\":null}]");
    /* Quoting: delimiters, doubled quotes and line breaks inside quotes; CRLF. */
    assert_loaded(C,
                  "id,t\r\n"
                  "1,\"a,b \"\"c\"\"\nd\"\r\n"
                  "\"2\",\"\"\r\n"
                  "3,x\"y\r\n",
                  0,
                  "[{\"id\":\"1\",\"t\":\"a,b \\\"c\\\"\\nd\"},{\"id\":\"2\",\"t\":null},"
                  "{\"id\":\"3\",\"t\":\"x\\\"y\"}]");
    /* Another delimiter, a byte-order mark, UTF-8. */
    assert_loaded(C, "\xEF\xBB\xBFid;t\n1;a,b\n2;\xC3\xA9\n", ';',
                  "[{\"id\":\"1\",\"t\":\"a,b\"},{\"id\":\"2\",\"t\":\"\xC3\xA9\"}]");

    assert_bad(C, "", FOLIO_E_MISSING_PAYLOAD, "A csv payload is missing.");
    assert_bad(C, "id,a\n1,x\n2\n", FOLIO_E_MALFORMED_PAYLOAD,
               "The `csv` payload provided is malformed: found a record with 1 fields, but the "
               "header has 2 (line 3).");
    assert_bad(C, "id,a\n1,x,y\n", FOLIO_E_MALFORMED_PAYLOAD, "(line 2)");
    assert_bad(C, "id,p:number\n1,2\n\n2,abc\n", FOLIO_E_MALFORMED_PAYLOAD,
               "`abc` is not a number (column `p`) (line 4)");
    assert_bad(C, "id,p:number\n1,0x10\n", FOLIO_E_MALFORMED_PAYLOAD, "not a number");
    assert_bad(C, "id,p:number\n1,inf\n", FOLIO_E_MALFORMED_PAYLOAD, "not a number");
    assert_bad(C, "id,b:boolean\n1,yes\n", FOLIO_E_MALFORMED_PAYLOAD,
               "`yes` is not a boolean (column `b`) (line 2)");
    assert_bad(C, "id,t\n1,x\n2,\"open\n3,y\n", FOLIO_E_MALFORMED_PAYLOAD,
               "a quoted field is never closed (line 3)");
    /* Line numbers count the line breaks inside quoted fields. */
    assert_bad(C, "id,t\n1,\"a\nb\"\n2,x,y\n", FOLIO_E_MALFORMED_PAYLOAD, "(line 4)");
    assert_bad(C, "id,t\n1,\xff\n", FOLIO_E_MALFORMED_PAYLOAD, "not valid UTF-8");
    assert_bad(C, "i\xff\n1\n", FOLIO_E_MALFORMED_PAYLOAD, "header is not valid UTF-8");
    uint64_t n;
    assert_int_equal(count_fmt(C, "id,t\n1,a\0b\n", 11, &n), FOLIO_E_MALFORMED_PAYLOAD);
    assert_contains(E.message, "NUL");

    struct folio_index_payload p = {.format = C, .data = "a\n1\n", .len = 4, .csv_delimiter = '"'};
    assert_int_equal(folio_index_payload_count(&p, &n, &E), FOLIO_E_INVALID);
    assert_contains(E.message, "csvDelimiter");
}

static void
test_csv_ids(void **state)
{
    /* A string id from CSV follows the string rules, a number column the integer ones. */
    char *dir = tu_mkdtemp("payload");
    struct folio_index *idx = NULL;
    struct folio_index_marker m = {.task_uid = 1, .batch_seq = 1};
    assert_int_equal(folio_index_create(dir, NULL, NULL, &m, &idx, &E), 0);
    static const char bad_id[] = "id,t\nok,1\nnot ok,2\n";
    struct folio_index_payload p = {
        .format = FOLIO_INDEX_FORMAT_CSV, .data = bad_id, .len = sizeof(bad_id) - 1};
    assert_int_equal(folio_index_documents_add(idx, &p, FOLIO_INDEX_REPLACE, NULL, &m, NULL, &E),
                     FOLIO_E_INVALID_DOCUMENT_ID);
    assert_contains(E.message, "`\"not ok\"`");
    static const char float_id[] = "id:number\n1.5\n";
    p.data = float_id;
    p.len = sizeof(float_id) - 1;
    assert_int_equal(folio_index_documents_add(idx, &p, FOLIO_INDEX_REPLACE, NULL, &m, NULL, &E),
                     FOLIO_E_INVALID_DOCUMENT_ID);
    static const char good[] = "id:number,t\n7,x\n";
    p.data = good;
    p.len = sizeof(good) - 1;
    uint64_t indexed = 0;
    assert_int_equal(
        folio_index_documents_add(idx, &p, FOLIO_INDEX_REPLACE, NULL, &m, &indexed, &E), 0);
    assert_int_equal(indexed, 1);
    char *json = NULL;
    assert_int_equal(folio_index_document_get(idx, "7", NULL, 0, &json, NULL, &E), 0);
    assert_string_equal(json, "{\"id\":7,\"t\":\"x\"}");
    folio_free(json);
    iu_remove(idx, dir);
}

/*
 * Integer ids above INT64_MAX (Meilisearch takes any u64): stored and
 * returned as the number sent, the same document as their decimal string,
 * and kept through merges, field selection, deletes and verify.
 */
static void
test_u64_ids(void **state)
{
    char *got = load_all(FOLIO_INDEX_FORMAT_JSON,
                         "[{\"id\":18446744073709551615,\"n\":[9223372036854775808]},"
                         "{\"id\":9223372036854775807},{\"id\":-9223372036854775808}]",
                         0);
    assert_string_equal(got, "[{\"id\":18446744073709551615,\"n\":[9223372036854775808]},"
                             "{\"id\":9223372036854775807},{\"id\":-9223372036854775808}]");
    folio_free(got);
    got = load_all(FOLIO_INDEX_FORMAT_NDJSON, "{\"id\":12345678901234567890}\n", 0);
    assert_string_equal(got, "[{\"id\":12345678901234567890}]");
    folio_free(got);

    char *dir = tu_mkdtemp("payload");
    struct folio_index *idx = NULL;
    struct folio_index_marker m = {.task_uid = 1, .batch_seq = 1};
    assert_int_equal(folio_index_create(dir, NULL, "id", &m, &idx, &E), 0);
    static const char first[] = "{\"id\":18446744073709551615,\"big\":10000000000000000000}";
    struct folio_index_payload p = {
        .format = FOLIO_INDEX_FORMAT_JSON, .data = first, .len = sizeof(first) - 1};
    assert_int_equal(folio_index_documents_add(idx, &p, FOLIO_INDEX_REPLACE, NULL, &m, NULL, &E),
                     0);
    /* A merge reloads the stored document, big integers included. */
    static const char merge[] = "{\"id\":18446744073709551615,\"x\":2}";
    p.data = merge;
    p.len = sizeof(merge) - 1;
    assert_int_equal(folio_index_documents_add(idx, &p, FOLIO_INDEX_UPDATE, NULL, &m, NULL, &E),
                     0);
    char *json = NULL;
    assert_int_equal(folio_index_document_get(idx, "18446744073709551615", NULL, 0, &json, NULL,
                                              &E),
                     0);
    assert_string_equal(json,
                        "{\"id\":18446744073709551615,\"big\":10000000000000000000,\"x\":2}");
    folio_free(json);
    const char *fields[] = {"big"};
    assert_int_equal(folio_index_document_get(idx, "18446744073709551615", fields, 1, &json,
                                              NULL, &E),
                     0);
    assert_string_equal(json, "{\"big\":10000000000000000000}");
    folio_free(json);
    assert_int_equal(folio_index_verify(idx, &E), 0);
    /* One above INT64_MAX and its neighbour are different documents. */
    static const char near[] = "[{\"id\":18446744073709551614},{\"id\":9223372036854775808}]";
    p.data = near;
    p.len = sizeof(near) - 1;
    assert_int_equal(folio_index_documents_add(idx, &p, FOLIO_INDEX_REPLACE, NULL, &m, NULL, &E),
                     0);
    const char *ids[] = {"18446744073709551615"};
    uint64_t deleted = 0;
    assert_int_equal(folio_index_documents_delete(idx, ids, 1, &m, &deleted, &E), 0);
    assert_int_equal(deleted, 1);
    assert_int_equal(folio_index_documents_get(idx, 0, 10, NULL, 0, &json, NULL, NULL, &E), 0);
    assert_string_equal(json, "[{\"id\":18446744073709551614},{\"id\":9223372036854775808}]");
    folio_free(json);
    assert_int_equal(folio_index_verify(idx, &E), 0);
    iu_remove(idx, dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_payload_limits),
        cmocka_unit_test(test_ndjson),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_csv_ids),
        cmocka_unit_test(test_u64_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
