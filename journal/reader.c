/*
 * Journal readers: iterate events from any seq, verifying every frame with
 * the same scanner recovery uses, across segment boundaries (a seal names the
 * next segment's first seq and hash), and optionally follow the live tail.
 *
 * Following never shows a non-durable event: a follower returns only events
 * whose seq is at most the writer's published durable seq (journal/head).
 * Catch-up and live reading are the same loop over the same position, so the
 * switch from one to the other can neither skip nor repeat an event.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "folio/common.h"
#include "folio/error.h"
#include "journal_int.h"

struct folio_journal_reader {
    char *dir;
    unsigned flags;
    uint64_t from_seq;
    struct seg_map seg;
    bool have_seg;
    struct scan_pos pos;
    uint64_t segment_no;
    /* The frame being handed out event by event. */
    struct scan_frame frame;
    uint64_t frame_offset;
    uint32_t frame_next_event;
    const uint8_t *frame_cursor;
    bool in_frame;
    /* After a seal: the segment to open next. */
    bool need_next;
    uint64_t next_first_seq;
    struct head_map head;
    bool have_head;
};

static int
reader_map(struct folio_journal_reader *r, uint64_t first_seq, struct folio_journal_diag *diag)
{
    char name[SEG_NAME_LEN];
    seg_name(first_seq, name);
    struct seg_map m;
    int err = seg_map_open(r->dir, name, &m, diag);
    if (err != FOLIO_OK)
        return err;
    if (r->have_seg) {
        /* Continuing from a seal: the new segment must link to it. */
        if (m.hdr.first_seq != r->pos.next_seq || m.hdr.prev_hash != r->pos.prev_hash ||
            m.hdr.segment_no != r->segment_no + 1 || m.hdr.first_seq != first_seq ||
            memcmp(m.hdr.journal_uid, r->seg.hdr.journal_uid, 16) != 0) {
            journal_diag_set(diag, name, 0, r->pos.next_seq,
                             "segment does not continue the sealed one before it");
            seg_map_close(&m);
            return FOLIO_E_CORRUPT;
        }
        seg_map_close(&r->seg);
    }
    r->seg = m;
    r->have_seg = true;
    r->segment_no = m.hdr.segment_no;
    r->pos.offset = SEG_HEADER_BYTES;
    r->pos.next_seq = m.hdr.first_seq;
    r->pos.prev_hash = m.hdr.prev_hash;
    r->pos.frames = 0;
    return FOLIO_OK;
}

int
folio_journal_reader_open(const char *dir, uint64_t from_seq, unsigned flags,
                          struct folio_journal_reader **out, struct folio_journal_diag *diag)
{
    uint64_t *firsts = NULL;
    size_t count = 0;
    if (diag != NULL)
        memset(diag, 0, sizeof(*diag));
    int err = seg_list(dir, &firsts, &count);
    if (err != FOLIO_OK || count == 0) {
        folio_free(firsts);
        journal_diag_set(diag, "", 0, 0, "no journal segments in %s", dir);
        return FOLIO_E_NOT_FOUND;
    }
    /* The newest segment whose first seq is <= from_seq holds it (or the oldest one). */
    size_t pick = 0;
    for (size_t i = 0; i < count; i++)
        if (firsts[i] <= from_seq)
            pick = i;
    struct folio_journal_reader *r = folio_calloc(1, sizeof(*r));
    r->dir = folio_strdup(dir);
    r->flags = flags;
    r->from_seq = from_seq;
    r->seg.fd = -1;
    r->head.fd = -1;
    err = reader_map(r, firsts[pick], diag);
    folio_free(firsts);
    if (err != FOLIO_OK) {
        folio_journal_reader_close(r);
        return err;
    }
    if ((flags & FOLIO_READER_FOLLOW) && head_open(dir, false, &r->head) == FOLIO_OK)
        r->have_head = true;
    *out = r;
    return FOLIO_OK;
}

void
folio_journal_reader_close(struct folio_journal_reader *r)
{
    if (r == NULL)
        return;
    if (r->have_seg)
        seg_map_close(&r->seg);
    head_close(&r->head);
    folio_free(r->dir);
    folio_free(r);
}

/* Hands out the next event of the current frame; false when it is used up. */
static bool
frame_next_event(struct folio_journal_reader *r, struct folio_journal_record *rec)
{
    while (r->frame_next_event < r->frame.h.event_count) {
        uint32_t len = folio_load_le32(r->frame_cursor);
        const uint8_t *data = r->frame_cursor + EVENT_LEN_BYTES;
        uint64_t seq = r->frame.h.first_seq + r->frame_next_event;
        r->frame_cursor = data + len;
        r->frame_next_event++;
        if (seq < r->from_seq)
            continue;
        rec->data = data;
        rec->len = len;
        rec->seq = seq;
        rec->frame_at_ns = r->frame.h.timestamp_ns;
        rec->frame_hash = r->frame.h.frame_hash;
        rec->frame_last = r->frame_next_event == r->frame.h.event_count;
        rec->frame_offset = r->frame_offset;
        rec->segment = r->seg.name;
        return true;
    }
    r->in_frame = false;
    return false;
}

/*
 * Is there a segment newer than the current one? *has_first tells whether
 * one of them is named first_seq (it may have been renamed into place since
 * the caller last looked).
 */
static bool
newer_segment_exists_ex(struct folio_journal_reader *r, uint64_t first_seq, bool *has_first)
{
    uint64_t *firsts = NULL;
    size_t count = 0;
    bool newer = false;
    *has_first = false;
    if (seg_list(r->dir, &firsts, &count) == FOLIO_OK && count > 0) {
        newer = firsts[count - 1] > r->seg.hdr.first_seq;
        for (size_t i = 0; i < count; i++)
            *has_first = *has_first || firsts[i] == first_seq;
    }
    folio_free(firsts);
    return newer;
}

static bool
newer_segment_exists(struct folio_journal_reader *r)
{
    bool unused;
    return newer_segment_exists_ex(r, 0, &unused);
}

/* A frame failed its checks at the current position (not following). */
static int
reader_damage(struct folio_journal_reader *r, const char *why, struct folio_journal_diag *diag)
{
    char why2[200];
    uint64_t damage_end;
    if (!newer_segment_exists(r) &&
        scan_is_torn_tail(&r->seg, r->pos.offset, &damage_end, why2, sizeof(why2))) {
        journal_diag_set(diag, r->seg.name, r->pos.offset, r->pos.next_seq, "torn tail: %s", why);
        return FOLIO_E_TORN_TAIL;
    }
    journal_diag_set(diag, r->seg.name, r->pos.offset, r->pos.next_seq, "%s", why);
    return FOLIO_E_CORRUPT;
}

/*
 * A clean end (zeros) while not following: it must be the end of the log, as
 * in verify. A segment that stops without a seal while a newer one exists, or
 * non-zero bytes after the zeros, is damage, not an end.
 */
static int
reader_end(struct folio_journal_reader *r, struct folio_journal_diag *diag)
{
    if (newer_segment_exists(r)) {
        journal_diag_set(diag, r->seg.name, r->pos.offset, r->pos.next_seq,
                         "segment ends without a seal but a newer segment exists");
        return FOLIO_E_CORRUPT;
    }
    if (r->pos.offset < r->seg.size &&
        !folio_is_zero(r->seg.base + r->pos.offset, r->seg.size - r->pos.offset))
        return reader_damage(r, "non-zero bytes after the end of the log", diag);
    if (!(r->flags & FOLIO_READER_FOLLOW) && r->seg.size < r->seg.hdr.segment_bytes) {
        journal_diag_set(diag, r->seg.name, r->pos.offset, r->pos.next_seq,
                         "torn tail: segment file cut short (%llu of %llu bytes)",
                         (unsigned long long)r->seg.size,
                         (unsigned long long)r->seg.hdr.segment_bytes);
        return FOLIO_E_TORN_TAIL;
    }
    return FOLIO_E_END;
}

/* Moves to the segment after a seal; AGAIN/END if it does not exist yet. */
static int
reader_next_segment(struct folio_journal_reader *r, struct folio_journal_diag *diag)
{
    int err = reader_map(r, r->next_first_seq, diag);
    if (err == FOLIO_E_NOT_FOUND) {
        /* One listing decides: renamed into place meanwhile, missing, or not there yet. */
        bool has_next = false;
        bool newer = newer_segment_exists_ex(r, r->next_first_seq, &has_next);
        if (has_next)
            err = reader_map(r, r->next_first_seq, diag);
        else if (newer) {
            char name[SEG_NAME_LEN];
            seg_name(r->next_first_seq, name);
            journal_diag_set(diag, name, 0, r->pos.next_seq,
                             "segment missing: a newer segment exists");
            return FOLIO_E_CORRUPT;
        }
    }
    if (err == FOLIO_E_NOT_FOUND) {
        if (diag != NULL)
            memset(diag, 0, sizeof(*diag));
        return (r->flags & FOLIO_READER_FOLLOW) ? FOLIO_E_AGAIN : FOLIO_E_END;
    }
    if (err == FOLIO_OK)
        r->need_next = false;
    return err;
}

/* The follower's view of the durable head (UINT64_MAX if none). */
static uint64_t
reader_head(struct folio_journal_reader *r)
{
    if (!r->have_head) {
        if (head_open(r->dir, false, &r->head) != FOLIO_OK)
            return UINT64_MAX;
        r->have_head = true;
    }
    return head_load(&r->head);
}

int
folio_journal_reader_next(struct folio_journal_reader *r, struct folio_journal_record *rec,
                          struct folio_journal_diag *diag)
{
    bool follow = (r->flags & FOLIO_READER_FOLLOW) != 0;
    char why[200];
    for (;;) {
        if (r->in_frame && frame_next_event(r, rec))
            return FOLIO_OK;
        if (r->need_next) {
            int err = reader_next_segment(r, diag);
            if (err != FOLIO_OK)
                return err;
        }
        uint64_t head = follow ? reader_head(r) : UINT64_MAX;
        if (follow && head != UINT64_MAX && r->pos.next_seq > head) {
            /* Everything durable is read, but a seal may already be there. */
            struct scan_frame f;
            if (scan_frame(&r->seg, &r->pos, &f, why, sizeof(why)) != SCAN_SEAL)
                return FOLIO_E_AGAIN;
        }
        struct scan_frame f;
        enum scan_result res = scan_frame(&r->seg, &r->pos, &f, why, sizeof(why));
        switch (res) {
        case SCAN_FRAME:
            r->frame = f;
            r->frame_offset = r->pos.offset;
            r->frame_cursor = f.body;
            r->frame_next_event = 0;
            r->in_frame = true;
            scan_advance(&r->pos, &f);
            continue;
        case SCAN_SEAL:
            scan_advance(&r->pos, &f);
            r->need_next = true;
            r->next_first_seq = f.h.first_seq;
            continue;
        case SCAN_END:
            if (!follow)
                return reader_end(r, diag);
            if (head != UINT64_MAX && r->pos.next_seq <= head) {
                /* Durable events should be here: an end that is not the log's end is damage. */
                int err = reader_end(r, diag);
                if (err != FOLIO_E_END)
                    return err;
            }
            return FOLIO_E_AGAIN;
        case SCAN_BAD:
            if (follow && (head == UINT64_MAX || r->pos.next_seq > head))
                return FOLIO_E_AGAIN;
            if (follow) {
                journal_diag_set(diag, r->seg.name, r->pos.offset, r->pos.next_seq,
                                 "%s (below the durable head %llu)", why,
                                 (unsigned long long)head);
                return FOLIO_E_CORRUPT;
            }
            return reader_damage(r, why, diag);
        case SCAN_MISMATCH:
            journal_diag_set(diag, r->seg.name, r->pos.offset, r->pos.next_seq, "%s", why);
            return FOLIO_E_CORRUPT;
        }
    }
}

void
folio_journal_reader_wait(struct folio_journal_reader *r, int timeout_ms)
{
    int64_t waited_us = 0;
    uint64_t start = reader_head(r);
    while (waited_us < (int64_t)timeout_ms * 1000) {
        uint64_t head = reader_head(r);
        if (head != start || (head != UINT64_MAX && head >= r->pos.next_seq))
            return;
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
        waited_us += 1000;
    }
}

int
folio_journal_frame_at(const char *dir, uint64_t seq, struct folio_journal_frame_pos *pos,
                       struct folio_journal_diag *diag)
{
    memset(pos, 0, sizeof(*pos));
    struct folio_journal_reader *r = NULL;
    int err = folio_journal_reader_open(dir, seq, 0, &r, diag);
    if (err != FOLIO_OK)
        return err;
    struct folio_journal_record rec;
    err = folio_journal_reader_next(r, &rec, diag);
    if (err == FOLIO_E_END || (err == FOLIO_OK && rec.seq != seq)) {
        journal_diag_set(diag, "", 0, seq, "the journal holds no event at seq %llu",
                         (unsigned long long)seq);
        err = FOLIO_E_NOT_FOUND;
    }
    if (err == FOLIO_OK) {
        /* The reader's current frame is the one that handed out seq. */
        snprintf(pos->segment, sizeof(pos->segment), "%s", r->seg.name);
        pos->segment_bytes = r->seg.hdr.segment_bytes;
        pos->offset = r->frame_offset;
        pos->end = r->frame_offset + r->frame.disk_bytes;
        pos->first_seq = r->frame.h.first_seq;
        pos->last_seq = r->frame.h.first_seq + r->frame.h.event_count - 1;
        pos->frame_hash = r->frame.h.frame_hash;
        FOLIO_ASSERT(pos->first_seq <= seq && seq <= pos->last_seq);
        FOLIO_ASSERT(pos->end == r->pos.offset);
    }
    folio_journal_reader_close(r);
    return err;
}
