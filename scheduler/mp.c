/*
 * A small msgpack writer and reader for the scheduler's own objects (task
 * content, details, errors) and for the canonical state serialisation.
 *
 * The writer always uses the shortest form of every integer, string, array
 * and map header, so the same values always give the same bytes: the
 * canonical serialisation and its hash depend on that. It has a hard maximum
 * size; going over it sets FOLIO_E_TOO_LARGE and stops writing.
 *
 * The reader never reads outside [p, end), accepts every standard form,
 * rejects ext types (folio never writes them) and bounds nesting depth.
 */
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "sched_int.h"

void
mpw_init(struct mpw *w, size_t max)
{
    memset(w, 0, sizeof(*w));
    w->max = max;
}

void
mpw_free(struct mpw *w)
{
    folio_free(w->buf);
    memset(w, 0, sizeof(*w));
}

uint8_t *
mpw_take(struct mpw *w, size_t *len)
{
    uint8_t *b = w->buf;
    *len = w->len;
    if (w->len == 0) {
        folio_free(b);
        b = NULL;
    }
    size_t max = w->max;
    memset(w, 0, sizeof(*w));
    w->max = max;
    return b;
}

#define MPW_SINK_CHUNK (64u * 1024u)

void
mpw_flush(struct mpw *w)
{
    if (w->sink == NULL || w->len == 0)
        return;
    w->sink(w->sink_ctx, w->buf, w->len);
    w->flushed += w->len;
    w->len = 0;
}

static uint8_t *
mpw_room(struct mpw *w, size_t n)
{
    if (w->err != 0)
        return NULL;
    if (w->sink != NULL && w->len + n > MPW_SINK_CHUNK)
        mpw_flush(w);
    size_t used = w->flushed + w->len;
    if (used > w->max || n > w->max - used) {
        w->err = FOLIO_E_TOO_LARGE;
        return NULL;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n)
            cap *= 2;
        w->buf = folio_realloc(w->buf, cap);
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

static void
put_be(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void
mpw_tag(struct mpw *w, uint8_t tag, uint64_t v, unsigned n)
{
    uint8_t *p = mpw_room(w, 1 + n);
    if (p == NULL)
        return;
    p[0] = tag;
    put_be(p + 1, v, n);
}

/* A header with a fix form below fix_max, then 16/32-bit forms (arrays, maps). */
static void
mpw_header(struct mpw *w, uint32_t n, uint8_t fix, uint32_t fix_max, uint8_t t16, uint8_t t32)
{
    if (n < fix_max)
        mpw_tag(w, (uint8_t)(fix | n), 0, 0);
    else if (n <= 0xffff)
        mpw_tag(w, t16, n, 2);
    else
        mpw_tag(w, t32, n, 4);
}

void
mpw_map(struct mpw *w, uint32_t n)
{
    mpw_header(w, n, 0x80, 16, 0xde, 0xdf);
}

void
mpw_array(struct mpw *w, uint32_t n)
{
    mpw_header(w, n, 0x90, 16, 0xdc, 0xdd);
}

void
mpw_str(struct mpw *w, const void *p, size_t n)
{
    if (n > UINT32_MAX) {
        if (w->err == 0)
            w->err = FOLIO_E_TOO_LARGE;
        return;
    }
    if (n < 32)
        mpw_tag(w, (uint8_t)(0xa0 | n), 0, 0);
    else if (n <= 0xff)
        mpw_tag(w, 0xd9, n, 1);
    else if (n <= 0xffff)
        mpw_tag(w, 0xda, n, 2);
    else
        mpw_tag(w, 0xdb, n, 4);
    mpw_raw(w, p, n);
}

void
mpw_cstr(struct mpw *w, const char *s)
{
    mpw_str(w, s, strlen(s));
}

void
mpw_fstr(struct mpw *w, struct folio_str s)
{
    mpw_str(w, s.ptr, s.len);
}

void
mpw_u64(struct mpw *w, uint64_t v)
{
    if (v < 0x80)
        mpw_tag(w, (uint8_t)v, 0, 0);
    else if (v <= 0xff)
        mpw_tag(w, 0xcc, v, 1);
    else if (v <= 0xffff)
        mpw_tag(w, 0xcd, v, 2);
    else if (v <= 0xffffffffu)
        mpw_tag(w, 0xce, v, 4);
    else
        mpw_tag(w, 0xcf, v, 8);
}

void
mpw_i64(struct mpw *w, int64_t v)
{
    if (v >= 0) {
        mpw_u64(w, (uint64_t)v);
        return;
    }
    if (v >= -32)
        mpw_tag(w, (uint8_t)(int8_t)v, 0, 0);
    else if (v >= INT8_MIN)
        mpw_tag(w, 0xd0, (uint64_t)v, 1);
    else if (v >= INT16_MIN)
        mpw_tag(w, 0xd1, (uint64_t)v, 2);
    else if (v >= INT32_MIN)
        mpw_tag(w, 0xd2, (uint64_t)v, 4);
    else
        mpw_tag(w, 0xd3, (uint64_t)v, 8);
}

void
mpw_bool(struct mpw *w, bool v)
{
    mpw_tag(w, v ? 0xc3 : 0xc2, 0, 0);
}

void
mpw_nil(struct mpw *w)
{
    mpw_tag(w, 0xc0, 0, 0);
}

void
mpw_bin(struct mpw *w, const void *p, size_t n)
{
    if (n > UINT32_MAX) {
        if (w->err == 0)
            w->err = FOLIO_E_TOO_LARGE;
        return;
    }
    if (n <= 0xff)
        mpw_tag(w, 0xc4, n, 1);
    else if (n <= 0xffff)
        mpw_tag(w, 0xc5, n, 2);
    else
        mpw_tag(w, 0xc6, n, 4);
    mpw_raw(w, p, n);
}

void
mpw_raw(struct mpw *w, const void *p, size_t n)
{
    if (n == 0)
        return;
    uint8_t *d = mpw_room(w, n);
    if (d != NULL)
        memcpy(d, p, n);
}

/* ---- reader ------------------------------------------------------------ */

static int
take_be(struct mpr *r, unsigned n, uint64_t *v)
{
    if ((size_t)(r->end - r->p) < n)
        return FOLIO_E_DECODE;
    uint64_t x = 0;
    for (unsigned i = 0; i < n; i++)
        x = (x << 8) | r->p[i];
    r->p += n;
    *v = x;
    return 0;
}

static int
take_bytes(struct mpr *r, struct mpv *v, enum mp_kind kind, unsigned len_bytes)
{
    uint64_t n;
    if (take_be(r, len_bytes, &n) != 0 || (uint64_t)(r->end - r->p) < n)
        return FOLIO_E_DECODE;
    v->kind = kind;
    v->ptr = r->p;
    v->len = (uint32_t)n;
    r->p += n;
    return 0;
}

static int
take_count(struct mpr *r, struct mpv *v, enum mp_kind kind, unsigned len_bytes)
{
    uint64_t n;
    if (take_be(r, len_bytes, &n) != 0)
        return FOLIO_E_DECODE;
    /* Every entry needs at least one byte: a cheap bound on hostile counts. */
    if (n > (uint64_t)(r->end - r->p))
        return FOLIO_E_DECODE;
    v->kind = kind;
    v->len = (uint32_t)n;
    return 0;
}

static int
take_int(struct mpr *r, struct mpv *v, unsigned n, bool is_signed)
{
    uint64_t x;
    if (take_be(r, n, &x) != 0)
        return FOLIO_E_DECODE;
    if (!is_signed) {
        v->kind = MPK_UINT;
        v->u = x;
        return 0;
    }
    int64_t s;
    switch (n) {
    case 1: s = (int8_t)x; break;
    case 2: s = (int16_t)x; break;
    case 4: s = (int32_t)x; break;
    default: s = (int64_t)x; break;
    }
    if (s >= 0) {
        v->kind = MPK_UINT;
        v->u = (uint64_t)s;
    } else {
        v->kind = MPK_INT;
        v->i = s;
    }
    return 0;
}

static int
take_float(struct mpr *r, struct mpv *v, unsigned n)
{
    uint64_t bits;
    if (take_be(r, n, &bits) != 0)
        return FOLIO_E_DECODE;
    v->kind = MPK_FLOAT;
    if (n == 4) {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, sizeof(f));
        v->f = f;
    } else {
        memcpy(&v->f, &bits, sizeof(v->f));
    }
    return 0;
}

int
mpr_next(struct mpr *r, struct mpv *v)
{
    memset(v, 0, sizeof(*v));
    if (r->p >= r->end)
        return FOLIO_E_DECODE;
    uint8_t c = *r->p++;
    if (c <= 0x7f) {
        v->kind = MPK_UINT;
        v->u = c;
        return 0;
    }
    if (c >= 0xe0) {
        v->kind = MPK_INT;
        v->i = (int8_t)c;
        return 0;
    }
    if ((c & 0xe0) == 0xa0) {
        uint32_t n = c & 0x1f;
        if ((size_t)(r->end - r->p) < n)
            return FOLIO_E_DECODE;
        v->kind = MPK_STR;
        v->ptr = r->p;
        v->len = n;
        r->p += n;
        return 0;
    }
    if ((c & 0xf0) == 0x90 || (c & 0xf0) == 0x80) {
        v->kind = (c & 0xf0) == 0x90 ? MPK_ARRAY : MPK_MAP;
        v->len = c & 0x0f;
        return 0;
    }
    switch (c) {
    case 0xc0: v->kind = MPK_NIL; return 0;
    case 0xc2: v->kind = MPK_BOOL; v->b = false; return 0;
    case 0xc3: v->kind = MPK_BOOL; v->b = true; return 0;
    case 0xc4: return take_bytes(r, v, MPK_BIN, 1);
    case 0xc5: return take_bytes(r, v, MPK_BIN, 2);
    case 0xc6: return take_bytes(r, v, MPK_BIN, 4);
    case 0xca: return take_float(r, v, 4);
    case 0xcb: return take_float(r, v, 8);
    case 0xcc: return take_int(r, v, 1, false);
    case 0xcd: return take_int(r, v, 2, false);
    case 0xce: return take_int(r, v, 4, false);
    case 0xcf: return take_int(r, v, 8, false);
    case 0xd0: return take_int(r, v, 1, true);
    case 0xd1: return take_int(r, v, 2, true);
    case 0xd2: return take_int(r, v, 4, true);
    case 0xd3: return take_int(r, v, 8, true);
    case 0xd9: return take_bytes(r, v, MPK_STR, 1);
    case 0xda: return take_bytes(r, v, MPK_STR, 2);
    case 0xdb: return take_bytes(r, v, MPK_STR, 4);
    case 0xdc: return take_count(r, v, MPK_ARRAY, 2);
    case 0xdd: return take_count(r, v, MPK_ARRAY, 4);
    case 0xde: return take_count(r, v, MPK_MAP, 2);
    case 0xdf: return take_count(r, v, MPK_MAP, 4);
    default: return FOLIO_E_DECODE; /* 0xc1 and the ext types */
    }
}

/*
 * Bytes and entries behind the tag c, read from p (at most end - p bytes
 * there): *skip bytes of payload follow, and a container has *entries
 * values (a map twice its pairs). False on 0xc1, ext types and short input.
 */
static inline bool
tag_extent(uint8_t c, const uint8_t *p, const uint8_t *end, uint64_t *skip, uint64_t *entries)
{
    static const uint8_t fixed[32] = {
        /* c0 nil, c1 -, c2/c3 bool, c4-c6 bin (len), c7-c9 ext, ca/cb float, cc-cf uint,
           d0-d3 int, d4-d8 fixext, d9-db str (len), dc/dd array, de/df map */
        0, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 4, 8, 1, 2, 4, 8,
        1, 2, 4, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    *entries = 0;
    if (c <= 0x7f || c >= 0xe0 || (c & 0xe0) == 0xa0) {
        *skip = (c & 0xe0) == 0xa0 ? (uint64_t)(c & 0x1f) : 0;
        return true;
    }
    if (c < 0xc0) {
        *skip = 0;
        *entries = (uint64_t)(c & 0x0f) << ((c & 0xf0) == 0x80); /* fixmap: 2 per pair */
        return true;
    }
    unsigned width;
    switch (c) {
    case 0xc4: case 0xd9: width = 1; break;
    case 0xc5: case 0xda: width = 2; break;
    case 0xc6: case 0xdb: width = 4; break;
    case 0xdc: case 0xde: width = 2; break;
    case 0xdd: case 0xdf: width = 4; break;
    default:
        *skip = fixed[c - 0xc0];
        return *skip != 0xff;
    }
    if ((size_t)(end - p) < width)
        return false;
    uint64_t n = 0;
    for (unsigned i = 0; i < width; i++)
        n = (n << 8) | p[i];
    if (c >= 0xdc) {
        /* Every entry needs at least one byte: a cheap bound on hostile counts. */
        if (n > (uint64_t)(end - p - width))
            return false;
        *skip = width;
        *entries = c >= 0xde ? 2 * n : n;
    } else {
        *skip = width + n;
    }
    return true;
}

/*
 * Skips values straight from the tag bytes (no token is built): this runs
 * over every object of every event and checkpoint, so it is kept lean. It
 * accepts and refuses exactly what mpr_next does.
 */
int
mpr_skip(struct mpr *r, unsigned depth_max)
{
    /* Iterative: a count of values still to skip at each open level. */
    uint64_t pending[MP_DEPTH_MAX + 1];
    unsigned depth = 0;
    const uint8_t *p = r->p, *end = r->end;
    if (depth_max > MP_DEPTH_MAX)
        depth_max = MP_DEPTH_MAX;
    pending[0] = 1;
    for (;;) {
        while (depth > 0 && pending[depth] == 0)
            depth--;
        if (pending[depth] == 0) {
            r->p = p;
            return 0;
        }
        pending[depth]--;
        if (p >= end)
            return FOLIO_E_DECODE;
        uint8_t c = *p;
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
            p++; /* fixint, nil, bool: most of the scalars */
            continue;
        }
        uint64_t skip, entries;
        if (!tag_extent(c, p + 1, end, &skip, &entries) || skip > (uint64_t)(end - p - 1))
            return FOLIO_E_DECODE;
        p += 1 + skip;
        if (!(c >= 0x80 && c <= 0x9f) && c != 0xdc && c != 0xdd && c != 0xde && c != 0xdf)
            continue;
        if (depth + 1 > depth_max)
            return FOLIO_E_DECODE;
        depth++;
        pending[depth] = entries;
    }
}

bool
mp_one_value(const uint8_t *buf, size_t len, unsigned depth_max)
{
    struct mpr r = {buf, buf + len};
    return mpr_skip(&r, depth_max) == 0 && r.p == r.end;
}

/* Width of the big-endian payload of an unsigned (0xcc-0xcf) or signed (0xd0-0xd3) integer tag. */
static inline unsigned
int_width(uint8_t c)
{
    return 1u << (c & 3);
}

static inline uint64_t
load_be(const uint8_t *p, unsigned n)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < n; i++)
        x = (x << 8) | p[i];
    return x;
}

int
mpr_u64_any(struct mpr *r, uint64_t *v)
{
    if (r->p >= r->end)
        return FOLIO_E_DECODE;
    uint8_t c = *r->p;
    if (c >= 0xcc && c <= 0xcf) {
        unsigned n = int_width(c);
        if ((size_t)(r->end - r->p - 1) < n)
            return FOLIO_E_DECODE;
        *v = load_be(r->p + 1, n);
        r->p += 1 + n;
        return 0;
    }
    struct mpv t;
    int rc = mpr_next(r, &t);
    if (rc != 0)
        return rc;
    if (t.kind != MPK_UINT)
        return FOLIO_E_DECODE;
    *v = t.u;
    return 0;
}

int
mpr_i64_any(struct mpr *r, int64_t *v)
{
    struct mpv t;
    int rc = mpr_next(r, &t);
    if (rc != 0)
        return rc;
    if (t.kind == MPK_INT) {
        *v = t.i;
        return 0;
    }
    if (t.kind != MPK_UINT || t.u > (uint64_t)INT64_MAX)
        return FOLIO_E_DECODE;
    *v = (int64_t)t.u;
    return 0;
}

int
mpr_str_any(struct mpr *r, const uint8_t **p, uint32_t *len)
{
    struct mpv t;
    int rc = mpr_next(r, &t);
    if (rc != 0)
        return rc;
    if (t.kind != MPK_STR)
        return FOLIO_E_DECODE;
    *p = t.ptr;
    *len = t.len;
    return 0;
}

int
mpr_str_or_nil(struct mpr *r, const uint8_t **p, uint32_t *len, bool *is_nil)
{
    struct mpv t;
    int rc = mpr_next(r, &t);
    if (rc != 0)
        return rc;
    *is_nil = t.kind == MPK_NIL;
    if (t.kind == MPK_NIL) {
        *p = NULL;
        *len = 0;
        return 0;
    }
    if (t.kind != MPK_STR)
        return FOLIO_E_DECODE;
    *p = t.ptr;
    *len = t.len;
    return 0;
}

int
mpr_bin_any(struct mpr *r, const uint8_t **p, uint32_t *len)
{
    struct mpv t;
    int rc = mpr_next(r, &t);
    if (rc != 0)
        return rc;
    if (t.kind != MPK_BIN)
        return FOLIO_E_DECODE;
    *p = t.ptr;
    *len = t.len;
    return 0;
}

int
mpr_container_any(struct mpr *r, enum mp_kind kind, uint32_t *n)
{
    struct mpv t;
    int rc = mpr_next(r, &t);
    if (rc != 0)
        return rc;
    if (t.kind != kind)
        return FOLIO_E_DECODE;
    *n = t.len;
    return 0;
}
