/*
 * A strict, allocation-free scan of a JSON or NDJSON payload that counts its
 * documents without building them: what a registration needs, at a fraction
 * of the cost of parsing every document with jansson (payload.c).
 *
 * The scan is conservative. It answers "valid, N documents" only when the
 * jansson path (payload_reader_next, through json_in_load) would accept the
 * payload with the same count; whenever anything is unusual it answers "not
 * sure", and the caller runs the jansson path, which also makes the error
 * message. So the scan never explains anything, and each of its refusals
 * below is either something jansson or payload.c refuses too, or something
 * rare that is cheaper to leave to jansson than to prove equal:
 *   - the payload's shape is payload.c's: JSON is one object or an array of
 *     objects (`,` between them, whitespace anywhere between tokens), NDJSON
 *     is objects separated by (possibly no) whitespace; whitespace is
 *     space, tab, LF and CR, as for jansson; nothing may follow the end;
 *   - strings: strict UTF-8 (no overlongs, no UTF-8-encoded surrogates,
 *     nothing above U+10FFFF, no truncated sequence), no byte below 0x20, the
 *     escapes of RFC 8259 only; `\u0000` is refused by jansson without
 *     JSON_ALLOW_NUL, and every surrogate escape (paired or not) is "not sure";
 *   - numbers follow the RFC 8259 grammar; integers of more than 18 digits
 *     (which jansson may overflow, and json_in.c then rescans) and reals with
 *     a more than 2-digit exponent or longer than 40 bytes (which could
 *     overflow a double) are "not sure";
 *   - literals are exactly true, false and null;
 *   - a document nested deeper than SCAN_DEPTH_MAX (below
 *     FOLIO_INDEX_DOC_DEPTH_MAX, which json_depth_ok counts the same way:
 *     the document object is level 1) or longer than SCAN_DOC_BYTES_MAX
 *     (below FOLIO_INDEX_DOC_BYTES_MAX) is "not sure";
 *   - a payload without any document is "not sure".
 * Duplicate keys are accepted, as jansson does without JSON_REJECT_DUPLICATES.
 * tests/test_payload_scan.c checks every "valid" answer against jansson.
 */
#include <stdint.h>
#include <string.h>

#include "folio/common.h"
#include "index_int.h"

#define SCAN_DEPTH_MAX (FOLIO_INDEX_DOC_DEPTH_MAX - 8)
#define SCAN_DOC_BYTES_MAX ((size_t)FOLIO_INDEX_DOC_BYTES_MAX - 64)
#define SCAN_INT_DIGITS_MAX 18 /* below INT64_MAX's 19: jansson never overflows */
#define SCAN_REAL_BYTES_MAX 40 /* with <= 2 exponent digits, within a double */
#define SCAN_EXP_DIGITS_MAX 2

_Static_assert(SCAN_DEPTH_MAX <= 128, "the container kinds are kept in 128 bits");

typedef const unsigned char *cursor;

/* The bytes a string's fast loop stops at: '"', '\\', a control byte, a non-ASCII byte. */
static bool
string_stop(unsigned char c)
{
    return (unsigned char)(c - 0x20) >= 0x60 || c == '"' || c == '\\';
}

static cursor
skip_ws(cursor p, cursor end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_cont(unsigned char c)
{
    return c >= 0x80 && c <= 0xBF;
}

/* One strict UTF-8 sequence of 2 to 4 bytes at p (*p >= 0x80); NULL if not one. */
static cursor
scan_utf8(cursor p, cursor end)
{
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return NULL; /* a continuation byte, an overlong lead (C0, C1) or F5..FF */
    if (c == 0xE0)
        lo = 0xA0; /* overlong below U+0800 */
    else if (c == 0xED)
        hi = 0x9F; /* U+D800..U+DFFF */
    else if (c == 0xF0)
        lo = 0x90; /* overlong below U+10000 */
    else if (c == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return NULL;
    for (size_t i = 2; i < n; i++)
        if (!is_cont(p[i]))
            return NULL;
    return p + n;
}

/* The escape after a backslash at p; NULL for a bad one, `\u0000` or any surrogate. */
static cursor
scan_escape(cursor p, cursor end)
{
    if (p >= end)
        return NULL;
    switch (*p) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return p + 1;
    case 'u':
        break;
    default:
        return NULL;
    }
    if (end - p < 5)
        return NULL;
    unsigned value = 0;
    for (int i = 1; i <= 4; i++) {
        int h = folio_hex_value(p[i]);
        if (h < 0)
            return NULL;
        value = value << 4 | (unsigned)h;
    }
    if (value == 0 || (value >= 0xD800 && value <= 0xDFFF))
        return NULL;
    return p + 5;
}

/* A string whose opening quote is at p; returns the byte after its closing quote. */
static cursor
scan_string(cursor p, cursor end)
{
    p++;
    for (;;) {
        while (p < end && !string_stop(*p))
            p++;
        if (p >= end)
            return NULL;
        if (*p == '"')
            return p + 1;
        if (*p == '\\')
            p = scan_escape(p + 1, end);
        else if (*p >= 0x80)
            p = scan_utf8(p, end);
        else
            return NULL; /* a control byte */
        if (p == NULL)
            return NULL;
    }
}

static cursor
scan_digits(cursor p, cursor end)
{
    while (p < end && is_digit(*p))
        p++;
    return p;
}

/* A number at p (a '-' or a digit); NULL when it is malformed or might not fit. */
static cursor
scan_number(cursor p, cursor end)
{
    cursor start = p;
    if (*p == '-')
        p++;
    if (p >= end || !is_digit(*p))
        return NULL;
    cursor digits = p;
    /* A leading zero stands alone: "01" stops after the 0 and fails as what follows. */
    p = *p == '0' ? p + 1 : scan_digits(p, end);
    size_t int_digits = (size_t)(p - digits);
    bool real = false;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return NULL;
        p = scan_digits(p, end);
        real = true;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return NULL;
        cursor exp = p;
        p = scan_digits(p, end);
        if (p - exp > SCAN_EXP_DIGITS_MAX)
            return NULL;
        real = true;
    }
    if (real ? p - start > SCAN_REAL_BYTES_MAX : int_digits > SCAN_INT_DIGITS_MAX)
        return NULL;
    return p;
}

/* A scalar value at p: a string, a number or a literal. */
static cursor
scan_scalar(cursor p, cursor end)
{
    size_t left = (size_t)(end - p);
    switch (*p) {
    case '"':
        return scan_string(p, end);
    case 't':
        return left >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f':
        return left >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n':
        return left >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
    default:
        return *p == '-' || is_digit(*p) ? scan_number(p, end) : NULL;
    }
}

/* What the document scan expects next. */
enum scan_state { EXPECT_VALUE, EXPECT_KEY, AFTER_VALUE };

/* Containers open in one document: depth and whether each level is an array. */
struct nest {
    int depth;
    uint64_t is_array[2];
};

static bool
nest_push(struct nest *n, bool array)
{
    if (n->depth >= SCAN_DEPTH_MAX)
        return false;
    uint64_t bit = 1ull << (n->depth & 63);
    if (array)
        n->is_array[n->depth >> 6] |= bit;
    else
        n->is_array[n->depth >> 6] &= ~bit;
    n->depth++;
    return true;
}

static bool
nest_top_is_array(const struct nest *n)
{
    int top = n->depth - 1;
    return (n->is_array[top >> 6] >> (top & 63)) & 1;
}

/*
 * A value where one is expected: a container is opened (and, if it is
 * empty, closed); *state says what comes next.
 */
static cursor
scan_value(cursor p, cursor end, struct nest *n, enum scan_state *state)
{
    if (*p != '{' && *p != '[') {
        *state = AFTER_VALUE;
        return scan_scalar(p, end);
    }
    bool array = *p == '[';
    if (!nest_push(n, array))
        return NULL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == (array ? ']' : '}')) {
        n->depth--;
        *state = AFTER_VALUE;
        return p + 1;
    }
    *state = array ? EXPECT_VALUE : EXPECT_KEY;
    return p;
}

/* After a value: `,` or the end of the innermost container. */
static cursor
scan_after_value(cursor p, struct nest *n, enum scan_state *state)
{
    bool array = nest_top_is_array(n);
    if (*p == ',') {
        *state = array ? EXPECT_VALUE : EXPECT_KEY;
        return p + 1;
    }
    if (*p != (array ? ']' : '}'))
        return NULL;
    n->depth--;
    *state = AFTER_VALUE;
    return p + 1;
}

/* One document, whose '{' is at p; returns the byte after its '}'. */
static cursor
scan_document(cursor p, cursor end)
{
    cursor start = p;
    struct nest n = {0};
    enum scan_state state = EXPECT_VALUE;
    do {
        p = skip_ws(p, end);
        if (p >= end)
            return NULL;
        switch (state) {
        case EXPECT_VALUE:
            p = scan_value(p, end, &n, &state);
            break;
        case EXPECT_KEY:
            if (*p != '"' || (p = scan_string(p, end)) == NULL)
                return NULL;
            p = skip_ws(p, end);
            if (p >= end || *p != ':')
                return NULL;
            p++;
            state = EXPECT_VALUE;
            break;
        case AFTER_VALUE:
            p = scan_after_value(p, &n, &state);
            break;
        }
        if (p == NULL)
            return NULL;
    } while (n.depth > 0);
    return (size_t)(p - start) <= SCAN_DOC_BYTES_MAX ? p : NULL;
}

/* JSON: one object, or `[` objects separated by `,` `]`; then only whitespace. */
static bool
scan_json(cursor p, cursor end, uint64_t *out_count)
{
    uint64_t count = 0;
    p = skip_ws(p, end);
    if (p < end && *p == '{') {
        p = scan_document(p, end);
        count = 1;
    } else if (p < end && *p == '[') {
        p = skip_ws(p + 1, end);
        for (;;) {
            if (p >= end || *p != '{' || (p = scan_document(p, end)) == NULL)
                return false;
            count++;
            p = skip_ws(p, end);
            if (p < end && *p == ']')
                break;
            if (p >= end || *p != ',')
                return false;
            p = skip_ws(p + 1, end);
        }
        p++;
    } else {
        return false;
    }
    if (p == NULL || skip_ws(p, end) != end)
        return false;
    *out_count = count;
    return true;
}

/* NDJSON: objects separated by whitespace, which may be none. */
static bool
scan_ndjson(cursor p, cursor end, uint64_t *out_count)
{
    uint64_t count = 0;
    for (p = skip_ws(p, end); p < end; p = skip_ws(p, end)) {
        if (*p != '{' || (p = scan_document(p, end)) == NULL)
            return false;
        count++;
    }
    if (count == 0)
        return false;
    *out_count = count;
    return true;
}

bool
json_scan_count(const char *buf, size_t len, bool ndjson, uint64_t *out_count)
{
    if (buf == NULL || len == 0)
        return false;
    cursor p = (cursor)buf;
    return ndjson ? scan_ndjson(p, p + len, out_count) : scan_json(p, p + len, out_count);
}
