/*
 * JSON input for documents: jansson, plus integers above INT64_MAX.
 *
 * Meilisearch (serde_json) keeps an integer up to UINT64_MAX as an integer,
 * and accepts it as a document id; jansson stores integers as int64 and fails
 * the whole parse on a larger one ("too big integer"). So when, and only
 * when, jansson reports that overflow, the value is scanned once more: every
 * integer token in (INT64_MAX, UINT64_MAX] is rewritten as the string token
 * "\u0000<digits>" and the rewritten text is parsed with JSON_ALLOW_NUL.
 *
 * Invariants kept here:
 *   - such a string (a NUL byte, then the decimal digits of a value in
 *     (INT64_MAX, UINT64_MAX]) is the module's in-memory form of a big
 *     integer (json_is_u64); json_out prints it back as the bare number, so
 *     it never reaches the disk or a client as a string;
 *   - no other string holding a NUL byte is ever let in: payloads are parsed
 *     without JSON_ALLOW_NUL, the rescan refuses a `\u0000` escape itself, and
 *     CSV refuses NUL bytes;
 *   - positions in errors and the number of bytes consumed are those of the
 *     original text (the rewrite's extra bytes are mapped back).
 * Integers above UINT64_MAX or below INT64_MIN stay errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "index_int.h"

#define U64_DIGITS_MAX 20

bool
json_is_u64(const json_t *v)
{
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n < 2 || n > 1 + U64_DIGITS_MAX || s[0] != '\0')
        return false;
    for (size_t i = 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

const char *
json_u64_digits(const json_t *v, size_t *len)
{
    FOLIO_ASSERT(json_is_u64(v));
    *len = json_string_length(v) - 1;
    return json_string_value(v) + 1;
}

/* A rewritten token: where it is in the original and in the rewritten text. */
struct rewrite {
    size_t orig_start, orig_end;
    size_t new_start, new_end;
};

struct rescan {
    struct dbuf out;
    struct rewrite *rewrites;
    size_t count, cap;
};

/* The original offset of an offset in the rewritten text. */
static size_t
map_back(const struct rescan *s, size_t pos)
{
    size_t added = 0; /* bytes the rewrites before pos added */
    for (size_t i = 0; i < s->count; i++) {
        const struct rewrite *r = &s->rewrites[i];
        if (pos >= r->new_end)
            added += (r->new_end - r->new_start) - (r->orig_end - r->orig_start);
        else if (pos > r->new_start)
            return r->orig_start; /* inside a rewritten token: point at it */
        else
            break;
    }
    return pos - added;
}

/* 1 if buf[0..n) is a decimal integer in (INT64_MAX, UINT64_MAX]. */
static int
is_big_u64(const char *p, size_t n)
{
    char digits[U64_DIGITS_MAX + 1];
    if (n < 19 || n > U64_DIGITS_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    memcpy(digits, p, n);
    digits[n] = '\0';
    errno = 0;
    unsigned long long v = strtoull(digits, NULL, 10);
    return errno == 0 && v > (unsigned long long)INT64_MAX;
}

static int
emit_big(struct rescan *s, const char *p, size_t start, size_t end)
{
    if (s->count == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->rewrites = folio_reallocarray(s->rewrites, s->cap, sizeof(*s->rewrites));
    }
    struct rewrite *r = &s->rewrites[s->count++];
    r->orig_start = start;
    r->orig_end = end;
    r->new_start = s->out.len;
    int rc = dbuf_append(&s->out, "\"\\u0000", 7);
    if (rc == FOLIO_OK)
        rc = dbuf_append(&s->out, p + start, end - start);
    if (rc == FOLIO_OK)
        rc = dbuf_append(&s->out, "\"", 1);
    r->new_end = s->out.len;
    return rc;
}

/* Skips the string starting at buf[i] == '"'; returns the offset after it. */
static size_t
skip_string(const char *buf, size_t len, size_t i, size_t *nul_at)
{
    for (i++; i < len && buf[i] != '"'; i++) {
        if (buf[i] != '\\')
            continue;
        if (i + 5 < len && buf[i + 1] == 'u' && memcmp(buf + i + 2, "0000", 4) == 0 &&
            *nul_at == SIZE_MAX)
            *nul_at = i;
        i++;
    }
    return i < len ? i + 1 : len;
}

/*
 * Copies the first JSON value of buf (and, with keep_rest, what follows it)
 * into s->out with big integers rewritten. *nul_at: where a `\u0000` escape
 * was met, else SIZE_MAX. Malformed text is copied as is for jansson to judge.
 */
static int
rescan(struct rescan *s, const char *buf, size_t len, bool keep_rest, size_t *nul_at)
{
    size_t i = 0, copied = 0;
    int depth = 0, rc = FOLIO_OK;
    bool done = false;
    *nul_at = SIZE_MAX;
    while (i < len && !done && rc == FOLIO_OK) {
        char c = buf[i];
        size_t start = i;
        if (c == '"') {
            i = skip_string(buf, len, i, nul_at);
            done = depth == 0;
        } else if (c == '{' || c == '[') {
            depth++, i++;
        } else if (c == '}' || c == ']') {
            depth--, i++;
            done = depth <= 0;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            while (i < len && strchr("0123456789+-.eE", buf[i]) != NULL && buf[i] != '\0')
                i++;
            if (is_big_u64(buf + start, i - start)) {
                rc = dbuf_append(&s->out, buf + copied, start - copied);
                if (rc == FOLIO_OK)
                    rc = emit_big(s, buf, start, i);
                copied = i;
            }
            done = depth == 0;
        } else {
            i++;
        }
    }
    size_t end = keep_rest ? len : i;
    if (rc == FOLIO_OK)
        rc = dbuf_append(&s->out, buf + copied, end - copied);
    return rc;
}

/* A string holding U+0000 (`\u0000`): folio keeps strings NUL-free. */
#define NUL_REFUSED "\\u0000 (a NUL character) is not accepted in a string"

static void
error_set(json_error_t *jerr, size_t position, enum json_error_code code, const char *text)
{
    memset(jerr, 0, sizeof(*jerr));
    snprintf(jerr->text, sizeof(jerr->text) - 1, "%s", text);
    jerr->text[JSON_ERROR_TEXT_LENGTH - 1] = (char)code;
    jerr->position = (int)position;
}

json_t *
json_in_load(const char *buf, size_t len, size_t flags, json_error_t *jerr)
{
    json_t *v = json_loadb(buf, len, flags, jerr);
    if (v == NULL && json_error_code(jerr) == json_error_null_character) {
        /*
         * jansson's text names its own flag: say what is wrong instead, and
         * point at the escape's backslash, as the big-integer path below
         * does (jansson stops at the end of the string that holds it).
         */
        size_t end = jerr->position > 0 && (size_t)jerr->position < len ? (size_t)jerr->position
                                                                         : len;
        size_t at = end;
        for (size_t i = end; i >= 6 && at == end; i--) {
            if (memcmp(buf + i - 6, "\\u0000", 6) != 0)
                continue;
            size_t slashes = 0; /* an escaped backslash before it makes it text */
            while (i - 6 > slashes && buf[i - 7 - slashes] == '\\')
                slashes++;
            if (slashes % 2 == 0)
                at = i - 6;
        }
        error_set(jerr, at + 1, json_error_null_character, NUL_REFUSED);
        return NULL;
    }
    if (v != NULL || json_error_code(jerr) != json_error_numeric_overflow)
        return v;
    struct rescan s = {0};
    size_t nul_at;
    /* A rewrite adds 8 bytes to a token of at least 19: well within 2x. */
    dbuf_init(&s.out, 2 * (size_t)FOLIO_INDEX_DOC_BYTES_MAX);
    bool keep_rest = (flags & JSON_DISABLE_EOF_CHECK) == 0;
    if (rescan(&s, buf, len, keep_rest, &nul_at) != FOLIO_OK || s.count == 0) {
        /* Nothing in our range: jansson's first error stands. */
    } else if (nul_at != SIZE_MAX) {
        error_set(jerr, nul_at + 1, json_error_null_character, NUL_REFUSED);
    } else {
        v = json_loadb(s.out.data, s.out.len, flags | JSON_ALLOW_NUL, jerr);
        jerr->position = (int)map_back(&s, (size_t)jerr->position);
    }
    dbuf_release(&s.out);
    folio_free(s.rewrites);
    return v;
}
