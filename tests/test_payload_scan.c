/*
 * Differential tests of the payload scan (index/json_scan.c) against the
 * jansson path it short-cuts (payload_reader_next, the way
 * folio_index_payload_count counted before the scan existed).
 *
 * The one property: when the scan says "valid, N documents", the jansson path
 * accepts the payload with N documents. And folio_index_payload_count (scan
 * first, jansson when the scan is not sure) answers exactly as the jansson
 * path does: same code, same count, same message.
 *
 * Hand-written cases cover each rule the scan must keep (strict UTF-8,
 * control bytes, escapes, `\u0000`, surrogates, the number grammar, integer
 * and real bounds, literals, nesting and size bounds, payload shapes, BOM,
 * duplicate keys); ordinary documents must take the fast path, or the scan
 * would be pointless. Then random valid payloads and their mutations (byte
 * flips, inserted `"\,]}{`, high and control bytes, truncations,
 * duplications) are checked the same way. The seed is printed
 * (FOLIO_TEST_SEED=... replays a run).
 *
 * This file reaches into index/index_int.h: the two paths it compares are
 * private to the index module.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../index/index_int.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/index.h"

#define RANDOM_CASES 200000

#define F_JSON FOLIO_INDEX_FORMAT_JSON
#define F_NDJSON FOLIO_INDEX_FORMAT_NDJSON

/* What a case expects of the two paths. */
enum expect {
    FAST,    /* the scan says valid (and jansson agrees) */
    SLOW_OK, /* jansson accepts; the scan may be unsure (it is, for these) */
    BAD,     /* jansson refuses (so the scan must be unsure) */
};

struct outcome {
    int rc;
    uint64_t count;
    char message[512];
};

/* The jansson path: payload_reader_* to the end, as the count did before the scan. */
static void
jansson_count(enum folio_index_format f, const char *data, size_t len, struct outcome *o)
{
    struct folio_index_payload p = {.format = f, .data = data, .len = len};
    struct folio_index_error e = {0};
    struct payload_reader r;
    json_t *doc = NULL;
    uint64_t n = 0;
    int rc = payload_reader_open(&r, &p, &e);
    if (rc == FOLIO_OK) {
        while ((rc = payload_reader_next(&r, &doc, &e)) == 1) {
            json_decref(doc);
            n++;
        }
    }
    payload_reader_close(&r);
    o->rc = rc < 0 ? rc : 0;
    o->count = rc < 0 ? 0 : n;
    snprintf(o->message, sizeof(o->message), "%s", rc < 0 ? e.message : "");
}

static void
dump(const char *why, enum folio_index_format f, const char *data, size_t len)
{
    fprintf(stderr, "%s (%s, %zu bytes): ", why, f == F_JSON ? "json" : "ndjson", len);
    for (size_t i = 0; i < len && i < 400; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c >= 0x20 && c < 0x7F && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "%s\n", len > 400 ? "..." : "");
}

/*
 * Runs the scan, the jansson path and folio_index_payload_count on one
 * payload and checks the property; returns whether the scan said valid, and
 * the jansson path's outcome in *ref.
 */
static bool
check(enum folio_index_format f, const char *data, size_t len, struct outcome *ref)
{
    uint64_t scanned = 0;
    bool fast = json_scan_count(data, len, f == F_NDJSON, &scanned);
    jansson_count(f, data, len, ref);
    if (fast && (ref->rc != 0 || ref->count != scanned)) {
        dump("scan said valid, jansson did not agree", f, data, len);
        fprintf(stderr, "scan: %llu documents; jansson: rc %d, %llu documents, %s\n",
                (unsigned long long)scanned, ref->rc, (unsigned long long)ref->count, ref->message);
        fail();
    }
    struct folio_index_payload p = {.format = f, .data = data, .len = len};
    struct folio_index_error e = {0};
    uint64_t n = 12345;
    int rc = folio_index_payload_count(&p, &n, &e);
    if (rc != ref->rc || (rc == 0 && n != ref->count) || (rc != 0 && n != 12345) ||
        (rc != 0 && strcmp(e.message, ref->message) != 0)) {
        dump("folio_index_payload_count differs from the jansson path", f, data, len);
        fprintf(stderr, "count: rc %d n %llu \"%s\"; jansson: rc %d n %llu \"%s\"\n", rc,
                (unsigned long long)n, e.message, ref->rc, (unsigned long long)ref->count,
                ref->message);
        fail();
    }
    return fast;
}

static void
expect_n(enum folio_index_format f, const char *data, size_t len, enum expect want, uint64_t count)
{
    struct outcome ref;
    bool fast = check(f, data, len, &ref);
    bool ok = want == FAST      ? fast && ref.rc == 0 && ref.count == count
              : want == SLOW_OK ? !fast && ref.rc == 0 && ref.count == count
                                : !fast && ref.rc == FOLIO_E_MALFORMED_PAYLOAD;
    if (!ok) {
        dump("unexpected", f, data, len);
        fprintf(stderr, "wanted %s; scan %s; jansson rc %d, %llu documents, %s\n",
                want == FAST      ? "fast"
                : want == SLOW_OK ? "slow and accepted"
                                  : "refused",
                fast ? "valid" : "not sure", ref.rc, (unsigned long long)ref.count, ref.message);
        fail();
    }
}

/* A string literal, embedded NUL bytes included. */
#define CASE(f, lit, want, n) expect_n((f), (lit), sizeof(lit) - 1, (want), (n))

/* value in three places: a lone document, the second of an array, NDJSON's second line. */
static void
value_case_n(const char *value, size_t vlen, enum expect want)
{
    static const char *heads[] = {
        "{\"v\":", "[{\"a\":1} , {\"v\":", "{\"a\":1}\n{\"v\":", "{\"a\":[{\"b\":"};
    static const char *tails[] = {"}", "}]", "}\n", "}]}"};
    static const enum folio_index_format formats[] = {F_JSON, F_JSON, F_NDJSON, F_NDJSON};
    static const uint64_t counts[] = {1, 2, 2, 1};
    char buf[512];
    for (int i = 0; i < 4; i++) {
        size_t h = strlen(heads[i]), t = strlen(tails[i]);
        assert_true(h + vlen + t <= sizeof(buf));
        memcpy(buf, heads[i], h);
        memcpy(buf + h, value, vlen);
        memcpy(buf + h + vlen, tails[i], t);
        expect_n(formats[i], buf, h + vlen + t, want, counts[i]);
    }
}

#define VALUE(lit, want) value_case_n((lit), sizeof(lit) - 1, (want))

/* A string (given without quotes) as a value and as a key. */
static void
string_case_n(const char *s, size_t slen, enum expect want)
{
    char buf[256];
    assert_true(slen + 16 <= sizeof(buf));
    buf[0] = '"';
    memcpy(buf + 1, s, slen);
    buf[slen + 1] = '"';
    value_case_n(buf, slen + 2, want);
    memcpy(buf, "{\"", 2);
    memcpy(buf + 2, s, slen);
    memcpy(buf + 2 + slen, "\":1}", 4);
    expect_n(F_JSON, buf, slen + 6, want, 1);
}

#define STRING(lit, want) string_case_n((lit), sizeof(lit) - 1, (want))

static void
test_strings(void **state)
{
    (void)state;
    STRING("", FAST);
    STRING("plain ascii ~ with \x7f del", FAST);
    STRING("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", FAST); /* 2, 3 and 4 bytes */
    STRING("\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xef\xbf\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf", FAST);
    STRING("\xed\x9f\xbf \xee\x80\x80", FAST); /* U+D7FF, U+E000 around the surrogates */
    /* invalid UTF-8 */
    STRING("\x80", BAD); /* a lone continuation byte */
    STRING("\xbf", BAD);
    STRING("\xc0\x80", BAD);         /* overlong NUL */
    STRING("\xc1\xbf", BAD);         /* overlong */
    STRING("\xe0\x9f\xbf", BAD);     /* overlong 3 bytes */
    STRING("\xf0\x8f\xbf\xbf", BAD); /* overlong 4 bytes */
    STRING("\xed\xa0\x80", BAD);     /* U+D800 in UTF-8 */
    STRING("\xed\xbf\xbf", BAD);     /* U+DFFF in UTF-8 */
    STRING("\xf4\x90\x80\x80", BAD); /* above U+10FFFF */
    STRING("\xf5\x80\x80\x80", BAD);
    STRING("\xff", BAD);
    STRING("\xfe", BAD);
    STRING("\xc3", BAD); /* truncated sequences */
    STRING("\xe2\x82", BAD);
    STRING("\xf0\x9f\x98", BAD);
    STRING("\xe2\x82x", BAD);
    STRING("\xc3\xc3\xa9", BAD);
    /* control bytes */
    STRING("\x01", BAD);
    STRING("a\x1f", BAD);
    STRING("tab\there", BAD);
    STRING("new\nline", BAD);
    STRING("nul\0byte", BAD);
    /* escapes */
    STRING("\\\" \\\\ \\/ \\b \\f \\n \\r \\t", FAST);
    STRING("\\u0041\\u00e9\\u00E9\\u20AC\\uFFFF\\uD7FF\\uE000\\u0001", FAST);
    STRING("\\a", BAD);
    STRING("\\x41", BAD);
    STRING("\\U0041", BAD);
    STRING("\\'", BAD);
    STRING("\\u12", BAD);
    STRING("\\u12G4", BAD);
    STRING("\\u", BAD);
    STRING("\\", BAD);
    STRING("\\u0000", BAD);
    STRING("\\uD800", BAD);
    STRING("\\uDFFF", BAD);
    STRING("\\uDE00\\uD83D", BAD);
    STRING("\\uD83Dx", BAD);
    STRING("\\uD83D\\u0041", BAD);
    STRING("\\uD83D\\uDE00", SLOW_OK); /* a valid pair: left to jansson */
    STRING("\\ud83d\\ude00", SLOW_OK);
}

static void
test_numbers(void **state)
{
    (void)state;
    static const char *fast[] = {
        "0",
        "-0",
        "7",
        "-7",
        "123",
        "0.5",
        "-0.0",
        "1.25",
        "1e5",
        "1E5",
        "1e+5",
        "1e-5",
        "-1.5E-07",
        "0e0",
        "10.01e99",
        "1e-99",
        "123456789012345678",
        "-123456789012345678",
        "1.23456789012345678901234567890123456e10", /* 40 bytes */
    };
    for (size_t i = 0; i < sizeof(fast) / sizeof(fast[0]); i++)
        value_case_n(fast[i], strlen(fast[i]), FAST);
    static const char *bad[] = {
        "01",
        "-01",
        "00",
        "-",
        "--1",
        "1.",
        "-1.",
        ".5",
        "-.5",
        "1e",
        "1e+",
        "1E-",
        "+1",
        "1.5.3",
        "1e5e5",
        "1e5.5",
        "0x10",
        "1_000",
        "1 2",
        "Infinity",
        "NaN",
        "-Infinity",
        "1e999",
        "-1e400",
        "18446744073709551616",
        "-9223372036854775809",
        "123456789012345678901234567890",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        value_case_n(bad[i], strlen(bad[i]), BAD);
    /* Accepted by jansson (json_in.c for big integers) but beyond the scan's bounds. */
    static const char *slow[] = {
        "1234567890123456789",
        "-1234567890123456789",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
        "-9223372036854775808",
        "1e100",
        "1e-100",
        "1e308",
        "1e-400",
        "2.5E+123",
        "1.234567890123456789012345678901234567e10", /* 41 bytes */
    };
    for (size_t i = 0; i < sizeof(slow) / sizeof(slow[0]); i++)
        value_case_n(slow[i], strlen(slow[i]), SLOW_OK);
}

static void
test_literals_and_structure(void **state)
{
    (void)state;
    VALUE("true", FAST);
    VALUE("false", FAST);
    VALUE("null", FAST);
    VALUE("[true,false,null]", FAST);
    VALUE("{}", FAST);
    VALUE("[]", FAST);
    VALUE("[[],{},[{}]]", FAST);
    VALUE(" [ 1 , \"a\" , { \"b\" : [ ] } ] ", FAST);
    static const char *bad[] = {
        "tru",
        "True",
        "TRUE",
        "truex",
        "true1",
        "nul",
        "nulls",
        "fals",
        "falsey",
        "undefined",
        "'a'",
        "[1,]",
        "[,1]",
        "[1 2]",
        "[1,,2]",
        "[",
        "]",
        "{",
        "{]",
        "[}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\" 1}",
        "{\"a\":1,}",
        "{,}",
        "{1:2}",
        "{a:1}",
        "{'a':1}",
        "{\"a\":1 \"b\":2}",
        "{\"a\"::1}",
        "\"a\"\"b\"",
        "",
        "\f1",
        "1\v",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        value_case_n(bad[i], strlen(bad[i]), BAD);
    /* Duplicate keys are fine for jansson: the last one wins. */
    CASE(F_JSON, "{\"a\":1,\"a\":2,\"a\":{\"a\":3}}", FAST, 1);
    /* NUL bytes outside strings */
    CASE(F_JSON, "{\"a\":1}\0", BAD, 0);
    CASE(F_JSON, "{\"a\":\0 1}", BAD, 0);
    CASE(F_NDJSON, "{}\0{}", BAD, 0);
    /* a high byte outside strings */
    CASE(F_JSON, "{\"a\":1\xc3\xa9}", BAD, 0);
    CASE(F_JSON, "{\"a\":1}\xc2\xa0", BAD, 0); /* NBSP is not whitespace */
}

static void
test_payload_shapes(void **state)
{
    (void)state;
    CASE(F_JSON, "{}", FAST, 1);
    CASE(F_JSON, " \t\r\n{\"a\":1} \t\r\n", FAST, 1);
    CASE(F_JSON, "[{}]", FAST, 1);
    CASE(F_JSON, "[{},{},{}]", FAST, 3);
    CASE(F_JSON, " [ {} ,\n\t{} \r\n, {} ] \n", FAST, 3);
    CASE(F_NDJSON, "{}", FAST, 1);
    CASE(F_NDJSON, "{\"a\":1}\n{\"a\":2}\n", FAST, 2);
    CASE(F_NDJSON, "{\"a\":1}\r\n{\"a\":2}\r\n\r\n", FAST, 2);
    CASE(F_NDJSON, "{}{}{}", FAST, 3); /* NDJSON's separator may be empty */
    CASE(F_NDJSON, " \n\t{} {}\t", FAST, 2);
    /* no documents: accepted by jansson, left to it */
    CASE(F_JSON, "[]", SLOW_OK, 0);
    CASE(F_JSON, " [ \n ] ", SLOW_OK, 0);
    CASE(F_NDJSON, " \n\t\r ", SLOW_OK, 0);
    /* refused */
    static const char *bad_json[] = {
        "   ",
        "[",
        "]",
        "[{}",
        "[{},]",
        "[,{}]",
        "[{},,{}]",
        "[{}{}]",
        "[{}]]",
        "[{}] x",
        "{}{}",
        "{} {}",
        "{},",
        "{} x",
        "[1]",
        "[\"a\"]",
        "[[]]",
        "[null]",
        "[{},1]",
        "[{},[{}]]",
        "1",
        "\"a\"",
        "null",
        "true",
        "\xef\xbb\xbf{}",
        "\xef\xbb\xbf[{}]",
        "{\"a\":1",
        "{\"a\":\"x",
        "[{\"a\":1}",
        "\f{}",
        "{}\f",
        "\v[{}]",
    };
    for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++)
        expect_n(F_JSON, bad_json[i], strlen(bad_json[i]), BAD, 0);
    static const char *bad_ndjson[] = {
        "{},{}", "[{}]",      "[]",       "{}\n1",        "1", "{}\n]", "\xef\xbb\xbf{}",
        "{}\n{", "{}\n\"a\"", "{} \f {}", "{}\n{\"a\":1",
    };
    for (size_t i = 0; i < sizeof(bad_ndjson) / sizeof(bad_ndjson[0]); i++)
        expect_n(F_NDJSON, bad_ndjson[i], strlen(bad_ndjson[i]), BAD, 0);
    /* empty and too large: the reader's own errors, never reached by the scan */
    struct outcome ref;
    for (int f = (int)F_JSON; f <= (int)F_NDJSON; f++) {
        check((enum folio_index_format)f, "", 0, &ref);
        assert_int_equal(ref.rc, FOLIO_E_MISSING_PAYLOAD);
        check((enum folio_index_format)f, NULL, 0, &ref);
        assert_int_equal(ref.rc, FOLIO_E_MISSING_PAYLOAD);
    }
    struct folio_index_payload p = {.format = F_JSON, .data = "[{},{}]", .len = 7, .bytes_max = 6};
    struct folio_index_error e;
    uint64_t n = 0;
    assert_int_equal(folio_index_payload_count(&p, &n, &e), FOLIO_E_PAYLOAD_TOO_LARGE);
    /* CSV does not go through the scan */
    p = (struct folio_index_payload){
        .format = FOLIO_INDEX_FORMAT_CSV, .data = "id\n1\n2\n", .len = 7};
    assert_int_equal(folio_index_payload_count(&p, &n, &e), 0);
    assert_int_equal(n, 2);
}

/* {"v": depth containers, alternating [ and {"k": ...} } */
static char *
nested(int depth, bool arrays_only, const char *extra, size_t *len)
{
    size_t cap = (size_t)depth * 8 + 64 + strlen(extra);
    char *s = malloc(cap), *p = s;
    assert_non_null(s);
    p += sprintf(p, "{\"v\":");
    for (int i = 1; i < depth; i++)
        p += sprintf(p, arrays_only || i % 2 ? "[" : "{\"k\":");
    p += sprintf(p, "0");
    for (int i = depth - 1; i >= 1; i--)
        p += sprintf(p, arrays_only || i % 2 ? "]" : "}");
    p += sprintf(p, "%s}", extra);
    *len = (size_t)(p - s);
    return s;
}

static void
test_depth(void **state)
{
    (void)state;
    size_t len;
    /* The document is level 1: FOLIO_INDEX_DOC_DEPTH_MAX levels are allowed, not one more. */
    for (int d = 1; d <= FOLIO_INDEX_DOC_DEPTH_MAX + 3; d++) {
        for (int arrays_only = 0; arrays_only <= 1; arrays_only++) {
            char *s = nested(d, arrays_only, "", &len);
            enum expect want = d <= FOLIO_INDEX_DOC_DEPTH_MAX - 8 ? FAST
                               : d <= FOLIO_INDEX_DOC_DEPTH_MAX   ? SLOW_OK
                                                                  : BAD;
            expect_n(F_JSON, s, len, want, 1);
            expect_n(F_NDJSON, s, len, want, 1);
            free(s);
        }
    }
    /* jansson's own limit (2048) */
    char *s = nested(2100, true, "", &len);
    expect_n(F_JSON, s, len, BAD, 0);
    free(s);
    /* Too deep, but replaced by a later duplicate key: json_depth_ok never sees it. */
    s = nested(FOLIO_INDEX_DOC_DEPTH_MAX + 2, true, ",\"v\":1", &len);
    expect_n(F_JSON, s, len, SLOW_OK, 1);
    free(s);
}

/* {"v":"xxx..."} of exactly len bytes, in an array after a small document. */
static void
sized_case(size_t len, enum expect want)
{
    size_t total = len + 16;
    char *s = malloc(total), *p = s;
    assert_non_null(s);
    p += sprintf(p, "[{},\n");
    memcpy(p, "{\"v\":\"", 6);
    memset(p + 6, 'x', len - 8);
    memcpy(p + len - 2, "\"}", 2);
    p += len;
    *p++ = ']';
    expect_n(F_JSON, s, (size_t)(p - s), want, 2);
    free(s);
}

static void
test_document_size(void **state)
{
    (void)state;
    sized_case(FOLIO_INDEX_DOC_BYTES_MAX - 1024, FAST);
    sized_case(FOLIO_INDEX_DOC_BYTES_MAX, SLOW_OK);
    sized_case(FOLIO_INDEX_DOC_BYTES_MAX + 1, BAD);
}

/* ---- random payloads ---------------------------------------------------- */

static uint64_t rng;
/* This payload may hold what the scan leaves to jansson (big numbers, pairs, deep nesting). */
static bool edgy;

static uint64_t
rnd(uint64_t n)
{
    return tu_rand(&rng) % n;
}

struct buf {
    char *data;
    size_t len, cap;
};

static void
put(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 256;
        b->data = realloc(b->data, b->cap);
        assert_non_null(b->data);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void
put_str(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void
put_ws(struct buf *b)
{
    static const char ws[] = " \t\n\r";
    if (rnd(3) == 0)
        for (uint64_t i = rnd(3) + 1; i > 0; i--)
            put(b, &ws[rnd(4)], 1);
}

static void
put_utf8(struct buf *b, uint32_t cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | cp >> 6), u[1] = (unsigned char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | cp >> 12), u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | cp >> 18), u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    put(b, u, n);
}

/* A code point that is not a surrogate, often at a boundary of the encodings. */
static uint32_t
rand_code_point(void)
{
    static const uint32_t edges[] = {0x80,   0x7FF,   0x800,    0xD7FF, 0xE000, 0xFFFD,
                                     0xFFFF, 0x10000, 0x10FFFF, 0xFEFF, 0xA0};
    uint32_t cp;
    switch (rnd(4)) {
    case 0:
        return edges[rnd(sizeof(edges) / sizeof(edges[0]))];
    case 1:
        return 0x80 + (uint32_t)rnd(0x800 - 0x80);
    case 2:
        cp = 0x800 + (uint32_t)rnd(0x10000 - 0x800);
        break;
    default:
        return 0x10000 + (uint32_t)rnd(0x110000 - 0x10000);
    }
    return cp >= 0xD800 && cp <= 0xDFFF ? cp - 0x800 : cp;
}

static void
put_string(struct buf *b)
{
    static const char *escapes[] = {"\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"};
    static const char words[] = "abcdefghij klmnop QRSTUV 0123456789 ~!@#$%^&*()_+-=[]{}|;:,.<>?";
    char tmp[16];
    put_str(b, "\"");
    for (uint64_t n = rnd(4) == 0 ? rnd(40) : rnd(8); n > 0; n--) {
        switch (rnd(10)) {
        case 0:
            put_str(b, escapes[rnd(8)]);
            break;
        case 1: {
            uint32_t v = rnd(2) ? 1 + (uint32_t)rnd(0x7F) : rand_code_point();
            if (v <= 0xFFFF) {
                snprintf(tmp, sizeof(tmp), rnd(2) ? "\\u%04x" : "\\u%04X", v);
                put_str(b, tmp);
            } else if (edgy && rnd(4) == 0) { /* a pair: left to jansson by the scan */
                v -= 0x10000;
                snprintf(tmp, sizeof(tmp), "\\u%04X\\u%04x", 0xD800 + (v >> 10),
                         0xDC00 + (v & 0x3FF));
                put_str(b, tmp);
            } else {
                put_utf8(b, v);
            }
            break;
        }
        case 2:
        case 3:
            put_utf8(b, rand_code_point());
            break;
        default:
            put(b, &words[rnd(sizeof(words) - 1)], 1);
            break;
        }
    }
    put_str(b, "\"");
}

static void
put_digits(struct buf *b, uint64_t n, bool lead_nonzero)
{
    for (uint64_t i = 0; i < n; i++) {
        char c = (char)('0' + (i == 0 && lead_nonzero ? 1 + rnd(9) : rnd(10)));
        put(b, &c, 1);
    }
}

static void
put_number(struct buf *b)
{
    static const char *edges[] = {"9223372036854775807",
                                  "9223372036854775808",
                                  "18446744073709551615",
                                  "18446744073709551616",
                                  "-9223372036854775808",
                                  "-9223372036854775809",
                                  "1e308",
                                  "1e309",
                                  "-0",
                                  "0.0",
                                  "4.9e-324",
                                  "1e-400"};
    if (edgy && rnd(10) == 0) {
        put_str(b, edges[rnd(sizeof(edges) / sizeof(edges[0]))]);
        return;
    }
    if (rnd(3) == 0)
        put_str(b, "-");
    uint64_t int_digits = edgy && rnd(8) == 0 ? 1 + rnd(22) : 1 + rnd(6);
    if (rnd(5) == 0)
        put_str(b, "0");
    else
        put_digits(b, int_digits, true);
    if (rnd(3) == 0) {
        put_str(b, ".");
        put_digits(b, rnd(6) == 0 ? 1 + rnd(edgy ? 30 : 20) : 1 + rnd(5), false);
    }
    if (rnd(4) == 0) {
        put_str(b, rnd(2) ? "e" : "E");
        if (rnd(2))
            put_str(b, rnd(2) ? "+" : "-");
        put_digits(b, edgy && rnd(8) == 0 ? 3 : 1 + rnd(2), false);
    }
}

static void put_value(struct buf *b, int depth);

static void
put_object(struct buf *b, int depth)
{
    static const char *keys[] = {"\"id\"", "\"title\"",       "\"a\"",
                                 "\"\"",   "\"caf\xc3\xa9\"", "\"x y\""};
    put_str(b, "{");
    for (uint64_t n = rnd(5), i = 0; i < n; i++) {
        put_ws(b);
        if (i > 0) {
            put_str(b, ",");
            put_ws(b);
        }
        if (rnd(2))
            put_str(b, keys[rnd(sizeof(keys) / sizeof(keys[0]))]);
        else
            put_string(b);
        put_ws(b);
        put_str(b, ":");
        put_ws(b);
        put_value(b, depth + 1);
    }
    put_ws(b);
    put_str(b, "}");
}

static void
put_array(struct buf *b, int depth)
{
    put_str(b, "[");
    for (uint64_t n = rnd(4), i = 0; i < n; i++) {
        put_ws(b);
        if (i > 0) {
            put_str(b, ",");
            put_ws(b);
        }
        put_value(b, depth + 1);
    }
    put_ws(b);
    put_str(b, "]");
}

/* A chain of containers around the nesting bound, sometimes over it. */
static void
put_deep(struct buf *b, int depth)
{
    int levels = FOLIO_INDEX_DOC_DEPTH_MAX - 12 + (int)rnd(18) - depth;
    for (int i = 0; i < levels; i++)
        put_str(b, i % 3 ? "[" : "{\"d\":");
    put_value(b, 1000);
    for (int i = levels - 1; i >= 0; i--)
        put_str(b, i % 3 ? "]" : "}");
}

static void
put_value(struct buf *b, int depth)
{
    static const char *literals[] = {"true", "false", "null"};
    uint64_t pick = depth >= 4 ? rnd(6) : rnd(9);
    if (edgy && depth < 4 && rnd(100) == 0)
        pick = 9;
    switch (pick) {
    case 0:
    case 1:
        put_string(b);
        break;
    case 2:
    case 3:
        put_number(b);
        break;
    case 4:
    case 5:
        put_str(b, literals[rnd(3)]);
        break;
    case 6:
    case 7:
        put_object(b, depth);
        break;
    case 8:
        put_array(b, depth);
        break;
    default:
        put_deep(b, depth);
        break;
    }
}

/* A valid JSON or NDJSON payload (valid syntax; bounds may still be crossed). */
static enum folio_index_format
put_payload(struct buf *b)
{
    uint64_t docs = 1 + rnd(6);
    put_ws(b);
    switch (rnd(3)) {
    case 0:
        put_object(b, 1);
        put_ws(b);
        return F_JSON;
    case 1:
        put_str(b, "[");
        for (uint64_t i = 0; i < docs; i++) {
            put_ws(b);
            if (i > 0) {
                put_str(b, ",");
                put_ws(b);
            }
            put_object(b, 1);
        }
        put_ws(b);
        put_str(b, "]");
        put_ws(b);
        return F_JSON;
    default:
        for (uint64_t i = 0; i < docs; i++) {
            put_object(b, 1);
            if (rnd(4))
                put_str(b, "\n");
            else
                put_ws(b);
        }
        return F_NDJSON;
    }
}

static void
insert_at(struct buf *b, size_t at, const char *p, size_t n)
{
    put(b, p, n); /* grow */
    memmove(b->data + at + n, b->data + at, b->len - n - at);
    memcpy(b->data + at, p, n);
}

static void
mutate(struct buf *b)
{
    static const char specials[] = "\"\\,]}{[:";
    size_t at = (size_t)rnd(b->len + 1);
    char c;
    switch (rnd(6)) {
    case 0: /* flip a byte */
        if (at < b->len)
            b->data[at] ^= (char)(1u << rnd(8));
        break;
    case 1: /* insert a structural byte */
        insert_at(b, at, &specials[rnd(sizeof(specials) - 1)], 1);
        break;
    case 2: /* insert a high or a control byte */
        c = (char)(rnd(4) ? 0x80 + rnd(0x80) : rnd(0x20));
        insert_at(b, at, &c, 1);
        break;
    case 3: /* truncate */
        b->len = at;
        break;
    case 4: { /* duplicate a slice */
        size_t from = (size_t)rnd(b->len + 1);
        size_t n = (size_t)rnd(b->len - from + 1);
        char *copy = malloc(n + 1);
        assert_non_null(copy);
        memcpy(copy, b->data + from, n);
        insert_at(b, at, copy, n);
        free(copy);
        break;
    }
    default: /* delete a byte */
        if (at < b->len) {
            memmove(b->data + at, b->data + at + 1, b->len - at - 1);
            b->len--;
        }
        break;
    }
}

static void
test_random(void **state)
{
    (void)state;
    rng = tu_seed();
    struct buf b = {0};
    /* [edgy]: unmutated payloads jansson accepts, and those the scan was unsure of */
    uint64_t valid[2] = {0, 0}, valid_unsure[2] = {0, 0};
    uint64_t mutated = 0, mutated_valid = 0, mutated_fast = 0, fast = 0, bytes = 0;
    for (int i = 0; i < RANDOM_CASES; i++) {
        b.len = 0;
        edgy = rnd(4) == 0;
        enum folio_index_format f = put_payload(&b);
        bool mutate_it = rnd(10) < 6;
        if (mutate_it)
            for (uint64_t m = 1 + rnd(rnd(4) == 0 ? 4 : 1); m > 0; m--)
                mutate(&b);
        if (rnd(50) == 0) /* now and then the other format's reader */
            f = f == F_JSON ? F_NDJSON : F_JSON;
        struct outcome ref;
        bool said_valid = check(f, b.data, b.len, &ref);
        fast += said_valid;
        bytes += b.len;
        if (mutate_it) {
            mutated++;
            mutated_valid += ref.rc == 0;
            mutated_fast += said_valid;
        } else if (ref.rc == 0) {
            valid[edgy]++;
            valid_unsure[edgy] += !said_valid;
        }
    }
    free(b.data);
    printf("random: %d payloads (%.0f bytes on average), the scan said valid for %llu\n",
           RANDOM_CASES, (double)bytes / RANDOM_CASES, (unsigned long long)fast);
    for (int e = 0; e <= 1; e++)
        printf("random: %s payloads, unmutated, accepted by jansson: %llu; the scan was not sure "
               "of %llu (%.2f%%)\n",
               e ? "edgy (big numbers, surrogate pairs, deep nesting)" : "ordinary",
               (unsigned long long)valid[e], (unsigned long long)valid_unsure[e],
               valid[e] ? 100.0 * (double)valid_unsure[e] / (double)valid[e] : 0.0);
    printf("random: mutated: %llu, accepted by jansson %llu, the scan said valid for %llu\n",
           (unsigned long long)mutated, (unsigned long long)mutated_valid,
           (unsigned long long)mutated_fast);
    /* Without these the property would hold for a scan that is never sure. */
    assert_true(valid[0] > RANDOM_CASES / 5);
    assert_int_equal(valid_unsure[0], 0);
    assert_true(mutated_fast > 0);
}

/* Ordinary documents, as clients send them, take the fast path. */
static void
test_ordinary_documents(void **state)
{
    (void)state;
    CASE(F_JSON,
         "[{\"id\":123,\"title\":\"three word title\",\"body\":\"eight words of body text here "
         "ok\",\"year\":1999}]",
         FAST, 1);
    CASE(F_JSON,
         "[\n  {\"id\": \"a-1\", \"genres\": [\"Drama\", \"Com\xc3\xa9"
         "die\"], \"rating\": 7.5,\n"
         "   \"released\": 1581552000, \"meta\": {\"lang\": \"fr\", \"adult\": false, \"poster\": "
         "null}},\n  {\"id\": 2, \"overview\": \"He said \\\"hi\\\"\\n\\u00e9t\\u00E9 \\/ "
         "\\ttab\", \"price\": -0.99e-2}\n]\n",
         FAST, 2);
    CASE(F_NDJSON,
         "{\"id\":1,\"name\":\"\xe6\x9d\xb1\xe4\xba\xac\",\"geo\":{\"lat\":35.68,\"lng\":139.69}}\n"
         "{\"id\":2,\"name\":\"\xf0\x9f\x8d\xa3 bar\",\"tags\":[]}\n",
         FAST, 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordinary_documents),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_literals_and_structure),
        cmocka_unit_test(test_payload_shapes),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_document_size),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
