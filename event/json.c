/*
 * Renders an encoded event as one compact line of JSON, for the CLI, logs
 * and tailing tools.
 *
 * The event is validated by a full decode first; rendering then walks the
 * msgpack generically, so keys come out in encoded order and nested objects
 * need no schema: map -> object, array -> array, str -> string, bin -> hex
 * string, nil -> null. Strings are escaped byte-faithfully where they are
 * valid UTF-8; control characters become \u00XX and each byte of an
 * ill-formed sequence becomes \ufffd. Map keys that are not strings (possible
 * only inside nested objects) become JSON strings of their rendering. Floats
 * that JSON cannot express (NaN, infinities) become null.
 *
 * Output is bounded by JSON_BYTES_MAX. A decodable event renders to less than
 * 8 characters per input byte unless its nested objects use containers as map
 * keys (each level of such keys escapes the level below again); those can hit
 * the bound and fail with FOLIO_E_TOO_LARGE instead of growing without limit.
 */
#include <math.h>
#include <stdio.h>

#include "folio/common.h"
#include "event_int.h"

#define JSON_BYTES_MAX (8u * FOLIO_EVENT_BYTES_MAX + 4096u)
/* Top-level map, an array or object field, and the object's own nesting. */
#define JSON_DEPTH_MAX (FOLIO_EVENT_OBJECT_DEPTH_MAX + 2u)

struct jbuf {
    char *p;
    size_t len;
    size_t cap;          /* always > len once allocated: room for the final NUL */
    size_t max;          /* most bytes this buffer may hold */
    int overflow;
};

static void
jb_put(struct jbuf *j, const char *s, size_t n)
{
    if (j->overflow || n > j->max - j->len) {
        j->overflow = 1;
        return;
    }
    if (n >= j->cap - j->len) {
        size_t cap = j->cap * 2 > j->len + n + 1 ? j->cap * 2 : j->len + n + 1;
        j->cap = cap < j->max + 1 ? cap : j->max + 1;
        j->p = folio_realloc(j->p, j->cap);
    }
    memcpy(j->p + j->len, s, n);
    j->len += n;
}

static void
jb_putc(struct jbuf *j, char ch)
{
    jb_put(j, &ch, 1);
}

static void
jb_string(struct jbuf *j, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    jb_putc(j, '"');
    size_t run = 0; /* bytes before i that need no escaping, not yet written */
    for (size_t i = 0; i < n;) {
        uint8_t ch = s[i];
        size_t k = ch >= 0x20 && ch != '"' && ch != '\\' ? ev_utf8_seq_len(s + i, n - i) : 0;
        if (k != 0) {
            i += k;
            run += k;
            continue;
        }
        jb_put(j, (const char *)s + i - run, run);
        run = 0;
        if (ch == '"' || ch == '\\') {
            char esc[2] = {'\\', (char)ch};
            jb_put(j, esc, 2);
        } else if (ch < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            jb_put(j, esc, 6);
        } else {
            jb_put(j, "\\ufffd", 6);
        }
        i++;
    }
    jb_put(j, (const char *)s + n - run, run);
    jb_putc(j, '"');
}

static void
jb_hex(struct jbuf *j, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    jb_putc(j, '"');
    for (size_t i = 0; i < n; i++) {
        char pair[2] = {hex[s[i] >> 4], hex[s[i] & 15]};
        jb_put(j, pair, 2);
    }
    jb_putc(j, '"');
}

static void
jb_number(struct jbuf *j, const struct mp_tok *t)
{
    char tmp[40];
    int n;
    if (t->kind == MP_UINT)
        n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)t->v.u);
    else if (t->kind == MP_NINT)
        n = snprintf(tmp, sizeof(tmp), "%lld", (long long)t->v.i);
    else if (!isfinite(t->v.f))
        n = snprintf(tmp, sizeof(tmp), "null");
    else if (t->kind == MP_F32)
        n = snprintf(tmp, sizeof(tmp), "%.9g", t->v.f); /* enough to round-trip a float */
    else
        n = snprintf(tmp, sizeof(tmp), "%.17g", t->v.f);
    jb_put(j, tmp, (size_t)n);
}

static int render_value(struct mp_cursor *c, struct jbuf *j, unsigned depth);

static int
is_str_or_bin_tag(uint8_t tag)
{
    return (tag >= 0xa0 && tag <= 0xbf) || (tag >= 0xd9 && tag <= 0xdb) ||
           (tag >= 0xc4 && tag <= 0xc6);
}

/*
 * JSON keys must be strings: anything else is rendered, then quoted. The
 * scratch buffer may only use the room its parent has left, so all buffers
 * alive at once stay within JSON_BYTES_MAX together.
 */
static int
render_key(struct mp_cursor *c, struct jbuf *j, unsigned depth)
{
    if (c->p < c->end && is_str_or_bin_tag(*c->p))
        return render_value(c, j, depth);
    struct jbuf key = {.max = j->max - j->len};
    int rc = render_value(c, &key, depth);
    if (rc == 0 && key.overflow)
        j->overflow = 1;
    else if (rc == 0)
        jb_string(j, (const uint8_t *)key.p, key.len);
    folio_free(key.p);
    return rc;
}

static int
render_container(struct mp_cursor *c, struct jbuf *j, const struct mp_tok *t, unsigned depth)
{
    int is_map = t->kind == MP_MAP;
    jb_putc(j, is_map ? '{' : '[');
    for (uint32_t i = 0; i < t->len && !j->overflow; i++) {
        if (i > 0)
            jb_putc(j, ',');
        int rc = is_map ? render_key(c, j, depth + 1) : 0;
        if (rc == 0 && is_map)
            jb_putc(j, ':');
        if (rc == 0)
            rc = render_value(c, j, depth + 1);
        if (rc != 0)
            return rc;
    }
    jb_putc(j, is_map ? '}' : ']');
    return 0;
}

static int
render_value(struct mp_cursor *c, struct jbuf *j, unsigned depth)
{
    struct mp_tok t;
    int rc = mp_next(c, &t);
    if (rc != 0)
        return rc;
    switch (t.kind) {
    case MP_NIL:
        jb_put(j, "null", 4);
        return 0;
    case MP_BOOL:
        jb_put(j, t.v.u ? "true" : "false", t.v.u ? 4 : 5);
        return 0;
    case MP_UINT:
    case MP_NINT:
    case MP_F32:
    case MP_F64:
        jb_number(j, &t);
        return 0;
    case MP_STR:
        jb_string(j, t.ptr, t.len);
        return 0;
    case MP_BIN:
        jb_hex(j, t.ptr, t.len);
        return 0;
    case MP_ARRAY:
    case MP_MAP:
        /* Decode validated the nesting already; this guards the recursion anyway. */
        if (depth >= JSON_DEPTH_MAX)
            return FOLIO_E_TOO_LARGE;
        return render_container(c, j, &t, depth);
    case MP_EXT:
        break;
    }
    return FOLIO_E_DECODE;
}

int
folio_event_to_json(const uint8_t *buf, size_t len, char **out)
{
    FOLIO_ASSERT(out != NULL);
    struct folio_event ev;
    struct jbuf j = {.max = JSON_BYTES_MAX};
    *out = NULL;
    int rc = folio_event_decode(buf, len, &ev);
    if (rc != 0)
        goto out;
    folio_event_clear(&ev);
    struct mp_cursor c = {buf, buf + len};
    rc = render_value(&c, &j, 0);
    if (rc == 0 && j.overflow)
        rc = FOLIO_E_TOO_LARGE;
out:
    if (rc != 0) {
        folio_free(j.p);
        return rc;
    }
    j.p[j.len] = '\0';
    *out = j.p;
    return 0;
}
