/*
 * Private structures of the scheduler state (scheduler/ only).
 *
 * The primary state is tasks, batches and indexes. Everything else in
 * struct folio_sched_state (the bitmaps per status, kind, index uid and
 * canceler, and the sorted date indexes) is derived from it: apply keeps
 * them in step, checkpoint loading rebuilds them, and
 * folio_sched_state_equal compares them too, so a derived set that drifts
 * from the primary state is caught by the replay tests.
 */
#ifndef FOLIO_SCHED_INT_H
#define FOLIO_SCHED_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <roaring/roaring.h>

#include "folio/event.h"
#include "folio/sched.h"

/* ---- msgpack (mp.c) ---------------------------------------------------- */

/*
 * A bounded msgpack writer; the first failure sticks in err. With a sink,
 * the bytes are handed to it in chunks (buf then holds at most the chunk
 * being built) and max bounds the total.
 */
struct mpw {
    uint8_t *buf;
    size_t len;
    size_t cap;
    size_t max;
    int err;
    void (*sink)(void *ctx, const uint8_t *p, size_t n);
    void *sink_ctx;
    size_t flushed;      /* bytes already handed to the sink */
};

void mpw_init(struct mpw *w, size_t max);
void mpw_free(struct mpw *w);
/* Hands what is buffered to the sink (no-op without one). */
void mpw_flush(struct mpw *w);
/* Hands the buffer to the caller (w is reset); NULL if empty. */
uint8_t *mpw_take(struct mpw *w, size_t *len);
void mpw_map(struct mpw *w, uint32_t n);
void mpw_array(struct mpw *w, uint32_t n);
void mpw_str(struct mpw *w, const void *p, size_t n);
void mpw_cstr(struct mpw *w, const char *s);
void mpw_fstr(struct mpw *w, struct folio_str s);
void mpw_u64(struct mpw *w, uint64_t v);
void mpw_i64(struct mpw *w, int64_t v);
void mpw_bool(struct mpw *w, bool v);
void mpw_nil(struct mpw *w);
void mpw_bin(struct mpw *w, const void *p, size_t n);
void mpw_raw(struct mpw *w, const void *p, size_t n);

enum mp_kind { MPK_NIL, MPK_BOOL, MPK_UINT, MPK_INT, MPK_FLOAT, MPK_STR, MPK_BIN, MPK_ARRAY,
               MPK_MAP };

/* One token: for str/bin the bytes, for array/map the entry count. */
struct mpv {
    enum mp_kind kind;
    bool b;
    uint64_t u;          /* MPK_UINT */
    int64_t i;           /* MPK_INT (negative values only) */
    double f;            /* MPK_FLOAT */
    const uint8_t *ptr;  /* MPK_STR, MPK_BIN */
    uint32_t len;        /* MPK_STR, MPK_BIN bytes; MPK_ARRAY, MPK_MAP entries */
};

struct mpr {
    const uint8_t *p;
    const uint8_t *end;
};

#define MP_DEPTH_MAX 64u

/* Reads one token (a container's header only). FOLIO_E_DECODE on bad or short bytes, ext. */
int mpr_next(struct mpr *r, struct mpv *v);
/* Skips one complete value, nesting at most depth_max containers. */
int mpr_skip(struct mpr *r, unsigned depth_max);
/* True if buf[0..len) is exactly one complete value. */
bool mp_one_value(const uint8_t *buf, size_t len, unsigned depth_max);
/*
 * The typed readers below take the forms folio writes most inline (they
 * read every field of every event and checkpoint) and leave every other
 * form to the _any functions of mp.c, which read any form of their type.
 */
int mpr_u64_any(struct mpr *r, uint64_t *v);
int mpr_i64_any(struct mpr *r, int64_t *v);
int mpr_str_any(struct mpr *r, const uint8_t **p, uint32_t *len);
int mpr_bin_any(struct mpr *r, const uint8_t **p, uint32_t *len);
int mpr_container_any(struct mpr *r, enum mp_kind kind, uint32_t *n);

/* Reads an unsigned integer (MPK_UINT). */
static inline int
mpr_u64(struct mpr *r, uint64_t *v)
{
    if (r->p < r->end && *r->p <= 0x7f) { /* positive fixint: counters, small uids */
        *v = *r->p++;
        return 0;
    }
    return mpr_u64_any(r, v);
}

/* Reads an integer in int64 range. */
static inline int
mpr_i64(struct mpr *r, int64_t *v)
{
    if (r->end - r->p >= 9 && *r->p == 0xcf && r->p[1] < 0x80) { /* uint 64: times */
        uint64_t x = 0;
        for (unsigned i = 1; i <= 8; i++)
            x = (x << 8) | r->p[i];
        *v = (int64_t)x;
        r->p += 9;
        return 0;
    }
    return mpr_i64_any(r, v);
}

/* Reads a string. */
static inline int
mpr_str(struct mpr *r, const uint8_t **p, uint32_t *len)
{
    if (r->p < r->end && (*r->p & 0xe0) == 0xa0 && r->end - r->p > (*r->p & 0x1f)) {
        *len = *r->p & 0x1f; /* fixstr: keys and names */
        *p = r->p + 1;
        r->p += 1 + *len;
        return 0;
    }
    return mpr_str_any(r, p, len);
}

/* Reads a bin. */
static inline int
mpr_bin(struct mpr *r, const uint8_t **p, uint32_t *len)
{
    if (r->end - r->p >= 2 && *r->p == 0xc4 && r->end - r->p - 2 >= r->p[1]) {
        *len = r->p[1]; /* bin 8: most task objects */
        *p = r->p + 2;
        r->p += 2 + *len;
        return 0;
    }
    return mpr_bin_any(r, p, len);
}

/* Reads a string or nil (len 0, *is_nil set). */
int mpr_str_or_nil(struct mpr *r, const uint8_t **p, uint32_t *len, bool *is_nil);

/* Reads a container header of the given kind. */
static inline int
mpr_container(struct mpr *r, enum mp_kind kind, uint32_t *n)
{
    uint8_t fix = kind == MPK_ARRAY ? 0x90 : kind == MPK_MAP ? 0x80 : 0;
    if (r->p < r->end && fix != 0 && (*r->p & 0xf0) == fix) {
        *n = *r->p++ & 0x0f; /* fixarray, fixmap: nearly every header */
        return 0;
    }
    return mpr_container_any(r, kind, n);
}
/*
 * True if p[0..len) is the string s. Inline and in one pass, no strlen: it
 * matches every key of every task object on replay, and the names compared
 * are short and mostly differ early.
 */
static inline bool
mp_str_eq(const uint8_t *p, uint32_t len, const char *s)
{
    for (uint32_t i = 0; i < len; i++)
        if (s[i] == '\0' || (uint8_t)s[i] != p[i])
            return false;
    return s[len] == '\0';
}

/* ---- task objects (content.c, details.c) ------------------------------- */

/* Length of the content/details/error "why" sentences. */
#define SCHED_WHY_LEN 200u

/* folio_task_content_decode that also says why it refused (content.c). */
int content_decode(enum folio_task_kind kind, const uint8_t *buf, size_t len,
                   struct folio_task_content *c, char *why, size_t why_len);

/* ---- maps and date indexes (map.c) ------------------------------------ */

/* uint32 -> pointer; a NULL value marks an empty slot. */
struct u32map_slot {
    uint32_t key;
    void *val;
};
struct u32map {
    struct u32map_slot *slots;
    size_t cap;
    size_t n;
};
void *u32map_get(const struct u32map *m, uint32_t key);
/* Makes room for n entries in all without growing again, if the memory is there. */
void u32map_reserve(struct u32map *m, size_t n);
/* Starts loading the slot where key lives or would go (bulk inserts). */
void u32map_prefetch(const struct u32map *m, uint32_t key);
void u32map_put(struct u32map *m, uint32_t key, void *val);
void *u32map_del(struct u32map *m, uint32_t key);
void u32map_free(struct u32map *m);

/* string -> pointer; the key bytes belong to the value and must outlive the entry. */
struct strmap_slot {
    const char *key;
    uint32_t len;
    uint32_t hash;
    void *val;
};
struct strmap {
    struct strmap_slot *slots;
    size_t cap;
    size_t n;
};
void *strmap_get(const struct strmap *m, const char *key, size_t len);
void strmap_put(struct strmap *m, const char *key, size_t len, void *val);
void *strmap_del(struct strmap *m, const char *key, size_t len);
void strmap_free(struct strmap *m);

/* Zeroed, 8-aligned memory that is only ever freed all at once. */
struct arena_chunk;
struct arena {
    struct arena_chunk *chunks;
};
void *arena_alloc(struct arena *a, size_t bytes);
void arena_free(struct arena *a);

/* (time, uid) pairs sorted by time then uid: a date index. */
struct tentry {
    int64_t t;
    uint32_t uid;
};
struct tindex {
    struct tentry *v;
    size_t n;
    size_t cap;
    bool bulk;       /* loading: insert appends, tindex_sort orders once at the end */
};
void tindex_insert(struct tindex *ti, int64_t t, uint32_t uid);
/* Makes room for n entries in all (before bulk appends), if the memory is there. */
void tindex_reserve(struct tindex *ti, size_t n);
/* Removes the pair; it must be present. */
void tindex_remove(struct tindex *ti, int64_t t, uint32_t uid);
/* Removes every pair whose uid is in gone (one pass). */
void tindex_remove_set(struct tindex *ti, const roaring_bitmap_t *gone);
/* Sorts after bulk appends (checkpoint load) and leaves bulk mode. */
void tindex_sort(struct tindex *ti);
void tindex_free(struct tindex *ti);
/*
 * The uids with after < t < before (either bound optional), as a new bitmap,
 * built from whichever side of the range is smaller. all must hold exactly
 * the uids the index holds.
 */
roaring_bitmap_t *tindex_range(const struct tindex *ti, const struct folio_sched_time_bound *after,
                               const struct folio_sched_time_bound *before,
                               const roaring_bitmap_t *all);

/* ---- the state -------------------------------------------------------- */

/*
 * The memory a state loaded from a checkpoint keeps its task objects in: a
 * read-only private mapping of the checkpoint file, or a heap copy of it
 * where the file cannot be mapped.
 */
struct ckpt_mem {
    void *base;
    size_t map_bytes;  /* > 0: a mapping of that many bytes; 0: heap memory (or none) */
};
void ckpt_mem_free(struct ckpt_mem *m);

/*
 * A task object (content, details, error) as msgpack bytes. A task loaded
 * from a checkpoint borrows its objects from the checkpoint file the state
 * keeps (struct folio_sched_state.file); blob_set and blob_free never free a
 * borrowed pointer.
 */
struct blob {
    uint8_t *ptr;
    uint32_t len;
    bool borrowed;
};

struct stask {
    uint32_t uid;
    uint8_t kind;
    uint8_t status;
    bool started;
    bool finished;
    uint32_t batch_uid;            /* FOLIO_SCHED_NONE */
    uint32_t canceled_by;          /* FOLIO_SCHED_NONE */
    uint32_t index_count;
    bool loaded;                   /* from a checkpoint: it and index_uids are in the arena */
    struct folio_str *index_uids;  /* each points at an iuid's name */
    int64_t enqueued_at_ns;
    int64_t started_at_ns;
    int64_t finished_at_ns;
    struct blob content;
    struct blob details;
    struct blob error;
};

struct sbatch {
    uint32_t uid;
    struct folio_str reason;       /* owned */
    int64_t started_at_ns;
    bool finished;
    bool has_outcome;
    int64_t finished_at_ns;        /* latest outcome so far */
    int64_t enqueued_first_ns;
    int64_t enqueued_last_ns;
    roaring_bitmap_t *tasks;       /* living tasks (derived) */
    uint32_t processing;           /* tasks without an outcome (derived) */
    struct folio_batch_step *steps;  /* FOLIO_SCHED_STEPS_MAX slots while it has steps; names owned */
    uint32_t step_count;
    uint32_t total_tasks;
    uint32_t status_counts[FOLIO_STATUS_COUNT];
    uint32_t kind_counts[FOLIO_KIND_COUNT];
    struct folio_batch_index_count *index_counts; /* sorted; names point at iuids */
    uint32_t index_count;
    uint32_t index_cap;
};

/* An index uid some task refers to: interned name and its sets (derived). */
struct iuid {
    struct folio_str name;         /* owned, NUL-terminated */
    roaring_bitmap_t *tasks;       /* living tasks touching it */
    roaring_bitmap_t *batches;     /* batches whose stats count it */
};

/* One entry of the index mapping; the strings are owned. */
struct sindex {
    struct folio_index_view v;
};

struct folio_sched_state {
    uint64_t last_seq;
    uint64_t frame_hash;
    uint64_t next_task_uid;
    uint64_t next_batch_uid;

    struct u32map tasks;                           /* uid -> struct stask */
    roaring_bitmap_t *all_tasks;
    roaring_bitmap_t *task_status[FOLIO_STATUS_COUNT];
    roaring_bitmap_t *task_kind[FOLIO_KIND_COUNT];
    struct strmap iuids;                           /* name -> struct iuid */
    struct u32map canceled;                        /* canceler uid -> roaring bitmap */
    struct tindex t_enqueued, t_started, t_finished;

    struct u32map batches;                         /* uid -> struct sbatch */
    roaring_bitmap_t *all_batches;
    roaring_bitmap_t *batch_status[FOLIO_STATUS_COUNT];
    roaring_bitmap_t *batch_kind[FOLIO_KIND_COUNT];
    struct tindex b_enqueued, b_started, b_finished;

    struct strmap indexes;                         /* uid -> struct sindex */
    struct strmap uuids;                           /* uuid -> struct sindex */
    struct iuid *iuid_last;                        /* last one interned: names repeat in runs */

    /*
     * What the tasks loaded from a checkpoint live in: their structs and
     * index uid arrays in the arena, their objects (content, details,
     * error) in the checkpoint file's bytes. Both go when no loaded task is
     * left, when fewer than a quarter of them are (the rest move to memory
     * of their own, so deleting old tasks gives the memory back), or on
     * folio_sched_checkpoint_detach.
     */
    struct ckpt_mem file;
    struct arena arena;
    uint64_t loaded_living;
    uint64_t loaded_count;
};

/* state.c: building blocks shared by apply, canon and equal. */
void diag_set(struct folio_sched_diag *d, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct iuid *iuid_intern(struct folio_sched_state *s, const char *name, size_t len);
struct iuid *iuid_find(const struct folio_sched_state *s, const struct folio_str *name);
void blob_set(struct blob *b, const uint8_t *p, size_t len);
void blob_free(struct blob *b);
/* Points an empty b at bytes of the state's checkpoint file (see struct folio_sched_state.file). */
void blob_borrow(struct blob *b, const uint8_t *p, size_t len);
/* A new task of the state's arena with room for n index uids (checkpoint load). */
struct stask *task_new_loaded(struct folio_sched_state *s, uint32_t index_count);
/* Hands *mem, the checkpoint the loaded tasks point into, to s (*mem is cleared). */
void state_adopt_file(struct folio_sched_state *s, struct ckpt_mem *mem);
char *str_dup_n(const char *p, size_t n);

/* Links a new task into the uid map and every set its fields put it in. */
void task_link(struct folio_sched_state *s, struct stask *t);
/*
 * task_link for many tasks in ascending uid order (checkpoint load): the
 * same sets, filled in bulk. Sized for n tasks; finish (always, also after
 * a failure) puts the last ones in and frees the linker.
 */
struct task_linker;
struct task_linker *task_linker_new(struct folio_sched_state *s, size_t n);
void task_linker_add(struct task_linker *l, struct stask *t);
void task_linker_finish(struct task_linker *l);
/*
 * Removes a task from every set and the map, and frees it. When that leaves
 * few tasks loaded from a checkpoint, the others move (state.c,
 * loaded_release): keep no struct stask pointer across it, look tasks up
 * again in the uid map.
 */
void task_unlink_free(struct folio_sched_state *s, struct stask *t);
/* Moves a living task to another status, keeping the status bitmaps in step. */
void task_set_status(struct folio_sched_state *s, struct stask *t, enum folio_task_status st);
void task_free(struct stask *t);
/* task_unlink_free for a task the caller already took out of the date indexes. */
void task_unlink_free_nodates(struct folio_sched_state *s, struct stask *t);
void task_set_canceled_by(struct folio_sched_state *s, struct stask *t, uint32_t canceler);
/* Byte order of two strings (shorter first on a common prefix). */
int str_cmp(const struct folio_str *a, const struct folio_str *b);
bool sched_uuid_valid(struct folio_str u);

struct sbatch *batch_new(uint32_t uid);
void batch_free(struct sbatch *b);
void batch_link(struct folio_sched_state *s, struct sbatch *b);
void batch_unlink_free(struct folio_sched_state *s, struct sbatch *b);
/* Batch stats: counts a task's kind and indexes (delta +1 or -1) and its status. */
void batch_count_task(struct folio_sched_state *s, struct sbatch *b, const struct stask *t,
                      int delta);
void batch_count_status(struct folio_sched_state *s, struct sbatch *b, unsigned status, int delta);
void batch_count_index(struct folio_sched_state *s, struct sbatch *b, const struct folio_str *name,
                       int delta);
void batch_set_finished(struct folio_sched_state *s, struct sbatch *b);
/* Drops the progress steps (and their memory: a finished batch keeps none). */
void steps_clear(struct sbatch *b);
/* The steps array of a batch, allocated on first use. */
struct folio_batch_step *steps_slots(struct sbatch *b);

struct sindex *sindex_new(const struct folio_str *uid, const struct folio_str *uuid,
                          const struct folio_str *primary_key);
void sindex_free(struct sindex *ix);
/* Replaces an owned string field of an index (v may be NULL or empty: none). */
void sindex_set_str(struct folio_str *field, const struct folio_str *v);
void sindex_link(struct folio_sched_state *s, struct sindex *ix);
void sindex_unlink(struct folio_sched_state *s, struct sindex *ix);

/* state_apply.c / state_index.c */
int apply_task_event(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
                     struct folio_sched_diag *d);
int apply_index_event(struct folio_sched_state *s, uint64_t seq, const struct folio_event *ev,
                      struct folio_sched_diag *d);

/*
 * checkpoint.c: folio_sched_checkpoint_write in two steps, so that a caller
 * holding the state's lock keeps it only for the encoding (memory), not for
 * the file's write, fsync and rename: ckpt_encode under the lock, then
 * ckpt_store without it. The body does not point into the state.
 */
struct ckpt_encoded {
    uint64_t seq;                /* the state's last seq */
    uint64_t state_frame_hash;   /* the state's frame hash for it (0: unknown) */
    struct mpw body;             /* the canonical body */
};
/* Encodes s (FOLIO_E_INVALID when empty); free e with ckpt_encoded_free whatever it returns. */
int ckpt_encode(const struct folio_sched_state *s, struct ckpt_encoded *e,
                struct folio_sched_diag *d);
/* Writes e as folio_sched_checkpoint_write writes a checkpoint (the same checks and errors). */
int ckpt_store(const char *checkpoint_dir, const char *journal_dir, const struct ckpt_encoded *e,
               char *name, size_t name_len, struct folio_sched_diag *d);
void ckpt_encoded_free(struct ckpt_encoded *e);

/* canon.c: the canonical serialisation (the checkpoint body). */
int canon_write(const struct folio_sched_state *s, struct mpw *w);
/*
 * Sees the body being decoded piece by piece, each piece just before the
 * decoder looks at it, and all of it whatever the outcome (the checkpoint
 * loader hashes it there, while the bytes are in the cache).
 */
struct canon_feed {
    void (*bytes)(void *ctx, const uint8_t *p, size_t n);
    void *ctx;
};

/*
 * Decodes a canonical state from body, which lies in *mem; feed (may be
 * NULL) is handed every byte of body. On success the new state takes *mem
 * (its task objects point into body) and *mem is cleared; on failure *mem
 * is still the caller's.
 */
int canon_read(const uint8_t *body, size_t len, struct ckpt_mem *mem,
               const struct canon_feed *feed, struct folio_sched_state **out, char *why,
               size_t why_len);

#endif
