/*
 * Private structures of the journal module: the on-disk layout (documented
 * byte for byte in docs/journal-format.md), segment mapping and the frame
 * scanner shared by recovery, readers and verify.
 */
#ifndef FOLIO_JOURNAL_INT_H
#define FOLIO_JOURNAL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "folio/journal.h"

/* ---- on-disk constants (docs/journal-format.md) ------------------------ */

#define SEG_MAGIC "FOLIOSEG"              /* 8 bytes at offset 0 of a segment */
#define SEG_FORMAT_VERSION 1u
#define SEG_HEADER_BYTES 4096u
#define SEG_HEADER_HASH_OFF 4088u         /* XXH3-64 of bytes [0, 4088) */
#define SEG_BYTES_MIN (64u * 1024u)
#define SEG_BYTES_DEFAULT (64ull * 1024 * 1024)
#define SEG_BYTES_MAX (1ull << 40)

#define FRAME_MAGIC 0x31464A46u           /* "FJF1" little-endian */
#define FRAME_VERSION 1u
#define FRAME_HEADER_BYTES 64u
#define FRAME_HASH_OFF 56u                /* XXH3-64 of header bytes [0, 56) */
#define FRAME_FLAG_SEAL 0x0001u
#define FRAME_FLAGS_KNOWN FRAME_FLAG_SEAL
#define FRAME_ALIGN 8u
/* Largest frame body: one maximum-size event plus its length prefix, 8-aligned. */
#define FRAME_BODY_MAX_DEFAULT (FOLIO_EVENT_BYTES_MAX + FRAME_ALIGN)
#define FRAME_BODY_MIN 1024u
#define SEAL_BODY_BYTES 24u               /* last_seq, frame_count, seal_offset */
#define SEAL_FRAME_BYTES (FRAME_HEADER_BYTES + SEAL_BODY_BYTES)
#define EVENT_LEN_BYTES 4u                /* u32 length prefix of each event in a body */

_Static_assert(SEG_HEADER_HASH_OFF + 8 == SEG_HEADER_BYTES, "segment header hash at end");
_Static_assert(FRAME_HASH_OFF + 8 == FRAME_HEADER_BYTES, "frame hash at end");
_Static_assert(SEAL_FRAME_BYTES % FRAME_ALIGN == 0, "seal frame aligned");

/* Decoded segment header. */
struct seg_header {
    uint16_t format_version;
    uint16_t header_bytes;
    uint32_t frame_body_max;
    uint8_t journal_uid[16];
    uint64_t segment_no;
    uint64_t salt;
    uint64_t first_seq;
    uint64_t prev_hash;
    int64_t created_ns;
    uint64_t segment_bytes;
};

/* Decoded frame header. */
struct frame_header {
    uint16_t version;
    uint16_t flags;
    uint32_t body_len;
    uint32_t event_count;
    uint64_t first_seq;
    uint64_t prev_hash;
    uint64_t salt;
    int64_t timestamp_ns;
    uint64_t body_hash;
    uint64_t frame_hash;
};

/* Bytes a frame with this body occupies on disk (header + body + zero padding). */
static inline uint64_t
frame_disk_bytes(uint64_t body_len)
{
    return FRAME_HEADER_BYTES + ((body_len + FRAME_ALIGN - 1) & ~(uint64_t)(FRAME_ALIGN - 1));
}

void seg_header_encode(const struct seg_header *h, uint8_t out[SEG_HEADER_BYTES]);
/* 0, FOLIO_E_CORRUPT (why says what), or FOLIO_E_VERSION. */
int seg_header_decode(const uint8_t *buf, struct seg_header *h, char *why, size_t why_len);

void frame_header_encode(const struct frame_header *h, uint8_t out[FRAME_HEADER_BYTES]);
/* Fills h from buf; returns true if magic and frame_hash are valid. */
bool frame_header_decode(const uint8_t *buf, struct frame_header *h);

/* Segment file name for a first seq: "<20-digit first seq>.seg". */
#define SEG_NAME_LEN 32
void seg_name(uint64_t first_seq, char out[SEG_NAME_LEN]);
/* Parses a segment file name; false if it is not one. */
bool seg_name_parse(const char *name, uint64_t *first_seq);

/* ---- segment files ----------------------------------------------------- */

/* A segment file mapped read-only. */
struct seg_map {
    int fd;
    const uint8_t *base;
    uint64_t size;               /* file size when mapped */
    uint64_t map_size;           /* bytes mapped (>= size for growing files) */
    char name[SEG_NAME_LEN];
    struct seg_header hdr;
};

/* Lists segment files of dir sorted by first seq; caller frees *firsts. */
int seg_list(const char *dir, uint64_t **firsts, size_t *count);
/* Maps dir/name; checks the header. Errors: NOT_FOUND, CORRUPT, VERSION, IO. */
int seg_map_open(const char *dir, const char *name, struct seg_map *m,
                 struct folio_journal_diag *diag);
void seg_map_close(struct seg_map *m);

/* ---- the frame scanner ------------------------------------------------- */

/* What the scanner expects at its position; advanced by each good frame. */
struct scan_pos {
    uint64_t offset;             /* next frame's offset in the segment */
    uint64_t next_seq;           /* seq the next frame must start at */
    uint64_t prev_hash;          /* frame_hash of the previous frame */
    uint64_t frames;             /* data frames so far in this segment */
};

enum scan_result {
    SCAN_FRAME = 0,              /* a valid data frame at pos->offset */
    SCAN_SEAL,                   /* a valid seal frame; segment done */
    SCAN_END,                    /* clean end: zeros (or exactly EOF) from here on */
    SCAN_BAD,                    /* a frame failed a check: classify it */
    SCAN_MISMATCH,               /* a frame with a valid hash that is not the one expected */
};

/* A frame the scanner accepted. */
struct scan_frame {
    struct frame_header h;
    const uint8_t *body;
    uint64_t disk_bytes;
};

/*
 * Checks the frame at pos in m. why gets a reason for BAD and MISMATCH.
 * limit_seq (0 = none): a frame starting past it is reported as SCAN_END.
 */
enum scan_result scan_frame(const struct seg_map *m, const struct scan_pos *pos,
                            struct scan_frame *f, char *why, size_t why_len);
/* Advances pos past an accepted frame. */
void scan_advance(struct scan_pos *pos, const struct scan_frame *f);

/*
 * After SCAN_BAD at pos->offset in the newest segment: is it a torn tail
 * (true) or corruption (false, why says what)? *damage_end gets the end of
 * the damaged bytes (last non-zero byte + 1, at least offset).
 */
bool scan_is_torn_tail(const struct seg_map *m, uint64_t offset, uint64_t *damage_end, char *why,
                       size_t why_len);

/* Checks the events of an accepted frame body (lengths, prefixes, seqs). */
int scan_check_events(const struct scan_frame *f, char *why, size_t why_len);

/* Fills diag. */
void journal_diag_set(struct folio_journal_diag *diag, const char *segment, uint64_t offset,
                      uint64_t seq, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- the durable-head hint (journal/head) ------------------------------ */

#define HEAD_FILE "head"
#define HEAD_MAGIC "FOLIOHD1"

struct head_map {
    int fd;
    uint8_t *base;               /* 4096 bytes: magic, durable seq, writer pid */
};
/* Opens (creating if writable) the head hint. Returns 0 or an error. */
int head_open(const char *dir, bool writable, struct head_map *h);
void head_store(struct head_map *h, uint64_t durable_seq);
/* Durable seq the writer published, or UINT64_MAX if there is no hint. */
uint64_t head_load(const struct head_map *h);
void head_close(struct head_map *h);

/* ---- whole-journal walk (recovery, verify, stats) ---------------------- */

/* Where a full walk ended: the append position if the journal is sound. */
struct walk_end {
    uint64_t segments;
    uint64_t last_first_seq;     /* first seq (file name) of the newest segment */
    uint64_t offset;             /* end of the last valid frame in the newest segment */
    uint64_t next_seq;
    uint64_t last_hash;
    bool sealed;                 /* newest segment ends with a seal */
    struct seg_header hdr;       /* newest segment's header */
    uint64_t damage_end;         /* torn tail: end of the damaged bytes */
    uint64_t file_size;          /* newest segment's file size */
    uint64_t frames;             /* data frames in the newest segment */
};

/*
 * Reads the whole journal in dir from its first segment, checking everything.
 * Returns 0 (sound), FOLIO_E_TORN_TAIL or FOLIO_E_CORRUPT (diag), NOT_FOUND.
 * If decode_events, every event is also strictly decoded. info may be NULL.
 */
int journal_walk(const char *dir, bool decode_events, struct walk_end *end,
                 struct folio_journal_verify_info *info, struct folio_journal_diag *diag);


/* ---- the writer (writer.c, segment.c, recover.c) ----------------------- */

#include <pthread.h>

/* One append call's events, serialised as a frame body chunk. */
struct jitem {
    struct jitem *next;
    uint64_t first_seq;
    uint64_t batch;              /* queue batch it joined: its wake slot (writer.c) */
    uint32_t count;
    uint32_t bytes;              /* sum of (4 + event length) */
    folio_journal_ack_fn ack;    /* NULL for blocking appends */
    void *ack_ctx;
    uint8_t data[];
};

/*
 * Blocking appends sleep on the futex word of the batch they joined (batch %
 * WAKE_SLOTS); the writer bumps gen once the frame holding them is durable
 * (wake.c). 64 bytes each so the slots do not share cache lines.
 */
#define WAKE_SLOTS 8u
struct wake_slot {
    uint32_t gen;                /* futex word; changes when the slot's waiters should look */
    uint32_t sleepers;           /* appends inside (or about to enter) futex_wait on gen */
    uint32_t passed_gen;         /* last gen a woken waiter passed on to the other sleepers */
    uint8_t pad[52];
};
_Static_assert(sizeof(struct wake_slot) == 64, "one wake slot per cache line");

enum prep_state { PREP_IDLE, PREP_WANTED, PREP_BUSY, PREP_READY, PREP_FAILED };

struct folio_journal {
    char *dir;
    struct folio_journal_opts opts;
    int lock_fd;
    struct head_map head;
    uint8_t journal_uid[16];
    uint32_t frame_body_max;     /* limit for frames in every segment in use */

    /*
     * The slow path, under mu: the idle writer sleeps on cv_work, producers
     * wait for queue room on cv_space, close() sets closing. Producers take mu
     * only to wake an idle writer or when the queue is full.
     */
    pthread_mutex_t mu;
    pthread_cond_t cv_work;
    pthread_cond_t cv_space;
    bool closing;

    /*
     * The queue, under q_lock (wake.c: a spin-then-futex lock held for a few
     * dozen instructions per append).
     */
    uint32_t q_lock;
    struct jitem *q_head, *q_tail;
    uint64_t q_bytes;
    uint64_t q_events;
    uint64_t next_seq;           /* next seq to hand out */
    uint64_t open_batch;         /* batch new items join; bumped by each take */
    uint32_t space_waiters;      /* producers waiting on cv_space */
    bool writer_idle;            /* the writer sleeps on cv_work */
    bool stopping;               /* the writer saw closing: no more appends */
    uint32_t appends_active;     /* append calls inside the journal (atomic; close waits) */
    uint8_t pad_q[64];

    /* Published by the writer (atomics), read by waiting producers. */
    uint64_t durable_seq;
    int failed;                  /* once set, no append can succeed; durable_seq is final */
    struct wake_slot wake[WAKE_SLOTS];

    /* The active segment: touched only by the writer thread once it runs. */
    pthread_t writer;
    bool writer_started;
    int seg_fd;
    char seg_name[SEG_NAME_LEN];
    struct seg_header seg_hdr;
    uint64_t seg_offset;
    uint64_t seg_frames;
    uint64_t last_hash;
    uint64_t written_seq;        /* last seq written to the active segment */
    uint8_t *frame_buf;

    /* The segment preparer: zero-fills the next segment ahead of need. */
    pthread_t preparer;
    bool preparer_started;
    pthread_mutex_t prep_mu;
    pthread_cond_t prep_cv;
    enum prep_state prep_state;
    int prep_fd;
    int prep_err;
    bool prep_stop;

    /* Counters (atomic). */
    struct folio_journal_stats stats;
};

/* writer.c */
void *journal_writer_main(void *arg);

/* wake.c: the queue lock, and how blocking appends sleep and are woken. */
void queue_lock(struct folio_journal *j);
void queue_unlock(struct folio_journal *j);
/*
 * Sleeps until the events up to last_seq (queued in batch) are durable: 0, or
 * the writer's failure if they never will be.
 */
int wake_wait_durable(struct folio_journal *j, uint64_t batch, uint64_t last_seq);
/* Writer thread, after publishing durable_seq or failed: wakes the appends of batches lo..hi. */
void wake_batches(struct folio_journal *j, uint64_t lo, uint64_t hi);

/* segment.c */
int segment_prepare(struct folio_journal *j, int *fd_out);
void *segment_preparer_main(void *arg);
void segment_request_prepare(struct folio_journal *j);
int segment_take_prepared(struct folio_journal *j, int *fd_out);
void segment_install(struct folio_journal *j, int fd, uint64_t first_seq, uint64_t segment_no,
                     uint64_t prev_hash);
int segment_roll(struct folio_journal *j);
int segment_create_first(struct folio_journal *j);

/* recover.c */
int journal_recover_torn_tail(struct folio_journal *j, const struct walk_end *end,
                              char *quarantine_name, size_t quarantine_len);
int journal_random_bytes(void *buf, size_t len);
void journal_path(const struct folio_journal *j, const char *name, char *out, size_t out_len);

#endif
