/*
 * Compact JSON output for stored documents and settings.
 *
 * jansson prints reals with "%.17g" (0.1 becomes 0.10000000000000001), which
 * is exact but not what a client sent or what Meilisearch answers. This
 * writer prints each real with the fewest significant digits (15, 16 or 17)
 * that read back to the same double, so a stored value round-trips exactly
 * and looks as sent. Strings are escaped as jansson does (", \, control
 * characters; UTF-8 passes through). An integer above INT64_MAX, held as a
 * NUL-prefixed string (json_in.c), is printed as the bare number. Every
 * output buffer has a hard maximum.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "index_int.h"

void
dbuf_init(struct dbuf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void
dbuf_release(struct dbuf *b)
{
    folio_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int
dbuf_append(struct dbuf *b, const void *p, size_t n)
{
    if (n > b->max - b->len)
        return FOLIO_E_TOO_LARGE;
    /* +1 keeps room for the NUL that json_out_alloc adds. */
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > b->max + 1)
            cap = b->max + 1;
        b->data = folio_realloc(b->data, cap);
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return FOLIO_OK;
}

static int
out_string(struct dbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = dbuf_append(b, "\"", 1);
    size_t run = 0; /* bytes copied verbatim since the last escape */
    for (size_t i = 0; i < n && rc == FOLIO_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = dbuf_append(b, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t esc_len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            esc_len = 6;
        }
        if (rc == FOLIO_OK)
            rc = dbuf_append(b, esc, esc_len);
    }
    if (rc == FOLIO_OK)
        rc = dbuf_append(b, s + run, n - run);
    if (rc == FOLIO_OK)
        rc = dbuf_append(b, "\"", 1);
    return rc;
}

static int
out_real(struct dbuf *b, double v)
{
    char buf[64];
    if (!isfinite(v))
        return FOLIO_E_INVALID; /* JSON cannot say it; parsers never produce it */
    int n = 0;
    for (int precision = 15; precision <= 17; precision++) {
        n = snprintf(buf, sizeof(buf) - 3, "%.*g", precision, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* Keep it a real when read back: "3" would become an integer. */
    if (strpbrk(buf, ".eE") == NULL) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    return dbuf_append(b, buf, (size_t)n);
}

static int
out_object(struct dbuf *b, const json_t *v)
{
    const char *key;
    json_t *value;
    bool first = true;
    int rc = dbuf_append(b, "{", 1);
    json_object_foreach((json_t *)v, key, value) {
        if (rc == FOLIO_OK && !first)
            rc = dbuf_append(b, ",", 1);
        first = false;
        if (rc == FOLIO_OK)
            rc = out_string(b, key, strlen(key));
        if (rc == FOLIO_OK)
            rc = dbuf_append(b, ":", 1);
        if (rc == FOLIO_OK)
            rc = json_out(b, value);
        if (rc != FOLIO_OK)
            return rc;
    }
    return rc == FOLIO_OK ? dbuf_append(b, "}", 1) : rc;
}

static int
out_array(struct dbuf *b, const json_t *v)
{
    int rc = dbuf_append(b, "[", 1);
    for (size_t i = 0; i < json_array_size(v) && rc == FOLIO_OK; i++) {
        if (i > 0)
            rc = dbuf_append(b, ",", 1);
        if (rc == FOLIO_OK)
            rc = json_out(b, json_array_get(v, i));
    }
    return rc == FOLIO_OK ? dbuf_append(b, "]", 1) : rc;
}

/*
 * Appends v as compact JSON. Recursion depth is bounded by the callers: every
 * document was checked with json_depth_ok before it got here.
 */
int
json_out(struct dbuf *b, const json_t *v)
{
    char num[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return out_object(b, v);
    case JSON_ARRAY:
        return out_array(b, v);
    case JSON_STRING:
        if (json_is_u64(v)) { /* an integer above INT64_MAX (json_in.c) */
            size_t n = 0;
            const char *digits = json_u64_digits(v, &n);
            return dbuf_append(b, digits, n);
        }
        return out_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: {
        int n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return dbuf_append(b, num, (size_t)n);
    }
    case JSON_REAL:
        return out_real(b, json_real_value(v));
    case JSON_TRUE:
        return dbuf_append(b, "true", 4);
    case JSON_FALSE:
        return dbuf_append(b, "false", 5);
    case JSON_NULL:
        return dbuf_append(b, "null", 4);
    }
    return FOLIO_E_INVALID;
}

/* Serialises v into a new NUL-terminated buffer of at most max bytes (+ NUL). */
int
json_out_alloc(const json_t *v, size_t max, char **out, size_t *out_len)
{
    struct dbuf b;
    dbuf_init(&b, max);
    int rc = json_out(&b, v);
    if (rc == FOLIO_OK)
        rc = dbuf_append(&b, "", 0);
    if (rc != FOLIO_OK) {
        dbuf_release(&b);
        *out = NULL;
        return rc;
    }
    b.data[b.len] = '\0';
    *out = b.data;
    if (out_len != NULL)
        *out_len = b.len;
    return FOLIO_OK;
}

/* v as JSON for an error message, cut (at a UTF-8 boundary) to fit in cap. */
void
json_snippet(const json_t *v, char *buf, size_t cap)
{
    FOLIO_ASSERT(cap >= 8);
    struct dbuf b;
    dbuf_init(&b, cap - 4);
    int rc = json_out(&b, v);
    size_t n = b.len;
    bool cut = rc != FOLIO_OK;
    if (n > cap - 4) {
        n = cap - 4;
        cut = true;
    }
    /* A continuation byte right after the cut means a character was split. */
    while (cut && n > 0 && n < b.len && ((unsigned char)b.data[n] & 0xC0) == 0x80)
        n--;
    if (n > 0)
        memcpy(buf, b.data, n);
    if (cut) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    dbuf_release(&b);
}

bool
json_depth_ok(const json_t *v, int depth_left)
{
    if (!json_is_object(v) && !json_is_array(v))
        return true;
    if (depth_left <= 0)
        return false;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!json_depth_ok(json_array_get(v, i), depth_left - 1))
                return false;
        return true;
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)v, key, value) {
        if (!json_depth_ok(value, depth_left - 1))
            return false;
    }
    return true;
}

/* "an object", "a string", ... for messages. */
const char *
json_type_phrase(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return json_is_u64(v) ? "an integer" : "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}
