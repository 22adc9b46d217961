/*
 * The frame scanner: the one place that decides whether bytes on disk are a
 * frame folio wrote, and, when they are not, whether the damage is a torn
 * tail or corruption. Recovery, readers and verify all go through it, so they
 * can never disagree.
 *
 * Rules (docs/journal-format.md, "Recovery"):
 *  - a header is trusted only after its magic and XXH3 check out;
 *  - a trusted header that is not the frame expected here (salt, seq, chain,
 *    version, flags, lengths) is corruption: a torn write cannot produce a
 *    header whose checksum is valid but whose content is wrong;
 *  - an untrusted header, or a trusted one whose body is incomplete or fails
 *    its checksum, is damage; in the newest segment, damage with no valid
 *    frame of this segment after it and no non-zero byte beyond one maximum
 *    frame is a torn tail, anything else is corruption.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "journal_int.h"

void
journal_diag_set(struct folio_journal_diag *diag, const char *segment, uint64_t offset,
                 uint64_t seq, const char *fmt, ...)
{
    if (diag == NULL)
        return;
    snprintf(diag->segment, sizeof(diag->segment), "%s", segment ? segment : "");
    diag->offset = offset;
    diag->seq = seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag->reason, sizeof(diag->reason), fmt, ap);
    va_end(ap);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int
seg_list(const char *dir, uint64_t **firsts, size_t *count)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? FOLIO_E_NOT_FOUND : FOLIO_E_IO;
    size_t n = 0, cap = 16;
    uint64_t *v = folio_malloc(cap * sizeof(*v));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t first;
        if (!seg_name_parse(e->d_name, &first))
            continue;
        if (n == cap) {
            cap *= 2;
            v = folio_reallocarray(v, cap, sizeof(*v));
        }
        v[n++] = first;
    }
    closedir(d);
    qsort(v, n, sizeof(*v), cmp_u64);
    *firsts = v;
    *count = n;
    return FOLIO_OK;
}

int
seg_map_open(const char *dir, const char *name, struct seg_map *m, struct folio_journal_diag *diag)
{
    char path[4096], why[200];
    int err;
    memset(m, 0, sizeof(*m));
    m->fd = -1;
    snprintf(m->name, sizeof(m->name), "%s", name);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    m->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (m->fd < 0) {
        err = errno == ENOENT ? FOLIO_E_NOT_FOUND : FOLIO_E_IO;
        journal_diag_set(diag, name, 0, 0, "cannot open segment: %s", strerror(errno));
        return err;
    }
    struct stat st;
    if (fstat(m->fd, &st) != 0) {
        err = FOLIO_E_IO;
        journal_diag_set(diag, name, 0, 0, "cannot stat segment: %s", strerror(errno));
        goto fail;
    }
    m->size = (uint64_t)st.st_size;
    if (m->size < SEG_HEADER_BYTES) {
        err = FOLIO_E_CORRUPT;
        journal_diag_set(diag, name, 0, 0, "segment file is %llu bytes, shorter than its header",
                         (unsigned long long)m->size);
        goto fail;
    }
    m->map_size = m->size;
    void *base = mmap(NULL, m->map_size, PROT_READ, MAP_SHARED, m->fd, 0);
    if (base == MAP_FAILED) {
        err = FOLIO_E_IO;
        journal_diag_set(diag, name, 0, 0, "cannot map segment: %s", strerror(errno));
        goto fail;
    }
    m->base = base;
    madvise(base, m->map_size, MADV_SEQUENTIAL);
    err = seg_header_decode(m->base, &m->hdr, why, sizeof(why));
    if (err != FOLIO_OK) {
        journal_diag_set(diag, name, 0, 0, "%s", why);
        goto fail;
    }
    if (m->size > m->hdr.segment_bytes) {
        err = FOLIO_E_CORRUPT;
        journal_diag_set(diag, name, m->hdr.segment_bytes, m->hdr.first_seq,
                         "segment file is %llu bytes, longer than its header's %llu",
                         (unsigned long long)m->size, (unsigned long long)m->hdr.segment_bytes);
        goto fail;
    }
    return FOLIO_OK;
fail:
    seg_map_close(m);
    return err;
}

void
seg_map_close(struct seg_map *m)
{
    if (m->base != NULL)
        munmap((void *)m->base, m->map_size);
    if (m->fd >= 0)
        close(m->fd);
    m->base = NULL;
    m->fd = -1;
}

int
scan_check_events(const struct scan_frame *f, char *why, size_t why_len)
{
    const uint8_t *p = f->body, *end = f->body + f->h.body_len;
    for (uint32_t i = 0; i < f->h.event_count; i++) {
        if ((size_t)(end - p) < EVENT_LEN_BYTES) {
            snprintf(why, why_len, "event %u: length prefix past end of body", i);
            return FOLIO_E_CORRUPT;
        }
        uint32_t len = folio_load_le32(p);
        p += EVENT_LEN_BYTES;
        if (len < FOLIO_EVENT_PREFIX_LEN || len > FOLIO_EVENT_BYTES_MAX ||
            len > (size_t)(end - p)) {
            snprintf(why, why_len, "event %u: bad length %u", i, len);
            return FOLIO_E_CORRUPT;
        }
        uint64_t seq = 0;
        if (!folio_event_prefix_seq(p, len, &seq)) {
            snprintf(why, why_len, "event %u: does not start with the event prefix", i);
            return FOLIO_E_CORRUPT;
        }
        if (seq != f->h.first_seq + i) {
            snprintf(why, why_len, "event %u: seq %llu in event, frame says %llu", i,
                     (unsigned long long)seq, (unsigned long long)(f->h.first_seq + i));
            return FOLIO_E_CORRUPT;
        }
        p += len;
    }
    if (p != end) {
        snprintf(why, why_len, "%zu bytes after the last event of the body", (size_t)(end - p));
        return FOLIO_E_CORRUPT;
    }
    return FOLIO_OK;
}

/* Checks a trusted header against what is expected at pos. */
static bool
header_expected(const struct seg_map *m, const struct scan_pos *pos, const struct frame_header *h,
                char *why, size_t why_len)
{
    bool seal = (h->flags & FRAME_FLAG_SEAL) != 0;
    if (h->version != FRAME_VERSION || (h->flags & ~FRAME_FLAGS_KNOWN) != 0)
        snprintf(why, why_len, "frame version %u flags 0x%x not known", h->version, h->flags);
    else if (h->salt != m->hdr.salt)
        snprintf(why, why_len, "frame salt %016llx is not this segment's (stale or misplaced frame)",
                 (unsigned long long)h->salt);
    else if (h->first_seq != pos->next_seq)
        snprintf(why, why_len, "frame starts at seq %llu, expected %llu",
                 (unsigned long long)h->first_seq, (unsigned long long)pos->next_seq);
    else if (h->prev_hash != pos->prev_hash)
        snprintf(why, why_len, "hash chain broken: frame links to %016llx, previous is %016llx",
                 (unsigned long long)h->prev_hash, (unsigned long long)pos->prev_hash);
    else if (seal ? (h->event_count != 0 || h->body_len != SEAL_BODY_BYTES)
                  : (h->event_count == 0 || h->body_len > m->hdr.frame_body_max ||
                     h->body_len < (uint64_t)h->event_count *
                                       (EVENT_LEN_BYTES + FOLIO_EVENT_PREFIX_LEN)))
        snprintf(why, why_len, "frame lengths out of range (body %u, events %u)", h->body_len,
                 h->event_count);
    else if (pos->offset + frame_disk_bytes(h->body_len) + (seal ? 0 : SEAL_FRAME_BYTES) >
             m->hdr.segment_bytes)
        snprintf(why, why_len, "frame does not fit in the segment");
    else
        return true;
    return false;
}

/* Checks what follows a trusted header: body checksum, padding, seal or events. */
static enum scan_result
frame_body_check(const struct seg_map *m, const struct scan_pos *pos, struct scan_frame *f,
                 char *why, size_t why_len)
{
    const uint8_t *p = m->base + pos->offset;
    f->body = p + FRAME_HEADER_BYTES;
    f->disk_bytes = frame_disk_bytes(f->h.body_len);
    if (pos->offset + f->disk_bytes > m->size) {
        snprintf(why, why_len, "frame runs past the end of the file");
        return SCAN_BAD;
    }
    if (XXH3_64bits(f->body, f->h.body_len) != f->h.body_hash) {
        snprintf(why, why_len, "frame body checksum mismatch");
        return SCAN_BAD;
    }
    size_t pad = f->disk_bytes - FRAME_HEADER_BYTES - f->h.body_len;
    if (!folio_is_zero(f->body + f->h.body_len, pad)) {
        snprintf(why, why_len, "frame padding is not zero");
        return SCAN_MISMATCH;
    }
    if (f->h.flags & FRAME_FLAG_SEAL) {
        uint64_t last_seq = folio_load_le64(f->body);
        uint64_t frames = folio_load_le64(f->body + 8);
        uint64_t seal_off = folio_load_le64(f->body + 16);
        if (last_seq != pos->next_seq - 1 || frames != pos->frames || seal_off != pos->offset) {
            snprintf(why, why_len, "seal says last seq %llu, %llu frames, offset %llu",
                     (unsigned long long)last_seq, (unsigned long long)frames,
                     (unsigned long long)seal_off);
            return SCAN_MISMATCH;
        }
        return SCAN_SEAL;
    }
    if (scan_check_events(f, why, why_len) != FOLIO_OK)
        return SCAN_MISMATCH;
    return SCAN_FRAME;
}

enum scan_result
scan_frame(const struct seg_map *m, const struct scan_pos *pos, struct scan_frame *f, char *why,
           size_t why_len)
{
    uint64_t off = pos->offset;
    FOLIO_ASSERT(off % FRAME_ALIGN == 0 && off >= SEG_HEADER_BYTES);
    if (off >= m->size)
        return SCAN_END;
    if (off + FRAME_HEADER_BYTES > m->size) {
        if (folio_is_zero(m->base + off, m->size - off))
            return SCAN_END;
        snprintf(why, why_len, "frame header runs past the end of the file");
        return SCAN_BAD;
    }
    const uint8_t *p = m->base + off;
    if (folio_is_zero(p, FRAME_HEADER_BYTES))
        return SCAN_END;
    if (!frame_header_decode(p, &f->h)) {
        snprintf(why, why_len, "frame header checksum mismatch");
        return SCAN_BAD;
    }
    if (!header_expected(m, pos, &f->h, why, why_len))
        return SCAN_MISMATCH;
    return frame_body_check(m, pos, f, why, why_len);
}

void
scan_advance(struct scan_pos *pos, const struct scan_frame *f)
{
    pos->offset += f->disk_bytes;
    pos->next_seq += f->h.event_count;
    pos->prev_hash = f->h.frame_hash;
    if (!(f->h.flags & FRAME_FLAG_SEAL))
        pos->frames++;
}

/* Offset just past the last non-zero byte in [from, m->size), or from if none. */
static uint64_t
last_nonzero_end(const struct seg_map *m, uint64_t from)
{
    uint64_t end = m->size;
    while (end > from) {
        uint64_t chunk = end - from > 65536 ? 65536 : end - from;
        if (!folio_is_zero(m->base + end - chunk, chunk)) {
            while (m->base[end - 1] == 0)
                end--;
            return end;
        }
        end -= chunk;
    }
    return from;
}

bool
scan_is_torn_tail(const struct seg_map *m, uint64_t offset, uint64_t *damage_end, char *why,
                  size_t why_len)
{
    uint64_t end = last_nonzero_end(m, offset);
    *damage_end = end;
    uint64_t reach = frame_disk_bytes(m->hdr.frame_body_max);
    if (end > offset + reach) {
        snprintf(why, why_len,
                 "non-zero bytes up to offset %llu, beyond the largest frame that could have been "
                 "in flight at %llu",
                 (unsigned long long)end, (unsigned long long)offset);
        return false;
    }
    for (uint64_t o = offset + FRAME_ALIGN; o + FRAME_HEADER_BYTES <= end; o += FRAME_ALIGN) {
        struct frame_header h;
        if (folio_load_le32(m->base + o) != FRAME_MAGIC || !frame_header_decode(m->base + o, &h))
            continue;
        if (h.salt == m->hdr.salt) {
            snprintf(why, why_len, "a valid frame (seq %llu) at offset %llu follows the damage",
                     (unsigned long long)h.first_seq, (unsigned long long)o);
            return false;
        }
    }
    return true;
}
