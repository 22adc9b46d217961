/*
 * The task model: kind and status names round-trip and parse ignoring case;
 * which kinds are bound to one index; index uid and document id syntax; the
 * content object of every kind encodes, decodes back to the same fields and
 * is refused when it breaks a rule; details and errors are checked per kind;
 * default details of unfinished tasks; the index uids a content implies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/sched.h"
#include "testutil.h"

static struct folio_str
S(const char *s)
{
    return folio_str_c(s);
}

static void
test_kind_names(void **state)
{
    (void)state;
    /* The JSON names, written out independently of the X-macro. */
    static const char *const want[] = {
        "documentAdditionOrUpdate", "documentDeletion", "settingsUpdate", "indexCreation",
        "indexDeletion", "indexUpdate", "indexSwap", "taskCancelation", "taskDeletion",
        "snapshotCreation", "singleIndexSnapshotCreation", "singleIndexSnapshotImport"};
    assert_int_equal(FOLIO_KIND_COUNT, FOLIO_ARRAY_LEN(want));
    for (unsigned k = 0; k < FOLIO_KIND_COUNT; k++) {
        const char *name = folio_task_kind_name((enum folio_task_kind)k);
        assert_string_equal(name, want[k]);
        enum folio_task_kind back;
        assert_int_equal(folio_task_kind_parse(name, strlen(name), &back), 0);
        assert_int_equal(back, k);
        /* case-insensitive, as Meilisearch's query parser */
        char upper[64];
        snprintf(upper, sizeof(upper), "%s", name);
        for (char *p = upper; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 32);
        assert_int_equal(folio_task_kind_parse(upper, strlen(upper), &back), 0);
        assert_int_equal(back, k);
    }
    enum folio_task_kind k;
    assert_int_equal(folio_task_kind_parse("doggo", 5, &k), FOLIO_E_INVALID);
    assert_int_equal(folio_task_kind_parse("indexCreatio", 12, &k), FOLIO_E_INVALID);
    assert_int_equal(folio_task_kind_parse("indexCreationX", 14, &k), FOLIO_E_INVALID);
    assert_int_equal(folio_task_kind_parse("", 0, &k), FOLIO_E_INVALID);
    assert_null(folio_task_kind_name(FOLIO_KIND_COUNT));
    assert_null(folio_task_kind_name((enum folio_task_kind)-1));
}

static void
test_status_names(void **state)
{
    (void)state;
    static const char *const want[] = {"enqueued", "processing", "succeeded", "failed", "canceled"};
    assert_int_equal(FOLIO_STATUS_COUNT, 5);
    for (unsigned i = 0; i < FOLIO_STATUS_COUNT; i++) {
        assert_string_equal(folio_task_status_name((enum folio_task_status)i), want[i]);
        enum folio_task_status st;
        assert_int_equal(folio_task_status_parse(want[i], strlen(want[i]), &st), 0);
        assert_int_equal(st, i);
    }
    enum folio_task_status st;
    assert_int_equal(folio_task_status_parse("SUCCEEDED", 9, &st), 0);
    assert_int_equal(st, FOLIO_STATUS_SUCCEEDED);
    assert_int_equal(folio_task_status_parse("Canceled", 8, &st), 0);
    assert_int_equal(st, FOLIO_STATUS_CANCELED);
    assert_int_equal(folio_task_status_parse("cancelled", 9, &st), FOLIO_E_INVALID);
    assert_false(folio_task_status_finished(FOLIO_STATUS_PROCESSING));
    assert_false(folio_task_status_finished(FOLIO_STATUS_ENQUEUED));
    assert_true(folio_task_status_finished(FOLIO_STATUS_CANCELED));
}

static void
test_one_index_and_syntax(void **state)
{
    (void)state;
    assert_true(folio_task_kind_one_index(FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE));
    assert_true(folio_task_kind_one_index(FOLIO_KIND_INDEX_UPDATE));
    assert_true(folio_task_kind_one_index(FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT));
    assert_false(folio_task_kind_one_index(FOLIO_KIND_INDEX_SWAP));
    assert_false(folio_task_kind_one_index(FOLIO_KIND_TASK_CANCELATION));
    assert_false(folio_task_kind_one_index(FOLIO_KIND_SNAPSHOT_CREATION));

    assert_true(folio_index_uid_valid("movies_2-x", 10));
    assert_false(folio_index_uid_valid("", 0));
    assert_false(folio_index_uid_valid("a b", 3));
    assert_false(folio_index_uid_valid("a.b", 3));
    assert_false(folio_index_uid_valid("../x", 4));
    char big[402];
    memset(big, 'a', sizeof(big));
    assert_true(folio_index_uid_valid(big, 400));
    assert_false(folio_index_uid_valid(big, 401));
    assert_true(folio_document_id_valid("123", 3));
    assert_false(folio_document_id_valid("a/b", 3));
}

/* ---- content ---------------------------------------------------------- */

static void
content_roundtrip(const struct folio_task_content *in, struct folio_task_content *out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(folio_task_content_encode(in, &buf, &len), 0);
    assert_int_equal(folio_task_content_decode(in->kind, buf, len, out), 0);
    folio_free(buf);
}

static void
test_content_roundtrip(void **state)
{
    (void)state;
    struct folio_task_content c, d;

    memset(&c, 0, sizeof(c));
    c.kind = FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE;
    c.method = FOLIO_DOC_UPDATE;
    c.primary_key = S("isbn");
    c.content_file = S("3f1c2b9e-0000-4000-8000-000000000001");
    c.content_bytes = 123456789;
    c.content_checksum = S("00112233445566778899aabbccddeeff");
    c.documents_count_set = true;
    c.documents_count = 42;
    content_roundtrip(&c, &d);
    assert_int_equal(d.method, FOLIO_DOC_UPDATE);
    assert_string_equal(d.primary_key.ptr, "isbn");
    assert_string_equal(d.content_file.ptr, "3f1c2b9e-0000-4000-8000-000000000001");
    assert_int_equal(d.content_bytes, 123456789);
    assert_string_equal(d.content_checksum.ptr, "00112233445566778899aabbccddeeff");
    assert_true(d.documents_count_set);
    assert_int_equal(d.documents_count, 42);
    assert_false(d.allow_index_creation_set);
    folio_task_content_clear(&d);

    struct folio_str ids[3] = {S("1"), S("abc"), S("x-y_z")};
    memset(&c, 0, sizeof(c));
    c.kind = FOLIO_KIND_DOCUMENT_DELETION;
    c.ids = (struct folio_str_array){ids, 3};
    content_roundtrip(&c, &d);
    assert_int_equal(d.ids.count, 3);
    assert_string_equal(d.ids.items[2].ptr, "x-y_z");
    assert_false(d.clear);
    folio_task_content_clear(&d);

    struct folio_task_swap sw[2] = {{{S("a"), S("b")}, false}, {{S("c"), S("d")}, true}};
    memset(&c, 0, sizeof(c));
    c.kind = FOLIO_KIND_INDEX_SWAP;
    c.swaps = sw;
    c.swap_count = 2;
    content_roundtrip(&c, &d);
    assert_int_equal(d.swap_count, 2);
    assert_string_equal(d.swaps[1].indexes[0].ptr, "c");
    assert_true(d.swaps[1].rename);
    assert_false(d.swaps[0].rename);
    folio_task_content_clear(&d);

    uint64_t matched[3] = {1, 5, 9};
    memset(&c, 0, sizeof(c));
    c.kind = FOLIO_KIND_TASK_CANCELATION;
    c.query = S("?uids=1,5,9");
    c.matched_tasks = (struct folio_u64_array){matched, 3};
    content_roundtrip(&c, &d);
    assert_string_equal(d.query.ptr, "?uids=1,5,9");
    assert_int_equal(d.matched_tasks.count, 3);
    assert_int_equal(d.matched_tasks.items[2], 9);
    folio_task_content_clear(&d);

    memset(&c, 0, sizeof(c));
    c.kind = FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT;
    c.snapshot_path = S("indexes/books/books_20250301.idx.snapshot");
    c.new_index_uid = S("books2");
    content_roundtrip(&c, &d);
    assert_string_equal(d.snapshot_path.ptr, "indexes/books/books_20250301.idx.snapshot");
    assert_string_equal(d.new_index_uid.ptr, "books2");
    assert_int_equal(d.index_uid.len, 0);
    folio_task_content_clear(&d);

    /* kinds with nothing to say encode to nothing, and decode from nothing or nil */
    memset(&c, 0, sizeof(c));
    c.kind = FOLIO_KIND_SNAPSHOT_CREATION;
    uint8_t *buf = (uint8_t *)"x";
    size_t len = 99;
    assert_int_equal(folio_task_content_encode(&c, &buf, &len), 0);
    assert_null(buf);
    assert_int_equal(len, 0);
    assert_int_equal(folio_task_content_check(FOLIO_KIND_INDEX_DELETION, NULL, 0, NULL, 0), 0);
    const uint8_t nil = 0xc0, empty_map = 0x80;
    assert_int_equal(folio_task_content_check(FOLIO_KIND_INDEX_DELETION, &nil, 1, NULL, 0), 0);
    assert_int_equal(folio_task_content_check(FOLIO_KIND_INDEX_CREATION, &empty_map, 1, NULL, 0), 0);
}

/* Builds a map with msgpack-c (an independent encoder) from "k", type, value triples. */
static uint8_t *
mp_map(size_t *len, int n, ...)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (size_t)n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *k = va_arg(ap, const char *);
        char type = (char)va_arg(ap, int);
        msgpack_pack_str_with_body(&pk, k, strlen(k));
        if (type == 's') {
            const char *v = va_arg(ap, const char *);
            msgpack_pack_str_with_body(&pk, v, strlen(v));
        } else if (type == 'u') {
            msgpack_pack_uint64(&pk, va_arg(ap, uint64_t));
        } else if (type == 'b') {
            if (va_arg(ap, int))
                msgpack_pack_true(&pk);
            else
                msgpack_pack_false(&pk);
        } else if (type == 'n') {
            msgpack_pack_nil(&pk);
        } else if (type == 'i') { /* int64 */
            msgpack_pack_int64(&pk, va_arg(ap, int64_t));
        }
    }
    va_end(ap);
    uint8_t *out = folio_malloc(sb.size);
    memcpy(out, sb.data, sb.size);
    *len = sb.size;
    msgpack_sbuffer_destroy(&sb);
    return out;
}

/* len is read after buf was built (mp_map writes it). */
static void
expect_content(enum folio_task_kind kind, int want, uint8_t *buf, const size_t *len,
               const char *why_has)
{
    char why[200] = "";
    int rc = folio_task_content_check(kind, buf, *len, why, sizeof(why));
    if (rc != want)
        fprintf(stderr, "kind %s: rc %d, want %d (%s)\n", folio_task_kind_name(kind), rc, want, why);
    assert_int_equal(rc, want);
    if (why_has != NULL && strstr(why, why_has) == NULL) {
        fprintf(stderr, "why: %s (expected to mention %s)\n", why, why_has);
        fail();
    }
    folio_free(buf);
}

static void
test_content_rules(void **state)
{
    (void)state;
    size_t n;
    const char *sum = "00112233445566778899aabbccddeeff";
    enum folio_task_kind add = FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE;
    /* a valid one written by msgpack-c: the decoder is not tied to our encoder's forms */
    expect_content(add, 0, mp_map(&n, 4, "method", 's', "replace", "contentFile", 's', "f1",
                                  "contentBytes", 'u', (uint64_t)10, "contentChecksum", 's', sum),
                   &n, NULL);
    expect_content(add, FOLIO_E_DECODE,
                   mp_map(&n, 3, "method", 's', "replace", "contentFile", 's', "f1",
                          "contentBytes", 'u', (uint64_t)10),
                   &n, "contentChecksum");
    expect_content(add, FOLIO_E_DECODE,
                   mp_map(&n, 4, "method", 's', "upsert", "contentFile", 's', "f1", "contentBytes",
                          'u', (uint64_t)10, "contentChecksum", 's', sum),
                   &n, "method");
    expect_content(add, FOLIO_E_DECODE,
                   mp_map(&n, 4, "method", 's', "replace", "contentFile", 's', "../etc/passwd",
                          "contentBytes", 'u', (uint64_t)10, "contentChecksum", 's', sum),
                   &n, "contentFile");
    expect_content(add, FOLIO_E_DECODE,
                   mp_map(&n, 4, "method", 's', "replace", "contentFile", 's', "f1", "contentBytes",
                          'u', (uint64_t)10, "contentChecksum", 's', "00112233445566778899AABBCCDDEEFF"),
                   &n, "contentChecksum");
    expect_content(add, FOLIO_E_DECODE,
                   mp_map(&n, 4, "method", 's', "replace", "contentFile", 's', "f1", "contentBytes",
                          'i', (int64_t)-1, "contentChecksum", 's', sum),
                   &n, "contentBytes");
    expect_content(add, FOLIO_E_DECODE,
                   mp_map(&n, 5, "method", 's', "replace", "contentFile", 's', "f1", "contentBytes",
                          'u', (uint64_t)1, "contentChecksum", 's', sum, "bogus", 'n'),
                   &n, "bogus");
    expect_content(add, FOLIO_E_DECODE,
                   mp_map(&n, 5, "method", 's', "replace", "method", 's', "replace", "contentFile",
                          's', "f1", "contentBytes", 'u', (uint64_t)1, "contentChecksum", 's', sum),
                   &n, "repeated");
    /* documentDeletion needs exactly one of ids / clear: true */
    expect_content(FOLIO_KIND_DOCUMENT_DELETION, 0, mp_map(&n, 1, "clear", 'b', 1), &n, NULL);
    expect_content(FOLIO_KIND_DOCUMENT_DELETION, FOLIO_E_DECODE, mp_map(&n, 1, "clear", 'b', 0),
                   &n, "clear");
    size_t zero = 0;
    expect_content(FOLIO_KIND_DOCUMENT_DELETION, FOLIO_E_DECODE, NULL, &zero, "clear");
    /* settingsUpdate needs a settings map */
    expect_content(FOLIO_KIND_SETTINGS_UPDATE, FOLIO_E_DECODE, mp_map(&n, 1, "settings", 's', "x"),
                   &n, "settings");
    expect_content(FOLIO_KIND_TASK_DELETION, FOLIO_E_DECODE, mp_map(&n, 1, "query", 's', "?x"),
                   &n, "matchedTasks");
    expect_content(FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT, FOLIO_E_DECODE,
                   mp_map(&n, 2, "snapshotPath", 's', "p", "newIndexUid", 's', "bad uid"),
                   &n, "newIndexUid");
    expect_content(FOLIO_KIND_SNAPSHOT_CREATION, FOLIO_E_DECODE,
                   mp_map(&n, 1, "snapshotPath", 's', "p"), &n, "snapshotPath");
    /* not a map, or trailing bytes */
    uint8_t one = 0x01;
    assert_int_equal(folio_task_content_check(FOLIO_KIND_INDEX_CREATION, &one, 1, NULL, 0),
                     FOLIO_E_DECODE);
    uint8_t two_maps[2] = {0x80, 0x80};
    assert_int_equal(folio_task_content_check(FOLIO_KIND_INDEX_CREATION, two_maps, 2, NULL, 0),
                     FOLIO_E_DECODE);
    uint8_t ext[4] = {0x81, 0xa1, 'x', 0xd4};
    assert_int_equal(folio_task_content_check(FOLIO_KIND_SETTINGS_UPDATE, ext, 4, NULL, 0),
                     FOLIO_E_DECODE);

    /* the encoder refuses what the decoder would refuse */
    struct folio_str ids[1] = {S("bad id!")};
    struct folio_task_content c;
    memset(&c, 0, sizeof(c));
    c.kind = FOLIO_KIND_DOCUMENT_DELETION;
    c.ids = (struct folio_str_array){ids, 1};
    uint8_t *buf;
    size_t len;
    assert_int_equal(folio_task_content_encode(&c, &buf, &len), FOLIO_E_INVALID);
    struct folio_task_swap sw[2] = {{{S("a"), S("b")}, false}, {{S("b"), S("c")}, false}};
    memset(&c, 0, sizeof(c));
    c.kind = FOLIO_KIND_INDEX_SWAP;
    c.swaps = sw;
    c.swap_count = 2;
    assert_int_equal(folio_task_content_encode(&c, &buf, &len), FOLIO_E_INVALID);
    uint64_t unordered[2] = {5, 3};
    memset(&c, 0, sizeof(c));
    c.kind = FOLIO_KIND_TASK_CANCELATION;
    c.query = S("?uids=5,3");
    c.matched_tasks = (struct folio_u64_array){unordered, 2};
    assert_int_equal(folio_task_content_encode(&c, &buf, &len), FOLIO_E_INVALID);
}

static void
test_content_index_uids(void **state)
{
    (void)state;
    struct folio_str out[8];
    uint32_t n;
    struct folio_task_content c;
    memset(&c, 0, sizeof(c));
    c.kind = FOLIO_KIND_INDEX_UPDATE;
    c.new_index_uid = S("new");
    assert_int_equal(folio_task_content_index_uids(&c, S("old"), out, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].ptr, "old");
    assert_string_equal(out[1].ptr, "new");
    assert_int_equal(folio_task_content_index_uids(&c, S("new"), out, 8, &n), FOLIO_E_INVALID);
    c.kind = FOLIO_KIND_TASK_DELETION;
    c.new_index_uid = S("");
    assert_int_equal(folio_task_content_index_uids(&c, S(""), out, 8, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(folio_task_content_index_uids(&c, S("x"), out, 8, &n), FOLIO_E_INVALID);
    c.kind = FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT;
    c.index_uid = S("src");
    assert_int_equal(folio_task_content_index_uids(&c, S(""), out, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].ptr, "src");
    c.new_index_uid = S("dst");
    assert_int_equal(folio_task_content_index_uids(&c, S(""), out, 8, &n), 0);
    assert_string_equal(out[0].ptr, "dst");
    assert_int_equal(folio_task_content_index_uids(&c, S("src"), out, 8, &n), FOLIO_E_INVALID);
    struct folio_task_swap sw[2] = {{{S("a"), S("b")}, false}, {{S("c"), S("d")}, false}};
    memset(&c, 0, sizeof(c));
    c.kind = FOLIO_KIND_INDEX_SWAP;
    c.swaps = sw;
    c.swap_count = 2;
    assert_int_equal(folio_task_content_index_uids(&c, S(""), out, 8, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(out[3].ptr, "d");
    assert_int_equal(folio_task_content_index_uids(&c, S(""), out, 3, &n), FOLIO_E_TOO_LARGE);
}

/* ---- details and errors ------------------------------------------------ */

/* Renders an object with msgpack-c's printer for comparisons. */
static char *
mp_text(const uint8_t *buf, size_t len)
{
    msgpack_unpacked r;
    msgpack_unpacked_init(&r);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&r, (const char *)buf, len, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, len);
    char *out = folio_malloc(4096);
    msgpack_object_print_buffer(out, 4096, r.data);
    msgpack_unpacked_destroy(&r);
    /* msgpack-c prints maps as {"k"=>v}; compare with JSON-like {"k":v} */
    char *w = out;
    for (const char *p = out; *p; p++) {
        if (p[0] == '=' && p[1] == '>') {
            *w++ = ':';
            p++;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return out;
}

static void
test_details(void **state)
{
    (void)state;
    struct folio_task_details d;
    uint8_t *buf;
    size_t len;
    memset(&d, 0, sizeof(d));
    d.present = (1ull << FOLIO_DETAIL_RECEIVED_DOCUMENTS) | (1ull << FOLIO_DETAIL_INDEXED_DOCUMENTS);
    d.received_documents = 3;
    d.indexed_documents = 2;
    assert_int_equal(folio_task_details_encode(FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, &d, &buf, &len), 0);
    char *txt = mp_text(buf, len);
    assert_string_equal(txt, "{\"receivedDocuments\":3, \"indexedDocuments\":2}");
    folio_free(txt);
    assert_int_equal(folio_task_details_check(FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, buf, len, NULL, 0), 0);
    /* not a key of a settings-free kind */
    assert_int_equal(folio_task_details_check(FOLIO_KIND_INDEX_CREATION, buf, len, NULL, 0), FOLIO_E_DECODE);
    folio_free(buf);

    /* receivedDocuments may not be null, indexedDocuments may */
    d.null = 1ull << FOLIO_DETAIL_RECEIVED_DOCUMENTS;
    assert_int_equal(folio_task_details_encode(FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, &d, &buf, &len),
                     FOLIO_E_INVALID);
    d.null = 1ull << FOLIO_DETAIL_INDEXED_DOCUMENTS;
    assert_int_equal(folio_task_details_encode(FOLIO_KIND_DOCUMENT_ADDITION_OR_UPDATE, &d, &buf, &len), 0);
    txt = mp_text(buf, len);
    assert_string_equal(txt, "{\"receivedDocuments\":3, \"indexedDocuments\":nil}");
    folio_free(txt);
    folio_free(buf);

    /* a key of another kind is refused */
    memset(&d, 0, sizeof(d));
    d.present = 1ull << FOLIO_DETAIL_CANCELED_TASKS;
    assert_int_equal(folio_task_details_encode(FOLIO_KIND_TASK_DELETION, &d, &buf, &len), FOLIO_E_INVALID);
    assert_int_equal(folio_task_details_encode(FOLIO_KIND_TASK_CANCELATION, &d, &buf, &len), 0);
    folio_free(buf);

    /* singleIndexSnapshotImport reports its import */
    memset(&d, 0, sizeof(d));
    d.present = (1ull << FOLIO_DETAIL_SNAPSHOT_PATH) | (1ull << FOLIO_DETAIL_INDEX_UID) |
                (1ull << FOLIO_DETAIL_NEW_INDEX_UID) | (1ull << FOLIO_DETAIL_IMPORTED_DOCUMENTS);
    d.null = 1ull << FOLIO_DETAIL_NEW_INDEX_UID;
    d.snapshot_path = S("p.idx.snapshot");
    d.index_uid = S("books");
    d.imported_documents = 7;
    assert_int_equal(folio_task_details_encode(FOLIO_KIND_SINGLE_INDEX_SNAPSHOT_IMPORT, &d, &buf, &len), 0);
    txt = mp_text(buf, len);
    assert_string_equal(txt, "{\"indexUid\":\"books\", \"newIndexUid\":nil, "
                             "\"snapshotPath\":\"p.idx.snapshot\", \"importedDocuments\":7}");
    folio_free(txt);
    folio_free(buf);

    /* snapshotCreation has no details: an empty map is fine, a key is not */
    size_t n;
    uint8_t *m = mp_map(&n, 1, "indexUid", 's', "x");
    assert_int_equal(folio_task_details_check(FOLIO_KIND_SNAPSHOT_CREATION, m, n, NULL, 0), FOLIO_E_DECODE);
    folio_free(m);
    const uint8_t empty = 0x80;
    assert_int_equal(folio_task_details_check(FOLIO_KIND_SNAPSHOT_CREATION, &empty, 1, NULL, 0), 0);
    /* settingsUpdate details are the settings: any keys */
    m = mp_map(&n, 2, "filterableAttributes", 'n', "rankingRules", 'u', (uint64_t)1);
    assert_int_equal(folio_task_details_check(FOLIO_KIND_SETTINGS_UPDATE, m, n, NULL, 0), 0);
    folio_free(m);
}

static void
test_error_object(void **state)
{
    (void)state;
    struct folio_task_error e = {S("Index `books` not found."), S("index_not_found"),
                                 S("invalid_request"), S("")};
    uint8_t *buf;
    size_t len;
    assert_int_equal(folio_task_error_encode(&e, &buf, &len), 0);
    char *txt = mp_text(buf, len);
    assert_string_equal(txt, "{\"message\":\"Index `books` not found.\", \"code\":\"index_not_found\", "
                             "\"type\":\"invalid_request\", "
                             "\"link\":\"https://docs.meilisearch.com/errors#index_not_found\"}");
    folio_free(txt);
    folio_free(buf);
    e.type = S("bogus");
    assert_int_equal(folio_task_error_encode(&e, &buf, &len), FOLIO_E_INVALID);
    e.type = S("internal");
    e.code = S("Not-Snake");
    assert_int_equal(folio_task_error_encode(&e, &buf, &len), FOLIO_E_INVALID);
    size_t n;
    uint8_t *m = mp_map(&n, 3, "message", 's', "m", "code", 's', "c", "type", 's', "internal");
    assert_int_equal(folio_task_error_check(m, n, NULL, 0), FOLIO_E_DECODE);
    folio_free(m);
    m = mp_map(&n, 4, "message", 's', "m", "code", 's', "c", "type", 's', "system", "link", 's', "l");
    assert_int_equal(folio_task_error_check(m, n, NULL, 0), 0);
    folio_free(m);
}

static void
test_default_details(void **state)
{
    (void)state;
    uint64_t matched[2] = {1, 2};
    struct folio_task_content c;
    memset(&c, 0, sizeof(c));
    c.kind = FOLIO_KIND_TASK_DELETION;
    c.query = S("?statuses=succeeded");
    c.matched_tasks = (struct folio_u64_array){matched, 2};
    uint8_t *content, *buf;
    size_t clen, len;
    assert_int_equal(folio_task_content_encode(&c, &content, &clen), 0);
    struct folio_task_view t;
    memset(&t, 0, sizeof(t));
    t.kind = FOLIO_KIND_TASK_DELETION;
    t.content = (struct folio_object){content, (uint32_t)clen};
    assert_int_equal(folio_task_details_default(&t, &buf, &len), 0);
    char *txt = mp_text(buf, len);
    assert_string_equal(txt, "{\"matchedTasks\":2, \"deletedTasks\":nil, "
                             "\"originalFilter\":\"?statuses=succeeded\"}");
    folio_free(txt);
    folio_free(buf);
    folio_free(content);

    struct folio_str idx = S("movies");
    memset(&c, 0, sizeof(c));
    c.kind = FOLIO_KIND_INDEX_UPDATE;
    c.new_index_uid = S("films");
    assert_int_equal(folio_task_content_encode(&c, &content, &clen), 0);
    t.kind = FOLIO_KIND_INDEX_UPDATE;
    t.content = (struct folio_object){content, (uint32_t)clen};
    t.index_uids = &idx;
    t.index_count = 1;
    assert_int_equal(folio_task_details_default(&t, &buf, &len), 0);
    txt = mp_text(buf, len);
    assert_string_equal(txt, "{\"primaryKey\":nil, \"oldIndexUid\":\"movies\", \"newIndexUid\":\"films\"}");
    folio_free(txt);
    folio_free(buf);
    folio_free(content);

    t.kind = FOLIO_KIND_SNAPSHOT_CREATION;
    t.content = (struct folio_object){NULL, 0};
    assert_int_equal(folio_task_details_default(&t, &buf, &len), 0);
    assert_int_equal(len, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),       cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_one_index_and_syntax), cmocka_unit_test(test_content_roundtrip),
        cmocka_unit_test(test_content_rules),    cmocka_unit_test(test_content_index_uids),
        cmocka_unit_test(test_details),          cmocka_unit_test(test_error_object),
        cmocka_unit_test(test_default_details),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
