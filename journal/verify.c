/*
 * The whole-journal walk: reads every segment from the oldest, checking each
 * header, frame, seal, chain link and seq, and classifies the first problem.
 * Recovery uses it to find the append position; `folio journal verify` uses
 * it read-only. It never changes a byte.
 *
 * Segment-level rules checked here (frame-level ones live in scan.c):
 *  - segments form one chain: same journal uid, consecutive segment numbers,
 *    each one's first seq and prev hash equal to its predecessor's seal;
 *  - every segment but the newest ends in a seal, followed only by zeros;
 *  - every segment file has exactly the size its header declares, except the
 *    newest, which may have been cut short (reported as a torn tail).
 */
#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "journal_int.h"

struct walk {
    const char *dir;
    bool decode_events;
    struct folio_journal_verify_info *info;
    struct folio_journal_diag *diag;
    struct walk_end *end;
    uint8_t journal_uid[16];
    uint64_t prev_segment_no;
};

static void
info_frame(struct walk *w, const struct scan_frame *f)
{
    struct folio_journal_verify_info *in = w->info;
    in->frames++;
    in->bytes_used += f->disk_bytes;
    if (f->h.flags & FRAME_FLAG_SEAL)
        return;
    if (in->events == 0) {
        in->first_seq = f->h.first_seq;
        in->first_at_ns = f->h.timestamp_ns;
    }
    in->events += f->h.event_count;
    in->last_seq = f->h.first_seq + f->h.event_count - 1;
    in->last_at_ns = f->h.timestamp_ns;
}

static int
decode_frame_events(const struct seg_map *m, const struct scan_frame *f,
                    struct folio_journal_diag *diag, uint64_t offset)
{
    const uint8_t *p = f->body;
    for (uint32_t i = 0; i < f->h.event_count; i++) {
        uint32_t len = folio_load_le32(p);
        struct folio_event ev;
        int err = folio_event_decode(p + EVENT_LEN_BYTES, len, &ev);
        if (err != FOLIO_OK) {
            journal_diag_set(diag, m->name, offset, f->h.first_seq + i,
                             "event does not decode: %s", folio_err_message(err));
            return FOLIO_E_CORRUPT;
        }
        folio_event_clear(&ev);
        p += EVENT_LEN_BYTES + len;
    }
    return FOLIO_OK;
}

/* Classifies damage at pos in segment m (newest segment only). */
static int
classify_tail(struct walk *w, const struct seg_map *m, const struct scan_pos *pos,
              const char *what)
{
    char why[200];
    if (!scan_is_torn_tail(m, pos->offset, &w->end->damage_end, why, sizeof(why))) {
        journal_diag_set(w->diag, m->name, pos->offset, pos->next_seq, "%s; %s", what, why);
        return FOLIO_E_CORRUPT;
    }
    journal_diag_set(w->diag, m->name, pos->offset, pos->next_seq,
                     "torn tail: %s (%llu damaged bytes, nothing valid after them)", what,
                     (unsigned long long)(w->end->damage_end - pos->offset));
    return FOLIO_E_TORN_TAIL;
}

/* The newest segment reached a zero header: the rest must be zeros, and the file whole. */
static int
check_clean_end(struct walk *w, const struct seg_map *m, const struct scan_pos *pos)
{
    if (pos->offset < m->size && !folio_is_zero(m->base + pos->offset, m->size - pos->offset))
        return classify_tail(w, m, pos, "non-zero bytes after the end of the log");
    w->end->damage_end = pos->offset;
    if (m->size < m->hdr.segment_bytes) {
        journal_diag_set(w->diag, m->name, pos->offset, pos->next_seq,
                         "torn tail: segment file cut short (%llu of %llu bytes)",
                         (unsigned long long)m->size, (unsigned long long)m->hdr.segment_bytes);
        return FOLIO_E_TORN_TAIL;
    }
    return FOLIO_OK;
}

/* Walks the frames of one mapped segment; pos starts after its header. */
static int
walk_frames(struct walk *w, const struct seg_map *m, struct scan_pos *pos, bool newest)
{
    char why[200];
    struct scan_frame f;
    for (;;) {
        enum scan_result r = scan_frame(m, pos, &f, why, sizeof(why));
        switch (r) {
        case SCAN_FRAME:
            if (w->decode_events) {
                int err = decode_frame_events(m, &f, w->diag, pos->offset);
                if (err != FOLIO_OK)
                    return err;
            }
            info_frame(w, &f);
            scan_advance(pos, &f);
            continue;
        case SCAN_SEAL:
            info_frame(w, &f);
            scan_advance(pos, &f);
            w->end->sealed = true;
            w->info->sealed_segments++;
            if (!folio_is_zero(m->base + pos->offset, m->size - pos->offset)) {
                journal_diag_set(w->diag, m->name, pos->offset, pos->next_seq,
                                 "non-zero bytes after the seal frame");
                return FOLIO_E_CORRUPT;
            }
            if (m->size != m->hdr.segment_bytes && !newest) {
                journal_diag_set(w->diag, m->name, m->size, pos->next_seq,
                                 "sealed segment file has the wrong size");
                return FOLIO_E_CORRUPT;
            }
            /*
             * A newest segment cut short after its seal is a torn tail like any
             * other short newest segment: recovery restores its size. Calling it
             * sound would let open roll past it, after which the short file is
             * no longer the newest and every later walk reports corruption.
             */
            if (newest)
                return check_clean_end(w, m, pos);
            return FOLIO_OK;
        case SCAN_END:
            if (!newest) {
                journal_diag_set(w->diag, m->name, pos->offset, pos->next_seq,
                                 "segment ends without a seal but a newer segment exists");
                return FOLIO_E_CORRUPT;
            }
            return check_clean_end(w, m, pos);
        case SCAN_BAD:
            if (!newest) {
                journal_diag_set(w->diag, m->name, pos->offset, pos->next_seq,
                                 "%s (in a segment that is not the newest)", why);
                return FOLIO_E_CORRUPT;
            }
            return classify_tail(w, m, pos, why);
        case SCAN_MISMATCH:
            journal_diag_set(w->diag, m->name, pos->offset, pos->next_seq, "%s", why);
            return FOLIO_E_CORRUPT;
        }
    }
}

/* Checks that segment m continues the chain, then walks it. */
static int
walk_segment(struct walk *w, const struct seg_map *m, size_t index, bool newest,
             struct scan_pos *pos)
{
    const struct seg_header *h = &m->hdr;
    uint64_t name_seq = 0;
    seg_name_parse(m->name, &name_seq);
    if (h->first_seq != name_seq) {
        journal_diag_set(w->diag, m->name, 0, name_seq, "header says first seq %llu",
                         (unsigned long long)h->first_seq);
        return FOLIO_E_CORRUPT;
    }
    if (index == 0) {
        memcpy(w->journal_uid, h->journal_uid, 16);
        pos->next_seq = h->first_seq;
        pos->prev_hash = h->prev_hash;
    } else if (memcmp(w->journal_uid, h->journal_uid, 16) != 0 ||
               h->segment_no != w->prev_segment_no + 1 || !w->end->sealed ||
               h->first_seq != pos->next_seq || h->prev_hash != pos->prev_hash) {
        journal_diag_set(w->diag, m->name, 0, pos->next_seq,
                         "segment does not continue the previous one (journal uid, segment "
                         "number, first seq or prev hash differ)");
        return FOLIO_E_CORRUPT;
    }
    w->prev_segment_no = h->segment_no;
    pos->offset = SEG_HEADER_BYTES;
    pos->frames = 0;
    w->end->sealed = false;
    w->info->segments++;
    w->info->bytes_total += m->size;
    w->info->bytes_used += SEG_HEADER_BYTES;
    return walk_frames(w, m, pos, newest);
}

int
journal_walk(const char *dir, bool decode_events, struct walk_end *end,
             struct folio_journal_verify_info *info, struct folio_journal_diag *diag)
{
    struct folio_journal_verify_info local_info;
    struct walk w = {.dir = dir, .decode_events = decode_events, .info = info ? info : &local_info,
                     .diag = diag, .end = end};
    memset(w.info, 0, sizeof(*w.info));
    memset(end, 0, sizeof(*end));
    uint64_t *firsts = NULL;
    size_t count = 0;
    int err = seg_list(dir, &firsts, &count);
    if (err != FOLIO_OK || count == 0) {
        journal_diag_set(diag, "", 0, 0, "no journal segments in %s", dir);
        folio_free(firsts);
        return FOLIO_E_NOT_FOUND;
    }
    struct scan_pos pos = {0};
    for (size_t i = 0; i < count; i++) {
        char name[SEG_NAME_LEN];
        struct seg_map m;
        seg_name(firsts[i], name);
        err = seg_map_open(dir, name, &m, diag);
        if (err != FOLIO_OK)
            break;
        bool newest = i + 1 == count;
        if (!newest && m.size != m.hdr.segment_bytes) {
            journal_diag_set(diag, name, m.size, pos.next_seq,
                             "segment file is %llu bytes, its header says %llu",
                             (unsigned long long)m.size, (unsigned long long)m.hdr.segment_bytes);
            err = FOLIO_E_CORRUPT;
        } else {
            err = walk_segment(&w, &m, i, newest, &pos);
        }
        if (newest) {
            end->hdr = m.hdr;
            end->file_size = m.size;
            end->last_first_seq = firsts[i];
        }
        seg_map_close(&m);
        if (err != FOLIO_OK)
            break;
    }
    end->segments = count;
    end->offset = pos.offset;
    end->next_seq = pos.next_seq;
    end->last_hash = pos.prev_hash;
    end->frames = pos.frames;
    folio_free(firsts);
    return err;
}

int
folio_journal_verify(const char *dir, struct folio_journal_verify_info *info,
                     struct folio_journal_diag *diag)
{
    struct walk_end end;
    if (diag != NULL)
        memset(diag, 0, sizeof(*diag));
    return journal_walk(dir, true, &end, info, diag);
}
