/*
 * The journal: an append-only, checksummed, hash-chained log of msgpack events.
 *
 * The exact bytes are documented in docs/journal-format.md; this header is the
 * programming contract.
 *
 * Writers. One process opens a journal directory for writing (an exclusive
 * flock on DIR/LOCK). Any number of threads append: each event is copied into
 * a bounded queue (producers block when it is full), one writer thread drains
 * the queue into one frame, writes it, fdatasyncs, and only then acknowledges
 * every producer in the frame. An event is durable when it is acknowledged. A
 * failed write or fsync of journal data aborts the process: after a failed
 * fsync the kernel may have dropped the data, so neither a retry nor carrying
 * on can be trusted.
 *
 * Readers. Any number of readers, in this or other processes, iterate events
 * from any seq, verifying every frame; a reader can follow the tail as it
 * grows, with no gap and no duplicate at the switch from catch-up to live.
 *
 * Recovery. Opening for writing checks every segment. At the first bad frame
 * of the newest segment it tells a torn tail (quarantined, zeroed, reported by
 * a journal_recovered event) from corruption (refuses to open, naming segment,
 * offset and seq).
 */
#ifndef FOLIO_JOURNAL_H
#define FOLIO_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "folio/event.h"

struct folio_journal;
struct folio_journal_reader;

/* Where and why a journal check failed; filled by open, verify and readers. */
struct folio_journal_diag {
    char segment[64];      /* segment file name, "" if not about one segment */
    uint64_t offset;       /* byte offset inside that segment */
    uint64_t seq;          /* seq expected at that point (0 if unknown) */
    char reason[256];      /* what failed, for people */
};

struct folio_journal_opts {
    uint64_t segment_bytes;     /* segment file size; default 64 MiB, min 64 KiB */
    uint32_t frame_body_max;    /* max frame body bytes; default 1 MiB + 8 (clamped to segment/4) */
    uint32_t frame_events_max;  /* max events per frame; default 4096 */
    uint32_t queue_bytes_max;   /* producers block above this; default 8 MiB */
    uint32_t group_window_us;   /* extra wait for a frame to fill when the queue is
                                   shallow; default 0 (group commit comes from
                                   draining what queued during the last fsync) */
    bool create;                /* create the directory and first segment if missing */
    /*
     * Called on the writer thread once per frame of events (not for seal
     * frames), after the frame's events were taken from the queue and after the
     * frame's write(), just before its fdatasync: the frame is not durable yet
     * and nothing in it has been acknowledged. Every event in the frame was
     * queued before the call. Calls never overlap. Used by the scheduler to
     * fsync the content files of the tasks in the frame, so a payload shares
     * the frame's group commit instead of costing its own fsync. It must not
     * append to or close the journal (folio_journal_durable_seq and
     * folio_journal_get_stats are safe). A non-zero return is fatal like a
     * failed fsync: the process aborts. NULL: no hook.
     */
    int (*before_sync)(void *ctx);
    void *before_sync_ctx;
    /*
     * Called on the writer thread once per durable frame of events, after the
     * acknowledgements of all its asynchronous appends ran (and after its
     * blocking appends were woken). Not called for seal frames or for frames
     * that failed. Calls never overlap each other or an acknowledgement. Lets
     * an acknowledgement callback defer per-frame work (the scheduler wakes its
     * lanes once per frame, not once per task). The same rules as before_sync
     * apply; it cannot fail. NULL: no hook.
     */
    void (*after_acks)(void *ctx);
    void *after_acks_ctx;
};

/* Fills opts with the defaults. */
void folio_journal_opts_default(struct folio_journal_opts *opts);

/* What open found and did (optional out parameter of folio_journal_open). */
struct folio_journal_open_info {
    uint64_t segments;           /* segment files found */
    uint64_t last_seq;           /* last durable seq after recovery (0: empty) */
    bool recovered;              /* a torn tail was quarantined and zeroed */
    uint64_t recovered_seq;      /* seq of the journal_recovered event appended */
    struct folio_journal_diag recovery; /* where the torn tail was, if recovered */
};

/*
 * Opens (and with opts->create, creates) the journal in dir for appending and
 * runs recovery. opts may be NULL for the defaults; info and diag may be NULL.
 * Errors: FOLIO_E_NOT_FOUND (no journal and !create), FOLIO_E_LOCKED (another
 * writer holds it), FOLIO_E_CORRUPT (diag says where), FOLIO_E_VERSION,
 * FOLIO_E_IO, FOLIO_E_NOSPC, FOLIO_E_INVALID (bad options).
 * On success *out is owned by the caller: folio_journal_close() it.
 */
int folio_journal_open(const char *dir, const struct folio_journal_opts *opts,
                       struct folio_journal **out, struct folio_journal_open_info *info,
                       struct folio_journal_diag *diag);

/*
 * Drains the queue (every event already accepted is written and acknowledged),
 * stops the writer and closes. Accepts NULL.
 */
void folio_journal_close(struct folio_journal *j);

/* One encoded event handed to an append call (see folio_event_encode). */
struct folio_journal_entry {
    const uint8_t *data;
    size_t len;
};

/*
 * Appends n events (n >= 1) atomically: they get consecutive seqs and land in
 * the same frame. Each event must carry folio's event prefix (event.h); the
 * journal stamps its seq. Blocks until the events are durable.
 * *first_seq (may be NULL) receives the seq of the first event.
 * Errors: FOLIO_E_INVALID (not an event, n == 0), FOLIO_E_TOO_LARGE (would not
 * fit one frame), FOLIO_E_CLOSED (journal closing), FOLIO_E_NOSPC (no segment
 * could be prepared: the journal accepts no more appends; nothing acknowledged
 * is affected).
 */
int folio_journal_append(struct folio_journal *j, const struct folio_journal_entry *entries,
                         size_t n, uint64_t *first_seq);

/*
 * Called once per asynchronous append, on the journal's writer thread, after
 * the events are durable (err == 0) or when they never will be (err < 0,
 * first_seq undefined). It must be quick and must not call into the journal:
 * a libev program calls ev_async_send() here, or writes an eventfd.
 */
typedef void (*folio_journal_ack_fn)(void *ctx, int err, uint64_t first_seq);

/*
 * Like folio_journal_append but returns once the events are queued (blocking
 * only while the queue is full). ack is called exactly once, in seq order
 * across all appends. Returns 0 if queued (ack will be called), or an error
 * (ack will not be called).
 */
int folio_journal_append_async(struct folio_journal *j, const struct folio_journal_entry *entries,
                               size_t n, folio_journal_ack_fn ack, void *ack_ctx);

/*
 * The bounds of one atomic append (folio_journal_append*): at most
 * *events_max events whose encoded lengths, plus 4 bytes each, sum to at
 * most *body_max (the open journal's frame body limit, which small segments
 * lower). Fixed once open returns.
 */
void folio_journal_append_limits(const struct folio_journal *j, uint32_t *body_max,
                                 uint32_t *events_max);

/* Last durable seq (0 if the journal has no event). */
uint64_t folio_journal_durable_seq(const struct folio_journal *j);

/* Counters since open, for benchmarks and tests. */
struct folio_journal_stats {
    uint64_t frames_written;
    uint64_t events_written;
    uint64_t fsyncs;             /* data syncs of the active segment */
    uint64_t bytes_written;
    uint64_t segments_rolled;
};
void folio_journal_get_stats(const struct folio_journal *j, struct folio_journal_stats *out);

/* ---- readers ---------------------------------------------------------- */

enum folio_reader_flags {
    /*
     * Follow the live tail: at the end of the journal next() returns
     * FOLIO_E_AGAIN instead of FOLIO_E_END, an incomplete frame at the tail is
     * waited for rather than reported, and only events the writer has made
     * durable (journal/head) are returned.
     */
    FOLIO_READER_FOLLOW = 1u << 0,
};

/*
 * Opens a reader positioned at the first event with seq >= from_seq (1 = from
 * the beginning). Readers never modify the journal and take no lock.
 * Errors: FOLIO_E_NOT_FOUND (no journal), FOLIO_E_CORRUPT, FOLIO_E_IO.
 */
int folio_journal_reader_open(const char *dir, uint64_t from_seq, unsigned flags,
                              struct folio_journal_reader **out, struct folio_journal_diag *diag);

/* One event as read: bytes are borrowed until the next call on the reader. */
struct folio_journal_record {
    const uint8_t *data;
    size_t len;
    uint64_t seq;
    int64_t frame_at_ns;         /* the frame's commit timestamp */
    uint64_t frame_hash;         /* the frame's hash (its link in the chain) */
    bool frame_last;             /* the last event of its frame */
    uint64_t frame_offset;       /* byte offset of its frame in the segment */
    const char *segment;         /* segment file name */
};

/*
 * Returns the next event. FOLIO_E_END: no more events (not following).
 * FOLIO_E_AGAIN: none yet (following). FOLIO_E_TORN_TAIL: the newest segment
 * ends in a torn write (what recovery would quarantine; diag says where).
 * FOLIO_E_CORRUPT: verification failed (diag says where and what).
 */
int folio_journal_reader_next(struct folio_journal_reader *r, struct folio_journal_record *rec,
                              struct folio_journal_diag *diag);

/* Waits up to timeout_ms for the durable head to move past what r has read. */
void folio_journal_reader_wait(struct folio_journal_reader *r, int timeout_ms);

void folio_journal_reader_close(struct folio_journal_reader *r);

/* ---- whole-journal checks and facts ----------------------------------- */

struct folio_journal_verify_info {
    uint64_t segments;
    uint64_t sealed_segments;
    uint64_t frames;
    uint64_t events;
    uint64_t first_seq;          /* 0 if empty */
    uint64_t last_seq;
    int64_t first_at_ns;         /* commit time of the first and last frames */
    int64_t last_at_ns;
    uint64_t bytes_used;         /* header + frame bytes over all segments */
    uint64_t bytes_total;        /* file sizes */
};

/*
 * Checks every segment header, frame, seal, chain link and seq of the journal
 * in dir without changing anything. Returns 0 if all is sound,
 * FOLIO_E_TORN_TAIL if the only problem is a torn tail that open would
 * recover, FOLIO_E_CORRUPT otherwise (diag names segment, offset, seq and what
 * failed). info (may be NULL) is filled with what was read up to the problem.
 */
int folio_journal_verify(const char *dir, struct folio_journal_verify_info *info,
                         struct folio_journal_diag *diag);

/* ---- where a seq lies (whole-instance snapshots) ------------------------ */

/* The frame holding one event: what a copy of the journal cut after it needs. */
struct folio_journal_frame_pos {
    char segment[64];            /* segment file name */
    uint64_t segment_bytes;      /* that segment's full size (its header's segment_bytes) */
    uint64_t offset;             /* byte offset of the frame in the segment */
    uint64_t end;                /* byte offset just past the frame and its padding */
    uint64_t first_seq;          /* seqs of the frame's first and last events */
    uint64_t last_seq;
    uint64_t frame_hash;
};

/*
 * Finds the frame holding event seq, reading (and verifying) the journal in
 * dir as a reader does. A copy of the journal made of every segment before
 * pos->segment, the bytes [0, pos->end) of pos->segment and zeros up to
 * pos->segment_bytes is a clean journal whose last event is pos->last_seq
 * (docs/journal-format.md "Clean end"). Errors: FOLIO_E_NOT_FOUND (no
 * journal, or no event seq in it), FOLIO_E_CORRUPT, FOLIO_E_TORN_TAIL,
 * FOLIO_E_IO (diag says where).
 */
int folio_journal_frame_at(const char *dir, uint64_t seq, struct folio_journal_frame_pos *pos,
                           struct folio_journal_diag *diag);

#endif
