/*
 * The checkpoint file format, pinned: a small fixed history is replayed and
 * checkpointed, and the file is read back with this test's own code,
 * following docs/scheduler.md only: header fields at their documented
 * offsets (little-endian), the checksum recomputed as documented, the frame
 * hash compared with the journal's, the state hash with XXH3-64 of the
 * body, and the body decoded with msgpack-c (an independent decoder) into
 * the documented layout. The body bytes are also compared with the worked
 * example of docs/scheduler.md (GOLDEN_BODY below), so a change of the
 * canonical serialisation cannot go unnoticed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>
#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/journal.h"
#include "folio/sched.h"
#include "testutil.h"

/* The body of the worked example in docs/scheduler.md ("Worked example"). */
static const char GOLDEN_BODY[] =
    "88a6666f726d6174b1666f6c696f2d73636865642d7374617465a776657273696f6e01a86c6173745f736571"
    "05ad6e6578745f7461736b5f75696402ae6e6578745f62617463685f75696401a57461736b73929c00ad696e"
    "6465784372656174696f6ea973756363656564656491a5626f6f6b7300c0cd03e8cd07d0cd0bb8c41181aa70"
    "72696d6172794b6579a46973626ec41181aa7072696d6172794b6579a46973626ec09c01b0646f63756d656e"
    "7444656c6574696f6ea8656e71756575656491a5626f6f6b73c0c0cd0dacc0c0c40881a5636c656172c3c0c0"
    "a762617463686573919c00b362617463686564206279206f6e65207461736bcd07d0c3cd0bb8cd03e8cd03e8"
    "900181a97375636365656465640181ad696e6465784372656174696f6e019192a5626f6f6b7301a7696e6465"
    "7865739199a5626f6f6b73d92430303030303030302d303030302d343030302d383030302d30303030303030"
    "3030303031a46973626ecd09c4cd09c4c2c000c0";

static void
append(struct folio_journal *j, struct folio_event *ev, int64_t at)
{
    uint8_t *buf;
    size_t len;
    ev->at_ns = at;
    assert_int_equal(folio_event_encode(ev, &buf, &len), 0);
    struct folio_journal_entry e = {buf, len};
    assert_int_equal(folio_journal_append(j, &e, 1, NULL), 0);
    folio_free(buf);
}

static struct folio_object
content(const struct folio_task_content *c, uint8_t **keep)
{
    size_t len;
    assert_int_equal(folio_task_content_encode(c, keep, &len), 0);
    return (struct folio_object){*keep, (uint32_t)len};
}

/* The history of the worked example: create `books`, then a clear left enqueued. */
static void
write_history(const char *dir)
{
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.segment_bytes = 64 * 1024;
    o.create = true;
    struct folio_journal *j = NULL;
    assert_int_equal(folio_journal_open(dir, &o, &j, NULL, NULL), 0);
    uint8_t *c0, *c1, *det;
    size_t det_len;
    struct folio_str books = folio_str_c("books");
    struct folio_task_content c = {.kind = FOLIO_KIND_INDEX_CREATION, .primary_key = folio_str_c("isbn")};
    struct folio_event ev = {.type = FOLIO_EV_TASK_REGISTERED};
    ev.u.task_registered = (struct folio_ev_task_registered){
        0, folio_str_c("indexCreation"), {&books, 1}, 1000, content(&c, &c0)};
    append(j, &ev, 1000);
    uint64_t t0 = 0;
    ev = (struct folio_event){.type = FOLIO_EV_BATCH_STARTED};
    ev.u.batch_started = (struct folio_ev_batch_started){0, {&t0, 1}, folio_str_c("batched by one task")};
    append(j, &ev, 2000);
    ev = (struct folio_event){.type = FOLIO_EV_INDEX_CREATED};
    ev.u.index_change = (struct folio_ev_index_change){
        books, folio_str_c("00000000-0000-4000-8000-000000000001"), folio_str_c("isbn"), 0, 2500};
    append(j, &ev, 2500);
    struct folio_task_details d = {.present = 1ull << FOLIO_DETAIL_PRIMARY_KEY,
                                   .primary_key = folio_str_c("isbn")};
    assert_int_equal(folio_task_details_encode(FOLIO_KIND_INDEX_CREATION, &d, &det, &det_len), 0);
    ev = (struct folio_event){.type = FOLIO_EV_TASK_SUCCEEDED};
    ev.u.task_outcome.task_uid = 0;
    ev.u.task_outcome.finished_at_ns = 3000;
    ev.u.task_outcome.details = (struct folio_object){det, (uint32_t)det_len};
    append(j, &ev, 3000);
    c = (struct folio_task_content){.kind = FOLIO_KIND_DOCUMENT_DELETION, .clear = true};
    ev = (struct folio_event){.type = FOLIO_EV_TASK_REGISTERED};
    ev.u.task_registered = (struct folio_ev_task_registered){
        1, folio_str_c("documentDeletion"), {&books, 1}, 3500, content(&c, &c1)};
    append(j, &ev, 3500);
    folio_journal_close(j);
    folio_free(c0);
    folio_free(c1);
    folio_free(det);
}

static uint64_t
frame_hash_of(const char *jdir, uint64_t seq)
{
    struct folio_journal_reader *r = NULL;
    struct folio_journal_record rec;
    assert_int_equal(folio_journal_reader_open(jdir, seq, 0, &r, NULL), 0);
    assert_int_equal(folio_journal_reader_next(r, &rec, NULL), 0);
    assert_int_equal(rec.seq, seq);
    uint64_t h = rec.frame_hash;
    folio_journal_reader_close(r);
    return h;
}

static char *
hex(const uint8_t *p, size_t n)
{
    char *s = folio_malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", p[i]);
    return s;
}

/* Decodes the body with msgpack-c and checks the documented layout, key by key. */
static void
check_body_layout(const uint8_t *body, size_t len)
{
    msgpack_unpacked r;
    msgpack_unpacked_init(&r);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&r, (const char *)body, len, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, len);
    msgpack_object m = r.data;
    assert_int_equal(m.type, MSGPACK_OBJECT_MAP);
    assert_int_equal(m.via.map.size, 8);
    static const char *const keys[8] = {"format", "version", "last_seq", "next_task_uid",
                                        "next_batch_uid", "tasks", "batches", "indexes"};
    for (int i = 0; i < 8; i++) {
        msgpack_object k = m.via.map.ptr[i].key;
        assert_int_equal(k.type, MSGPACK_OBJECT_STR);
        assert_int_equal(k.via.str.size, strlen(keys[i]));
        assert_memory_equal(k.via.str.ptr, keys[i], k.via.str.size);
    }
    assert_int_equal(m.via.map.ptr[2].val.via.u64, 5);   /* last_seq */
    assert_int_equal(m.via.map.ptr[3].val.via.u64, 2);   /* next_task_uid */
    assert_int_equal(m.via.map.ptr[4].val.via.u64, 1);   /* next_batch_uid */
    msgpack_object tasks = m.via.map.ptr[5].val;
    assert_int_equal(tasks.via.array.size, 2);
    msgpack_object t0 = tasks.via.array.ptr[0];
    assert_int_equal(t0.via.array.size, 12);
    assert_memory_equal(t0.via.array.ptr[2].via.str.ptr, "succeeded", 9);
    assert_int_equal(t0.via.array.ptr[4].via.u64, 0);      /* batch uid */
    assert_int_equal(t0.via.array.ptr[5].type, MSGPACK_OBJECT_NIL); /* canceledBy */
    assert_int_equal(t0.via.array.ptr[6].via.u64, 1000);   /* enqueued */
    assert_int_equal(t0.via.array.ptr[7].via.u64, 2000);   /* started = batch start */
    assert_int_equal(t0.via.array.ptr[8].via.u64, 3000);   /* finished */
    assert_int_equal(t0.via.array.ptr[9].type, MSGPACK_OBJECT_BIN);
    assert_int_equal(t0.via.array.ptr[11].type, MSGPACK_OBJECT_NIL); /* no error */
    msgpack_object b0 = m.via.map.ptr[6].val.via.array.ptr[0];
    assert_int_equal(b0.via.array.size, 12);
    assert_int_equal(b0.via.array.ptr[3].type, MSGPACK_OBJECT_BOOLEAN); /* finished */
    assert_true(b0.via.array.ptr[3].via.boolean);
    msgpack_object ix = m.via.map.ptr[7].val.via.array.ptr[0];
    assert_int_equal(ix.via.array.size, 9);
    assert_int_equal(ix.via.array.ptr[1].via.str.size, 36);
    msgpack_unpacked_destroy(&r);
}

static void
test_checkpoint_format(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sched-format");
    char *jdir = tu_path(dir, "journal"), *cdir = tu_path(dir, "checkpoints");
    write_history(jdir);
    struct folio_sched_state *s = NULL;
    assert_int_equal(folio_sched_state_replay(jdir, NULL, &s, NULL, NULL), 0);
    char name[64];
    assert_int_equal(folio_sched_checkpoint_write(cdir, jdir, s, name, sizeof(name), NULL), 0);
    assert_string_equal(name, "ckpt-00000000000000000005.bin");
    char *path = tu_path(cdir, name);
    size_t len;
    uint8_t *f = tu_read_file(path, &len);
    assert_non_null(f);
    assert_true(len > 64);
    /* header: offsets and meaning as documented, little-endian */
    assert_memory_equal(f, "FOLIOCKP", 8);
    assert_int_equal(folio_load_le16(f + 8), 1);
    assert_int_equal(folio_load_le16(f + 10), 64);
    assert_int_equal(folio_load_le32(f + 12), 0);
    assert_int_equal(folio_load_le64(f + 16), 5);
    assert_int_equal(folio_load_le64(f + 24), frame_hash_of(jdir, 5));
    assert_int_equal(folio_load_le64(f + 32), XXH3_64bits(f + 64, len - 64));
    assert_int_equal(folio_load_le64(f + 32), folio_sched_state_hash(s));
    assert_int_equal(folio_load_le64(f + 40), len - 64);
    assert_int_equal(folio_load_le64(f + 48), 0);
    XXH3_state_t *st = XXH3_createState();
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, f, 56);
    XXH3_64bits_update(st, f + 64, len - 64);
    assert_int_equal(folio_load_le64(f + 56), XXH3_64bits_digest(st));
    XXH3_freeState(st);
    check_body_layout(f + 64, len - 64);
    char *body_hex = hex(f + 64, len - 64);
    if (strcmp(body_hex, GOLDEN_BODY) != 0) {
        fprintf(stderr, "body:\n%s\n", body_hex);
        fail_msg("the canonical serialisation changed: update docs/scheduler.md and GOLDEN_BODY");
    }
    folio_free(body_hex);
    folio_free(f);
    folio_free(path);
    folio_sched_state_free(s);
    tu_rmrf(dir);
    folio_free(dir);
    folio_free(jdir);
    folio_free(cdir);
}

/*
 * A checkpoint whose checksum and state hash were recomputed after a change
 * reaches the body decoder: every single-bit flip and every truncation of
 * the body must load as some valid state or be refused as corrupt, never
 * crash or read out of bounds (ASan).
 */
static void
test_body_mutations(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("sched-mutate");
    char *jdir = tu_path(dir, "journal"), *cdir = tu_path(dir, "checkpoints");
    write_history(jdir);
    struct folio_sched_state *s = NULL;
    assert_int_equal(folio_sched_state_replay(jdir, NULL, &s, NULL, NULL), 0);
    char name[64];
    assert_int_equal(folio_sched_checkpoint_write(cdir, jdir, s, name, sizeof(name), NULL), 0);
    folio_sched_state_free(s);
    char *path = tu_path(cdir, name), *mut = tu_path(dir, "mutant.bin");
    size_t len;
    uint8_t *orig = tu_read_file(path, &len);
    uint8_t *f = folio_malloc(len);
    unsigned loaded = 0, refused = 0;
    for (size_t cut = 64; cut <= len; cut++) {
        for (size_t bit = 0; bit < (cut == len ? (len - 64) * 8 : 1); bit++) {
            memcpy(f, orig, len);
            if (cut == len)
                f[64 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
            folio_store_le64(f + 32, XXH3_64bits(f + 64, cut - 64));
            folio_store_le64(f + 40, cut - 64);
            XXH3_state_t *st = XXH3_createState();
            XXH3_64bits_reset(st);
            XXH3_64bits_update(st, f, 56);
            XXH3_64bits_update(st, f + 64, cut - 64);
            folio_store_le64(f + 56, XXH3_64bits_digest(st));
            XXH3_freeState(st);
            unlink(mut); /* not truncate-and-rewrite: ext4 would flush it on close */
            tu_write_file(mut, f, cut);
            struct folio_sched_diag d;
            int rc = folio_sched_checkpoint_read(mut, &s, NULL, &d);
            assert_true(rc == 0 || rc == FOLIO_E_CORRUPT);
            if (rc == 0) {
                loaded++;
                folio_sched_state_free(s);
            } else {
                refused++;
            }
        }
    }
    fprintf(stderr, "mutants: %u loaded as another valid state, %u refused\n", loaded, refused);
    assert_true(refused > 0 && loaded > 0);
    folio_free(f);
    folio_free(orig);
    folio_free(path);
    folio_free(mut);
    tu_rmrf(dir);
    folio_free(dir);
    folio_free(jdir);
    folio_free(cdir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_format),
        cmocka_unit_test(test_body_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
