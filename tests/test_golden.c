/*
 * The golden journal (tests/data/golden-journal/, written once by
 * tests/gen_golden.c and frozen) pins the on-disk format of
 * docs/journal-format.md:
 *
 *  (a) the library reader decodes it to exactly the events below, whose
 *      values are written here by hand (the generator's inputs), including
 *      each event's JSON line;
 *  (b) an independent reader written from docs/journal-format.md alone
 *      (explicit byte offsets, its own XXH3 calls, a hand-rolled msgpack
 *      walk) reaches the same events, frame offsets and timestamps; it also
 *      walks a multi-segment journal (seals, cross-segment chain) written
 *      here by the library, and rejects a damaged copy;
 *  (c) folio_journal_verify and `folio journal verify` accept it, and the
 *      writer can open it and continue the chain.
 *
 * Nothing here opens the checked-in directory itself: every test works on a
 * copy in a temp dir (opening for writing would add LOCK and head files).
 *
 * Frame offsets are not copied from a run: they follow from the encoded
 * event sizes, which are added up below key by key from the encoding rules
 * in the document (fixstr key = 1 + length; an int64 time >= 2^32 = 9 bytes;
 * small non-negative ints are 1-byte fixints).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/event.h"
#include "folio/journal.h"
#include "testutil.h"

#define GOLDEN_DIR FOLIO_TEST_DATA_DIR "/golden-journal"
#define GOLDEN_SEG_NAME "00000000000000000001.seg"

#define T0_NS 1763800000000000000ll /* the fixed clock's start: 2025-11-22T08:26:40Z */
#define STEP_NS 1000000ll           /* one clock call per frame: frame k at T0 + k ms */
#define SEG_BYTES 65536u
#define FRAME_BODY_MAX (SEG_BYTES / 4) /* the default 1 MiB, clamped to a quarter segment */

/* Encoded event lengths: prefix 16, then "key" (1 + len) and value bytes for each key. */
#define EV1_LEN (16 + 5 + 16 + 3 + 9 + 9 + 1 + 5 + 14 + 11 + 1 + 7 + 12 + 9 + 8 + 15)
#define EV2_LEN (16 + 5 + 14 + 3 + 9 + 10 + 1 + 10 + 2 + 7 + 24)
#define EV3_LEN (16 + 5 + 9 + 3 + 9 + 10 + 1 + 5 + 15 + 11 + 1 + 11 + 1)
#define EV4_LEN (16 + 5 + 14 + 3 + 9 + 10 + 7 + 11 + 38 + 12 + 3 + 9 + 1 + 11 + 9)
#define EV5_LEN (16 + 5 + 15 + 3 + 9 + 9 + 1 + 10 + 1 + 12 + 9 + 8 + 31)
#define PAD8(n) (((n) + 7u) & ~7u)
#define FRAME_DISK(body) (64u + PAD8(body))
#define F1_OFF 4096u
#define F2_OFF (F1_OFF + FRAME_DISK(4 + EV1_LEN))
#define F3_OFF (F2_OFF + FRAME_DISK(4 + EV2_LEN + 4 + EV3_LEN))
#define F4_OFF (F3_OFF + FRAME_DISK(4 + EV4_LEN))
#define END_OFF (F4_OFF + FRAME_DISK(4 + EV5_LEN))

struct golden_event {
    uint64_t seq;
    const char *type;
    int64_t at_ns;
    uint32_t frame; /* 1-based frame number */
    uint64_t frame_offset;
    uint32_t len;     /* encoded length */
    const char *keys; /* top-level keys after seq, type, at */
    const char *json; /* folio_event_to_json */
};

static const struct golden_event golden[] = {
    {1, "task_registered", 1763800000000500000ll, 1, F1_OFF, EV1_LEN,
     "task_uid,kind,index_uids,enqueued_at,content",
     "{\"seq\":1,\"type\":\"task_registered\",\"at\":1763800000000500000,\"task_uid\":12,"
     "\"kind\":\"indexCreation\",\"index_uids\":[\"movies\"],\"enqueued_at\":"
     "1763800000000500000,\"content\":{\"primaryKey\":\"id\"}}"},
    {2, "batch_started", 1763800000001500000ll, 2, F2_OFF, EV2_LEN, "batch_uid,task_uids,reason",
     "{\"seq\":2,\"type\":\"batch_started\",\"at\":1763800000001500000,\"batch_uid\":5,"
     "\"task_uids\":[12],\"reason\":\"indexCreation of movies\"}"},
    {3, "progress", 1763800000001600000ll, 2, F2_OFF, EV3_LEN,
     "batch_uid,step,step_index,step_total",
     "{\"seq\":3,\"type\":\"progress\",\"at\":1763800000001600000,\"batch_uid\":5,"
     "\"step\":\"creating index\",\"step_index\":0,\"step_total\":1}"},
    {4, "index_created", 1763800000002500000ll, 3, F3_OFF, EV4_LEN,
     "index_uid,index_uuid,primary_key,task_uid,changed_at",
     "{\"seq\":4,\"type\":\"index_created\",\"at\":1763800000002500000,\"index_uid\":\"movies\","
     "\"index_uuid\":\"5f0c9a52-3b1e-4d7a-9c61-2e8b7f4a0d13\",\"primary_key\":\"id\","
     "\"task_uid\":12,\"changed_at\":1763800000002500000}"},
    {5, "task_succeeded", 1763800000003500000ll, 4, F4_OFF, EV5_LEN,
     "task_uid,batch_uid,finished_at,details",
     "{\"seq\":5,\"type\":\"task_succeeded\",\"at\":1763800000003500000,\"task_uid\":12,"
     "\"batch_uid\":5,\"finished_at\":1763800000003500000,\"details\":{\"indexUid\":\"movies\","
     "\"primaryKey\":\"id\"}}"},
};
#define GOLDEN_EVENTS FOLIO_ARRAY_LEN(golden)
#define GOLDEN_FRAMES 4u

/* {"primaryKey":"id"} and {"indexUid":"movies","primaryKey":"id"} in msgpack. */
static const uint8_t content_bytes[] = {0x81, 0xaa, 'p', 'r', 'i',  'm', 'a', 'r',
                                        'y',  'K',  'e', 'y', 0xa2, 'i', 'd'};
static const uint8_t details_bytes[] = {0x82, 0xa8, 'i', 'n', 'd', 'e', 'x',  'U', 'i', 'd', 0xa6,
                                        'm',  'o',  'v', 'i', 'e', 's', 0xaa, 'p', 'r', 'i', 'm',
                                        'a',  'r',  'y', 'K', 'e', 'y', 0xa2, 'i', 'd'};

/* A copy of the golden journal at <tmp>/journal; returns <tmp> (free it, rmrf it). */
static char *
golden_copy(char **journal_dir)
{
    char *base = tu_mkdtemp("golden");
    *journal_dir = tu_path(base, "journal");
    tu_copy_tree(GOLDEN_DIR, *journal_dir);
    return base;
}

static void
assert_str(struct folio_str s, const char *want)
{
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.ptr, want, s.len);
}

static void
assert_object(struct folio_object o, const uint8_t *want, size_t len)
{
    assert_int_equal(o.len, len);
    assert_memory_equal(o.ptr, want, len);
}

/* Every field of every golden event, by hand. */
static void
check_fields(const struct folio_event *ev)
{
    switch (ev->seq) {
    case 1:
        assert_int_equal(ev->type, FOLIO_EV_TASK_REGISTERED);
        assert_int_equal(ev->u.task_registered.task_uid, 12);
        assert_str(ev->u.task_registered.kind, "indexCreation");
        assert_int_equal(ev->u.task_registered.index_uids.count, 1);
        assert_str(ev->u.task_registered.index_uids.items[0], "movies");
        assert_true(ev->u.task_registered.enqueued_at_ns == 1763800000000500000ll);
        assert_object(ev->u.task_registered.content, content_bytes, sizeof(content_bytes));
        break;
    case 2:
        assert_int_equal(ev->type, FOLIO_EV_BATCH_STARTED);
        assert_int_equal(ev->u.batch_started.batch_uid, 5);
        assert_int_equal(ev->u.batch_started.task_uids.count, 1);
        assert_int_equal(ev->u.batch_started.task_uids.items[0], 12);
        assert_str(ev->u.batch_started.reason, "indexCreation of movies");
        break;
    case 3:
        assert_int_equal(ev->type, FOLIO_EV_PROGRESS);
        assert_int_equal(ev->u.progress.batch_uid, 5);
        assert_str(ev->u.progress.step, "creating index");
        assert_int_equal(ev->u.progress.step_index, 0);
        assert_int_equal(ev->u.progress.step_total, 1);
        break;
    case 4:
        assert_int_equal(ev->type, FOLIO_EV_INDEX_CREATED);
        assert_str(ev->u.index_change.index_uid, "movies");
        assert_str(ev->u.index_change.index_uuid, "5f0c9a52-3b1e-4d7a-9c61-2e8b7f4a0d13");
        assert_str(ev->u.index_change.primary_key, "id");
        assert_int_equal(ev->u.index_change.task_uid, 12);
        assert_true(ev->u.index_change.changed_at_ns == 1763800000002500000ll);
        break;
    case 5:
        assert_int_equal(ev->type, FOLIO_EV_TASK_SUCCEEDED);
        assert_int_equal(ev->u.task_outcome.task_uid, 12);
        assert_int_equal(ev->u.task_outcome.batch_uid, 5);
        assert_true(ev->u.task_outcome.finished_at_ns == 1763800000003500000ll);
        assert_object(ev->u.task_outcome.details, details_bytes, sizeof(details_bytes));
        assert_int_equal(ev->u.task_outcome.error.len, 0);
        assert_int_equal(ev->u.task_outcome.canceled_by, 0);
        break;
    default:
        fail_msg("unexpected seq %llu", (unsigned long long)ev->seq);
    }
}

/* (a) The library reader and decoder give the hand-written events. */
static void
test_golden_library_reader(void **state)
{
    char *jdir, *base = golden_copy(&jdir);
    struct folio_journal_reader *r = NULL;
    struct folio_journal_record rec;
    struct folio_journal_diag d;
    size_t n = 0;
    int err;
    assert_int_equal(folio_journal_reader_open(jdir, 1, 0, &r, &d), 0);
    while ((err = folio_journal_reader_next(r, &rec, &d)) == FOLIO_OK) {
        assert_true(n < GOLDEN_EVENTS);
        const struct golden_event *g = &golden[n++];
        assert_int_equal(rec.seq, g->seq);
        assert_int_equal(rec.len, g->len);
        assert_string_equal(rec.segment, GOLDEN_SEG_NAME);
        assert_int_equal(rec.frame_offset, g->frame_offset);
        assert_true(rec.frame_at_ns == T0_NS + (int64_t)g->frame * STEP_NS);
        struct folio_event ev;
        assert_int_equal(folio_event_decode(rec.data, rec.len, &ev), 0);
        assert_int_equal(ev.seq, g->seq);
        assert_true(ev.at_ns == g->at_ns);
        assert_string_equal(folio_event_type_name(ev.type), g->type);
        check_fields(&ev);
        folio_event_clear(&ev);
        char *json = NULL;
        assert_int_equal(folio_event_to_json(rec.data, rec.len, &json), 0);
        assert_string_equal(json, g->json);
        folio_free(json);
    }
    assert_int_equal(err, FOLIO_E_END);
    assert_int_equal(n, GOLDEN_EVENTS);
    folio_journal_reader_close(r);
    tu_rmrf(base);
    folio_free(base);
    folio_free(jdir);
}

/* ---- (b) an independent reader, from docs/journal-format.md only ---------------- */

static uint16_t
le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint64_t
be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static bool
all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* One event as the independent reader saw it. */
struct ir_event {
    uint64_t seq;
    char type[32];
    int64_t at_ns;
    char keys[160]; /* keys after seq, type, at, comma-separated */
    uint32_t len;
    uint32_t segment; /* index in name order */
    uint64_t frame_offset;
    int64_t frame_at_ns;
};

struct ir {
    struct ir_event ev[512];
    size_t n;
    uint64_t frames, seals, segments;
    uint64_t end_offset; /* end of the last frame in the newest segment */
    int64_t created_ns;  /* first segment's header */
    char why[200];       /* first problem found */
};

/* msgpack: reads a string header at *p; returns its length or -1. */
static long
mp_str(const uint8_t **p, const uint8_t *end)
{
    if (*p >= end)
        return -1;
    uint8_t t = *(*p)++;
    unsigned w = t == 0xd9 ? 1 : t == 0xda ? 2 : t == 0xdb ? 4 : 0;
    uint64_t n = (t & 0xe0) == 0xa0 ? (uint64_t)(t & 0x1f) : 0;
    if ((t & 0xe0) != 0xa0 && w == 0)
        return -1;
    if ((size_t)(end - *p) < w)
        return -1;
    if (w != 0)
        n = be(*p, w);
    *p += w;
    if ((uint64_t)(end - *p) < n)
        return -1;
    return (long)n;
}

/* msgpack: an integer at *p (any width); false if it is not one. */
static bool
mp_int(const uint8_t **p, const uint8_t *end, int64_t *v)
{
    if (*p >= end)
        return false;
    uint8_t t = *(*p)++;
    static const unsigned widths[] = {1, 2, 4, 8};
    if (t <= 0x7f || t >= 0xe0) {
        *v = (int8_t)t;
        *v = t <= 0x7f ? t : *v;
        return true;
    }
    if (t < 0xcc || t > 0xd3)
        return false;
    unsigned w = widths[(t - 0xcc) & 3];
    if ((size_t)(end - *p) < w)
        return false;
    uint64_t u = be(*p, w);
    *p += w;
    if (t <= 0xcf)
        *v = (int64_t)u;
    else
        *v = w == 1 ? (int8_t)u : w == 2 ? (int16_t)u : w == 4 ? (int32_t)u : (int64_t)u;
    return true;
}

/* msgpack: skips one value of any type (containers recursively). */
static bool
mp_skip(const uint8_t **p, const uint8_t *end, int depth)
{
    if (*p >= end || depth > 40)
        return false;
    uint8_t t = **p;
    int64_t iv;
    uint64_t items = 0;
    if (t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xd3))
        return mp_int(p, end, &iv);
    if ((t & 0xe0) == 0xa0 || (t >= 0xd9 && t <= 0xdb)) {
        long n = mp_str(p, end);
        *p += n < 0 ? 0 : n;
        return n >= 0;
    }
    (*p)++;
    if (t == 0xc0 || t == 0xc2 || t == 0xc3)
        return true;
    unsigned w = t == 0xc4                ? 1
                 : t == 0xc5              ? 2
                 : t == 0xc6              ? 4
                 : t == 0xca              ? 4
                 : t == 0xcb              ? 8
                 : t == 0xdc || t == 0xde ? 2
                 : t == 0xdd || t == 0xdf ? 4
                                          : 0;
    if (t >= 0x80 && t <= 0x9f)
        items = (t & 0x0f) * (t <= 0x8f ? 2u : 1u);
    else if (w == 0 || (size_t)(end - *p) < w)
        return false;
    else if (t == 0xca || t == 0xcb) {
        *p += w;
        return true;
    } else if (t >= 0xc4 && t <= 0xc6) {
        uint64_t n = be(*p, w);
        *p += w;
        if ((uint64_t)(end - *p) < n)
            return false;
        *p += n;
        return true;
    } else {
        items = be(*p, w) * (t >= 0xde ? 2u : 1u);
        *p += w;
    }
    for (uint64_t i = 0; i < items; i++)
        if (!mp_skip(p, end, depth + 1))
            return false;
    return true;
}

/* Parses one event: the 16-byte prefix, then every key; type and at are read. */
static bool
ir_event_parse(const uint8_t *b, uint32_t len, struct ir_event *e)
{
    const uint8_t *p = b + 16, *end = b + len;
    if (len < 16 || b[0] != 0xde || memcmp(b + 3, "\xa3seq\xcf", 5) != 0)
        return false;
    uint64_t count = be(b + 1, 2);
    e->seq = be(b + 8, 8);
    e->type[0] = e->keys[0] = '\0';
    for (uint64_t i = 1; i < count; i++) {
        long kl = mp_str(&p, end);
        if (kl < 0)
            return false;
        const char *key = (const char *)p;
        p += kl;
        if (kl == 4 && memcmp(key, "type", 4) == 0) {
            long tl = mp_str(&p, end);
            if (tl < 0 || tl >= (long)sizeof(e->type))
                return false;
            memcpy(e->type, p, (size_t)tl);
            e->type[tl] = '\0';
            p += tl;
        } else if (kl == 2 && memcmp(key, "at", 2) == 0) {
            if (!mp_int(&p, end, &e->at_ns))
                return false;
        } else {
            size_t used = strlen(e->keys);
            snprintf(e->keys + used, sizeof(e->keys) - used, "%s%.*s", used ? "," : "", (int)kl,
                     key);
            if (!mp_skip(&p, end, 0))
                return false;
        }
    }
    return p == end;
}

struct ir_pos {
    uint32_t segment;
    uint64_t salt, next_seq, prev_hash, data_frames, offset;
};

/* The events of one data frame's body: u32 LE length + msgpack event, event_count times. */
static bool
ir_body(struct ir *ir, const struct ir_pos *pos, const uint8_t *f, uint32_t body_len,
        uint32_t count)
{
    const uint8_t *p = f + 64, *end = f + 64 + body_len;
    for (uint32_t i = 0; i < count; i++) {
        struct ir_event *e = &ir->ev[ir->n];
        if (ir->n == FOLIO_ARRAY_LEN(ir->ev) || end - p < 4 || le32(p) > (size_t)(end - p - 4))
            return false;
        e->len = le32(p);
        if (!ir_event_parse(p + 4, e->len, e) || e->seq != pos->next_seq + i)
            return false;
        e->segment = pos->segment;
        e->frame_offset = pos->offset;
        e->frame_at_ns = (int64_t)le64(f + 40);
        ir->n++;
        p += 4 + e->len;
    }
    return p == end;
}

/* Checks the frame at pos->offset; 1 = data frame, 2 = seal, 0 = clean end, -1 = bad. */
static int
ir_frame(struct ir *ir, struct ir_pos *pos, const uint8_t *seg, uint64_t size)
{
    const uint8_t *f = seg + pos->offset;
    if (pos->offset + 64 > size || all_zero(f, 64))
        return 0;
    uint32_t body_len = le32(f + 8), count = le32(f + 12);
    uint16_t flags = le16(f + 6);
    uint64_t disk = 64 + ((body_len + 7ull) & ~7ull);
    if (le32(f) != 0x31464A46u || memcmp(f, "FJF1", 4) != 0 || le64(f + 56) != XXH3_64bits(f, 56) ||
        le16(f + 4) != 1 || (flags & ~1u) != 0 || le64(f + 32) != pos->salt ||
        le64(f + 16) != pos->next_seq || le64(f + 24) != pos->prev_hash ||
        pos->offset + disk > size || le64(f + 48) != XXH3_64bits(f + 64, body_len) ||
        !all_zero(f + 64 + body_len, disk - 64 - body_len))
        return -1;
    if (flags & 1u) {
        if (count != 0 || body_len != 24 || le64(f + 64) != pos->next_seq - 1 ||
            le64(f + 72) != pos->data_frames || le64(f + 80) != pos->offset)
            return -1;
    } else if (count == 0 || !ir_body(ir, pos, f, body_len, count)) {
        return -1;
    }
    pos->offset += disk;
    pos->next_seq += count;
    pos->prev_hash = le64(f + 56);
    pos->data_frames += (flags & 1u) ? 0 : 1;
    ir->frames++;
    return (flags & 1u) ? 2 : 1;
}

/* Checks a segment header against the chain so far and positions pos after it. */
static bool
ir_header(struct ir *ir, struct ir_pos *pos, const uint8_t *h, uint64_t size, uint64_t name_seq,
          uint8_t uid[16])
{
    if (size < 4096 || memcmp(h, "FOLIOSEG", 8) != 0 || le64(h + 4088) != XXH3_64bits(h, 4088) ||
        le16(h + 8) != 1 || le16(h + 10) != 4096 || !all_zero(h + 80, 4088 - 80) ||
        le64(h + 48) != name_seq || le64(h + 72) < size)
        return false;
    if (pos->segment == 0) {
        memcpy(uid, h + 16, 16);
        pos->next_seq = le64(h + 48);
        pos->prev_hash = le64(h + 56);
        ir->created_ns = (int64_t)le64(h + 64);
    } else if (memcmp(uid, h + 16, 16) != 0 || le64(h + 32) != pos->segment ||
               le64(h + 48) != pos->next_seq || le64(h + 56) != pos->prev_hash) {
        return false;
    }
    pos->salt = le64(h + 40);
    pos->offset = 4096;
    pos->data_frames = 0;
    return true;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Segment file names in dir (<20 digits>.seg), sorted; the 20-digit names sort as numbers. */
static size_t
ir_list(const char *dir, char *names[], size_t max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".seg") == 0 && n < max)
            names[n++] = folio_strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_names);
    return n;
}

/* One segment: header, frames, then nothing but zeros. */
static bool
ir_segment(struct ir *ir, struct ir_pos *pos, const uint8_t *seg, size_t size, bool newest)
{
    int r;
    while ((r = ir_frame(ir, pos, seg, size)) == 1)
        ;
    if (r < 0) {
        snprintf(ir->why, sizeof(ir->why), "bad frame at segment %u offset %llu", pos->segment,
                 (unsigned long long)pos->offset);
        return false;
    }
    ir->seals += r == 2;
    if (!all_zero(seg + pos->offset, size - pos->offset) || (r == 0 && !newest) ||
        (!newest && size != le64(seg + 72))) {
        snprintf(ir->why, sizeof(ir->why), "bad segment end at segment %u offset %llu",
                 pos->segment, (unsigned long long)pos->offset);
        return false;
    }
    ir->end_offset = pos->offset;
    return true;
}

/* Reads the whole journal in dir; false (ir->why) at the first problem. */
static bool
ir_read(const char *dir, struct ir *ir)
{
    char *names[64];
    size_t count = ir_list(dir, names, FOLIO_ARRAY_LEN(names));
    struct ir_pos pos = {0};
    uint8_t uid[16];
    bool ok = count > 0;
    memset(ir, 0, sizeof(*ir));
    for (size_t i = 0; i < count && ok; i++) {
        char *path = tu_path(dir, names[i]);
        size_t size = 0;
        uint8_t *seg = tu_read_file(path, &size);
        pos.segment = (uint32_t)i;
        ok = seg != NULL && ir_header(ir, &pos, seg, size, strtoull(names[i], NULL, 10), uid);
        if (!ok)
            snprintf(ir->why, sizeof(ir->why), "bad header in %s", names[i]);
        else
            ok = ir_segment(ir, &pos, seg, size, i + 1 == count);
        ir->segments++;
        folio_free(seg);
        folio_free(path);
    }
    for (size_t i = 0; i < count; i++)
        folio_free(names[i]);
    return ok;
}

/* (b) The independent reader finds the golden events where the document says they are. */
static void
test_golden_independent_reader(void **state)
{
    char *jdir, *base = golden_copy(&jdir);
    struct ir *ir = folio_calloc(1, sizeof(*ir));
    bool ok = ir_read(jdir, ir);
    if (!ok)
        fprintf(stderr, "independent reader: %s\n", ir->why);
    assert_true(ok);
    assert_true(ir->created_ns == T0_NS); /* the first clock call: segment creation */
    assert_int_equal(ir->segments, 1);
    assert_int_equal(ir->frames, GOLDEN_FRAMES);
    assert_int_equal(ir->seals, 0);
    assert_int_equal(ir->end_offset, END_OFF);
    assert_int_equal(ir->n, GOLDEN_EVENTS);
    for (size_t i = 0; i < GOLDEN_EVENTS; i++) {
        const struct golden_event *g = &golden[i];
        assert_int_equal(ir->ev[i].seq, g->seq);
        assert_string_equal(ir->ev[i].type, g->type);
        assert_true(ir->ev[i].at_ns == g->at_ns);
        assert_string_equal(ir->ev[i].keys, g->keys);
        assert_int_equal(ir->ev[i].len, g->len);
        assert_int_equal(ir->ev[i].frame_offset, g->frame_offset);
        assert_true(ir->ev[i].frame_at_ns == T0_NS + (int64_t)g->frame * STEP_NS);
    }
    /* The checked-in directory holds the segment and nothing a writer would add. */
    char *golden_names[4];
    assert_int_equal(ir_list(GOLDEN_DIR, golden_names, 4), 1);
    folio_free(golden_names[0]);
    assert_int_equal(access(GOLDEN_DIR "/LOCK", F_OK), -1);
    assert_int_equal(access(GOLDEN_DIR "/head", F_OK), -1);

    /* Header fields the reader does not need but the document names. */
    char *seg_path = tu_path(jdir, GOLDEN_SEG_NAME);
    size_t size;
    uint8_t *seg = tu_read_file(seg_path, &size);
    assert_int_equal(size, SEG_BYTES);
    assert_int_equal(le64(seg + 72), SEG_BYTES);
    assert_int_equal(le32(seg + 12), FRAME_BODY_MAX);
    assert_int_equal(le64(seg + 32), 0);          /* segment number */
    assert_int_equal(le64(seg + 56), 0);          /* prev hash of the first segment */
    assert_int_equal(le64(seg + F1_OFF + 24), 0); /* first frame links to it */
    assert_int_equal(le64(seg + F2_OFF + 24), le64(seg + F1_OFF + 56));
    folio_free(seg);
    folio_free(seg_path);
    folio_free(ir);
    tu_rmrf(base);
    folio_free(base);
    folio_free(jdir);
}

/* (b) ...and reads a multi-segment journal (seals, cross-segment chain) as the library does. */
static void
test_independent_reader_multi_segment(void **state)
{
    char *dir = tu_mkdtemp("golden-multi");
    struct folio_journal_opts o;
    struct folio_journal *j = NULL;
    folio_journal_opts_default(&o);
    o.segment_bytes = SEG_BYTES;
    o.create = true;
    assert_int_equal(folio_journal_open(dir, &o, &j, NULL, NULL), 0);
    /* tu_make_event tops out near 600 bytes: 200 events fill about two 64 KiB segments. */
    for (uint64_t i = 1; i <= 150; i++) {
        size_t len0, len1;
        uint8_t *e0 = tu_make_event(i, 400 + i, &len0), *e1 = tu_make_event(i, 90, &len1);
        struct folio_journal_entry es[2] = {{e0, len0}, {e1, len1}};
        assert_int_equal(folio_journal_append(j, es, i % 3 == 0 ? 2 : 1, NULL), 0);
        folio_free(e0);
        folio_free(e1);
    }
    folio_journal_close(j);

    struct ir *ir = folio_calloc(1, sizeof(*ir));
    bool ok = ir_read(dir, ir);
    if (!ok)
        fprintf(stderr, "independent reader: %s\n", ir->why);
    assert_true(ok);
    assert_true(ir->segments >= 2);
    assert_int_equal(ir->seals, ir->segments - 1);
    assert_int_equal(ir->n, 200);

    struct folio_journal_reader *r = NULL;
    struct folio_journal_record rec;
    char *names[64];
    size_t count = ir_list(dir, names, FOLIO_ARRAY_LEN(names)), n = 0;
    assert_int_equal(folio_journal_reader_open(dir, 1, 0, &r, NULL), 0);
    while (folio_journal_reader_next(r, &rec, NULL) == FOLIO_OK) {
        assert_true(n < ir->n);
        assert_int_equal(ir->ev[n].seq, rec.seq);
        assert_int_equal(ir->ev[n].frame_offset, rec.frame_offset);
        assert_string_equal(names[ir->ev[n].segment], rec.segment);
        assert_string_equal(ir->ev[n].type, "task_registered");
        n++;
    }
    assert_int_equal(n, ir->n);
    folio_journal_reader_close(r);
    for (size_t i = 0; i < count; i++)
        folio_free(names[i]);
    folio_free(ir);
    tu_rmrf(dir);
    folio_free(dir);
}

/* The independent reader is a real check: one flipped body byte in frame 2 stops it there. */
static void
test_independent_reader_rejects_damage(void **state)
{
    char *jdir, *base = golden_copy(&jdir);
    char *seg_path = tu_path(jdir, GOLDEN_SEG_NAME);
    size_t size;
    uint8_t *seg = tu_read_file(seg_path, &size);
    seg[F2_OFF + 64 + 20] ^= 0x01;
    tu_write_file(seg_path, seg, size);
    struct ir *ir = folio_calloc(1, sizeof(*ir));
    assert_false(ir_read(jdir, ir));
    char want[100];
    snprintf(want, sizeof(want), "segment 0 offset %u", F2_OFF);
    assert_non_null(strstr(ir->why, want));
    assert_int_equal(ir->n, 1);

    char cmd[4200], *out = NULL;
    snprintf(cmd, sizeof(cmd), "'%s' journal verify '%s' 2>&1", FOLIO_CLI_PATH, jdir);
    assert_int_equal(tu_system(cmd, &out), 1);
    snprintf(want, sizeof(want), "segment %s offset %u seq 2:", GOLDEN_SEG_NAME, F2_OFF);
    assert_non_null(strstr(out, want));
    folio_free(out);
    folio_free(ir);
    folio_free(seg);
    folio_free(seg_path);
    tu_rmrf(base);
    folio_free(base);
    folio_free(jdir);
}

/* (c) verify accepts the golden journal, through the API and the CLI (both DIR forms). */
static void
test_golden_verify(void **state)
{
    char *jdir, *base = golden_copy(&jdir);
    struct folio_journal_verify_info info;
    struct folio_journal_diag d;
    assert_int_equal(folio_journal_verify(jdir, &info, &d), 0);
    assert_int_equal(info.segments, 1);
    assert_int_equal(info.sealed_segments, 0);
    assert_int_equal(info.frames, GOLDEN_FRAMES);
    assert_int_equal(info.events, GOLDEN_EVENTS);
    assert_int_equal(info.first_seq, 1);
    assert_int_equal(info.last_seq, 5);
    assert_true(info.first_at_ns == T0_NS + STEP_NS);
    assert_true(info.last_at_ns == T0_NS + 4 * STEP_NS);
    assert_int_equal(info.bytes_used, END_OFF);
    assert_int_equal(info.bytes_total, SEG_BYTES);

    const char *dirs[] = {jdir, base}; /* the journal dir, and the data dir holding journal/ */
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(dirs); i++) {
        char cmd[4200], *out = NULL;
        snprintf(cmd, sizeof(cmd), "'%s' journal verify '%s'", FOLIO_CLI_PATH, dirs[i]);
        assert_int_equal(tu_system(cmd, &out), 0);
        assert_non_null(strstr(out, "status: ok"));
        assert_non_null(strstr(out, "events: 5 (seq 1..5)"));
        assert_non_null(strstr(out, "first: seq 1 committed 2025-11-22T08:26:40.001000000Z"));
        folio_free(out);
    }
    tu_rmrf(base);
    folio_free(base);
    folio_free(jdir);
}

/* (c) A writer opens the golden journal and continues its chain after the last frame. */
static void
test_golden_writer_continues(void **state)
{
    char *jdir, *base = golden_copy(&jdir);
    struct folio_journal *j = NULL;
    struct folio_journal_opts o;
    struct folio_journal_open_info oi;
    folio_journal_opts_default(&o);
    o.segment_bytes = SEG_BYTES;
    assert_int_equal(folio_journal_open(jdir, &o, &j, &oi, NULL), 0);
    assert_false(oi.recovered);
    assert_int_equal(oi.last_seq, 5);
    size_t len;
    uint8_t *ev = tu_make_event(13, 120, &len);
    struct folio_journal_entry e = {ev, len};
    uint64_t seq = 0;
    assert_int_equal(folio_journal_append(j, &e, 1, &seq), 0);
    assert_int_equal(seq, 6);
    folio_journal_close(j);
    folio_free(ev);

    struct ir *ir = folio_calloc(1, sizeof(*ir));
    assert_true(ir_read(jdir, ir));
    assert_int_equal(ir->n, 6);
    assert_int_equal(ir->ev[5].frame_offset, END_OFF);
    struct folio_journal_verify_info info;
    assert_int_equal(folio_journal_verify(jdir, &info, NULL), 0);
    assert_int_equal(info.events, 6);
    folio_free(ir);
    tu_rmrf(base);
    folio_free(base);
    folio_free(jdir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_library_reader),
        cmocka_unit_test(test_golden_independent_reader),
        cmocka_unit_test(test_independent_reader_multi_segment),
        cmocka_unit_test(test_independent_reader_rejects_damage),
        cmocka_unit_test(test_golden_verify),
        cmocka_unit_test(test_golden_writer_continues),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
