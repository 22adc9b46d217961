/*
 * Misplaced, stale and forged data (journal-anchors.md §10 tests 2, 5, 6, 15).
 *
 * Each case changes a sound three-segment journal in one deliberate way that
 * no torn write can produce — a stale or misdirected frame, a frame with
 * valid checksums but the wrong seq, salt or chain link, a missing, foreign,
 * misnamed or cut-short older segment, an unknown format version — and
 * checks that verify reports it (CORRUPT, or VERSION for a version it cannot
 * read) naming segment, offset and seq; that open refuses with the same code
 * and changes no byte; and that a reader never hands out a wrong event.
 *
 * Forged frames and headers are encoded by the test's own code (jtest.h)
 * from the documented layout. Every forgery has a control: the same forgery
 * with the one wrong field set right must give a sound journal, so a
 * rejection is known to come from the rule under test and not from a
 * mistake in the forger.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jtest.h"

#define NOSEQ UINT64_MAX
#define READER_ANY 1 /* the reader may stop with any error or a plain end */

static struct {
    char *dir, *ydir;
    struct jt_snap snap, ysnap; /* the journal and an identically built other one */
    struct jt_frame fr[3][64];
    int nfr[3];
    struct jt_recs events;
    uint64_t last_seq;
} fx;

static void
build_journal(const char *dir)
{
    struct folio_journal *j = NULL;
    assert_int_equal(jt_open(dir, true, &j, NULL, NULL), 0);
    uint64_t uid = 1;
    for (int i = 0; i < 3; i++)
        jt_append_exact(j, uid++, 15000);
    jt_append_exact(j, uid++, 16300);
    for (int i = 0; i < 2; i++)
        jt_append_exact(j, uid++, 15000);
    jt_append_exact(j, uid++, 16300);
    jt_append_n(j, uid++, 1, 180);
    jt_append_n(j, uid, 4, 200);
    uid += 4;
    jt_append_n(j, uid++, 1, 333);
    jt_append_n(j, uid++, 1, 777);
    folio_journal_close(j);
}

static int
setup(void **state)
{
    (void)state;
    fx.dir = jt_mkdtemp("jtamper");
    fx.ydir = jt_mkdtemp("jtamper-other");
    build_journal(fx.dir);
    build_journal(fx.ydir);
    jt_snap_take(fx.dir, &fx.snap);
    jt_snap_take(fx.ydir, &fx.ysnap);
    assert_int_equal(fx.snap.n, 3);
    assert_int_equal(fx.ysnap.n, 3);
    for (int s = 0; s < 3; s++) {
        fx.nfr[s] = jt_parse_frames(fx.snap.f[s].data, fx.snap.f[s].len, fx.fr[s], 64);
        assert_string_equal(fx.snap.f[s].name, fx.ysnap.f[s].name);
    }
    assert_int_equal(fx.nfr[2], 5);
    assert_int_equal(jt_read_all(fx.dir, &fx.events), 0);
    fx.last_seq = fx.events.n;
    assert_int_equal(folio_journal_verify(fx.dir, NULL, NULL), 0);
    assert_int_equal(folio_journal_verify(fx.ydir, NULL, NULL), 0);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    jt_recs_free(&fx.events);
    jt_snap_free(&fx.snap);
    jt_snap_free(&fx.ysnap);
    tu_rmrf(fx.dir);
    tu_rmrf(fx.ydir);
    folio_free(fx.dir);
    folio_free(fx.ydir);
    return 0;
}

static int
reset(void **state)
{
    (void)state;
    assert_int_equal(jt_snap_restore(fx.dir, &fx.snap), 0);
    return 0;
}

/* ---- changing files ------------------------------------------------------ */

static const uint8_t *
seg_data(int s)
{
    return fx.snap.f[s].data;
}

static const char *
seg_name(int s)
{
    return fx.snap.f[s].name;
}

static void
write_at(int s, uint64_t off, const void *data, size_t len)
{
    char p[4096];
    jt_join(p, sizeof(p), fx.dir, seg_name(s));
    int fd = open(p, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, data, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static void
truncate_seg(int s, uint64_t len)
{
    char p[4096];
    jt_join(p, sizeof(p), fx.dir, seg_name(s));
    assert_int_equal(truncate(p, (off_t)len), 0);
}

/* End of the log in the newest segment. */
static uint64_t
log_end(void)
{
    const struct jt_frame *f = &fx.fr[2][fx.nfr[2] - 1];
    return f->off + f->disk;
}

static uint64_t
frame_hash_at(int s, uint64_t off)
{
    return folio_load_le64(seg_data(s) + off + JT_FRAME_HASH_OFF);
}

static uint64_t
salt_of(int s)
{
    return folio_load_le64(seg_data(s) + 40);
}

/*
 * Writes at offset `at` of segment s a copy of frame `src` of segment 2 with
 * the given seq, chain link and salt, its events' seqs made to match and
 * every checksum right. Returns the frame's disk size.
 */
static uint64_t
forge_frame(int s, uint64_t at, const struct jt_frame *src, uint64_t first_seq, uint64_t prev_hash,
            uint64_t salt)
{
    uint8_t body[16384], out[16384 + 128];
    assert_true(src->body_len <= sizeof(body));
    memcpy(body, seg_data(2) + src->off + JT_FRAME_HDR, src->body_len);
    jt_body_set_seqs(body, src->body_len, src->count, first_seq);
    struct jt_frame_fields f;
    jt_frame_fields_read(seg_data(2) + src->off, &f);
    f.first_seq = first_seq;
    f.prev_hash = prev_hash;
    f.salt = salt;
    uint64_t disk = jt_frame_encode(out, &f, body, src->body_len);
    write_at(s, at, out, disk);
    return disk;
}

/* Rewrites the header of segment s with one u64 field changed, re-hashed. */
static void
forge_seg_header_u64(int s, uint64_t field_off, uint64_t value)
{
    uint8_t hdr[JT_SEG_HDR];
    memcpy(hdr, seg_data(s), sizeof(hdr));
    folio_store_le64(hdr + field_off, value);
    jt_seg_rehash(hdr);
    write_at(s, 0, hdr, sizeof(hdr));
}

/* ---- checks -------------------------------------------------------------- */

/* Reads the journal; every event handed out must be the one written at its seq. */
static int
reader_check(const char *label, uint64_t extra_ok)
{
    struct jt_recs rs;
    jt_read_all(fx.dir, &rs);
    for (size_t i = 0; i < rs.n; i++) {
        const struct jt_rec *r = &rs.r[i];
        assert_int_equal(r->seq, i + 1);
        if (r->seq <= fx.last_seq && !jt_rec_equal(r, &fx.events.r[i]))
            fail_msg("%s: reader returned a different event at seq %llu", label,
                     (unsigned long long)r->seq);
        if (r->seq > fx.last_seq + extra_ok)
            fail_msg("%s: reader returned seq %llu past the log", label,
                     (unsigned long long)r->seq);
    }
    int end = rs.end_err;
    jt_recs_free(&rs);
    return end;
}

static void
seg_files(struct jt_snap *s)
{
    jt_snap_take(fx.dir, s);
}

static bool
snaps_equal(const struct jt_snap *a, const struct jt_snap *b)
{
    if (a->n != b->n)
        return false;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->f[i].name, b->f[i].name) != 0 || a->f[i].len != b->f[i].len ||
            memcmp(a->f[i].data, b->f[i].data, a->f[i].len) != 0)
            return false;
    return true;
}

/*
 * The journal as it is now must be refused with err at segment s (a name),
 * offset and seq (NOSEQ: not checked), by verify and by open, and open must
 * change nothing. reader_err: what a reader must stop with (READER_ANY: any).
 */
static void
expect_refused(const char *label, int err, const char *seg, uint64_t offset, uint64_t seq,
               int reader_err)
{
    struct folio_journal_diag d;
    memset(&d, 0x55, sizeof(d));
    int v = folio_journal_verify(fx.dir, NULL, &d);
    if (v != err || strcmp(d.segment, seg) != 0 || d.offset != offset ||
        (seq != NOSEQ && d.seq != seq) || d.reason[0] == '\0')
        fail_msg("%s: verify %s at %s@%llu seq %llu (%s); expected %s at %s@%llu seq %lld", label,
                 folio_err_name(v), d.segment, (unsigned long long)d.offset,
                 (unsigned long long)d.seq, d.reason, folio_err_name(err), seg,
                 (unsigned long long)offset, seq == NOSEQ ? -1ll : (long long)seq);

    int r = reader_check(label, 0);
    if (reader_err != READER_ANY && r != reader_err)
        fail_msg("%s: reader stopped with %s, expected %s", label, folio_err_name(r),
                 folio_err_name(reader_err));
    assert_true(r != 0);
    assert_int_not_equal(r, FOLIO_E_TORN_TAIL);

    struct jt_snap before, after;
    seg_files(&before);
    struct folio_journal *j = NULL;
    memset(&d, 0x55, sizeof(d));
    int o = jt_open(fx.dir, false, &j, NULL, &d);
    if (o == 0)
        folio_journal_close(j);
    if (o != err || strcmp(d.segment, seg) != 0 || d.offset != offset || d.reason[0] == '\0')
        fail_msg("%s: open %s at %s@%llu (%s); expected %s at %s@%llu", label, folio_err_name(o),
                 d.segment, (unsigned long long)d.offset, d.reason, folio_err_name(err), seg,
                 (unsigned long long)offset);
    seg_files(&after);
    bool same = snaps_equal(&before, &after);
    jt_snap_free(&before);
    jt_snap_free(&after);
    assert_true(same);
}

/* The journal as it is now is sound and holds extra events past the original ones. */
static void
expect_sound(const char *label, uint64_t extra)
{
    struct folio_journal_verify_info vi;
    struct folio_journal_diag d;
    int v = folio_journal_verify(fx.dir, &vi, &d);
    if (v != 0 || vi.last_seq != fx.last_seq + extra)
        fail_msg("%s (control): verify %s (%s@%llu: %s), last seq %llu", label, folio_err_name(v),
                 d.segment, (unsigned long long)d.offset, d.reason,
                 (unsigned long long)vi.last_seq);
    assert_int_equal(reader_check(label, extra), FOLIO_E_END);
}

/* ---- stale and misplaced frames ------------------------------------------- */

static void
test_stale_frame_after_zeros(void **state)
{
    (void)state;
    const struct jt_frame *src = &fx.fr[2][1];
    uint64_t end = log_end(), reach = jt_reach(seg_data(2));
    /* A frame of this segment (same salt, an old seq), after a run of zeros. */
    uint64_t at[] = {end + 512, end + reach - src->disk, end + reach + 64,
                     fx.snap.f[2].len - src->disk};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(at); i++) {
        reset(NULL);
        write_at(2, at[i], seg_data(2) + src->off, src->disk);
        char label[96];
        snprintf(label, sizeof(label), "stale frame at %llu", (unsigned long long)at[i]);
        expect_refused(label, FOLIO_E_CORRUPT, seg_name(2), end, fx.last_seq + 1, READER_ANY);
    }
    /* The same frame right at the tail: its seq is not the next one. */
    reset(NULL);
    write_at(2, end, seg_data(2) + src->off, src->disk);
    expect_refused("stale frame at the tail", FOLIO_E_CORRUPT, seg_name(2), end, fx.last_seq + 1,
                   FOLIO_E_CORRUPT);
}

static void
test_frame_from_other_segment(void **state)
{
    (void)state;
    uint64_t end = log_end();
    /* A verbatim frame of segment 2 (its salt) at the tail of segment 3. */
    const struct jt_frame *other = &fx.fr[1][1];
    write_at(2, end, seg_data(1) + other->off, other->disk);
    expect_refused("segment 2's frame at the tail", FOLIO_E_CORRUPT, seg_name(2), end,
                   fx.last_seq + 1, FOLIO_E_CORRUPT);

    /* A frame right in every way but its salt. */
    const struct jt_frame *src = &fx.fr[2][2];
    uint64_t prev = frame_hash_at(2, fx.fr[2][fx.nfr[2] - 1].off);
    reset(NULL);
    forge_frame(2, end, src, fx.last_seq + 1, prev, salt_of(1));
    expect_refused("next frame with segment 2's salt", FOLIO_E_CORRUPT, seg_name(2), end,
                   fx.last_seq + 1, FOLIO_E_CORRUPT);
    reset(NULL);
    forge_frame(2, end, src, fx.last_seq + 1, prev, salt_of(2));
    expect_sound("next frame with the right salt", src->count);
}

/* ---- seq and chain ----------------------------------------------------------- */

static void
test_seq_repeated_or_skipped(void **state)
{
    (void)state;
    uint64_t end = log_end();
    const struct jt_frame *last = &fx.fr[2][fx.nfr[2] - 1];
    const struct jt_frame *multi = &fx.fr[2][2];
    assert_int_equal(multi->count, 4);
    uint64_t prev = frame_hash_at(2, last->off);
    struct {
        const char *what;
        uint64_t first_seq;
    } cases[] = {
        {"skipped seq", fx.last_seq + 2},
        {"repeated seq", fx.last_seq},
        {"seq of an earlier frame", multi->first_seq},
        {"seq far ahead", fx.last_seq + 1000},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cases); i++) {
        reset(NULL);
        forge_frame(2, end, multi, cases[i].first_seq, prev, salt_of(2));
        expect_refused(cases[i].what, FOLIO_E_CORRUPT, seg_name(2), end, fx.last_seq + 1,
                       FOLIO_E_CORRUPT);
    }
    reset(NULL);
    forge_frame(2, end, multi, fx.last_seq + 1, prev, salt_of(2));
    expect_sound("next seq", multi->count);

    /* Header and chain right, one event inside claims another seq. */
    reset(NULL);
    uint8_t body[4096], out[4096 + 128];
    memcpy(body, seg_data(2) + multi->off + JT_FRAME_HDR, multi->body_len);
    jt_body_set_seqs(body, multi->body_len, multi->count, fx.last_seq + 1);
    uint32_t len0 = folio_load_le32(body);
    body[4 + len0 + 4 + FOLIO_EVENT_SEQ_OFFSET + 7] ^= 1; /* the second event's seq */
    struct jt_frame_fields f;
    jt_frame_fields_read(seg_data(2) + multi->off, &f);
    f.first_seq = fx.last_seq + 1;
    f.prev_hash = prev;
    write_at(2, end, out, jt_frame_encode(out, &f, body, multi->body_len));
    expect_refused("event seq differs from its frame's", FOLIO_E_CORRUPT, seg_name(2), end,
                   fx.last_seq + 1, FOLIO_E_CORRUPT);

    /* In a sealed segment: a middle frame re-encoded one seq later. */
    reset(NULL);
    const struct jt_frame *mid = &fx.fr[0][1];
    uint8_t big[16384 + 128];
    uint8_t *mbody = folio_malloc(mid->body_len);
    memcpy(mbody, seg_data(0) + mid->off + JT_FRAME_HDR, mid->body_len);
    jt_body_set_seqs(mbody, mid->body_len, mid->count, mid->first_seq + 1);
    jt_frame_fields_read(seg_data(0) + mid->off, &f);
    f.first_seq = mid->first_seq + 1;
    write_at(0, mid->off, big, jt_frame_encode(big, &f, mbody, mid->body_len));
    folio_free(mbody);
    expect_refused("sealed segment frame with a shifted seq", FOLIO_E_CORRUPT, seg_name(0),
                   mid->off, mid->first_seq, FOLIO_E_CORRUPT);
}

static void
test_broken_chain(void **state)
{
    (void)state;
    uint64_t end = log_end();
    const struct jt_frame *src = &fx.fr[2][3];
    uint64_t prev = frame_hash_at(2, fx.fr[2][fx.nfr[2] - 1].off);
    forge_frame(2, end, src, fx.last_seq + 1, prev ^ 1, salt_of(2));
    expect_refused("next frame links to the wrong hash", FOLIO_E_CORRUPT, seg_name(2), end,
                   fx.last_seq + 1, FOLIO_E_CORRUPT);
    reset(NULL);
    forge_frame(2, end, src, fx.last_seq + 1, frame_hash_at(2, fx.fr[2][1].off), salt_of(2));
    expect_refused("next frame links to an older frame", FOLIO_E_CORRUPT, seg_name(2), end,
                   fx.last_seq + 1, FOLIO_E_CORRUPT);

    /* A middle frame of the newest segment re-linked (valid hashes, later frames intact). */
    reset(NULL);
    const struct jt_frame *mid = &fx.fr[2][2];
    forge_frame(2, mid->off, mid, mid->first_seq, frame_hash_at(2, fx.fr[2][0].off), salt_of(2));
    expect_refused("newest segment's middle frame re-linked", FOLIO_E_CORRUPT, seg_name(2),
                   mid->off, mid->first_seq, FOLIO_E_CORRUPT);
    reset(NULL);
    forge_frame(2, mid->off, mid, mid->first_seq, frame_hash_at(2, fx.fr[2][1].off), salt_of(2));
    expect_sound("middle frame re-encoded unchanged", 0);

    /* The segment chain: segment 3's header links to the wrong seal. */
    reset(NULL);
    uint64_t seg_prev = folio_load_le64(seg_data(2) + 56);
    forge_seg_header_u64(2, 56, seg_prev ^ 1);
    expect_refused("segment header prev hash", FOLIO_E_CORRUPT, seg_name(2), 0,
                   fx.fr[2][0].first_seq, FOLIO_E_CORRUPT);
    reset(NULL);
    forge_seg_header_u64(2, 64, folio_load_le64(seg_data(2) + 64) + 1); /* creation time */
    expect_sound("segment header re-hashed with a new creation time", 0);
}

/* ---- segments ---------------------------------------------------------------- */

static void
test_missing_middle_segment(void **state)
{
    (void)state;
    char p[4096];
    jt_join(p, sizeof(p), fx.dir, seg_name(1));
    assert_int_equal(unlink(p), 0);
    expect_refused("segment 2 missing", FOLIO_E_CORRUPT, seg_name(2), 0, fx.fr[1][0].first_seq,
                   FOLIO_E_CORRUPT);
}

static void
test_segments_of_another_journal(void **state)
{
    (void)state;
    char p[4096];
    for (int s = 1; s < 3; s++) {
        reset(NULL);
        jt_join(p, sizeof(p), fx.dir, seg_name(s));
        assert_int_equal(jt_write_whole(p, fx.ysnap.f[s].data, fx.ysnap.f[s].len), 0);
        char label[64];
        snprintf(label, sizeof(label), "segment %d from another journal", s + 1);
        expect_refused(label, FOLIO_E_CORRUPT, seg_name(s), 0, fx.fr[s][0].first_seq,
                       FOLIO_E_CORRUPT);
    }
    /* Only the journal uid differs (chain, seq and segment number right). */
    reset(NULL);
    uint8_t hdr[JT_SEG_HDR];
    memcpy(hdr, seg_data(1), sizeof(hdr));
    hdr[16] ^= 0x80;
    jt_seg_rehash(hdr);
    write_at(1, 0, hdr, sizeof(hdr));
    expect_refused("segment 2 with another journal uid", FOLIO_E_CORRUPT, seg_name(1), 0,
                   fx.fr[1][0].first_seq, FOLIO_E_CORRUPT);
    /* Only the segment number differs. */
    reset(NULL);
    forge_seg_header_u64(1, 32, folio_load_le64(seg_data(1) + 32) + 1);
    expect_refused("segment 2 with a wrong segment number", FOLIO_E_CORRUPT, seg_name(1), 0,
                   fx.fr[1][0].first_seq, READER_ANY);
}

static void
test_misnamed_segment(void **state)
{
    (void)state;
    char from[4096], to[4096], name[32];
    jt_join(from, sizeof(from), fx.dir, seg_name(2));
    jt_seg_name(fx.fr[2][0].first_seq + 1, name);
    jt_join(to, sizeof(to), fx.dir, name);
    assert_int_equal(rename(from, to), 0);
    expect_refused("newest segment named one seq too far", FOLIO_E_CORRUPT, name, 0, NOSEQ,
                   READER_ANY);
    unlink(to);
}

static void
test_unknown_versions(void **state)
{
    (void)state;
    uint8_t hdr[JT_SEG_HDR];
    for (int s = 0; s < 3; s += 2) {
        reset(NULL);
        memcpy(hdr, seg_data(s), sizeof(hdr));
        folio_store_le16(hdr + 8, 2);
        jt_seg_rehash(hdr);
        write_at(s, 0, hdr, sizeof(hdr));
        char label[64];
        snprintf(label, sizeof(label), "segment %d format version 2", s + 1);
        expect_refused(label, FOLIO_E_VERSION, seg_name(s), 0, NOSEQ, FOLIO_E_VERSION);
    }
    /* Header fields that must hold known values: header size, a reserved byte. */
    reset(NULL);
    memcpy(hdr, seg_data(1), sizeof(hdr));
    folio_store_le16(hdr + 10, 8192);
    jt_seg_rehash(hdr);
    write_at(1, 0, hdr, sizeof(hdr));
    expect_refused("segment header size 8192", FOLIO_E_CORRUPT, seg_name(1), 0, NOSEQ,
                   FOLIO_E_CORRUPT);
    reset(NULL);
    memcpy(hdr, seg_data(1), sizeof(hdr));
    hdr[1000] = 1;
    jt_seg_rehash(hdr);
    write_at(1, 0, hdr, sizeof(hdr));
    expect_refused("segment header reserved byte set", FOLIO_E_CORRUPT, seg_name(1), 0, NOSEQ,
                   FOLIO_E_CORRUPT);

    /* Frames: an unknown version or an unknown flag fails closed. */
    const struct jt_frame *mid = &fx.fr[2][2];
    struct {
        const char *what;
        uint16_t version, flags;
        int want;
    } cases[] = {
        {"frame version 2", 2, 0, FOLIO_E_CORRUPT},
        {"frame flag 0x0002", 1, 0x0002, FOLIO_E_CORRUPT},
        {"frame flag 0x8000", 1, 0x8000, FOLIO_E_CORRUPT},
        {"frame version 1, no flags (control)", 1, 0, 0},
    };
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cases); i++) {
        reset(NULL);
        uint8_t out[4096 + 128];
        struct jt_frame_fields f;
        jt_frame_fields_read(seg_data(2) + mid->off, &f);
        f.version = cases[i].version;
        f.flags = cases[i].flags;
        write_at(2, mid->off, out,
                 jt_frame_encode(out, &f, seg_data(2) + mid->off + JT_FRAME_HDR, mid->body_len));
        if (cases[i].want == 0)
            expect_sound(cases[i].what, 0);
        else
            expect_refused(cases[i].what, cases[i].want, seg_name(2), mid->off, mid->first_seq,
                           FOLIO_E_CORRUPT);
    }
}

static void
test_older_segment_cut_or_grown(void **state)
{
    (void)state;
    const struct jt_frame *seal0 = &fx.fr[0][fx.nfr[0] - 1];
    assert_int_equal(seal0->flags, JT_FLAG_SEAL);
    /* Cut in the zeros after its seal: every frame still there, the file too short. */
    truncate_seg(0, seal0->off + seal0->disk + 1000);
    expect_refused("sealed segment 1 cut after its seal", FOLIO_E_CORRUPT, seg_name(0),
                   seal0->off + seal0->disk + 1000, NOSEQ, READER_ANY);
    reset(NULL);
    truncate_seg(1, fx.fr[1][1].off + 100);
    expect_refused("sealed segment 2 cut inside a frame", FOLIO_E_CORRUPT, seg_name(1),
                   fx.fr[1][1].off + 100, NOSEQ, READER_ANY);
    reset(NULL);
    truncate_seg(0, JT_SEG_BYTES + 4096);
    expect_refused("sealed segment 1 grown", FOLIO_E_CORRUPT, seg_name(0), JT_SEG_BYTES, NOSEQ,
                   READER_ANY);
    /* The newest segment cut inside its header: a header is never torn. */
    reset(NULL);
    truncate_seg(2, 100);
    expect_refused("newest segment cut inside its header", FOLIO_E_CORRUPT, seg_name(2), 0, NOSEQ,
                   FOLIO_E_CORRUPT);
}

static void
test_damage_before_valid_frames(void **state)
{
    (void)state;
    uint8_t zeros[512] = {0}, junk[512];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    /* The newest segment: a zeroed header, then valid frames. */
    const struct jt_frame *f2 = &fx.fr[2][2];
    write_at(2, f2->off, zeros, JT_FRAME_HDR);
    expect_refused("zeroed frame header before valid frames", FOLIO_E_CORRUPT, seg_name(2), f2->off,
                   f2->first_seq, FOLIO_E_CORRUPT);
    /* A zeroed frame header inside a sealed segment: not an end of the log. */
    reset(NULL);
    const struct jt_frame *s0 = &fx.fr[0][1];
    write_at(0, s0->off, zeros, JT_FRAME_HDR);
    expect_refused("zeroed frame header in a sealed segment", FOLIO_E_CORRUPT, seg_name(0), s0->off,
                   s0->first_seq, FOLIO_E_CORRUPT);
    /* A garbage sector inside the newest segment's first (16 KiB) frame. */
    reset(NULL);
    const struct jt_frame *f0 = &fx.fr[2][0];
    write_at(2, f0->off + 4096, junk, sizeof(junk));
    expect_refused("garbage sector in the newest segment's first frame", FOLIO_E_CORRUPT,
                   seg_name(2), f0->off, f0->first_seq, FOLIO_E_CORRUPT);
    /* A zeroed sector inside a sealed segment. */
    reset(NULL);
    const struct jt_frame *s1 = &fx.fr[1][2];
    write_at(1, s1->off + 2048, zeros, sizeof(zeros));
    expect_refused("zeroed sector in a sealed segment", FOLIO_E_CORRUPT, seg_name(1), s1->off,
                   s1->first_seq, FOLIO_E_CORRUPT);
    /* The seal itself zeroed: a sealed segment that does not end in a seal. */
    reset(NULL);
    const struct jt_frame *seal = &fx.fr[1][fx.nfr[1] - 1];
    write_at(1, seal->off, zeros, seal->disk);
    expect_refused("seal zeroed", FOLIO_E_CORRUPT, seg_name(1), seal->off, seal->first_seq,
                   READER_ANY);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_stale_frame_after_zeros, reset),
        cmocka_unit_test_setup(test_frame_from_other_segment, reset),
        cmocka_unit_test_setup(test_seq_repeated_or_skipped, reset),
        cmocka_unit_test_setup(test_broken_chain, reset),
        cmocka_unit_test_setup(test_missing_middle_segment, reset),
        cmocka_unit_test_setup(test_segments_of_another_journal, reset),
        cmocka_unit_test_setup(test_misnamed_segment, reset),
        cmocka_unit_test_setup(test_unknown_versions, reset),
        cmocka_unit_test_setup(test_older_segment_cut_or_grown, reset),
        cmocka_unit_test_setup(test_damage_before_valid_frames, reset),
    };
    /* FOLIO_TEST_FILTER=pattern runs only the matching tests (cmocka wildcards). */
    if (getenv("FOLIO_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("FOLIO_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
