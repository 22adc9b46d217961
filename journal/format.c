/*
 * Segment header and frame header encoding (docs/journal-format.md).
 *
 * All integers are little-endian. A header is trusted only after its own
 * XXH3-64 checks out: no length or count is used before that.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "journal_int.h"

void
seg_header_encode(const struct seg_header *h, uint8_t out[SEG_HEADER_BYTES])
{
    memset(out, 0, SEG_HEADER_BYTES);
    memcpy(out, SEG_MAGIC, 8);
    folio_store_le16(out + 8, h->format_version);
    folio_store_le16(out + 10, h->header_bytes);
    folio_store_le32(out + 12, h->frame_body_max);
    memcpy(out + 16, h->journal_uid, 16);
    folio_store_le64(out + 32, h->segment_no);
    folio_store_le64(out + 40, h->salt);
    folio_store_le64(out + 48, h->first_seq);
    folio_store_le64(out + 56, h->prev_hash);
    folio_store_le64(out + 64, (uint64_t)h->created_ns);
    folio_store_le64(out + 72, h->segment_bytes);
    folio_store_le64(out + SEG_HEADER_HASH_OFF, XXH3_64bits(out, SEG_HEADER_HASH_OFF));
}

int
seg_header_decode(const uint8_t *buf, struct seg_header *h, char *why, size_t why_len)
{
    if (memcmp(buf, SEG_MAGIC, 8) != 0) {
        snprintf(why, why_len, "segment header: bad magic");
        return FOLIO_E_CORRUPT;
    }
    uint64_t stored = folio_load_le64(buf + SEG_HEADER_HASH_OFF);
    if (stored != XXH3_64bits(buf, SEG_HEADER_HASH_OFF)) {
        snprintf(why, why_len, "segment header: checksum mismatch");
        return FOLIO_E_CORRUPT;
    }
    h->format_version = folio_load_le16(buf + 8);
    h->header_bytes = folio_load_le16(buf + 10);
    h->frame_body_max = folio_load_le32(buf + 12);
    memcpy(h->journal_uid, buf + 16, 16);
    h->segment_no = folio_load_le64(buf + 32);
    h->salt = folio_load_le64(buf + 40);
    h->first_seq = folio_load_le64(buf + 48);
    h->prev_hash = folio_load_le64(buf + 56);
    h->created_ns = (int64_t)folio_load_le64(buf + 64);
    h->segment_bytes = folio_load_le64(buf + 72);
    if (h->format_version != SEG_FORMAT_VERSION) {
        snprintf(why, why_len, "segment header: format version %u, this build reads %u",
                 h->format_version, SEG_FORMAT_VERSION);
        return FOLIO_E_VERSION;
    }
    if (h->header_bytes != SEG_HEADER_BYTES || !folio_is_zero(buf + 80, SEG_HEADER_HASH_OFF - 80) ||
        h->segment_bytes < SEG_BYTES_MIN || h->segment_bytes > SEG_BYTES_MAX ||
        h->segment_bytes % FRAME_ALIGN != 0 || h->frame_body_max < FRAME_BODY_MIN ||
        h->frame_body_max > FRAME_BODY_MAX_DEFAULT ||
        frame_disk_bytes(h->frame_body_max) + SEAL_FRAME_BYTES + SEG_HEADER_BYTES >
            h->segment_bytes ||
        h->first_seq == 0) {
        snprintf(why, why_len, "segment header: field out of range or reserved bytes not zero");
        return FOLIO_E_CORRUPT;
    }
    return FOLIO_OK;
}

void
frame_header_encode(const struct frame_header *h, uint8_t out[FRAME_HEADER_BYTES])
{
    folio_store_le32(out + 0, FRAME_MAGIC);
    folio_store_le16(out + 4, h->version);
    folio_store_le16(out + 6, h->flags);
    folio_store_le32(out + 8, h->body_len);
    folio_store_le32(out + 12, h->event_count);
    folio_store_le64(out + 16, h->first_seq);
    folio_store_le64(out + 24, h->prev_hash);
    folio_store_le64(out + 32, h->salt);
    folio_store_le64(out + 40, (uint64_t)h->timestamp_ns);
    folio_store_le64(out + 48, h->body_hash);
    folio_store_le64(out + FRAME_HASH_OFF, XXH3_64bits(out, FRAME_HASH_OFF));
}

bool
frame_header_decode(const uint8_t *buf, struct frame_header *h)
{
    if (folio_load_le32(buf) != FRAME_MAGIC)
        return false;
    h->frame_hash = folio_load_le64(buf + FRAME_HASH_OFF);
    if (h->frame_hash != XXH3_64bits(buf, FRAME_HASH_OFF))
        return false;
    h->version = folio_load_le16(buf + 4);
    h->flags = folio_load_le16(buf + 6);
    h->body_len = folio_load_le32(buf + 8);
    h->event_count = folio_load_le32(buf + 12);
    h->first_seq = folio_load_le64(buf + 16);
    h->prev_hash = folio_load_le64(buf + 24);
    h->salt = folio_load_le64(buf + 32);
    h->timestamp_ns = (int64_t)folio_load_le64(buf + 40);
    h->body_hash = folio_load_le64(buf + 48);
    return true;
}

void
seg_name(uint64_t first_seq, char out[SEG_NAME_LEN])
{
    snprintf(out, SEG_NAME_LEN, "%020" PRIu64 ".seg", first_seq);
}

bool
seg_name_parse(const char *name, uint64_t *first_seq)
{
    if (strlen(name) != 24 || strcmp(name + 20, ".seg") != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *first_seq = v;
    return v != 0;
}
