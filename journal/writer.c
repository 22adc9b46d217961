/*
 * The journal writer: the bounded append queue, group commit, acknowledgements
 * and the writer thread (open.c starts it; close() sets closing and joins it).
 * How producers sleep and are woken is in wake.c.
 *
 * Invariants:
 *  - seqs are handed out under the queue lock in queue order, so frames are
 *    written in seq order and seqs are contiguous;
 *  - an append is acknowledged (blocking call returns, async ack runs) only
 *    after the fdatasync of the frame holding it has returned success;
 *  - one frame is in flight at a time, so only the last frame can be torn;
 *  - a failed write or fdatasync of the active segment, or a failed
 *    before_sync hook, aborts the process;
 *  - the queue holds at most queue_bytes_max bytes of events (one append
 *    always fits an empty queue); producers wait for room.
 *
 * Cost per append. A producer builds its item (one allocation and copy)
 * outside any lock and holds the queue lock for a few dozen instructions: it
 * takes a seq and its batch, links the item and leaves. Seqs are stamped into
 * the frame buffer by the writer. The writer takes the whole queue in O(1)
 * unless it holds more than a frame.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "journal_int.h"

/* ---- the writer thread -------------------------------------------------- */

/* Fails every item in the list (async: ack with err) and frees it. */
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

/* Copies one item's events into the frame body at dst and stamps their seqs. */
static void
item_copy_stamped(uint8_t *dst, const struct jitem *it)
{
    memcpy(dst, it->data, it->bytes);
    uint8_t *p = dst;
    for (uint32_t i = 0; i < it->count; i++) {
        uint32_t len = folio_load_le32(p);
        int err = folio_event_patch_seq(p + EVENT_LEN_BYTES, len, it->first_seq + i);
        FOLIO_ASSERT(err == FOLIO_OK); /* item_build checked the prefix */
        p += EVENT_LEN_BYTES + len;
    }
    FOLIO_ASSERT(p == dst + it->bytes);
}

/* Builds one frame from the taken items into frame_buf; returns its disk size. */
static uint64_t
frame_build(struct folio_journal *j, struct jitem *items, uint32_t events, uint32_t body_len)
{
    uint8_t *body = j->frame_buf + FRAME_HEADER_BYTES;
    uint32_t off = 0;
    uint64_t seq = items->first_seq;
    for (struct jitem *it = items; it != NULL; it = it->next) {
        FOLIO_ASSERT(it->first_seq == seq);
        item_copy_stamped(body + off, it);
        off += it->bytes;
        seq += it->count;
    }
    FOLIO_ASSERT(seq - items->first_seq == events);
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
    /* The caller's own files join this frame's group commit (journal.h). */
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

/* What one take moved from the queue into a frame. */
struct take {
    struct jitem *items;
    uint32_t events;
    uint32_t body_len;
    uint64_t batch_lo, batch_hi; /* wake slots of the items */
};

/*
 * Takes the items for one frame off the queue (lock held): all of them when
 * they fit, as they do unless the queue is deep, else a prefix.
 */
static void
queue_take(struct folio_journal *j, struct take *t)
{
    struct jitem *first = j->q_head, *last = j->q_tail;
    uint64_t n = j->q_events, bytes = j->q_bytes;
    if (n > j->opts.frame_events_max || bytes > j->frame_body_max) {
        struct jitem *it = first;
        last = NULL;
        n = bytes = 0;
        while (it != NULL && (last == NULL || (n + it->count <= j->opts.frame_events_max &&
                                               bytes + it->bytes <= j->frame_body_max))) {
            n += it->count;
            bytes += it->bytes;
            last = it;
            it = it->next;
        }
    }
    j->q_head = last->next;
    if (j->q_head == NULL)
        j->q_tail = NULL;
    last->next = NULL;
    j->q_bytes -= bytes;
    j->q_events -= n;
    j->open_batch++;
    *t = (struct take){.items = first,
                       .events = (uint32_t)n,
                       .body_len = (uint32_t)bytes,
                       .batch_lo = first->batch,
                       .batch_hi = last->batch};
}

/*
 * With a group window set, a writer that finds only a few events queued
 * sleeps that long (without the lock, so producers queue without waking it)
 * to let the frame fill. The queue lock is held on entry and on return.
 */
static void
group_window_wait(struct folio_journal *j)
{
    if (j->opts.group_window_us == 0 || j->stopping || j->q_bytes >= j->frame_body_max / 2)
        return;
    queue_unlock(j);
    struct timespec ts = {0, (long)j->opts.group_window_us * 1000};
    nanosleep(&ts, NULL);
    queue_lock(j);
}

/* Wakes producers waiting for queue room (they re-check under mu). */
static void
space_wake(struct folio_journal *j)
{
    pthread_mutex_lock(&j->mu);
    pthread_cond_broadcast(&j->cv_space);
    pthread_mutex_unlock(&j->mu);
}

/* Once close() has been called, stops accepting appends (what is queued drains). */
static void
writer_note_closing(struct folio_journal *j)
{
    if (j->stopping)
        return;
    pthread_mutex_lock(&j->mu);
    bool closing = j->closing;
    pthread_mutex_unlock(&j->mu);
    if (!closing)
        return;
    queue_lock(j);
    j->stopping = true;
    queue_unlock(j);
}

/* Sleeps on cv_work until a producer queues something or close() is called. */
static void
writer_idle_wait(struct folio_journal *j)
{
    pthread_mutex_lock(&j->mu);
    queue_lock(j);
    bool sleep = j->q_head == NULL && !j->closing;
    j->writer_idle = sleep;
    queue_unlock(j);
    if (sleep)
        pthread_cond_wait(&j->cv_work, &j->mu);
    pthread_mutex_unlock(&j->mu);
}

/* No segment to write to: nothing more can be made durable; fail all that is queued. */
static void
writer_fail(struct folio_journal *j, struct take *t, int err)
{
    queue_lock(j);
    __atomic_store_n(&j->failed, err, __ATOMIC_RELEASE);
    struct jitem *rest = j->q_head;
    j->q_head = j->q_tail = NULL;
    j->q_bytes = j->q_events = 0;
    queue_unlock(j);
    items_fail(t->items, err);
    items_fail(rest, err);
    wake_batches(j, 0, WAKE_SLOTS - 1);
    space_wake(j);
}

/* Acknowledges the asynchronous appends of a durable frame in seq order; frees the items. */
static void
acks_run(struct jitem *items)
{
    uint64_t seq_check = items->first_seq;
    for (struct jitem *it = items, *next; it != NULL; it = next) {
        next = it->next;
        FOLIO_ASSERT(it->first_seq == seq_check);
        seq_check += it->count;
        if (it->ack != NULL)
            it->ack(it->ack_ctx, FOLIO_OK, it->first_seq);
        folio_free(it);
    }
}

/* Takes one frame's items; false if there is nothing to write (t untouched). */
static bool
writer_take(struct folio_journal *j, struct take *t, bool *stop)
{
    queue_lock(j);
    j->writer_idle = false;
    if (j->q_head == NULL) {
        *stop = j->stopping;
        queue_unlock(j);
        return false;
    }
    group_window_wait(j);
    queue_take(j, t);
    bool space = j->space_waiters > 0;
    queue_unlock(j);
    if (space)
        space_wake(j);
    return true;
}

/*
 * close() frees the journal once this thread returns, so first wait for every
 * append call still inside it (woken after its frame, or turned away with
 * FOLIO_E_CLOSED) to leave: a woken producer still touches its wake slot.
 */
static void
writer_wait_appends_out(struct folio_journal *j)
{
    while (__atomic_load_n(&j->appends_active, __ATOMIC_ACQUIRE) != 0) {
        struct timespec ts = {0, 20 * 1000};
        nanosleep(&ts, NULL);
    }
}

void *
journal_writer_main(void *arg)
{
    struct folio_journal *j = arg;
    for (;;) {
        writer_note_closing(j);
        struct take t;
        bool stop = false;
        if (!writer_take(j, &t, &stop)) {
            if (stop)
                break;
            writer_idle_wait(j);
            continue;
        }
        int failed = __atomic_load_n(&j->failed, __ATOMIC_RELAXED);
        if (failed != FOLIO_OK) { /* writer_fail emptied the queue; this is a belt and braces */
            items_fail(t.items, failed);
            continue;
        }
        int err = frame_commit(j, t.items, t.events, t.body_len);
        if (err != FOLIO_OK) {
            writer_fail(j, &t, err);
            continue;
        }
        __atomic_store_n(&j->durable_seq, j->written_seq, __ATOMIC_RELEASE);
        head_store(&j->head, j->written_seq);
        wake_batches(j, t.batch_lo, t.batch_hi);
        acks_run(t.items);
        if (j->opts.after_acks != NULL)
            j->opts.after_acks(j->opts.after_acks_ctx);
    }
    writer_wait_appends_out(j);
    return NULL;
}

/* ---- appends ------------------------------------------------------------ */

/* Checks and copies the events into a new item; their seqs are stamped by the writer. */
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

/*
 * Waits for room for bytes more (queue lock held on entry and on return, dropped
 * while waiting). 0, FOLIO_E_CLOSED or the writer's failure.
 */
static int
queue_wait_space(struct folio_journal *j, uint32_t bytes)
{
    for (;;) {
        if (j->stopping)
            return FOLIO_E_CLOSED;
        int failed = __atomic_load_n(&j->failed, __ATOMIC_RELAXED);
        if (failed != FOLIO_OK)
            return failed;
        if (j->q_head == NULL || j->q_bytes + bytes <= j->opts.queue_bytes_max)
            return FOLIO_OK;
        /* Full: wait on cv_space under mu (lock order: mu, then the queue lock). */
        j->space_waiters++;
        queue_unlock(j);
        pthread_mutex_lock(&j->mu);
        queue_lock(j);
        bool full = !j->stopping && __atomic_load_n(&j->failed, __ATOMIC_RELAXED) == FOLIO_OK &&
                    j->q_head != NULL && j->q_bytes + bytes > j->opts.queue_bytes_max;
        queue_unlock(j);
        if (full && !j->closing)
            pthread_cond_wait(&j->cv_space, &j->mu);
        bool closing = j->closing;
        pthread_mutex_unlock(&j->mu);
        queue_lock(j);
        j->space_waiters--;
        if (closing)
            return FOLIO_E_CLOSED;
    }
}

/*
 * Queues it, waiting for room; assigns its seqs. After this returns 0 the
 * item belongs to the writer: *first_seq and *batch say what the caller needs.
 */
static int
queue_put(struct folio_journal *j, struct jitem *it, uint64_t *first_seq, uint64_t *batch)
{
    queue_lock(j);
    int err = queue_wait_space(j, it->bytes);
    if (err != FOLIO_OK) {
        queue_unlock(j);
        return err;
    }
    it->first_seq = *first_seq = j->next_seq;
    it->batch = *batch = j->open_batch;
    j->next_seq += it->count;
    if (j->q_tail != NULL)
        j->q_tail->next = it;
    else
        j->q_head = it;
    j->q_tail = it;
    j->q_bytes += it->bytes;
    j->q_events += it->count;
    bool wake_writer = j->writer_idle;
    j->writer_idle = false;
    queue_unlock(j);
    if (wake_writer) {
        pthread_mutex_lock(&j->mu);
        pthread_cond_signal(&j->cv_work);
        pthread_mutex_unlock(&j->mu);
    }
    return FOLIO_OK;
}

/* Builds and queues one append. On 0 the item belongs to the writer. */
static int
append_queue(struct folio_journal *j, const struct folio_journal_entry *entries, size_t n,
             folio_journal_ack_fn ack, void *ack_ctx, uint64_t *first_seq, uint64_t *batch)
{
    struct jitem *it;
    int err = item_build(j, entries, n, &it);
    if (err != FOLIO_OK)
        return err;
    it->ack = ack;
    it->ack_ctx = ack_ctx;
    err = queue_put(j, it, first_seq, batch);
    if (err != FOLIO_OK)
        folio_free(it);
    return err;
}

int
folio_journal_append_async(struct folio_journal *j, const struct folio_journal_entry *entries,
                           size_t n, folio_journal_ack_fn ack, void *ack_ctx)
{
    __atomic_add_fetch(&j->appends_active, 1, __ATOMIC_ACQ_REL);
    uint64_t first_seq, batch;
    int err = append_queue(j, entries, n, ack, ack_ctx, &first_seq, &batch);
    __atomic_sub_fetch(&j->appends_active, 1, __ATOMIC_RELEASE); /* last touch of j */
    return err;
}

int
folio_journal_append(struct folio_journal *j, const struct folio_journal_entry *entries, size_t n,
                     uint64_t *first_seq)
{
    __atomic_add_fetch(&j->appends_active, 1, __ATOMIC_ACQ_REL);
    uint64_t seq = 0, batch = 0;
    int err = append_queue(j, entries, n, NULL, NULL, &seq, &batch);
    if (err == FOLIO_OK)
        err = wake_wait_durable(j, batch, seq + n - 1);
    __atomic_sub_fetch(&j->appends_active, 1, __ATOMIC_RELEASE); /* last touch of j */
    if (err == FOLIO_OK && first_seq != NULL)
        *first_seq = seq;
    return err;
}

void
folio_journal_append_limits(const struct folio_journal *j, uint32_t *body_max,
                            uint32_t *events_max)
{
    *body_max = j->frame_body_max;
    *events_max = j->opts.frame_events_max;
}

uint64_t
folio_journal_durable_seq(const struct folio_journal *j)
{
    return __atomic_load_n(&j->durable_seq, __ATOMIC_ACQUIRE);
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
