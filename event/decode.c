/*
 * Event decoding, peeking and seq patching.
 *
 * Decoding is two passes over the bytes with one allocation between them.
 * Pass 1 finds the type, then walks every key once: it rejects unknown,
 * repeated and ill-typed fields, checks bounds and UTF-8, stores scalars,
 * leaves strings and objects pointing into the input, and adds up the bytes
 * the copies will need. Pass 2 allocates that exact amount once
 * (ev->owned_: item arrays first, so they are 8-byte aligned, then string and
 * object bytes) and copies into it. Nothing is allocated for input that
 * fails, and on any error ev is left zeroed.
 *
 * Keys may come in any order after the fixed prefix; the encoder always
 * writes "type" and "at" first, so finding the type is one step in practice.
 */
#include "folio/common.h"
#include "event_int.h"

#define SEEN_TYPE (1ull << 63)

struct dec_state {
    const struct event_schema *s;
    unsigned next;                       /* the field expected next, in encoding order */
    const uint8_t *items[EV_FIELDS_MAX]; /* arrays: where the first item starts */
    uint64_t seen;                       /* bit i: field i; SEEN_TYPE: "type" */
    size_t array_bytes;                  /* item arrays */
    size_t byte_bytes;                   /* strings (with their NUL) and objects */
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

static int
read_i64(struct mp_cursor *c, int64_t *v)
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

/* Reads a string token within max bytes that is well-formed UTF-8. */
static int
read_str(struct mp_cursor *c, uint32_t max, struct mp_tok *t)
{
    int rc = mp_next(c, t);
    if (rc != 0)
        return rc;
    if (t->kind != MP_STR)
        return FOLIO_E_DECODE;
    if (t->len > max)
        return FOLIO_E_TOO_LARGE;
    return ev_utf8_valid(t->ptr, t->len) ? 0 : FOLIO_E_DECODE;
}

static int
read_array_header(struct mp_cursor *c, const struct field_desc *f, uint32_t *count)
{
    struct mp_tok t;
    int rc = mp_next(c, &t);
    if (rc != 0)
        return rc;
    if (t.kind != MP_ARRAY)
        return FOLIO_E_DECODE;
    if (t.len > f->max)
        return FOLIO_E_TOO_LARGE;
    if (t.len < f->min)
        return FOLIO_E_DECODE;
    *count = t.len;
    return 0;
}

static int
scan_str_array(struct mp_cursor *c, const struct field_desc *f, struct dec_state *st,
               struct folio_str_array *a)
{
    uint32_t count;
    int rc = read_array_header(c, f, &count);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < count; i++) {
        struct mp_tok t;
        rc = read_str(c, FOLIO_EVENT_STR_MAX, &t);
        if (rc != 0)
            return rc;
        st->byte_bytes += (size_t)t.len + 1;
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
        struct mp_tok t;
        rc = mp_next(c, &t);
        if (rc != 0)
            return rc;
        if (t.kind != MP_UINT)
            return FOLIO_E_DECODE;
    }
    a->count = count;
    st->array_bytes += (size_t)count * sizeof(uint64_t);
    return 0;
}

static int
scan_uint(struct mp_cursor *c, uint64_t max, uint64_t *v)
{
    struct mp_tok t;
    int rc = mp_next(c, &t);
    if (rc != 0)
        return rc;
    if (t.kind != MP_UINT || t.v.u > max)
        return FOLIO_E_DECODE;
    *v = t.v.u;
    return 0;
}

/* Pass 1 for one value: check it, store scalars, note what pass 2 must copy. */
static int
scan_value(struct mp_cursor *c, const struct field_desc *f, unsigned fi, struct dec_state *st,
           struct folio_event *ev)
{
    void *dst = ev_field_ptr(ev, f);
    struct mp_tok t;
    uint64_t u;
    size_t extent;
    int rc;
    switch (f->kind) {
    case FK_U64:
        return scan_uint(c, UINT64_MAX, dst);
    case FK_U32:
        rc = scan_uint(c, UINT32_MAX, &u);
        if (rc == 0)
            *(uint32_t *)dst = (uint32_t)u;
        return rc;
    case FK_I64:
        return read_i64(c, dst);
    case FK_STR:
        rc = read_str(c, f->max, &t);
        if (rc == 0) {
            *(struct folio_str *)dst = (struct folio_str){(const char *)t.ptr, t.len};
            st->byte_bytes += (size_t)t.len + 1;
        }
        return rc;
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
    }
    return FOLIO_E_DECODE;
}

/* Index of the field whose key is k, or -1. */
static int
find_field(const struct event_schema *s, const struct mp_tok *k)
{
    for (unsigned i = 0; i < s->field_count; i++)
        if (key_is(k, s->fields[i].key, s->fields[i].key_len))
            return (int)i;
    return -1;
}

/*
 * The encoder writes fields in table order as fixstr keys, so the key of the
 * field expected next is compared in place, header byte included, before
 * falling back to reading the key and searching the table.
 */
static int
match_expected(struct mp_cursor *c, const struct dec_state *st)
{
    if (st->next >= st->s->field_count)
        return -1;
    const struct field_desc *f = &st->s->fields[st->next];
    if ((size_t)(c->end - c->p) <= f->key_len || c->p[0] != (0xa0 | f->key_len) ||
        !ev_bytes_eq(c->p + 1, f->key, f->key_len))
        return -1;
    c->p += 1 + f->key_len;
    return (int)st->next;
}

/* A "type" key met by the field scan: read_type checked the first, so a second is a repeat. */
static int
scan_type_key(struct mp_cursor *c, struct dec_state *st, const struct mp_tok *k)
{
    struct mp_tok v;
    if (!key_is(k, "type", 4) || (st->seen & SEEN_TYPE))
        return FOLIO_E_DECODE;
    st->seen |= SEEN_TYPE;
    return mp_next(c, &v);
}

/* Reads one key (and its value) after the prefix. */
static int
scan_entry(struct mp_cursor *c, struct dec_state *st, struct folio_event *ev)
{
    int fi = match_expected(c, st);
    if (fi < 0) {
        struct mp_tok k;
        int rc = mp_next(c, &k);
        if (rc != 0)
            return rc;
        if (k.kind != MP_STR)
            return FOLIO_E_DECODE;
        fi = find_field(st->s, &k);
        if (fi < 0)
            return scan_type_key(c, st, &k);
    }
    if (st->seen & (1ull << fi))
        return FOLIO_E_DECODE;
    st->seen |= 1ull << fi;
    st->next = (unsigned)fi + 1;
    return scan_value(c, &st->s->fields[fi], (unsigned)fi, st, ev);
}

/* Pass 1 over all entries (from rest if the type was read), then whole-event checks. */
static int
scan_event(const uint8_t *buf, size_t len, uint32_t count, const uint8_t *rest,
           struct dec_state *st, struct folio_event *ev)
{
    struct mp_cursor c = {buf + FOLIO_EVENT_PREFIX_LEN, buf + len};
    uint32_t i = 1;
    if (rest != NULL) {
        c.p = rest;
        st->seen |= SEEN_TYPE;
        i = 2;
    }
    for (; i < count; i++) {
        int rc = scan_entry(&c, st, ev);
        if (rc != 0)
            return rc;
    }
    if (c.p != c.end)
        return FOLIO_E_DECODE; /* trailing bytes */
    for (unsigned f = 0; f < st->s->field_count; f++)
        if (!st->s->fields[f].optional && !(st->seen & (1ull << f)))
            return FOLIO_E_DECODE;
    if (st->s->check != NULL && st->s->check(ev) != 0)
        return FOLIO_E_DECODE;
    return 0;
}

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

/* Pass 2 for one array field: re-reads its already checked items. */
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

static void
copy_fields(const uint8_t *end, struct dec_state *st, struct folio_event *ev)
{
    size_t total = st->array_bytes + st->byte_bytes;
    if (total == 0)
        return;
    char *mem = folio_malloc(total);
    char *arrays = mem, *bytes = mem + st->array_bytes;
    for (unsigned i = 0; i < st->s->field_count; i++) {
        const struct field_desc *f = &st->s->fields[i];
        if (!(st->seen & (1ull << i)))
            continue;
        if (f->kind == FK_STR) {
            struct folio_str *s = ev_field_ptr(ev, f);
            s->ptr = copy_bytes(&bytes, s->ptr, s->len, 1);
        } else if (f->kind == FK_OBJECT) {
            struct folio_object *o = ev_field_ptr(ev, f);
            o->ptr = (const uint8_t *)copy_bytes(&bytes, o->ptr, o->len, 0);
        } else if (f->kind == FK_STR_ARRAY || f->kind == FK_U64_ARRAY) {
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
    struct dec_state st = {0};
    uint32_t count;
    enum folio_event_type type;
    const uint8_t *rest;
    int rc;
    memset(ev, 0, sizeof(*ev));
    if (len > FOLIO_EVENT_BYTES_MAX) {
        rc = FOLIO_E_TOO_LARGE;
        goto out;
    }
    rc = ev_read_prefix(buf, len, &count, &ev->seq);
    if (rc == 0)
        rc = read_type(buf, len, count, &type, &rest);
    if (rc != 0)
        goto out;
    ev->type = type;
    st.s = ev_schema(type);
    rc = scan_event(buf, len, count, rest, &st, ev);
    if (rc != 0)
        goto out;
    copy_fields(buf + len, &st, ev);
out:
    if (rc != 0)
        memset(ev, 0, sizeof(*ev));
    return rc;
}

void
folio_event_clear(struct folio_event *ev)
{
    if (ev == NULL)
        return;
    folio_free(ev->owned_);
    memset(ev, 0, sizeof(*ev));
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
        rc = read_i64(&c, &at_value);
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
