/*
 * Event decoding, peeking and seq patching.
 *
 * Replay decodes millions of events per second, so the common case is one
 * pass over the bytes and one allocation:
 *
 *  - The prefix, and the "type" key the encoder writes right after it, are
 *    compared in place; the type name is looked up a word at a time.
 *  - scan_in_order then expects the type's fields in table order, as the
 *    encoder writes them. Each key is compared in place, fixstr header
 *    included, as two masked words; each value is checked (msgpack type,
 *    bounds, UTF-8) by a reader that handles the forms the encoder writes
 *    inline and any other form through mp_next. Scalars are stored; strings,
 *    arrays and objects are left pointing into the input, marked in a copy
 *    mask, and their sizes added up.
 *  - Keys in another order, or "type" not first, are valid too. For those,
 *    and for anything the in-order scan does not judge (an unknown, repeated
 *    or missing key, an entry count that does not add up, trailing bytes),
 *    the entries are scanned again from the start by scan_any_order, whose
 *    verdict stands. Both scans meet the entries in the same order, so a bad
 *    value gets the same error whichever of them reads it.
 *  - Once the whole event has been accepted, one allocation of the exact size
 *    (ev->owned_: item arrays first, so they are 8-byte aligned, then string
 *    and object bytes) receives copies of the fields in the copy mask; only
 *    arrays are read a second time.
 *
 * Nothing is allocated for input that fails, and on any error ev is left
 * zeroed. Decoding never reads outside [buf, buf + len): every load is
 * preceded by a check of the bytes left, including the word loads, which
 * only look at bytes the check covered (see str_utf8_ok for the one that
 * starts before a string).
 */
#include "folio/common.h"
#include "event_int.h"

#define SEEN_TYPE (1ull << 63)
/* other_key's answer for an entry that was the (first) "type" key, now consumed. */
#define KEY_WAS_TYPE ((int)EV_FIELDS_MAX)
/* scan_in_order's answer for a layout it does not handle (not an error). */
#define SCAN_AGAIN 1

/* For the readers the scan loop is made of; see "Value readers" below. */
#define DEC_INLINE static inline __attribute__((always_inline))

struct dec_state {
    const struct event_schema *s;
    const uint8_t *buf;                  /* the event's first byte: the lowest address read */
    uint64_t seen;                       /* bit i: field i; SEEN_TYPE: "type" */
    uint64_t copy;                       /* bit i: field i points into the input */
    size_t array_bytes;                  /* item arrays */
    size_t byte_bytes;                   /* strings (with their NUL) and objects */
    const uint8_t *items[EV_FIELDS_MAX]; /* arrays: their header; set when the bit is in copy */
};

static int
key_is(const struct mp_tok *t, const char *key, size_t len)
{
    return t->len == len && ev_bytes_eq(t->ptr, key, len);
}

/*
 * Positions c at the value of the first top-level key `key`. Entries before
 * it are skipped with bounded depth; a non-string key is malformed.
 */
static int
find_key(const uint8_t *buf, size_t len, uint32_t count, const char *key, size_t key_len,
         struct mp_cursor *c)
{
    c->p = buf + FOLIO_EVENT_PREFIX_LEN;
    c->end = buf + len;
    for (uint32_t i = 1; i < count; i++) {
        struct mp_tok k;
        int rc = mp_next(c, &k);
        if (rc != 0)
            return rc;
        if (k.kind != MP_STR)
            return FOLIO_E_DECODE;
        if (key_is(&k, key, key_len))
            return 0;
        rc = mp_skip(c, FOLIO_EVENT_OBJECT_DEPTH_MAX);
        if (rc != 0)
            return rc;
    }
    return FOLIO_E_DECODE;
}

/*
 * Finds and parses the type. When "type" is the first key after the prefix,
 * as the encoder writes it, *rest (if not NULL) is set past its value so the
 * field scan can start there; otherwise *rest is NULL.
 */
static int
read_type(const uint8_t *buf, size_t len, uint32_t count, enum folio_event_type *type,
          const uint8_t **rest)
{
    static const uint8_t type_key[5] = {0xa4, 't', 'y', 'p', 'e'};
    struct mp_cursor c = {buf + len, buf + len};
    struct mp_tok t;
    int rc = 0;
    int first = count > 1 && len >= FOLIO_EVENT_PREFIX_LEN + 5 &&
                ev_bytes_eq(buf + FOLIO_EVENT_PREFIX_LEN, (const char *)type_key, 5);
    if (first)
        c.p = buf + FOLIO_EVENT_PREFIX_LEN + 5;
    else
        rc = find_key(buf, len, count, "type", 4, &c);
    if (rc == 0)
        rc = mp_next(&c, &t);
    if (rc != 0)
        return rc;
    if (t.kind != MP_STR)
        return FOLIO_E_DECODE;
    *type = folio_event_type_parse((const char *)t.ptr, t.len);
    if (rest != NULL)
        *rest = first ? c.p : NULL;
    return *type == FOLIO_EV_NONE ? FOLIO_E_UNKNOWN_TYPE : 0;
}

/*
 * read_type for the layout the encoder writes: "type" as the first key with a
 * fixstr value. Returns the position after the value, or NULL (and leaves
 * *type alone) when the bytes are anything else; read_type then decides.
 */
DEC_INLINE const uint8_t *
read_type_fast(const uint8_t *buf, size_t len, uint32_t count, enum folio_event_type *type)
{
    /* a4 't' 'y' 'p' 'e' as the low five bytes of a little-endian word */
    static const uint64_t type_key = 0x65707974a4ull;
    const uint8_t *p = buf + FOLIO_EVENT_PREFIX_LEN;
    if (count < 2 || len < FOLIO_EVENT_PREFIX_LEN + 8 ||
        (ev_load64(p) & 0xffffffffffull) != type_key || (p[5] & 0xe0u) != 0xa0u)
        return NULL;
    uint32_t n = p[5] & 0x1fu;
    if (len - (FOLIO_EVENT_PREFIX_LEN + 6) < n)
        return NULL;
    *type = ev_type_lookup(p + 6, n);
    return p + 6 + n;
}

/* ---- Value readers --------------------------------------------------- */

/*
 * Each reader handles inline the forms the encoder writes (fixint, uint8..64,
 * int64, fixstr, str8, fixarray) and hands anything else to a generic reader
 * built on mp_next, which accepts every form the contract allows: the inline
 * part is an optimisation, never a rule. The inline readers are always
 * inlined into the scan loop and give the generic ones a copy of the cursor,
 * so the loop's cursor never has its address taken and stays in registers.
 */

static int
int_any(struct mp_cursor *c, int64_t *v)
{
    struct mp_tok t;
    int rc = mp_next(c, &t);
    if (rc != 0)
        return rc;
    if (t.kind == MP_NINT)
        *v = t.v.i;
    else if (t.kind == MP_UINT && t.v.u <= INT64_MAX)
        *v = (int64_t)t.v.u;
    else
        return FOLIO_E_DECODE;
    return 0;
}

static int
uint_any(struct mp_cursor *c, uint64_t *v)
{
    struct mp_tok t;
    int rc = mp_next(c, &t);
    if (rc != 0)
        return rc;
    if (t.kind != MP_UINT)
        return FOLIO_E_DECODE;
    *v = t.v.u;
    return 0;
}

/* A string header of any form; the payload s[0..n) is inside the cursor. */
static int
str_any(struct mp_cursor *c, const uint8_t **s, uint32_t *n)
{
    struct mp_tok t;
    int rc = mp_next(c, &t);
    if (rc != 0)
        return rc;
    if (t.kind != MP_STR)
        return FOLIO_E_DECODE;
    *s = t.ptr;
    *n = t.len;
    return 0;
}

static int
array_any(struct mp_cursor *c, uint32_t *count)
{
    struct mp_tok t;
    int rc = mp_next(c, &t);
    if (rc != 0)
        return rc;
    if (t.kind != MP_ARRAY)
        return FOLIO_E_DECODE;
    *count = t.len;
    return 0;
}

/* uint8..64 (tag 0xcc..0xcf) with 8 readable bytes after the tag: one load, shifted. */
DEC_INLINE uint64_t
uint_form_value(const uint8_t *tag)
{
    unsigned width = 1u << (*tag - 0xcc);
    return mp_be64(tag + 1) >> (64 - 8 * width);
}

DEC_INLINE int
read_uint(struct mp_cursor *c, uint64_t *v)
{
    const uint8_t *p = c->p;
    size_t avail = (size_t)(c->end - p);
    if (avail >= 1 && p[0] <= 0x7f) {
        *v = p[0];
        c->p = p + 1;
        return 0;
    }
    if (avail >= 9 && p[0] >= 0xcc && p[0] <= 0xcf) {
        *v = uint_form_value(p);
        c->p = p + 1 + (1u << (p[0] - 0xcc));
        return 0;
    }
    struct mp_cursor any = *c;
    int rc = uint_any(&any, v);
    c->p = any.p;
    return rc;
}

DEC_INLINE int
read_int(struct mp_cursor *c, int64_t *v)
{
    const uint8_t *p = c->p;
    size_t avail = (size_t)(c->end - p);
    uint8_t tag = avail >= 1 ? p[0] : 0xc1; /* 0xc1: never valid, goes to int_any */
    if (tag <= 0x7f || tag >= 0xe0) {
        *v = (int8_t)tag;
        c->p = p + 1;
        return 0;
    }
    if (avail >= 9 && tag == 0xcf && mp_be64(p + 1) <= INT64_MAX) {
        *v = (int64_t)mp_be64(p + 1);
        c->p = p + 9;
        return 0;
    }
    if (avail >= 9 && tag == 0xd3) {
        *v = (int64_t)mp_be64(p + 1);
        c->p = p + 9;
        return 0;
    }
    struct mp_cursor any = *c;
    int rc = int_any(&any, v);
    c->p = any.p;
    return rc;
}

/*
 * True if s[0..n) is well-formed UTF-8. Top-level strings are short and
 * almost always ASCII, so up to 32 bytes are settled with at most four word
 * loads and one test of the high bits. A string of at most 8 bytes is read
 * with the word that ends at its last byte, which may start before it: lo is
 * the lowest address that may be read, and the bytes before s are shifted out
 * (little-endian, see event_int.h). Anything else is ev_utf8_valid's job.
 */
DEC_INLINE int
str_utf8_ok(const uint8_t *lo, const uint8_t *s, size_t n)
{
    uint64_t w;
    if (n == 0)
        return 1;
    if (n <= 8 && (size_t)(s - lo) >= 8 - n)
        w = ev_load64(s + n - 8) >> (8 * (8 - n));
    else if (n > 8 && n <= 16)
        w = ev_load64(s) | ev_load64(s + n - 8);
    else if (n > 16 && n <= 32)
        w = ev_load64(s) | ev_load64(s + 8) | ev_load64(s + n - 16) | ev_load64(s + n - 8);
    else
        return ev_utf8_valid(s, n);
    return (w & 0x8080808080808080ull) == 0 || ev_utf8_valid(s, n);
}

/* A string of at most max bytes that is well-formed UTF-8; lo as for str_utf8_ok. */
DEC_INLINE int
read_str(struct mp_cursor *c, const uint8_t *lo, uint32_t max, const uint8_t **ptr, uint32_t *len)
{
    const uint8_t *p = c->p, *s;
    size_t avail = (size_t)(c->end - p);
    uint32_t n;
    if (avail >= 1 && (p[0] & 0xe0u) == 0xa0u) {
        n = p[0] & 0x1fu;
        s = p + 1;
    } else if (avail >= 2 && p[0] == 0xd9) {
        n = p[1];
        s = p + 2;
    } else {
        struct mp_cursor any = *c;
        int rc = str_any(&any, &s, &n);
        if (rc != 0)
            return rc;
    }
    if ((size_t)(c->end - s) < n)
        return FOLIO_E_DECODE;
    if (n > max)
        return FOLIO_E_TOO_LARGE;
    if (!str_utf8_ok(lo, s, n))
        return FOLIO_E_DECODE;
    c->p = s + n;
    *ptr = s;
    *len = n;
    return 0;
}

/* An array header within f's bounds. */
DEC_INLINE int
read_array_header(struct mp_cursor *c, const struct field_desc *f, uint32_t *count)
{
    if (c->p < c->end && (c->p[0] & 0xf0u) == 0x90u) {
        *count = c->p[0] & 0x0fu;
        c->p++;
    } else {
        struct mp_cursor any = *c;
        int rc = array_any(&any, count);
        c->p = any.p;
        if (rc != 0)
            return rc;
    }
    if (*count > f->max)
        return FOLIO_E_TOO_LARGE;
    if (*count < f->min)
        return FOLIO_E_DECODE;
    return 0;
}

/* ---- Scanning -------------------------------------------------------- */

static int
scan_str_array(struct mp_cursor *c, const struct field_desc *f, struct dec_state *st,
               struct folio_str_array *a)
{
    uint32_t count;
    int rc = read_array_header(c, f, &count);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *s;
        uint32_t n;
        rc = read_str(c, st->buf, FOLIO_EVENT_STR_MAX, &s, &n);
        if (rc != 0)
            return rc;
        if (n == 0 && f->items_nonempty)
            return FOLIO_E_DECODE;
        st->byte_bytes += (size_t)n + 1;
    }
    a->count = count;
    st->array_bytes += (size_t)count * sizeof(struct folio_str);
    return 0;
}

static int
scan_u64_array(struct mp_cursor *c, const struct field_desc *f, struct dec_state *st,
               struct folio_u64_array *a)
{
    uint32_t count;
    int rc = read_array_header(c, f, &count);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t v;
        rc = read_uint(c, &v);
        if (rc != 0)
            return rc;
    }
    a->count = count;
    st->array_bytes += (size_t)count * sizeof(uint64_t);
    return 0;
}

/* Arrays and objects: checked now, copied once the whole event is accepted. */
static int
scan_container(struct mp_cursor *c, const struct field_desc *f, unsigned fi, struct dec_state *st,
               void *dst)
{
    size_t extent;
    int rc;
    st->copy |= 1ull << fi;
    switch (f->kind) {
    case FK_STR_ARRAY:
        st->items[fi] = c->p;
        return scan_str_array(c, f, st, dst);
    case FK_U64_ARRAY:
        st->items[fi] = c->p;
        return scan_u64_array(c, f, st, dst);
    case FK_OBJECT:
        rc = mp_object_extent(c->p, (size_t)(c->end - c->p), &extent);
        if (rc == 0) {
            *(struct folio_object *)dst = (struct folio_object){c->p, (uint32_t)extent};
            st->byte_bytes += extent;
            c->p += extent;
        }
        return rc;
    default:
        return FOLIO_E_DECODE;
    }
}

/* Checks field fi's value and stores it (scalars) or notes what to copy (the rest). */
DEC_INLINE int
scan_value(struct mp_cursor *c, const struct field_desc *f, unsigned fi, struct dec_state *st,
           struct folio_event *ev)
{
    void *dst = ev_field_ptr(ev, f);
    uint64_t u;
    int rc;
    switch (f->kind) {
    case FK_U64:
        return read_uint(c, dst);
    case FK_U32:
        rc = read_uint(c, &u);
        if (rc == 0 && u > UINT32_MAX)
            rc = FOLIO_E_DECODE;
        if (rc == 0)
            *(uint32_t *)dst = (uint32_t)u;
        return rc;
    case FK_I64:
        return read_int(c, dst);
    case FK_STR: {
        const uint8_t *s;
        uint32_t n;
        rc = read_str(c, st->buf, f->max, &s, &n);
        if (rc == 0) {
            *(struct folio_str *)dst = (struct folio_str){(const char *)s, n};
            st->byte_bytes += (size_t)n + 1;
            st->copy |= 1ull << fi;
        }
        return rc;
    }
    default: {
        struct mp_cursor any = *c;
        rc = scan_container(&any, f, fi, st, dst);
        c->p = any.p;
        return rc;
    }
    }
}

/* scan_value for the general scan, which is not worth a second inlined copy. */
static int
scan_value_any(struct mp_cursor *c, unsigned fi, struct dec_state *st, struct folio_event *ev)
{
    return scan_value(c, &st->s->fields[fi], fi, st, ev);
}

/*
 * True if c is at field f's key as the encoder writes it (fixstr); c then
 * moves past it. Keys of up to 16 bytes are compared as two masked words
 * when that much input is left, the rest byte-wise.
 */
DEC_INLINE int
key_at(struct mp_cursor *c, const struct field_desc *f)
{
    const uint8_t *p = c->p;
    size_t avail = (size_t)(c->end - p);
    if (avail <= f->key_len || p[0] != (0xa0 | f->key_len))
        return 0;
    if (avail > EV_KEY_WORDS_MAX && f->key_len <= EV_KEY_WORDS_MAX) {
        const uint8_t *k = (const uint8_t *)f->key;
        uint64_t diff = ((ev_load64(p + 1) ^ ev_load64(k)) & f->key_mask[0]) |
                        ((ev_load64(p + 9) ^ ev_load64(k + 8)) & f->key_mask[1]);
        if (diff != 0)
            return 0;
    } else if (!ev_bytes_eq(p + 1, f->key, f->key_len)) {
        return 0;
    }
    c->p = p + 1 + f->key_len;
    return 1;
}

/*
 * Reads a key that is not the one expected next. Returns its field's index,
 * KEY_WAS_TYPE after consuming a "type" entry that read_type did not (the
 * first one: a second is a repeat), or an error for anything else.
 */
static int
other_key(struct mp_cursor *c, struct dec_state *st)
{
    struct mp_tok k, v;
    int rc = mp_next(c, &k);
    if (rc != 0)
        return rc;
    if (k.kind != MP_STR)
        return FOLIO_E_DECODE;
    for (unsigned i = 0; i < st->s->field_count; i++)
        if (key_is(&k, st->s->fields[i].key, st->s->fields[i].key_len))
            return (int)i;
    if (!key_is(&k, "type", 4) || (st->seen & SEEN_TYPE))
        return FOLIO_E_DECODE;
    st->seen |= SEEN_TYPE;
    rc = mp_next(c, &v); /* read_type found the first "type" and checked it is a string */
    return rc != 0 ? rc : KEY_WAS_TYPE;
}

/*
 * The general scan: reads `entries` keys in any order and their values, then
 * checks that nothing follows and no required field is missing.
 */
static int
scan_any_order(struct mp_cursor *c, uint32_t entries, struct dec_state *st, struct folio_event *ev)
{
    const struct event_schema *s = st->s;
    unsigned next = 0; /* the field expected next, in encoding order */
    for (uint32_t i = 0; i < entries; i++) {
        int fi = (int)next;
        if (next >= s->field_count || !key_at(c, &s->fields[next])) {
            fi = other_key(c, st);
            if (fi < 0)
                return fi;
            if (fi == KEY_WAS_TYPE)
                continue;
        }
        if (st->seen & (1ull << fi))
            return FOLIO_E_DECODE;
        st->seen |= 1ull << fi;
        next = (unsigned)fi + 1;
        int rc = scan_value_any(c, (unsigned)fi, st, ev);
        if (rc != 0)
            return rc;
    }
    if (c->p != c->end)
        return FOLIO_E_DECODE; /* trailing bytes */
    uint64_t missing = ~st->seen & ((1ull << s->field_count) - 1);
    for (; missing != 0; missing &= missing - 1)
        if (!s->fields[__builtin_ctzll(missing)].optional)
            return FOLIO_E_DECODE;
    return 0;
}

/*
 * The scan for the layout the encoder writes: after "type", keys in table
 * order, each optional one present or not. It reads the same entries in the
 * same order as scan_any_order would, so a bad value fails here with the same
 * error; at anything else out of the ordinary (a key out of order, unknown or
 * repeated, a required key missing, an entry count that does not add up,
 * trailing bytes) it returns SCAN_AGAIN and the caller starts over with
 * scan_any_order, which says what is wrong, if anything.
 */
static int
scan_in_order(const uint8_t *p, const uint8_t *end, uint32_t entries, struct dec_state *st,
              struct folio_event *ev)
{
    const struct event_schema *s = st->s;
    struct mp_cursor c = {p, end};
    for (unsigned fi = 0; fi < s->field_count; fi++) {
        const struct field_desc *f = &s->fields[fi];
        if (entries == 0 || !key_at(&c, f)) {
            if (!f->optional)
                return SCAN_AGAIN;
            continue;
        }
        entries--;
        int rc = scan_value(&c, f, fi, st, ev);
        if (rc != 0)
            return rc;
    }
    return entries == 0 && c.p == c.end ? 0 : SCAN_AGAIN;
}

/* Scans every entry after "seq" (rest: after "type", if it came first), then the type's rules. */
static int
scan_event(const uint8_t *buf, size_t len, uint32_t count, const uint8_t *rest,
           struct dec_state *st, struct folio_event *ev)
{
    uint32_t entries = count > 0 ? count - 1 : 0; /* "seq" is in the prefix */
    int rc = SCAN_AGAIN;
    if (rest != NULL)
        rc = scan_in_order(rest, buf + len, entries - 1, st, ev);
    if (rc == SCAN_AGAIN) {
        /* Forget what a first attempt stored, keeping what the prefix and type gave. */
        struct folio_event head = {.type = ev->type, .seq = ev->seq};
        struct mp_cursor c = {buf + FOLIO_EVENT_PREFIX_LEN, buf + len};
        *ev = head;
        st->seen = st->copy = 0;
        st->array_bytes = st->byte_bytes = 0;
        rc = scan_any_order(&c, entries, st, ev);
    }
    if (rc != 0)
        return rc;
    if (st->s->check != NULL && st->s->check(ev) != 0)
        return FOLIO_E_DECODE;
    return 0;
}

/* ---- Copying --------------------------------------------------------- */

static char *
copy_bytes(char **bytes, const void *src, size_t n, int nul)
{
    char *dst = *bytes;
    ev_copy(dst, src, n);
    if (nul)
        dst[n] = '\0';
    *bytes += n + (nul ? 1 : 0);
    return dst;
}

/* Copies one array field: re-reads its already checked items. */
static void
copy_array(const struct field_desc *f, const uint8_t *items, const uint8_t *end,
           struct folio_event *ev, char **arrays, char **bytes)
{
    struct mp_cursor c = {items, end};
    struct mp_tok t;
    mp_next(&c, &t); /* the array header */
    if (f->kind == FK_U64_ARRAY) {
        struct folio_u64_array *a = ev_field_ptr(ev, f);
        uint64_t *out = (uint64_t *)(void *)*arrays;
        for (uint32_t i = 0; i < a->count; i++) {
            mp_next(&c, &t);
            out[i] = t.v.u;
        }
        a->items = a->count != 0 ? out : NULL;
        *arrays += (size_t)a->count * sizeof(uint64_t);
        return;
    }
    struct folio_str_array *a = ev_field_ptr(ev, f);
    struct folio_str *out = (struct folio_str *)(void *)*arrays;
    for (uint32_t i = 0; i < a->count; i++) {
        mp_next(&c, &t);
        out[i].ptr = copy_bytes(bytes, t.ptr, t.len, 1);
        out[i].len = t.len;
    }
    a->items = a->count != 0 ? out : NULL;
    *arrays += (size_t)a->count * sizeof(struct folio_str);
}

/* Gives the event its own copy of every field in the copy mask, in one allocation. */
static void
copy_fields(const uint8_t *end, struct dec_state *st, struct folio_event *ev)
{
    size_t total = st->array_bytes + st->byte_bytes;
    if (total == 0)
        return; /* nothing, or only empty arrays, whose items stay NULL */
    char *mem = folio_malloc(total);
    char *arrays = mem, *bytes = mem + st->array_bytes;
    for (uint64_t todo = st->copy; todo != 0; todo &= todo - 1) {
        unsigned i = (unsigned)__builtin_ctzll(todo);
        const struct field_desc *f = &st->s->fields[i];
        if (f->kind == FK_STR) {
            struct folio_str *s = ev_field_ptr(ev, f);
            s->ptr = copy_bytes(&bytes, s->ptr, s->len, 1);
        } else if (f->kind == FK_OBJECT) {
            struct folio_object *o = ev_field_ptr(ev, f);
            o->ptr = (const uint8_t *)copy_bytes(&bytes, o->ptr, o->len, 0);
        } else {
            copy_array(f, st->items[i], end, ev, &arrays, &bytes);
        }
    }
    FOLIO_ASSERT(arrays == mem + st->array_bytes && bytes == mem + total);
    ev->owned_ = mem;
}

int
folio_event_decode(const uint8_t *buf, size_t len, struct folio_event *ev)
{
    FOLIO_ASSERT(ev != NULL);
    struct dec_state st; /* items[] is written before it is read: not cleared */
    uint32_t count;
    enum folio_event_type type = FOLIO_EV_NONE;
    const uint8_t *rest;
    int rc;
    ev_zero(ev);
    if (len > FOLIO_EVENT_BYTES_MAX) {
        rc = FOLIO_E_TOO_LARGE;
        goto out;
    }
    rc = ev_read_prefix(buf, len, &count, &ev->seq);
    if (rc != 0)
        goto out;
    rest = read_type_fast(buf, len, count, &type);
    if (rest == NULL)
        rc = read_type(buf, len, count, &type, &rest);
    else if (type == FOLIO_EV_NONE)
        rc = FOLIO_E_UNKNOWN_TYPE;
    if (rc != 0)
        goto out;
    ev->type = type;
    st.s = ev_schema(type);
    st.buf = buf;
    st.seen = 0;
    st.copy = 0;
    st.array_bytes = st.byte_bytes = 0;
    rc = scan_event(buf, len, count, rest, &st, ev);
    if (rc != 0)
        goto out;
    copy_fields(buf + len, &st, ev);
out:
    if (rc != 0)
        ev_zero(ev);
    return rc;
}

void
folio_event_clear(struct folio_event *ev)
{
    if (ev == NULL)
        return;
    folio_free(ev->owned_);
    ev_zero(ev);
}

int
folio_event_peek(const uint8_t *buf, size_t len, uint64_t *seq, enum folio_event_type *type,
                 int64_t *at_ns)
{
    uint32_t count;
    uint64_t seq_value;
    enum folio_event_type type_value;
    int64_t at_value;
    struct mp_cursor c;
    if (len > FOLIO_EVENT_BYTES_MAX)
        return FOLIO_E_TOO_LARGE;
    int rc = ev_read_prefix(buf, len, &count, &seq_value);
    if (rc == 0)
        rc = read_type(buf, len, count, &type_value, NULL);
    if (rc == 0)
        rc = find_key(buf, len, count, "at", 2, &c);
    if (rc == 0)
        rc = int_any(&c, &at_value);
    if (rc != 0)
        return rc;
    if (seq != NULL)
        *seq = seq_value;
    if (type != NULL)
        *type = type_value;
    if (at_ns != NULL)
        *at_ns = at_value;
    return 0;
}

int
folio_event_patch_seq(uint8_t *buf, size_t len, uint64_t seq)
{
    uint32_t count;
    uint64_t old_seq;
    if (buf == NULL || ev_read_prefix(buf, len, &count, &old_seq) != 0)
        return FOLIO_E_INVALID;
    mp_store_be64(buf + FOLIO_EVENT_SEQ_OFFSET, seq);
    return 0;
}
