/*
 * Private pieces of the event codec: the msgpack wire reader every decoding
 * path shares, the per-type schema tables, and UTF-8 checks.
 *
 * The reader is a cursor over [p, end) that never moves past end: every read
 * checks the bytes it needs first, so a hostile buffer can only produce
 * FOLIO_E_DECODE, never an over-read. It is hand-written instead of
 * msgpack_unpack() because replay decodes millions of events per second and
 * msgpack-c would build a zone-allocated object tree for each one.
 */
#ifndef FOLIO_EVENT_INT_H
#define FOLIO_EVENT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/event.h"

/* ---- msgpack wire reader ---------------------------------------------- */

enum mp_kind {
    MP_NIL,
    MP_BOOL,
    MP_UINT,  /* any non-negative integer, whatever form it was packed in */
    MP_NINT,  /* a negative integer */
    MP_F32,
    MP_F64,
    MP_STR,
    MP_BIN,
    MP_ARRAY,
    MP_MAP,
    MP_EXT,
};

/* One msgpack header. For str/bin/ext the payload is already bounds-checked. */
struct mp_tok {
    enum mp_kind kind;
    uint32_t len;          /* str/bin/ext payload bytes; array/map element count */
    union {
        uint64_t u;        /* MP_UINT, MP_BOOL */
        int64_t i;         /* MP_NINT */
        double f;          /* MP_F32, MP_F64 */
    } v;
    const uint8_t *ptr;    /* str/bin/ext payload */
};

struct mp_cursor {
    const uint8_t *p;
    const uint8_t *end;
};

/* Big-endian loads; memcpy + bswap compiles to a load and one instruction. */
static inline uint16_t
mp_be16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return __builtin_bswap16(v);
}

static inline uint32_t
mp_be32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return __builtin_bswap32(v);
}

static inline uint64_t
mp_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

static inline void
mp_store_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/*
 * A native 8-byte load, for comparing and testing bytes a word at a time. The
 * masks and shifts that go with it (and mp_be* above) assume little-endian.
 */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the event codec assumes little-endian");
static inline uint64_t
ev_load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Reads a (width)-byte length after the tag, then checks the payload fits. */
static inline int
mp_payload(struct mp_cursor *c, struct mp_tok *t, enum mp_kind kind, unsigned width)
{
    size_t avail = (size_t)(c->end - c->p);
    if (avail < width)
        return FOLIO_E_DECODE;
    uint32_t n = width == 1 ? c->p[0] : width == 2 ? mp_be16(c->p) : mp_be32(c->p);
    c->p += width;
    if ((size_t)(c->end - c->p) < n)
        return FOLIO_E_DECODE;
    t->kind = kind;
    t->len = n;
    t->ptr = c->p;
    c->p += n;
    return 0;
}

/* Reads a fixed-size scalar body of n bytes; returns its start or NULL. */
static inline const uint8_t *
mp_take(struct mp_cursor *c, size_t n)
{
    if ((size_t)(c->end - c->p) < n)
        return NULL;
    const uint8_t *s = c->p;
    c->p += n;
    return s;
}

int mp_next_slow(struct mp_cursor *c, struct mp_tok *t, uint8_t tag);

/*
 * Reads one header (and, for str/bin/ext, skips its payload). Containers are
 * not entered: the caller reads their elements next. FOLIO_E_DECODE on
 * truncation or the never-used tag 0xc1. The forms events are made of
 * (fixint, fixstr, fixmap/fixarray, uint8..64) are handled inline: decoding
 * is a handful of these per field, and a call per header would dominate.
 */
static inline __attribute__((always_inline)) int
mp_next(struct mp_cursor *c, struct mp_tok *t)
{
    if (c->p >= c->end)
        return FOLIO_E_DECODE;
    uint8_t tag = *c->p++;
    if (tag <= 0x7f) {
        t->kind = MP_UINT;
        t->v.u = tag;
        return 0;
    }
    if (tag >= 0xa0 && tag <= 0xbf) {
        uint32_t n = tag & 0x1fu;
        if ((size_t)(c->end - c->p) < n)
            return FOLIO_E_DECODE;
        t->kind = MP_STR;
        t->len = n;
        t->ptr = c->p;
        c->p += n;
        return 0;
    }
    if (tag <= 0x9f) {
        t->kind = tag <= 0x8f ? MP_MAP : MP_ARRAY;
        t->len = tag & 0x0fu;
        return 0;
    }
    if (tag >= 0xcc && tag <= 0xcf) {
        size_t w = (size_t)1 << (tag - 0xcc);
        const uint8_t *b = mp_take(c, w);
        if (b == NULL)
            return FOLIO_E_DECODE;
        t->kind = MP_UINT;
        t->v.u = w == 1 ? b[0] : w == 2 ? mp_be16(b) : w == 4 ? mp_be32(b) : mp_be64(b);
        return 0;
    }
    return mp_next_slow(c, t, tag);
}

/*
 * Skips one complete value of at most depth_max nested containers (a map or
 * array is one level; scalars add none). FOLIO_E_DECODE on malformed input or
 * an ext value (events carry only what JSON can express), FOLIO_E_TOO_LARGE
 * when nested deeper than depth_max.
 */
#define MP_SKIP_DEPTH_LIMIT 64u
int mp_skip(struct mp_cursor *c, unsigned depth_max); /* depth_max <= MP_SKIP_DEPTH_LIMIT */

/*
 * Checks that buf[0..avail) starts with one nested object as event.h defines
 * it: a map or nil, at most FOLIO_EVENT_OBJECT_DEPTH_MAX deep and
 * FOLIO_EVENT_OBJECT_BYTES_MAX long. Stores its length in *len.
 */
int mp_object_extent(const uint8_t *buf, size_t avail, size_t *len);

/* ---- small inline byte helpers ----------------------------------------- */

/*
 * Equality of short byte strings (keys, type names). Inline on purpose: on
 * this project's machines a libc memcmp call costs several times more than
 * comparing a dozen bytes in place.
 */
static inline int
ev_bytes_eq(const uint8_t *a, const char *b, size_t n)
{
    uint64_t x[3], y[3];
    if (n >= 8 && n <= 24) { /* three 8-byte words, overlapping as needed */
        size_t mid = n > 16 ? 8 : n - 8;
        memcpy(&x[0], a, 8);
        memcpy(&x[1], a + mid, 8);
        memcpy(&x[2], a + n - 8, 8);
        memcpy(&y[0], b, 8);
        memcpy(&y[1], b + mid, 8);
        memcpy(&y[2], b + n - 8, 8);
        return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2])) == 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t p[2], q[2];
        memcpy(&p[0], a, 4);
        memcpy(&p[1], a + n - 4, 4);
        memcpy(&q[0], b, 4);
        memcpy(&q[1], b + n - 4, 4);
        return ((p[0] ^ q[0]) | (p[1] ^ q[1])) == 0;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != (uint8_t)b[i])
            return 0;
    return 1;
}

/* memcpy for the short strings events are made of, without a libc call below 33 bytes. */
static inline void
ev_copy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    uint64_t w[4];
    if (n > 32) {
        memcpy(d, s, n);
    } else if (n > 16) { /* four 8-byte words, the last two overlapping as needed */
        memcpy(&w[0], s, 8);
        memcpy(&w[1], s + 8, 8);
        memcpy(&w[2], s + n - 16, 8);
        memcpy(&w[3], s + n - 8, 8);
        memcpy(d, &w[0], 8);
        memcpy(d + 8, &w[1], 8);
        memcpy(d + n - 16, &w[2], 8);
        memcpy(d + n - 8, &w[3], 8);
    } else if (n >= 8) {
        memcpy(&w[0], s, 8);
        memcpy(&w[1], s + n - 8, 8);
        memcpy(d, &w[0], 8);
        memcpy(d + n - 8, &w[1], 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n > 0) {
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    }
}

/*
 * Zeroes an event. A plain memset of the whole struct compiles to `rep stos`,
 * whose start-up alone costs more than the rest of zeroing; 64-byte pieces
 * compile to a few vector stores.
 */
static inline void
ev_zero(struct folio_event *ev)
{
    char *p = (char *)ev;
    for (size_t off = 0; off < sizeof(*ev); off += 64)
        memset(p + off, 0, sizeof(*ev) - off < 64 ? sizeof(*ev) - off : 64);
}

/* ---- UTF-8 ------------------------------------------------------------ */

/* Length (1..4) of the well-formed UTF-8 sequence at s[0..n), or 0 if ill-formed. */
size_t ev_utf8_seq_len(const uint8_t *s, size_t n);
/* True if s[0..n) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int ev_utf8_valid(const uint8_t *s, size_t n);

/* ---- schema ----------------------------------------------------------- */

enum field_kind {
    FK_U64,
    FK_I64,
    FK_U32,
    FK_STR,
    FK_STR_ARRAY,
    FK_U64_ARRAY,
    FK_OBJECT,
};

/* Longest key, and the longest that decode compares as two words (key_mask). */
#define EV_KEY_MAX 23u
#define EV_KEY_WORDS_MAX 16u

/*
 * One wire field of an event type; offset is into struct folio_event. The
 * key is stored zero-padded so decode can compare it a word at a time:
 * key_mask[i] selects the bytes of key word i that belong to the key.
 */
struct field_desc {
    char key[EV_KEY_MAX + 1];
    uint64_t key_mask[2];
    uint8_t key_len;
    uint8_t kind;           /* enum field_kind */
    uint8_t optional;
    uint8_t items_nonempty; /* str arrays: no item may be "" (fits the padding before offset) */
    uint32_t offset;
    uint32_t min;           /* arrays: fewest items */
    uint32_t max;           /* str: most bytes; arrays: most items */
};

/* key_mask[word] for a key of len bytes: the low (len - 8 * word) bytes, at most 8. */
#define EV_KEY_MASK(len, word)                                                                     \
    ((len) >= 8u * (word) + 8u ? ~0ull                                                             \
     : (len) <= 8u * (word)    ? 0ull                                                              \
                               : (1ull << 8u * ((len) % 8u)) - 1u)

/*
 * The wire shape of one event type: its fields in encoding order ("at"
 * first), and the rules a table cannot express. check() returns 0 or
 * nonzero; encode maps nonzero to FOLIO_E_INVALID, decode to FOLIO_E_DECODE.
 */
struct event_schema {
    uint8_t field_count;
    const struct field_desc *fields;
    int (*check)(const struct folio_event *ev);
};

/* Most fields any type has (including "at"); decode keeps a slot per field. */
#define EV_FIELDS_MAX 12u

/* Indexed by type; [FOLIO_EV_NONE] is empty. Use ev_schema(). */
extern const struct event_schema ev_schemas[FOLIO_EV_TYPE_COUNT];

/* The schema of a valid type, or NULL. Inline: decode looks it up per event. */
static inline const struct event_schema *
ev_schema(enum folio_event_type type)
{
    if ((int)type <= FOLIO_EV_NONE || (int)type >= FOLIO_EV_TYPE_COUNT)
        return NULL;
    FOLIO_ASSERT(ev_schemas[type].fields != NULL && ev_schemas[type].field_count <= EV_FIELDS_MAX);
    return &ev_schemas[type];
}

/* Wire names by type, zero-padded so lookups can compare them a word at a time. */
#define EV_TYPE_NAME_MAX 23u
struct ev_wire_name {
    char name[EV_TYPE_NAME_MAX + 1];
    uint8_t len;
};
extern const struct ev_wire_name ev_wire_names[FOLIO_EV_TYPE_COUNT];

/*
 * The type whose wire name is s[0..n), or FOLIO_EV_NONE. Reads only
 * s[0..n). Names of 8 to 23 bytes (all of today's) are compared as three
 * overlapping words, loaded once; a candidate of another length costs one
 * compare.
 */
static inline enum folio_event_type
ev_type_lookup(const uint8_t *s, size_t n)
{
    if (n >= 8 && n <= EV_TYPE_NAME_MAX) {
        size_t mid = n >= 16 ? 8 : 0;
        uint64_t first = ev_load64(s), middle = ev_load64(s + mid), last = ev_load64(s + n - 8);
        for (int t = FOLIO_EV_NONE + 1; t < FOLIO_EV_TYPE_COUNT; t++) {
            const char *w = ev_wire_names[t].name;
            if (ev_wire_names[t].len == n && ev_load64(w) == first &&
                ev_load64(w + mid) == middle && ev_load64(w + n - 8) == last)
                return (enum folio_event_type)t;
        }
        return FOLIO_EV_NONE;
    }
    for (int t = FOLIO_EV_NONE + 1; t < FOLIO_EV_TYPE_COUNT; t++)
        if (ev_wire_names[t].len == n && ev_bytes_eq(s, ev_wire_names[t].name, n))
            return (enum folio_event_type)t;
    return FOLIO_EV_NONE;
}

/* The i-th field's storage in ev. */
static inline void *
ev_field_ptr(struct folio_event *ev, const struct field_desc *f)
{
    return (char *)ev + f->offset;
}

static inline const void *
ev_field_cptr(const struct folio_event *ev, const struct field_desc *f)
{
    return (const char *)ev + f->offset;
}

/*
 * Reads the fixed 16-byte prefix. On success *count is the map's entry count
 * (seq included) and *seq the sequence number.
 */
static inline int
ev_read_prefix(const uint8_t *buf, size_t len, uint32_t *count, uint64_t *seq)
{
    static const uint8_t seq_key[5] = {0xa3, 's', 'e', 'q', 0xcf};
    if (len < FOLIO_EVENT_PREFIX_LEN || buf[0] != 0xde ||
        !ev_bytes_eq(buf + 3, (const char *)seq_key, 5))
        return FOLIO_E_DECODE;
    *count = mp_be16(buf + 1);
    *seq = mp_be64(buf + FOLIO_EVENT_SEQ_OFFSET);
    return 0;
}

#endif
