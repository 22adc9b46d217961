/*
 * The msgpack wire reader behind event decoding, peeking and JSON rendering:
 * the less common headers (mp_next in event_int.h handles fixint, fixstr,
 * fixmap/fixarray and uint8..64 inline), the bounded skip over one nested
 * value, and UTF-8 validation. (The prefix check, ev_read_prefix, is inline in
 * event_int.h.)
 *
 * Invariant: no function here reads a byte outside the cursor's [p, end).
 * Work is linear in the input: every element of a container consumes at least
 * one byte, so a hostile count cannot make a skip loop outlive its buffer.
 */
#include "folio/common.h"
#include "event_int.h"

static int
mp_fixed(struct mp_cursor *c, struct mp_tok *t, uint8_t tag)
{
    static const uint8_t width[] = {1, 2, 4, 8, 1, 2, 4, 8}; /* 0xcc..0xd3 */
    unsigned w = width[tag - 0xcc];
    const uint8_t *b = mp_take(c, w);
    if (b == NULL)
        return FOLIO_E_DECODE;
    uint64_t raw = w == 1 ? b[0] : w == 2 ? mp_be16(b) : w == 4 ? mp_be32(b) : mp_be64(b);
    if (tag <= 0xcf) {
        t->kind = MP_UINT;
        t->v.u = raw;
        return 0;
    }
    /* Sign-extend the signed forms; a non-negative one reads as MP_UINT. */
    int64_t v = w == 1 ? (int8_t)raw : w == 2 ? (int16_t)raw : w == 4 ? (int32_t)raw
                                                                      : (int64_t)raw;
    t->kind = v < 0 ? MP_NINT : MP_UINT;
    if (v < 0)
        t->v.i = v;
    else
        t->v.u = (uint64_t)v;
    return 0;
}

static int
mp_float(struct mp_cursor *c, struct mp_tok *t, uint8_t tag)
{
    const uint8_t *b = mp_take(c, tag == 0xca ? 4 : 8);
    if (b == NULL)
        return FOLIO_E_DECODE;
    if (tag == 0xca) {
        uint32_t bits = mp_be32(b);
        float f;
        memcpy(&f, &bits, sizeof(f));
        t->kind = MP_F32;
        t->v.f = f;
    } else {
        uint64_t bits = mp_be64(b);
        memcpy(&t->v.f, &bits, sizeof(t->v.f));
        t->kind = MP_F64;
    }
    return 0;
}

/* ext8/16/32 carry a length then a type byte; fixext1..16 only the type byte. */
static int
mp_ext(struct mp_cursor *c, struct mp_tok *t, uint8_t tag)
{
    uint32_t n;
    if (tag >= 0xd4) {
        n = 1u << (tag - 0xd4);
    } else {
        unsigned w = 1u << (tag - 0xc7);
        const uint8_t *b = mp_take(c, w);
        if (b == NULL)
            return FOLIO_E_DECODE;
        n = w == 1 ? b[0] : w == 2 ? mp_be16(b) : mp_be32(b);
    }
    if (mp_take(c, 1) == NULL || (size_t)(c->end - c->p) < n)
        return FOLIO_E_DECODE;
    t->kind = MP_EXT;
    t->len = n;
    t->ptr = c->p;
    c->p += n;
    return 0;
}

static int
mp_container(struct mp_cursor *c, struct mp_tok *t, enum mp_kind kind, unsigned w)
{
    const uint8_t *b = mp_take(c, w);
    if (b == NULL)
        return FOLIO_E_DECODE;
    t->kind = kind;
    t->len = w == 2 ? mp_be16(b) : mp_be32(b);
    return 0;
}

int
mp_next_slow(struct mp_cursor *c, struct mp_tok *t, uint8_t tag)
{
    if (tag >= 0xe0) {
        t->kind = MP_NINT;
        t->v.i = (int8_t)tag;
        return 0;
    }
    if (tag <= 0x9f) {
        t->kind = tag <= 0x8f ? MP_MAP : MP_ARRAY;
        t->len = tag & 0x0fu;
        return 0;
    }
    switch (tag) {
    case 0xc0:
        t->kind = MP_NIL;
        return 0;
    case 0xc2:
    case 0xc3:
        t->kind = MP_BOOL;
        t->v.u = tag == 0xc3;
        return 0;
    case 0xc4: return mp_payload(c, t, MP_BIN, 1);
    case 0xc5: return mp_payload(c, t, MP_BIN, 2);
    case 0xc6: return mp_payload(c, t, MP_BIN, 4);
    case 0xca:
    case 0xcb: return mp_float(c, t, tag);
    case 0xd9: return mp_payload(c, t, MP_STR, 1);
    case 0xda: return mp_payload(c, t, MP_STR, 2);
    case 0xdb: return mp_payload(c, t, MP_STR, 4);
    case 0xdc: return mp_container(c, t, MP_ARRAY, 2);
    case 0xdd: return mp_container(c, t, MP_ARRAY, 4);
    case 0xde: return mp_container(c, t, MP_MAP, 2);
    case 0xdf: return mp_container(c, t, MP_MAP, 4);
    default: break;
    }
    if (tag >= 0xcc && tag <= 0xd3)
        return mp_fixed(c, t, tag);
    if ((tag >= 0xc7 && tag <= 0xc9) || (tag >= 0xd4 && tag <= 0xd8))
        return mp_ext(c, t, tag);
    return FOLIO_E_DECODE; /* 0xc1: never used */
}

/*
 * Iterative so hostile nesting costs no stack: left[] holds, per open
 * container, how many values it still has after the one being read.
 */
int
mp_skip(struct mp_cursor *c, unsigned depth_max)
{
    uint64_t left[MP_SKIP_DEPTH_LIMIT];
    uint64_t pending = 1; /* values still to read at the current level */
    unsigned depth = 0;
    FOLIO_ASSERT(depth_max <= MP_SKIP_DEPTH_LIMIT);
    for (;;) {
        while (pending == 0) {
            if (depth == 0)
                return 0;
            pending = left[--depth];
        }
        pending--;
        struct mp_tok t;
        int rc = mp_next(c, &t);
        if (rc != 0)
            return rc;
        if (t.kind == MP_EXT)
            return FOLIO_E_DECODE;
        if (t.kind == MP_ARRAY || t.kind == MP_MAP) {
            if (depth == depth_max)
                return FOLIO_E_TOO_LARGE;
            left[depth++] = pending;
            pending = t.kind == MP_MAP ? 2ull * t.len : t.len;
        }
    }
}

int
mp_object_extent(const uint8_t *buf, size_t avail, size_t *len)
{
    if (avail == 0)
        return FOLIO_E_DECODE;
    uint8_t tag = buf[0];
    int is_map = (tag >= 0x80 && tag <= 0x8f) || tag == 0xde || tag == 0xdf;
    if (!is_map && tag != 0xc0)
        return FOLIO_E_DECODE;
    struct mp_cursor c = {buf, buf + avail};
    int rc = mp_skip(&c, FOLIO_EVENT_OBJECT_DEPTH_MAX);
    if (rc != 0)
        return rc;
    *len = (size_t)(c.p - buf);
    return *len > FOLIO_EVENT_OBJECT_BYTES_MAX ? FOLIO_E_TOO_LARGE : 0;
}

size_t
ev_utf8_seq_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xc2 || c > 0xf4)
        return 0; /* continuation byte, overlong 2-byte lead, or beyond U+10FFFF */
    if (c < 0xe0)
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    /* The second byte's range excludes overlongs, surrogates and > U+10FFFF. */
    uint8_t lo = 0x80, hi = 0xbf;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    size_t need = c < 0xf0 ? 3 : 4;
    if (n < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return need;
}

static int
utf8_valid_slow(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* Skip ASCII eight bytes at a time. */
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        size_t k = ev_utf8_seq_len(s + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

int
ev_utf8_valid(const uint8_t *s, size_t n)
{
    /* Event strings are almost always ASCII: OR all bytes, look at the high bits once. */
    uint64_t acc = 0, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    if (n >= 8) {
        memcpy(&w, s + n - 8, 8);
        acc |= w;
    } else {
        for (; i < n; i++)
            acc |= s[i];
    }
    if ((acc & 0x8080808080808080ull) == 0)
        return 1;
    return utf8_valid_slow(s, n);
}
