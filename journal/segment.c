/*
 * Segment files: preparation ahead of need, installation, and roll-over.
 *
 * A new segment is born as journal/next.tmp, zero-filled to its full size and
 * fdatasynced by a background thread (overwriting zeroed blocks syncs faster
 * than growing a file, and keeps the allocation off the commit path). It
 * becomes a segment when the writer stamps its header, fdatasyncs, renames it
 * to "<first seq>.seg" and fsyncs the directory. A roll seals the full
 * segment first (seal frame + fdatasync), so a newer segment exists only
 * after its predecessor's seal is durable.
 *
 * Failures: preparing a file (nothing acknowledged is in it) returns an error
 * and the file is discarded; the writer retries once itself at roll time and
 * otherwise stops accepting appends (FOLIO_E_NOSPC). A failed write, fsync or
 * rename of a segment in use aborts the process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "journal_int.h"

#define TMP_NAME "next.tmp"
#define ZERO_CHUNK (1u << 20)

void
journal_path(const struct folio_journal *j, const char *name, char *out, size_t out_len)
{
    snprintf(out, out_len, "%s/%s", j->dir, name);
}

int
segment_prepare(struct folio_journal *j, int *fd_out)
{
    char path[4096];
    journal_path(j, TMP_NAME, path, sizeof(path));
    int fd = folio_io_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return folio_err_from_errno(errno);
    uint8_t *zeros = folio_calloc(1, ZERO_CHUNK);
    int err = FOLIO_OK;
    for (uint64_t off = 0; off < j->opts.segment_bytes && err == FOLIO_OK; off += ZERO_CHUNK) {
        uint64_t n = j->opts.segment_bytes - off < ZERO_CHUNK ? j->opts.segment_bytes - off
                                                              : ZERO_CHUNK;
        if (folio_io_pwrite_all(fd, zeros, n, (off_t)off) != 0)
            err = folio_err_from_errno(errno);
    }
    if (err == FOLIO_OK && folio_io_fdatasync(fd) != 0)
        err = folio_err_from_errno(errno);
    folio_free(zeros);
    if (err != FOLIO_OK) {
        /* A file whose write or fsync failed is never used: drop it and start over later. */
        close(fd);
        (void)folio_io_unlink(path);
        return err == FOLIO_E_NOSPC ? FOLIO_E_NOSPC : FOLIO_E_IO;
    }
    *fd_out = fd;
    return FOLIO_OK;
}

void *
segment_preparer_main(void *arg)
{
    struct folio_journal *j = arg;
    pthread_mutex_lock(&j->prep_mu);
    for (;;) {
        while (j->prep_state != PREP_WANTED && !j->prep_stop)
            pthread_cond_wait(&j->prep_cv, &j->prep_mu);
        if (j->prep_stop)
            break;
        j->prep_state = PREP_BUSY;
        pthread_mutex_unlock(&j->prep_mu);
        int fd = -1;
        int err = segment_prepare(j, &fd);
        pthread_mutex_lock(&j->prep_mu);
        j->prep_err = err;
        j->prep_fd = fd;
        j->prep_state = err == FOLIO_OK ? PREP_READY : PREP_FAILED;
        pthread_cond_broadcast(&j->prep_cv);
    }
    pthread_mutex_unlock(&j->prep_mu);
    return NULL;
}

void
segment_request_prepare(struct folio_journal *j)
{
    pthread_mutex_lock(&j->prep_mu);
    if (j->prep_state == PREP_IDLE || j->prep_state == PREP_FAILED) {
        j->prep_state = PREP_WANTED;
        pthread_cond_broadcast(&j->prep_cv);
    }
    pthread_mutex_unlock(&j->prep_mu);
}

int
segment_take_prepared(struct folio_journal *j, int *fd_out)
{
    pthread_mutex_lock(&j->prep_mu);
    while (j->preparer_started && (j->prep_state == PREP_WANTED || j->prep_state == PREP_BUSY))
        pthread_cond_wait(&j->prep_cv, &j->prep_mu);
    if (j->prep_state == PREP_READY) {
        *fd_out = j->prep_fd;
        j->prep_fd = -1;
        j->prep_state = PREP_IDLE;
        pthread_mutex_unlock(&j->prep_mu);
        return FOLIO_OK;
    }
    /* Nothing ready (the preparer failed or is not running): try once here. */
    j->prep_state = PREP_BUSY;
    pthread_mutex_unlock(&j->prep_mu);
    int err = segment_prepare(j, fd_out);
    pthread_mutex_lock(&j->prep_mu);
    j->prep_state = PREP_IDLE;
    pthread_mutex_unlock(&j->prep_mu);
    return err;
}

void
segment_install(struct folio_journal *j, int fd, uint64_t first_seq, uint64_t segment_no,
                uint64_t prev_hash)
{
    struct seg_header h = {
        .format_version = SEG_FORMAT_VERSION,
        .header_bytes = SEG_HEADER_BYTES,
        .frame_body_max = j->frame_body_max,
        .segment_no = segment_no,
        .first_seq = first_seq,
        .prev_hash = prev_hash,
        .created_ns = folio_clock_now_ns(),
        .segment_bytes = j->opts.segment_bytes,
    };
    memcpy(h.journal_uid, j->journal_uid, 16);
    if (journal_random_bytes(&h.salt, sizeof(h.salt)) != FOLIO_OK)
        FOLIO_PANIC("cannot read random bytes for a segment salt");
    uint8_t buf[SEG_HEADER_BYTES];
    seg_header_encode(&h, buf);

    char tmp[4096], final[4096];
    journal_path(j, TMP_NAME, tmp, sizeof(tmp));
    seg_name(first_seq, j->seg_name);
    journal_path(j, j->seg_name, final, sizeof(final));
    if (folio_io_pwrite_all(fd, buf, sizeof(buf), 0) != 0)
        FOLIO_PANIC("journal: writing segment header of %s failed: %s", j->seg_name,
                    strerror(errno));
    if (folio_io_fdatasync(fd) != 0)
        FOLIO_PANIC("journal: fdatasync of new segment %s failed: %s", j->seg_name,
                    strerror(errno));
    if (folio_io_rename(tmp, final) != 0)
        FOLIO_PANIC("journal: rename %s -> %s failed: %s", tmp, final, strerror(errno));
    if (folio_io_fsync_dir(j->dir) != 0)
        FOLIO_PANIC("journal: fsync of directory %s failed: %s", j->dir, strerror(errno));
    j->seg_fd = fd;
    j->seg_hdr = h;
    j->seg_offset = SEG_HEADER_BYTES;
    j->seg_frames = 0;
    j->last_hash = prev_hash;
}

/* Writes the seal frame of the active segment and fdatasyncs it. */
static void
segment_seal(struct folio_journal *j)
{
    uint8_t frame[SEAL_FRAME_BYTES];
    uint8_t *body = frame + FRAME_HEADER_BYTES;
    folio_store_le64(body, j->written_seq);
    folio_store_le64(body + 8, j->seg_frames);
    folio_store_le64(body + 16, j->seg_offset);
    struct frame_header h = {
        .version = FRAME_VERSION,
        .flags = FRAME_FLAG_SEAL,
        .body_len = SEAL_BODY_BYTES,
        .event_count = 0,
        .first_seq = j->written_seq + 1,
        .prev_hash = j->last_hash,
        .salt = j->seg_hdr.salt,
        .timestamp_ns = folio_clock_now_ns(),
        .body_hash = XXH3_64bits(body, SEAL_BODY_BYTES),
    };
    frame_header_encode(&h, frame);
    FOLIO_ASSERT(j->seg_offset + SEAL_FRAME_BYTES <= j->seg_hdr.segment_bytes);
    if (folio_io_pwrite_all(j->seg_fd, frame, sizeof(frame), (off_t)j->seg_offset) != 0)
        FOLIO_PANIC("journal: writing seal of %s failed: %s", j->seg_name, strerror(errno));
    if (folio_io_fdatasync(j->seg_fd) != 0)
        FOLIO_PANIC("journal: fdatasync of seal of %s failed: %s", j->seg_name, strerror(errno));
    j->last_hash = folio_load_le64(frame + FRAME_HASH_OFF);
    j->seg_offset += SEAL_FRAME_BYTES;
}

int
segment_roll(struct folio_journal *j)
{
    int fd = -1;
    int err = segment_take_prepared(j, &fd);
    if (err != FOLIO_OK)
        return err;
    segment_seal(j);
    close(j->seg_fd);
    segment_install(j, fd, j->written_seq + 1, j->seg_hdr.segment_no + 1, j->last_hash);
    __atomic_add_fetch(&j->stats.segments_rolled, 1, __ATOMIC_RELAXED);
    segment_request_prepare(j);
    return FOLIO_OK;
}

int
segment_create_first(struct folio_journal *j)
{
    int fd = -1;
    int err = segment_take_prepared(j, &fd);
    if (err != FOLIO_OK)
        return err;
    segment_install(j, fd, 1, 0, 0);
    return FOLIO_OK;
}
