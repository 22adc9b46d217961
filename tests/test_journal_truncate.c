/*
 * Torn tails, byte by byte (journal-anchors.md §10 tests 1 and 2).
 *
 * A journal of three segments whose newest one ends in three frames of
 * different sizes (the middle one holds four events). For every byte offset
 * from the start of the third-to-last frame to the end of the last one, the
 * newest segment is
 *   - cut short there (ftruncate),
 *   - zeroed from there to its end (what a pre-zeroed file shows after a torn
 *     write), and, inside the last frame,
 *   - overwritten from there with random garbage,
 * and each time verify, a reader and open must agree with what the design
 * says recovery does: keep exactly the frames that are intact, quarantine
 * exactly the damaged bytes, append a journal_recovered event that says so,
 * and leave a journal that takes appends and verifies clean.
 *
 * Then the same for a newest segment that ends in its seal (a crash between
 * sealing and installing the next segment): cutting the file after or inside
 * the seal must not leave a journal that verifies clean now and corrupt
 * after the next roll.
 *
 * The expected verdict for each trial comes from jt_expect_newest(), which
 * compares the damaged image with the pristine one frame by frame.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jtest.h"

struct fixture {
    char *dir;
    struct jt_snap snap;    /* pristine segment files */
    int newest;             /* index of the newest segment in snap */
    struct jt_frame fr[64]; /* frames of the newest segment */
    int nfr;
    struct jt_recs events; /* pristine events */
    uint64_t seq_before;   /* last seq before the newest segment */
};

static struct fixture fx;

/* Three segments; the newest ends in frames of 333 B, 4 events, and 777 B. */
static void
build_journal(const char *dir)
{
    struct folio_journal *j = NULL;
    assert_int_equal(jt_open(dir, true, &j, NULL, NULL), 0);
    uint64_t uid = 1;
    /* Big single-event frames fill two segments quickly; 16 KiB ones force the rolls. */
    for (int i = 0; i < 3; i++)
        jt_append_n(j, uid++, 1, 15000);
    jt_append_n(j, uid++, 1, 16300);
    for (int i = 0; i < 2; i++)
        jt_append_n(j, uid++, 1, 15000);
    jt_append_n(j, uid++, 1, 16300);
    jt_append_n(j, uid++, 1, 180);
    jt_append_n(j, uid++, 1, 333);
    static const size_t sizes[4] = {150, 211, 260, 301};
    struct folio_journal_entry e[4];
    uint8_t *bufs[4];
    for (int i = 0; i < 4; i++) {
        size_t len;
        bufs[i] = jt_make_event(uid++, sizes[i], &len);
        e[i] = (struct folio_journal_entry){bufs[i], len};
    }
    assert_int_equal(folio_journal_append(j, e, 4, NULL), 0);
    for (int i = 0; i < 4; i++)
        folio_free(bufs[i]);
    jt_append_n(j, uid++, 1, 777);
    folio_journal_close(j);
}

static int
setup(void **state)
{
    (void)state;
    fx.dir = jt_mkdtemp("jtrunc");
    build_journal(fx.dir);
    jt_snap_take(fx.dir, &fx.snap);
    assert_int_equal(fx.snap.n, 3);
    fx.newest = fx.snap.n - 1;
    const struct jt_file *nf = &fx.snap.f[fx.newest];
    assert_int_equal(nf->len, JT_SEG_BYTES);
    fx.nfr = jt_parse_frames(nf->data, nf->len, fx.fr, 64);
    assert_true(fx.nfr >= 4);
    const struct jt_frame *a = &fx.fr[fx.nfr - 3], *b = &fx.fr[fx.nfr - 2], *c = &fx.fr[fx.nfr - 1];
    /* The construction above must have given what the test is about. */
    assert_int_equal(a->count, 1);
    assert_int_equal(b->count, 4);
    assert_int_equal(c->count, 1);
    assert_true(a->disk != b->disk && b->disk != c->disk && a->disk != c->disk);
    assert_true(c->body_len % 8 != 0 || a->body_len % 8 != 0 || b->body_len % 8 != 0);
    fx.seq_before = fx.fr[0].first_seq - 1;
    assert_int_equal(jt_read_all(fx.dir, &fx.events), 0);
    assert_int_equal(fx.events.n, c->first_seq);
    /* The reader's frame offsets match the headers parsed here. */
    for (size_t i = 0; i < fx.events.n; i++) {
        const struct jt_rec *r = &fx.events.r[i];
        assert_int_equal(r->seq, i + 1);
        if (strcmp(r->segment, nf->name) != 0)
            continue;
        bool found = false;
        for (int k = 0; k < fx.nfr; k++)
            found = found || (fx.fr[k].off == r->frame_offset && r->seq >= fx.fr[k].first_seq &&
                              r->seq < fx.fr[k].first_seq + fx.fr[k].count);
        assert_true(found);
    }
    assert_int_equal(folio_journal_verify(fx.dir, NULL, NULL), 0);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    jt_recs_free(&fx.events);
    jt_snap_free(&fx.snap);
    tu_rmrf(fx.dir);
    folio_free(fx.dir);
    return 0;
}

/* A reader over the damaged journal returns the kept events, then stops as it should. */
static void
check_reader(const struct jt_expect *ex, struct jt_fails *fails, const char *label)
{
    struct jt_recs rs;
    jt_read_all(fx.dir, &rs);
    JT_CHECK(fails, rs.n == ex->k, "%s: reader returned %zu events before stopping, expected %llu",
             label, rs.n, (unsigned long long)ex->k);
    for (size_t i = 0; i < rs.n && i < fx.events.n; i++)
        JT_CHECK(fails, jt_rec_equal(&rs.r[i], &fx.events.r[i]), "%s: reader event %zu differs",
                 label, i + 1);
    /* A cut exactly at a frame boundary drops no byte: the reader may see a plain end. */
    bool ok = rs.end_err == (ex->status == 0 ? FOLIO_E_END : ex->status) ||
              (ex->status == FOLIO_E_TORN_TAIL && ex->dropped == 0 && rs.end_err == FOLIO_E_END);
    JT_CHECK(fails, ok, "%s: reader ended with %s, expected %s", label, folio_err_name(rs.end_err),
             folio_err_name(ex->status));
    jt_recs_free(&rs);
}

/* Installs img as the newest segment, checks everything, restores the journal. */
static void
trial(const uint8_t *img, size_t len, bool with_reader, struct jt_fails *fails, const char *label)
{
    const struct jt_file *nf = &fx.snap.f[fx.newest];
    char p[4096];
    jt_join(p, sizeof(p), fx.dir, nf->name);
    assert_int_equal(jt_write_whole(p, img, len), 0);
    struct jt_expect ex;
    jt_expect_newest(nf->data, nf->len, fx.fr, fx.nfr, fx.seq_before, img, len, &ex);
    if (with_reader)
        check_reader(&ex, fails, label);
    jt_check_damaged(fx.dir, nf->name, img, len, &ex, &fx.events, fails, label);
    assert_int_equal(jt_snap_restore(fx.dir, &fx.snap), 0);
}

static uint64_t
range_start(void)
{
    return fx.fr[fx.nfr - 3].off;
}

static uint64_t
range_end(void)
{
    return fx.fr[fx.nfr - 1].off + fx.fr[fx.nfr - 1].disk;
}

static void
test_truncate_every_byte(void **state)
{
    (void)state;
    const struct jt_file *nf = &fx.snap.f[fx.newest];
    struct jt_fails fails = {0};
    double t0 = jt_now();
    unsigned long trials = 0;
    for (uint64_t cut = range_start(); cut <= range_end(); cut++, trials++) {
        char label[96];
        snprintf(label, sizeof(label), "truncate at %llu", (unsigned long long)cut);
        /* A file cut short is always a torn tail, even at a frame boundary. */
        struct jt_expect ex;
        jt_expect_newest(nf->data, nf->len, fx.fr, fx.nfr, fx.seq_before, nf->data, cut, &ex);
        assert_int_equal(ex.status, FOLIO_E_TORN_TAIL);
        trial(nf->data, cut, cut % 5 == 0, &fails, label);
    }
    fprintf(stderr, "truncate: %lu trials (offsets %llu..%llu) in %.1f s, %lu failures\n", trials,
            (unsigned long long)range_start(), (unsigned long long)range_end(), jt_now() - t0,
            fails.count);
    assert_int_equal(fails.count, 0);
}

static void
test_zero_every_byte(void **state)
{
    (void)state;
    const struct jt_file *nf = &fx.snap.f[fx.newest];
    uint8_t *img = folio_malloc(nf->len);
    struct jt_fails fails = {0};
    double t0 = jt_now();
    unsigned long trials = 0, clean = 0;
    for (uint64_t cut = range_start(); cut <= range_end(); cut++, trials++) {
        char label[96];
        snprintf(label, sizeof(label), "zeroed from %llu", (unsigned long long)cut);
        memcpy(img, nf->data, cut);
        memset(img + cut, 0, nf->len - cut);
        struct jt_expect ex;
        jt_expect_newest(nf->data, nf->len, fx.fr, fx.nfr, fx.seq_before, img, nf->len, &ex);
        clean += ex.status == 0;
        trial(img, nf->len, cut % 5 == 0, &fails, label);
    }
    /* Zeroing from a frame boundary (or only a frame's zero padding) leaves a sound journal. */
    assert_true(clean >= 4);
    fprintf(stderr, "zero: %lu trials (%lu sound) in %.1f s, %lu failures\n", trials, clean,
            jt_now() - t0, fails.count);
    folio_free(img);
    assert_int_equal(fails.count, 0);
}

static void
test_garbage_over_last_frame(void **state)
{
    (void)state;
    const struct jt_file *nf = &fx.snap.f[fx.newest];
    const struct jt_frame *last = &fx.fr[fx.nfr - 1];
    uint8_t *img = folio_malloc(nf->len);
    uint64_t rng = tu_seed();
    struct jt_fails fails = {0};
    double t0 = jt_now();
    unsigned long trials = 0;
    for (uint64_t at = last->off; at < last->off + JT_FRAME_HDR + last->body_len; at++, trials++) {
        /* From `at` to somewhere between the frame's end and 512 bytes past it. */
        uint64_t end = last->off + last->disk + tu_rand(&rng) % 512;
        if (tu_rand(&rng) % 4 == 0)
            end = at + 1 + tu_rand(&rng) % (last->off + last->disk - at);
        memcpy(img, nf->data, nf->len);
        for (uint64_t o = at; o < end; o++)
            img[o] = (uint8_t)tu_rand(&rng);
        img[at] = (uint8_t)(nf->data[at] ^ (1 + tu_rand(&rng) % 255)); /* surely changed */
        char label[96];
        snprintf(label, sizeof(label), "garbage over [%llu, %llu)", (unsigned long long)at,
                 (unsigned long long)end);
        struct jt_expect ex;
        jt_expect_newest(nf->data, nf->len, fx.fr, fx.nfr, fx.seq_before, img, nf->len, &ex);
        assert_int_equal(ex.status, FOLIO_E_TORN_TAIL);
        assert_int_equal(ex.P, last->off);
        trial(img, nf->len, at % 3 == 0, &fails, label);
    }
    fprintf(stderr, "garbage: %lu trials in %.1f s, %lu failures\n", trials, jt_now() - t0,
            fails.count);
    folio_free(img);
    assert_int_equal(fails.count, 0);
}

/*
 * The newest segment ends in a seal (the journal crashed after sealing and
 * before installing the next segment: modelled by removing the segment after
 * it). Cutting it anywhere inside or after the seal must still give a
 * journal that recovers, takes appends across the roll, and verifies clean.
 */
static void
test_truncate_sealed_newest(void **state)
{
    (void)state;
    const struct jt_file *sf = &fx.snap.f[fx.newest - 1];
    struct jt_frame sfr[64];
    int n = jt_parse_frames(sf->data, sf->len, sfr, 64);
    const struct jt_frame *seal = &sfr[n - 1];
    assert_int_equal(seal->flags, JT_FLAG_SEAL);
    uint64_t seal_end = seal->off + seal->disk;
    /* Pristine events of the journal without its newest segment. */
    struct jt_recs before = fx.events;
    before.n = seal->first_seq - 1;

    struct jt_snap two = fx.snap;
    two.n = fx.snap.n - 1; /* borrowed buffers: never freed through `two` */
    struct jt_fails fails = {0};
    uint64_t cuts[200];
    int ncuts = 0;
    for (uint64_t c = seal->off; c <= seal_end; c++)
        cuts[ncuts++] = c;
    for (uint64_t c = seal_end + 1; c < sf->len && ncuts < 200; c += 487)
        cuts[ncuts++] = c;
    cuts[ncuts++] = sf->len; /* not cut at all: must be sound */
    double t0 = jt_now();
    for (int i = 0; i < ncuts; i++) {
        assert_int_equal(jt_snap_restore(fx.dir, &two), 0);
        char p[4096], label[96];
        jt_join(p, sizeof(p), fx.dir, fx.snap.f[fx.newest].name);
        unlink(p);
        jt_join(p, sizeof(p), fx.dir, sf->name);
        assert_int_equal(jt_write_whole(p, sf->data, cuts[i]), 0);
        snprintf(label, sizeof(label), "sealed newest cut at %llu", (unsigned long long)cuts[i]);
        struct jt_expect ex;
        jt_expect_newest(sf->data, sf->len, sfr, n, sfr[0].first_seq - 1, sf->data, cuts[i], &ex);
        jt_check_damaged(fx.dir, sf->name, sf->data, cuts[i], &ex, &before, &fails, label);
    }
    fprintf(stderr, "sealed newest: %d trials in %.1f s, %lu failures\n", ncuts, jt_now() - t0,
            fails.count);
    assert_int_equal(jt_snap_restore(fx.dir, &fx.snap), 0);
    assert_int_equal(fails.count, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncate_every_byte),
        cmocka_unit_test(test_zero_every_byte),
        cmocka_unit_test(test_garbage_over_last_frame),
        cmocka_unit_test(test_truncate_sealed_newest),
    };
    /* FOLIO_TEST_FILTER=pattern runs only the matching tests (cmocka wildcards). */
    if (getenv("FOLIO_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("FOLIO_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
