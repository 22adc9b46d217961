/*
 * Event encoding: struct folio_event -> one msgpack map, driven by the type's
 * schema table (event.c).
 *
 * The 16-byte prefix (map16 header, "seq", 0xcf + 8-byte seq) is written by
 * hand because msgpack_pack_map and msgpack_pack_uint64 pick the shortest
 * forms, and the journal needs the seq at a fixed offset. The rest goes
 * through msgpack-c's packer, writing into a buffer that refuses to grow past
 * FOLIO_EVENT_BYTES_MAX, so a huge event fails without a huge allocation.
 *
 * Everything decode would reject is refused here first (FOLIO_E_INVALID):
 * an event that reaches the journal must replay.
 */
#include <msgpack.h>

#include "folio/common.h"
#include "event_int.h"

struct enc_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int overflow;        /* set once a write would pass FOLIO_EVENT_BYTES_MAX */
};

/* msgpack_packer write callback. */
static int
enc_write(void *ctx, const char *p, size_t n)
{
    struct enc_buf *b = ctx;
    if (b->overflow || n > FOLIO_EVENT_BYTES_MAX - b->len) {
        b->overflow = 1;
        return -1;
    }
    if (n > b->cap - b->len) {
        size_t cap = b->cap * 2 > b->len + n ? b->cap * 2 : b->len + n;
        b->cap = cap < FOLIO_EVENT_BYTES_MAX ? cap : FOLIO_EVENT_BYTES_MAX;
        b->data = folio_realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static int
str_valid(const struct folio_str *s, uint32_t max)
{
    if (s->ptr == NULL || s->len > max)
        return 0;
    return ev_utf8_valid((const uint8_t *)s->ptr, s->len);
}

static int
object_valid(const struct folio_object *o)
{
    size_t extent;
    if (o->ptr == NULL || o->len == 0 || o->len > FOLIO_EVENT_OBJECT_BYTES_MAX)
        return 0;
    return mp_object_extent(o->ptr, o->len, &extent) == 0 && extent == o->len;
}

/* Optional fields are absent when empty; scalars and required fields are always written. */
static int
field_present(const struct folio_event *ev, const struct field_desc *f)
{
    const void *v = ev_field_cptr(ev, f);
    if (f->kind == FK_OBJECT)
        return ((const struct folio_object *)v)->len != 0 || !f->optional;
    if (!f->optional)
        return 1;
    if (f->kind == FK_STR)
        return ((const struct folio_str *)v)->len != 0;
    if (f->kind == FK_STR_ARRAY)
        return ((const struct folio_str_array *)v)->count != 0;
    if (f->kind == FK_U64_ARRAY)
        return ((const struct folio_u64_array *)v)->count != 0;
    return 1;
}

static int
str_array_valid(const struct folio_str_array *a, const struct field_desc *f)
{
    if (a->count < f->min || a->count > f->max || (a->count != 0 && a->items == NULL))
        return 0;
    for (uint32_t i = 0; i < a->count; i++)
        if (!str_valid(&a->items[i], FOLIO_EVENT_STR_MAX) ||
            (a->items[i].len == 0 && f->items_nonempty))
            return 0;
    return 1;
}

/* Checks a field that will be written. */
static int
field_valid(const struct folio_event *ev, const struct field_desc *f)
{
    const void *v = ev_field_cptr(ev, f);
    switch (f->kind) {
    case FK_STR:
        return str_valid(v, f->max);
    case FK_STR_ARRAY:
        return str_array_valid(v, f);
    case FK_U64_ARRAY: {
        const struct folio_u64_array *a = v;
        return a->count >= f->min && a->count <= f->max && (a->count == 0 || a->items != NULL);
    }
    case FK_OBJECT:
        return object_valid(v);
    default:
        return 1;
    }
}

static void
pack_field(msgpack_packer *pk, struct enc_buf *b, const struct folio_event *ev,
           const struct field_desc *f)
{
    const void *v = ev_field_cptr(ev, f);
    msgpack_pack_str_with_body(pk, f->key, f->key_len);
    switch (f->kind) {
    case FK_U64:
        msgpack_pack_uint64(pk, *(const uint64_t *)v);
        break;
    case FK_I64:
        msgpack_pack_int64(pk, *(const int64_t *)v);
        break;
    case FK_U32:
        msgpack_pack_uint32(pk, *(const uint32_t *)v);
        break;
    case FK_STR: {
        const struct folio_str *s = v;
        msgpack_pack_str_with_body(pk, s->ptr, s->len);
        break;
    }
    case FK_STR_ARRAY: {
        const struct folio_str_array *a = v;
        msgpack_pack_array(pk, a->count);
        for (uint32_t i = 0; i < a->count; i++)
            msgpack_pack_str_with_body(pk, a->items[i].ptr, a->items[i].len);
        break;
    }
    case FK_U64_ARRAY: {
        const struct folio_u64_array *a = v;
        msgpack_pack_array(pk, a->count);
        for (uint32_t i = 0; i < a->count; i++)
            msgpack_pack_uint64(pk, a->items[i]);
        break;
    }
    case FK_OBJECT: {
        const struct folio_object *o = v;
        enc_write(b, (const char *)o->ptr, o->len); /* already one valid msgpack value */
        break;
    }
    }
}

/* Validates every field and counts the map entries (seq and type included). */
static int
encode_check(const struct folio_event *ev, const struct event_schema *s, uint16_t *count)
{
    *count = 2;
    for (unsigned i = 0; i < s->field_count; i++) {
        const struct field_desc *f = &s->fields[i];
        if (!field_present(ev, f))
            continue;
        if (!field_valid(ev, f))
            return FOLIO_E_INVALID;
        (*count)++;
    }
    if (s->check != NULL && s->check(ev) != 0)
        return FOLIO_E_INVALID;
    return 0;
}

/* Writes the checked event: hand-made prefix, then msgpack-c's packer. */
static void
encode_into(struct enc_buf *b, const struct folio_event *ev, const struct event_schema *s,
            uint16_t count)
{
    uint8_t prefix[FOLIO_EVENT_PREFIX_LEN] = {0xde, (uint8_t)(count >> 8), (uint8_t)count,
                                              0xa3, 's', 'e', 'q', 0xcf};
    mp_store_be64(prefix + FOLIO_EVENT_SEQ_OFFSET, ev->seq);
    enc_write(b, (const char *)prefix, sizeof(prefix));

    msgpack_packer pk;
    msgpack_packer_init(&pk, b, enc_write);
    const char *name = folio_event_type_name(ev->type);
    msgpack_pack_str_with_body(&pk, "type", 4);
    msgpack_pack_str_with_body(&pk, name, strlen(name));
    for (unsigned i = 0; i < s->field_count; i++)
        if (field_present(ev, &s->fields[i]))
            pack_field(&pk, b, ev, &s->fields[i]);
}

int
folio_event_encode(const struct folio_event *ev, uint8_t **out, size_t *out_len)
{
    FOLIO_ASSERT(ev != NULL && out != NULL && out_len != NULL);
    struct enc_buf b = {0};
    const struct event_schema *s = ev_schema(ev->type);
    uint16_t count;
    int rc = FOLIO_E_INVALID;
    *out = NULL;
    *out_len = 0;
    if (s == NULL)
        goto out;
    rc = encode_check(ev, s, &count);
    if (rc != 0)
        goto out;
    b.cap = 256;
    b.data = folio_malloc(b.cap);
    encode_into(&b, ev, s, count);
    rc = b.overflow ? FOLIO_E_TOO_LARGE : 0;
out:
    if (rc != 0) {
        folio_free(b.data);
        return rc;
    }
    *out = b.data;
    *out_len = b.len;
    return 0;
}
