/*
 * The journal writer: open (with recovery), the bounded append queue, group
 * commit, acknowledgements and close.
 *
 * Invariants:
 *  - seqs are handed out under mu in queue order, so frames are written in seq
 *    order and seqs are contiguous;
 *  - an append is acknowledged (blocking call returns, async ack runs) only
 *    after the fdatasync of the frame holding it has returned success;
 *  - one frame is in flight at a time, so only the last frame can be torn;
 *  - a failed write or fdatasync of the active segment aborts the process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <semaphore.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>
#include <xxhash.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "journal_int.h"

/* ---- the writer thread -------------------------------------------------- */

/* Fails every item in the list (ack with err) and frees it. */
static void
items_fail(struct jitem *it, int err)
{
    while (it != NULL) {
        struct jitem *next = it->next;
        if (it->ack != NULL)
            it->ack(it->ack_ctx, err, 0);
        folio_free(it);
        it = next;
    }
}

/* Builds one frame from the taken items into frame_buf; returns its disk size. */
static uint64_t
frame_build(struct folio_journal *j, struct jitem *items, uint32_t events, uint32_t body_len)
{
    uint8_t *body = j->frame_buf + FRAME_HEADER_BYTES;
    uint32_t off = 0;
    for (struct jitem *it = items; it != NULL; it = it->next) {
        memcpy(body + off, it->data, it->bytes);
        off += it->bytes;
    }
    FOLIO_ASSERT(off == body_len);
    uint64_t disk = frame_disk_bytes(body_len);
    memset(body + body_len, 0, disk - FRAME_HEADER_BYTES - body_len);
    struct frame_header h = {
        .version = FRAME_VERSION,
        .flags = 0,
        .body_len = body_len,
        .event_count = events,
        .first_seq = items->first_seq,
        .prev_hash = j->last_hash,
        .salt = j->seg_hdr.salt,
        .timestamp_ns = folio_clock_now_ns(),
        .body_hash = XXH3_64bits(body, body_len),
    };
    FOLIO_ASSERT(h.first_seq == j->written_seq + 1);
    frame_header_encode(&h, j->frame_buf);
    return disk;
}

/* Writes and syncs one frame holding items. 0, or an error if no segment could be had. */
static int
frame_commit(struct folio_journal *j, struct jitem *items, uint32_t events, uint32_t body_len)
{
    uint64_t disk = frame_disk_bytes(body_len);
    if (j->seg_offset + disk + SEAL_FRAME_BYTES > j->seg_hdr.segment_bytes) {
        int err = segment_roll(j);
        if (err != FOLIO_OK)
            return err;
    }
    frame_build(j, items, events, body_len);
    if (folio_io_pwrite_all(j->seg_fd, j->frame_buf, disk, (off_t)j->seg_offset) != 0)
        FOLIO_PANIC("journal: write of frame at %s+%llu failed: %s", j->seg_name,
                    (unsigned long long)j->seg_offset, strerror(errno));
    if (j->opts.before_sync != NULL && j->opts.before_sync(j->opts.before_sync_ctx) != 0)
        FOLIO_PANIC("journal: before_sync hook failed for the frame at %s+%llu", j->seg_name,
                    (unsigned long long)j->seg_offset);
    if (folio_io_fdatasync(j->seg_fd) != 0)
        FOLIO_PANIC("journal: fdatasync of %s failed: %s", j->seg_name, strerror(errno));
    j->last_hash = folio_load_le64(j->frame_buf + FRAME_HASH_OFF);
    j->seg_offset += disk;
    j->seg_frames++;
    j->written_seq += events;
    __atomic_add_fetch(&j->stats.frames_written, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&j->stats.events_written, events, __ATOMIC_RELAXED);
    __atomic_add_fetch(&j->stats.fsyncs, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&j->stats.bytes_written, disk, __ATOMIC_RELAXED);
    return FOLIO_OK;
}

/* Takes the items for one frame off the queue (mu held). */
static struct jitem *
queue_take(struct folio_journal *j, uint32_t *events, uint32_t *body_len)
{
    struct jitem *first = j->q_head, *last = NULL, *it = j->q_head;
    uint32_t n = 0, bytes = 0;
    while (it != NULL && (last == NULL || (n + it->count <= j->opts.frame_events_max &&
                                           bytes + it->bytes <= j->frame_body_max))) {
        n += it->count;
        bytes += it->bytes;
        last = it;
        it = it->next;
    }
    j->q_head = it;
    if (it == NULL)
        j->q_tail = NULL;
    last->next = NULL;
    j->q_bytes -= bytes;
    *events = n;
    *body_len = bytes;
    return first;
}

/*
 * With a group window set, a writer that finds only a few events queued
 * sleeps that long (without the lock, so producers queue without waking it)
 * to let the frame fill. mu is held on entry and on return.
 */
static void
group_window_wait(struct folio_journal *j)
{
    if (j->opts.group_window_us == 0 || j->closing || j->q_bytes >= j->frame_body_max / 2)
        return;
    pthread_mutex_unlock(&j->mu);
    struct timespec ts = {0, (long)j->opts.group_window_us * 1000};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&j->mu);
}

/*
 * A blocking append waits on its own semaphore. The writer wakes exactly the
 * producers of the frame it just made durable (a broadcast would wake every
 * waiting producer per frame), and only the first of them itself: each woken
 * producer wakes the next (next_wake), so the wake-ups — half the CPU of a
 * blocking append on this machine — run on the producers' threads while the
 * writer is already writing the next frame.
 */
struct append_waiter {
    sem_t done;
    int err;
    uint64_t first_seq;
    struct append_waiter *next_wake;
};

static void
append_waiter_ack(void *ctx, int err, uint64_t first_seq)
{
    struct append_waiter *w = ctx;
    w->err = err;
    w->first_seq = first_seq;
    sem_post(&w->done);
}

static void
acks_run(struct jitem *items)
{
    uint64_t seq_check = items->first_seq;
    struct append_waiter *chain = NULL, *chain_tail = NULL;
    for (struct jitem *it = items, *next; it != NULL; it = next) {
        next = it->next;
        FOLIO_ASSERT(it->first_seq == seq_check);
        seq_check += it->count;
        if (it->ack == append_waiter_ack) {
            /* Filled now, woken through the chain once every waiter is filled. */
            struct append_waiter *w = it->ack_ctx;
            w->err = FOLIO_OK;
            w->first_seq = it->first_seq;
            w->next_wake = NULL;
            if (chain_tail != NULL)
                chain_tail->next_wake = w;
            else
                chain = w;
            chain_tail = w;
        } else if (it->ack != NULL) {
            it->ack(it->ack_ctx, FOLIO_OK, it->first_seq);
        }
        folio_free(it);
    }
    if (chain != NULL)
        sem_post(&chain->done);
}

void *
journal_writer_main(void *arg)
{
    struct folio_journal *j = arg;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (j->q_head == NULL && !j->closing)
            pthread_cond_wait(&j->cv_work, &j->mu);
        if (j->q_head == NULL)
            break;
        if (j->failed) {
            struct jitem *all = j->q_head;
            j->q_head = j->q_tail = NULL;
            j->q_bytes = 0;
            pthread_mutex_unlock(&j->mu);
            items_fail(all, j->failed);
            pthread_mutex_lock(&j->mu);
            continue;
        }
        group_window_wait(j);
        uint32_t events, body_len;
        struct jitem *items = queue_take(j, &events, &body_len);
        pthread_cond_broadcast(&j->cv_space);
        pthread_mutex_unlock(&j->mu);

        int err = frame_commit(j, items, events, body_len);

        pthread_mutex_lock(&j->mu);
        if (err != FOLIO_OK) {
            /* No segment to write to: nothing more can be made durable. */
            j->failed = err;
            pthread_cond_broadcast(&j->cv_space);
            pthread_mutex_unlock(&j->mu);
            items_fail(items, err);
            pthread_mutex_lock(&j->mu);
            continue;
        }
        j->durable_seq = j->written_seq;
        pthread_mutex_unlock(&j->mu);
        head_store(&j->head, j->written_seq);
        acks_run(items);
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* ---- appends ------------------------------------------------------------ */

static int
item_build(struct folio_journal *j, const struct folio_journal_entry *entries, size_t n,
           struct jitem **out)
{
    if (n == 0 || entries == NULL)
        return FOLIO_E_INVALID;
    if (n > j->opts.frame_events_max)
        return FOLIO_E_TOO_LARGE;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (entries[i].len > FOLIO_EVENT_BYTES_MAX)
            return FOLIO_E_TOO_LARGE;
        if (entries[i].len < FOLIO_EVENT_PREFIX_LEN || entries[i].data == NULL)
            return FOLIO_E_INVALID;
        bytes += EVENT_LEN_BYTES + entries[i].len;
    }
    if (bytes > j->frame_body_max)
        return FOLIO_E_TOO_LARGE;
    struct jitem *it = folio_malloc(sizeof(*it) + bytes);
    uint8_t *p = it->data;
    for (size_t i = 0; i < n; i++) {
        folio_store_le32(p, (uint32_t)entries[i].len);
        memcpy(p + EVENT_LEN_BYTES, entries[i].data, entries[i].len);
        if (folio_event_patch_seq(p + EVENT_LEN_BYTES, entries[i].len, 0) != FOLIO_OK) {
            folio_free(it);
            return FOLIO_E_INVALID;
        }
        p += EVENT_LEN_BYTES + entries[i].len;
    }
    it->next = NULL;
    it->count = (uint32_t)n;
    it->bytes = (uint32_t)bytes;
    it->ack = NULL;
    it->ack_ctx = NULL;
    *out = it;
    return FOLIO_OK;
}

/* Queues it (mu held), waiting for room; assigns and stamps its seqs. */
static int
queue_put(struct folio_journal *j, struct jitem *it)
{
    while (!j->closing && !j->failed && j->q_head != NULL &&
           j->q_bytes + it->bytes > j->opts.queue_bytes_max)
        pthread_cond_wait(&j->cv_space, &j->mu);
    if (j->closing)
        return FOLIO_E_CLOSED;
    if (j->failed)
        return j->failed;
    it->first_seq = j->next_seq;
    j->next_seq += it->count;
    uint8_t *p = it->data;
    for (uint32_t i = 0; i < it->count; i++) {
        uint32_t len = folio_load_le32(p);
        folio_event_patch_seq(p + EVENT_LEN_BYTES, len, it->first_seq + i);
        p += EVENT_LEN_BYTES + len;
    }
    if (j->q_tail != NULL)
        j->q_tail->next = it;
    else
        j->q_head = it;
    j->q_tail = it;
    j->q_bytes += it->bytes;
    pthread_cond_signal(&j->cv_work);
    return FOLIO_OK;
}

int
folio_journal_append_async(struct folio_journal *j, const struct folio_journal_entry *entries,
                           size_t n, folio_journal_ack_fn ack, void *ack_ctx)
{
    struct jitem *it;
    int err = item_build(j, entries, n, &it);
    if (err != FOLIO_OK)
        return err;
    it->ack = ack;
    it->ack_ctx = ack_ctx;
    pthread_mutex_lock(&j->mu);
    err = queue_put(j, it);
    pthread_mutex_unlock(&j->mu);
    if (err != FOLIO_OK)
        folio_free(it);
    return err;
}

int
folio_journal_append(struct folio_journal *j, const struct folio_journal_entry *entries, size_t n,
                     uint64_t *first_seq)
{
    struct append_waiter w = {.next_wake = NULL};
    sem_init(&w.done, 0, 0);
    int err = folio_journal_append_async(j, entries, n, append_waiter_ack, &w);
    if (err == FOLIO_OK) {
        while (sem_wait(&w.done) != 0)
            FOLIO_ASSERT(errno == EINTR);
        err = w.err;
        /* Pass the wake-up on; w.next_wake's owner may return at once. */
        if (w.next_wake != NULL)
            sem_post(&w.next_wake->done);
    }
    sem_destroy(&w.done);
    if (err == FOLIO_OK && first_seq != NULL)
        *first_seq = w.first_seq;
    return err;
}

uint64_t
folio_journal_durable_seq(const struct folio_journal *j)
{
    struct folio_journal *mj = (struct folio_journal *)j;
    pthread_mutex_lock(&mj->mu);
    uint64_t s = j->durable_seq;
    pthread_mutex_unlock(&mj->mu);
    return s;
}

void
folio_journal_get_stats(const struct folio_journal *j, struct folio_journal_stats *out)
{
    out->frames_written = __atomic_load_n(&j->stats.frames_written, __ATOMIC_RELAXED);
    out->events_written = __atomic_load_n(&j->stats.events_written, __ATOMIC_RELAXED);
    out->fsyncs = __atomic_load_n(&j->stats.fsyncs, __ATOMIC_RELAXED);
    out->bytes_written = __atomic_load_n(&j->stats.bytes_written, __ATOMIC_RELAXED);
    out->segments_rolled = __atomic_load_n(&j->stats.segments_rolled, __ATOMIC_RELAXED);
}
