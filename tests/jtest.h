/*
 * Helpers shared by the journal crash, corruption and fault suites
 * (test_journal_truncate.c, _bitflip.c, _tamper.c, _faults.c).
 *
 * Everything here is static inline because tests/CMakeLists.txt builds only
 * test_*.c and testutil.c.
 *
 * The on-disk layout is re-implemented here from docs/journal-format.md
 * rather than taken from journal/journal_int.h: the tests parse frames and
 * re-hash crafted headers with their own code, so a layout bug in the journal
 * cannot hide behind a shared definition.
 *
 * Segment header (4096 bytes):  0 magic "FOLIOSEG" | 8 u16 format version |
 *   10 u16 header bytes | 12 u32 frame_body_max | 16 journal uid[16] |
 *   32 u64 segment no | 40 u64 salt | 48 u64 first seq | 56 u64 prev hash |
 *   64 i64 created | 72 u64 segment bytes | 80..4087 zero | 4088 XXH3-64 of [0,4088).
 * Frame header (64 bytes): 0 u32 magic "FJF1" | 4 u16 version | 6 u16 flags |
 *   8 u32 body len | 12 u32 event count | 16 u64 first seq | 24 u64 prev hash |
 *   32 u64 salt | 40 i64 timestamp | 48 u64 body XXH3 | 56 XXH3-64 of [0,56).
 *   Body, then zero padding to 8 bytes. Seal frame: flags 1, body 24 bytes
 *   (last seq, frame count, seal offset).
 */
#ifndef FOLIO_JTEST_H
#define FOLIO_JTEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/event.h"
#include "folio/journal.h"
#include "testutil.h"

#define JT_SEG_BYTES (64u * 1024u)
#define JT_SEG_HDR 4096u
#define JT_SEG_HASH_OFF 4088u
#define JT_FRAME_HDR 64u
#define JT_FRAME_HASH_OFF 56u
#define JT_FRAME_MAGIC 0x31464A46u
#define JT_FLAG_SEAL 1u
#define JT_SEAL_DISK 88u
#define JT_MAX_FRAMES 4096
#define JT_MAX_FILES 16

/* ---- time --------------------------------------------------------------- */

#define JT_WORKERS_MAX 4

/* A worker: runs share i of n and writes its result_bytes-long result to fd, then _exits. */
typedef void (*jt_worker_fn)(void *ctx, int i, int n, int fd);

/*
 * Fans work out to one forked worker per CPU (at most JT_WORKERS_MAX) and
 * collects each worker's fixed-size result into results[i * result_bytes].
 * *workers gets the worker count. Returns how many workers died or sent a
 * short result (their slots are zeroed); each is reported on stderr.
 */
static inline int
jt_fork_workers(jt_worker_fn fn, void *ctx, void *results, size_t result_bytes, int *workers)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int n = ncpu < 1 ? 1 : ncpu > JT_WORKERS_MAX ? JT_WORKERS_MAX : (int)ncpu;
    pid_t pids[JT_WORKERS_MAX];
    int fds[JT_WORKERS_MAX];
    for (int i = 0; i < n; i++) {
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        fflush(NULL);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(pfd[0]);
            fn(ctx, i, n, pfd[1]);
            _exit(6); /* workers _exit themselves; getting here is a bug */
        }
        close(pfd[1]);
        fds[i] = pfd[0];
    }
    int dead = 0;
    for (int i = 0; i < n; i++) {
        uint8_t *slot = (uint8_t *)results + (size_t)i * result_bytes;
        ssize_t got = read(fds[i], slot, result_bytes);
        close(fds[i]);
        int status = 0;
        while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
            ;
        if (got != (ssize_t)result_bytes || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "worker %d died (status 0x%x)\n", i, status);
            memset(slot, 0, result_bytes);
            dead++;
        }
    }
    *workers = n;
    return dead;
}

static inline double
jt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- directories ---------------------------------------------------------- */

/*
 * A fresh directory for a suite. The exhaustive suites run thousands of
 * opens, each with several fsyncs; on tmpfs (/dev/shm) those cost nothing,
 * which is what makes "every byte, every bit" affordable in CI. Set
 * FOLIO_TEST_DISK=1 to run on $TMPDIR instead.
 */
static inline char *
jt_mkdtemp(const char *tag)
{
    const char *disk = getenv("FOLIO_TEST_DISK");
    struct stat st;
    if ((disk == NULL || *disk == '\0' || *disk == '0') && stat("/dev/shm", &st) == 0 &&
        S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) {
        char buf[256];
        snprintf(buf, sizeof(buf), "/dev/shm/folio-%s-XXXXXX", tag);
        if (mkdtemp(buf) != NULL)
            return folio_strdup(buf);
    }
    return tu_mkdtemp(tag);
}

static inline void
jt_seg_name(uint64_t first_seq, char out[32])
{
    snprintf(out, 32, "%020llu.seg", (unsigned long long)first_seq);
}

static inline void
jt_join(char *out, size_t out_len, const char *dir, const char *name)
{
    snprintf(out, out_len, "%s/%s", dir, name);
}

/* Removes dir/quarantine and everything in it, if present. */
static inline void
jt_remove_quarantine(const char *dir)
{
    char q[4096], p[4352];
    jt_join(q, sizeof(q), dir, "quarantine");
    DIR *d = opendir(q);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        jt_join(p, sizeof(p), q, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(q);
}

/* Number of regular files in dir/quarantine (0 if none). */
static inline int
jt_quarantine_count(const char *dir)
{
    char q[4096];
    jt_join(q, sizeof(q), dir, "quarantine");
    DIR *d = opendir(q);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* ---- whole files in memory ------------------------------------------------ */

struct jt_file {
    char name[256];
    uint8_t *data;
    size_t len;
};

/* The segment files of a journal directory, kept to restore it between trials. */
struct jt_snap {
    struct jt_file f[JT_MAX_FILES];
    int n;
};

static inline int
jt_name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct jt_file *)a)->name, ((const struct jt_file *)b)->name);
}

static inline bool
jt_is_seg_name(const char *name)
{
    size_t l = strlen(name);
    return l == 24 && strcmp(name + 20, ".seg") == 0;
}

/* Reads every *.seg of dir, sorted by name (= by first seq). */
static inline void
jt_snap_take(const char *dir, struct jt_snap *s)
{
    memset(s, 0, sizeof(*s));
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!jt_is_seg_name(e->d_name))
            continue;
        assert_true(s->n < JT_MAX_FILES);
        struct jt_file *f = &s->f[s->n++];
        char p[4096];
        snprintf(f->name, sizeof(f->name), "%s", e->d_name);
        jt_join(p, sizeof(p), dir, e->d_name);
        f->data = tu_read_file(p, &f->len);
        assert_non_null(f->data);
    }
    closedir(d);
    qsort(s->f, (size_t)s->n, sizeof(s->f[0]), jt_name_cmp);
}

static inline void
jt_snap_free(struct jt_snap *s)
{
    for (int i = 0; i < s->n; i++)
        folio_free(s->f[i].data);
    s->n = 0;
}

/* Writes data as the whole content of path (plain syscalls, not the seam). */
static inline int
jt_write_whole(const char *path, const uint8_t *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = 0;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, data + done, len - done, (off_t)done);
        if (n <= 0) {
            rc = -1;
            break;
        }
        done += (size_t)n;
    }
    if (rc == 0 && ftruncate(fd, (off_t)len) != 0)
        rc = -1;
    close(fd);
    return rc;
}

/*
 * Puts dir back exactly as the snapshot was: segment files rewritten, any
 * other segment removed, quarantine/, next.tmp and head removed.
 */
static inline int
jt_snap_restore(const char *dir, const struct jt_snap *s)
{
    char p[4096];
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!jt_is_seg_name(e->d_name))
            continue;
        bool known = false;
        for (int i = 0; i < s->n; i++)
            known = known || strcmp(s->f[i].name, e->d_name) == 0;
        if (!known) {
            jt_join(p, sizeof(p), dir, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
    jt_remove_quarantine(dir);
    jt_join(p, sizeof(p), dir, "next.tmp");
    unlink(p);
    jt_join(p, sizeof(p), dir, "head");
    unlink(p);
    for (int i = 0; i < s->n; i++) {
        jt_join(p, sizeof(p), dir, s->f[i].name);
        if (jt_write_whole(p, s->f[i].data, s->f[i].len) != 0)
            return -1;
    }
    return 0;
}

/* ---- the on-disk layout, parsed independently ----------------------------- */

struct jt_frame {
    uint64_t off;  /* offset in its segment */
    uint64_t disk; /* header + body + padding */
    uint64_t first_seq;
    uint32_t count;
    uint32_t body_len;
    uint16_t flags;
};

static inline uint64_t
jt_frame_disk(uint64_t body_len)
{
    return JT_FRAME_HDR + ((body_len + 7) & ~(uint64_t)7);
}

/*
 * Lists the frames of a segment image from its header to the first all-zero
 * 64 bytes (or the end). Asserts every frame has our magic: it is only used
 * on pristine journals.
 */
static inline int
jt_parse_frames(const uint8_t *seg, size_t len, struct jt_frame *out, int max)
{
    int n = 0;
    uint64_t off = JT_SEG_HDR;
    while (off + JT_FRAME_HDR <= len && !folio_is_zero(seg + off, JT_FRAME_HDR)) {
        const uint8_t *h = seg + off;
        assert_int_equal(folio_load_le32(h), JT_FRAME_MAGIC);
        assert_true(n < max);
        struct jt_frame *f = &out[n++];
        f->off = off;
        f->flags = folio_load_le16(h + 6);
        f->body_len = folio_load_le32(h + 8);
        f->count = folio_load_le32(h + 12);
        f->first_seq = folio_load_le64(h + 16);
        f->disk = jt_frame_disk(f->body_len);
        assert_true(off + f->disk <= len);
        off += f->disk;
    }
    return n;
}

static inline void
jt_frame_rehash(uint8_t *hdr)
{
    folio_store_le64(hdr + JT_FRAME_HASH_OFF, XXH3_64bits(hdr, JT_FRAME_HASH_OFF));
}

static inline void
jt_seg_rehash(uint8_t *seg)
{
    folio_store_le64(seg + JT_SEG_HASH_OFF, XXH3_64bits(seg, JT_SEG_HASH_OFF));
}

/* Fields of a frame header, for crafting frames (docs/journal-format.md). */
struct jt_frame_fields {
    uint16_t version;
    uint16_t flags;
    uint32_t event_count;
    uint64_t first_seq;
    uint64_t prev_hash;
    uint64_t salt;
    int64_t timestamp_ns;
};

/*
 * Writes a complete frame (header with both hashes, body, zero padding) to
 * out, which must hold jt_frame_disk(body_len) bytes. Returns its disk size.
 */
static inline uint64_t
jt_frame_encode(uint8_t *out, const struct jt_frame_fields *f, const uint8_t *body,
                uint32_t body_len)
{
    uint64_t disk = jt_frame_disk(body_len);
    memset(out, 0, disk);
    folio_store_le32(out + 0, JT_FRAME_MAGIC);
    folio_store_le16(out + 4, f->version);
    folio_store_le16(out + 6, f->flags);
    folio_store_le32(out + 8, body_len);
    folio_store_le32(out + 12, f->event_count);
    folio_store_le64(out + 16, f->first_seq);
    folio_store_le64(out + 24, f->prev_hash);
    folio_store_le64(out + 32, f->salt);
    folio_store_le64(out + 40, (uint64_t)f->timestamp_ns);
    folio_store_le64(out + 48, XXH3_64bits(body, body_len));
    jt_frame_rehash(out);
    memcpy(out + JT_FRAME_HDR, body, body_len);
    return disk;
}

/* Reads the fields of the frame header at hdr. */
static inline void
jt_frame_fields_read(const uint8_t *hdr, struct jt_frame_fields *f)
{
    f->version = folio_load_le16(hdr + 4);
    f->flags = folio_load_le16(hdr + 6);
    f->event_count = folio_load_le32(hdr + 12);
    f->first_seq = folio_load_le64(hdr + 16);
    f->prev_hash = folio_load_le64(hdr + 24);
    f->salt = folio_load_le64(hdr + 32);
    f->timestamp_ns = (int64_t)folio_load_le64(hdr + 40);
}

/* Rewrites the seq in every event of a frame body to first_seq, first_seq + 1, ... */
static inline void
jt_body_set_seqs(uint8_t *body, uint32_t body_len, uint32_t count, uint64_t first_seq)
{
    uint32_t off = 0;
    for (uint32_t i = 0; i < count; i++) {
        assert_true(off + 4 + FOLIO_EVENT_PREFIX_LEN <= body_len);
        uint32_t len = folio_load_le32(body + off);
        uint8_t *ev = body + off + 4;
        for (int b = 0; b < 8; b++)
            ev[FOLIO_EVENT_SEQ_OFFSET + b] = (uint8_t)((first_seq + i) >> (56 - 8 * b));
        off += 4 + len;
    }
    assert_int_equal(off, body_len);
}

/* Frame reach in a segment: the largest frame its header allows. */
static inline uint64_t
jt_reach(const uint8_t *seg)
{
    return jt_frame_disk(folio_load_le32(seg + 12));
}

/* Offset just past the last non-zero byte of buf[from, len), or from. */
static inline uint64_t
jt_nonzero_end(const uint8_t *buf, uint64_t from, uint64_t len)
{
    uint64_t end = len;
    while (end > from && buf[end - 1] == 0)
        end--;
    return end;
}

/* ---- events ----------------------------------------------------------------- */

/*
 * A task_registered event of about approx_len bytes. Small ones come from
 * tu_make_event; large ones carry a msgpack bin in "content" so that decoding
 * them costs next to nothing. Caller frees.
 */
static inline uint8_t *
jt_make_event(uint64_t task_uid, size_t approx_len, size_t *len)
{
    if (approx_len <= 512)
        return tu_make_event(task_uid, approx_len, len);
    size_t bin = approx_len - 160;
    uint8_t *obj = folio_malloc(bin + 16);
    size_t o = 0;
    obj[o++] = 0x81;
    obj[o++] = 0xa1;
    obj[o++] = 'p';
    obj[o++] = 0xc6;
    obj[o++] = (uint8_t)(bin >> 24);
    obj[o++] = (uint8_t)(bin >> 16);
    obj[o++] = (uint8_t)(bin >> 8);
    obj[o++] = (uint8_t)bin;
    for (size_t i = 0; i < bin; i++)
        obj[o++] = (uint8_t)((task_uid * 131 + i * 7) & 0xff);
    struct folio_str idx = folio_str_c("big");
    struct folio_event ev = {.type = FOLIO_EV_TASK_REGISTERED, .at_ns = 1700000000000000000ll};
    ev.u.task_registered.task_uid = task_uid;
    ev.u.task_registered.kind = folio_str_c("documentAdditionOrUpdate");
    ev.u.task_registered.index_uids.items = &idx;
    ev.u.task_registered.index_uids.count = 1;
    ev.u.task_registered.enqueued_at_ns = 1700000000000000000ll;
    ev.u.task_registered.content.ptr = obj;
    ev.u.task_registered.content.len = (uint32_t)o;
    uint8_t *buf = NULL;
    int err = folio_event_encode(&ev, &buf, len);
    folio_free(obj);
    assert_int_equal(err, 0);
    return buf;
}

/* A task_registered event of exactly len bytes (len >= 600). Caller frees. */
static inline uint8_t *
jt_make_event_exact(uint64_t task_uid, size_t len)
{
    size_t got;
    uint8_t *buf = jt_make_event(task_uid, len, &got);
    if (got == len)
        return buf;
    folio_free(buf);
    /* The bin payload is the only part whose size changes with approx_len. */
    buf = jt_make_event(task_uid, len + (len - got), &got);
    assert_int_equal(got, len);
    return buf;
}

/* Appends one event of exactly len bytes as its own frame; returns its seq. */
static inline uint64_t
jt_append_exact(struct folio_journal *j, uint64_t uid, size_t len)
{
    uint8_t *buf = jt_make_event_exact(uid, len);
    struct folio_journal_entry e = {buf, len};
    uint64_t seq = 0;
    int err = folio_journal_append(j, &e, 1, &seq);
    folio_free(buf);
    assert_int_equal(err, 0);
    return seq;
}

/* Appends n events of about size bytes each as one frame; returns the first seq. */
static inline uint64_t
jt_append_n(struct folio_journal *j, uint64_t first_uid, size_t n, size_t size)
{
    struct folio_journal_entry e[64];
    uint8_t *bufs[64];
    assert_true(n >= 1 && n <= 64);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        bufs[i] = jt_make_event(first_uid + i, size, &len);
        e[i].data = bufs[i];
        e[i].len = len;
    }
    uint64_t seq = 0;
    int err = folio_journal_append(j, e, n, &seq);
    for (size_t i = 0; i < n; i++)
        folio_free(bufs[i]);
    assert_int_equal(err, 0);
    return seq;
}

static inline int
jt_open(const char *dir, bool create, struct folio_journal **out,
        struct folio_journal_open_info *info, struct folio_journal_diag *diag)
{
    struct folio_journal_opts o;
    folio_journal_opts_default(&o);
    o.segment_bytes = JT_SEG_BYTES;
    o.create = create;
    return folio_journal_open(dir, &o, out, info, diag);
}

/* One event read back. data is a copy. */
struct jt_rec {
    uint64_t seq;
    uint8_t *data;
    size_t len;
    uint64_t frame_offset;
    char segment[32];
};

struct jt_recs {
    struct jt_rec *r;
    size_t n, cap;
    int end_err;                    /* what the reader returned at the end */
    struct folio_journal_diag diag; /* and where */
};

static inline void
jt_recs_free(struct jt_recs *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        folio_free(rs->r[i].data);
    folio_free(rs->r);
    memset(rs, 0, sizeof(*rs));
}

/* Reads every event from seq 1 until the reader stops; never asserts. */
static inline int
jt_read_all(const char *dir, struct jt_recs *rs)
{
    memset(rs, 0, sizeof(*rs));
    struct folio_journal_reader *r = NULL;
    int err = folio_journal_reader_open(dir, 1, 0, &r, &rs->diag);
    if (err != 0) {
        rs->end_err = err;
        return err;
    }
    struct folio_journal_record rec;
    while ((err = folio_journal_reader_next(r, &rec, &rs->diag)) == 0) {
        if (rs->n == rs->cap) {
            rs->cap = rs->cap ? rs->cap * 2 : 256;
            rs->r = folio_reallocarray(rs->r, rs->cap, sizeof(*rs->r));
        }
        struct jt_rec *x = &rs->r[rs->n++];
        x->seq = rec.seq;
        x->data = folio_malloc(rec.len);
        memcpy(x->data, rec.data, rec.len);
        x->len = rec.len;
        x->frame_offset = rec.frame_offset;
        snprintf(x->segment, sizeof(x->segment), "%.31s", rec.segment);
    }
    folio_journal_reader_close(r);
    rs->end_err = err;
    return err == FOLIO_E_END ? 0 : err;
}

/* Seq stored in an encoded event's fixed prefix (big-endian after 0xcf). */
static inline uint64_t
jt_event_seq(const uint8_t *data, size_t len)
{
    if (len < FOLIO_EVENT_PREFIX_LEN || data[7] != 0xcf)
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | data[FOLIO_EVENT_SEQ_OFFSET + i];
    return v;
}

/* ---- failure collection (for loops that must not stop at the first miss) --- */

/*
 * Exhaustive loops report every failing trial (up to a limit) and assert once
 * at the end, so one run shows the whole pattern of a bug, and forked workers
 * never run cmocka assertions.
 */
struct jt_fails {
    unsigned long count;
    unsigned long printed;
};

static inline void jt_fail(struct jt_fails *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline void
jt_fail(struct jt_fails *f, const char *fmt, ...)
{
    f->count++;
    if (f->printed >= 40)
        return;
    f->printed++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

#define JT_CHECK(fails, cond, ...)                                                                 \
    do {                                                                                           \
        if (!(cond))                                                                               \
            jt_fail((fails), __VA_ARGS__);                                                         \
    } while (0)

/* ---- what recovery must make of a damaged newest segment ------------------- */

/*
 * The expected verdict on a newest segment whose pristine image had frames fr
 * and which now reads as img[0, len). Derived from the rules of DESIGN.md §4
 * and journal-anchors.md §9.5, not from the code:
 *  - frames whose bytes are unchanged (and wholly present) are kept, up to
 *    the first changed one, at offset P; k is the last seq kept;
 *  - zeros from P to the end and the file whole: sound (a clean end);
 *  - a kept (intact) frame after the change, or non-zero bytes further than
 *    one maximum frame beyond P: corruption;
 *  - only the zero padding of a frame changed (header and body intact):
 *    either verdict is defensible (allow_either);
 *  - otherwise a torn tail: the bytes from P to the last non-zero byte are
 *    dropped (quarantined), and the file is cut short or zeroed there.
 */
struct jt_expect {
    int status;        /* 0, FOLIO_E_TORN_TAIL or FOLIO_E_CORRUPT */
    bool allow_either; /* TORN_TAIL and CORRUPT are both acceptable */
    uint64_t P;        /* offset of the first damaged frame (or end of the last) */
    uint64_t k;        /* last seq kept */
    uint64_t dropped;  /* bytes from P to the last non-zero byte */
};

static inline bool
jt_frame_intact(const uint8_t *img, size_t len, const uint8_t *pristine, const struct jt_frame *f)
{
    return f->off + f->disk <= len && memcmp(img + f->off, pristine + f->off, f->disk) == 0;
}

static inline void
jt_expect_newest(const uint8_t *pristine, size_t full_len, const struct jt_frame *fr, int nfr,
                 uint64_t seq_before, const uint8_t *img, size_t len, struct jt_expect *ex)
{
    memset(ex, 0, sizeof(*ex));
    int first_bad = -1;
    for (int i = 0; i < nfr && first_bad < 0; i++)
        if (!jt_frame_intact(img, len, pristine, &fr[i]))
            first_bad = i;
    if (first_bad < 0) {
        ex->P = nfr ? fr[nfr - 1].off + fr[nfr - 1].disk : JT_SEG_HDR;
        ex->k = nfr ? fr[nfr - 1].first_seq + fr[nfr - 1].count - 1 : seq_before;
    } else {
        ex->P = fr[first_bad].off;
        ex->k = fr[first_bad].first_seq - 1;
    }
    uint64_t end = ex->P < len ? jt_nonzero_end(img, ex->P, len) : ex->P;
    ex->dropped = end - ex->P;
    if (end == ex->P && len == full_len) {
        /* Zeros from P on: the damaged frames were never written at all. A clean end. */
        ex->status = 0;
        return;
    }
    for (int i = first_bad + 1; first_bad >= 0 && i < nfr; i++)
        if (jt_frame_intact(img, len, pristine, &fr[i])) {
            ex->status = FOLIO_E_CORRUPT;
            return;
        }
    if (end > ex->P + jt_reach(pristine)) {
        ex->status = FOLIO_E_CORRUPT;
        return;
    }
    ex->status = FOLIO_E_TORN_TAIL;
    if (first_bad >= 0) {
        const struct jt_frame *f = &fr[first_bad];
        uint64_t used = JT_FRAME_HDR + f->body_len;
        if (f->off + f->disk <= len && memcmp(img + f->off, pristine + f->off, used) == 0)
            ex->allow_either = true; /* only the padding changed */
    }
}

/* ---- opening a damaged journal and checking what recovery made of it ------- */

/* A pristine event, to compare recovered ones against. */
static inline bool
jt_rec_equal(const struct jt_rec *a, const struct jt_rec *b)
{
    return a->seq == b->seq && a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* Type and (task_registered) task uid of an encoded event; false if it does not decode. */
static inline bool
jt_event_info(const uint8_t *data, size_t len, enum folio_event_type *type, uint64_t *task_uid)
{
    struct folio_event ev;
    if (folio_event_decode(data, len, &ev) != 0)
        return false;
    *type = ev.type;
    *task_uid = ev.type == FOLIO_EV_TASK_REGISTERED ? ev.u.task_registered.task_uid : 0;
    folio_event_clear(&ev);
    return true;
}

/* Checks a journal_recovered event against what was expected. */
static inline void
jt_check_recovered_event(const struct jt_rec *r, const char *seg, const struct jt_expect *ex,
                         struct jt_fails *fails, const char *label)
{
    struct folio_event ev;
    int err = folio_event_decode(r->data, r->len, &ev);
    JT_CHECK(fails, err == 0, "%s: journal_recovered event does not decode (%s)", label,
             folio_err_name(err));
    if (err != 0)
        return;
    const struct folio_ev_journal_recovered *jr = &ev.u.journal_recovered;
    char qname[512] = "";
    if (ex->dropped > 0)
        snprintf(qname, sizeof(qname), "%s.%llu.broken", seg, (unsigned long long)ex->P);
    JT_CHECK(fails, ev.type == FOLIO_EV_JOURNAL_RECOVERED, "%s: seq %llu is type %d", label,
             (unsigned long long)r->seq, ev.type);
    if (ev.type == FOLIO_EV_JOURNAL_RECOVERED) {
        JT_CHECK(fails, strcmp(jr->segment.ptr, seg) == 0, "%s: recovered.segment %s", label,
                 jr->segment.ptr);
        JT_CHECK(fails, jr->offset == ex->P, "%s: recovered.offset %llu, expected %llu", label,
                 (unsigned long long)jr->offset, (unsigned long long)ex->P);
        JT_CHECK(fails, jr->bytes_dropped == ex->dropped,
                 "%s: recovered.bytes_dropped %llu, expected %llu", label,
                 (unsigned long long)jr->bytes_dropped, (unsigned long long)ex->dropped);
        JT_CHECK(fails, jr->last_valid_seq == ex->k, "%s: recovered.last_valid_seq %llu, want %llu",
                 label, (unsigned long long)jr->last_valid_seq, (unsigned long long)ex->k);
        JT_CHECK(fails, strcmp(jr->quarantine.len ? jr->quarantine.ptr : "", qname) == 0,
                 "%s: recovered.quarantine '%s', expected '%s'", label,
                 jr->quarantine.len ? jr->quarantine.ptr : "", qname);
        JT_CHECK(fails, jr->reason.len > 0, "%s: recovered.reason is empty", label);
    }
    folio_event_clear(&ev);
}

/* The quarantine holds exactly img[P, P + dropped), and nothing is in it otherwise. */
static inline void
jt_check_quarantine(const char *dir, const char *seg, const struct jt_expect *ex,
                    const uint8_t *img, struct jt_fails *fails, const char *label)
{
    int n = jt_quarantine_count(dir);
    if (ex->dropped == 0) {
        JT_CHECK(fails, n == 0, "%s: %d quarantine files, none expected", label, n);
        return;
    }
    JT_CHECK(fails, n == 1, "%s: %d quarantine files, expected 1", label, n);
    char p[4096];
    snprintf(p, sizeof(p), "%s/quarantine/%s.%llu.broken", dir, seg, (unsigned long long)ex->P);
    size_t qlen = 0;
    uint8_t *q = tu_read_file(p, &qlen);
    JT_CHECK(fails, q != NULL, "%s: no quarantine file %s", label, p);
    if (q == NULL)
        return;
    JT_CHECK(fails, qlen == ex->dropped && memcmp(q, img + ex->P, qlen) == 0,
             "%s: quarantine holds %zu bytes, not the %llu dropped bytes", label, qlen,
             (unsigned long long)ex->dropped);
    folio_free(q);
}

/*
 * Runs verify, then open, on a journal whose newest segment (named seg) is
 * now img[0, len) and should give ex; if open succeeds, appends two events,
 * closes and checks the result event by event against pristine (the events
 * before the damage). Failures go to fails. Leaves the directory modified:
 * the caller restores it.
 */
static inline void
jt_check_damaged(const char *dir, const char *seg, const uint8_t *img, size_t len,
                 const struct jt_expect *ex, const struct jt_recs *pristine, struct jt_fails *fails,
                 const char *label)
{
    struct folio_journal_diag d;
    int v = folio_journal_verify(dir, NULL, &d);
    bool either = ex->allow_either && (v == FOLIO_E_TORN_TAIL || v == FOLIO_E_CORRUPT);
    JT_CHECK(fails, v == ex->status || either, "%s: verify %s, expected %s (%s)", label,
             folio_err_name(v), folio_err_name(ex->status), d.reason);
    if (v != 0) {
        JT_CHECK(fails, strcmp(d.segment, seg) == 0 && d.offset == ex->P && d.seq == ex->k + 1,
                 "%s: verify diag %s@%llu seq %llu, expected %s@%llu seq %llu", label, d.segment,
                 (unsigned long long)d.offset, (unsigned long long)d.seq, seg,
                 (unsigned long long)ex->P, (unsigned long long)(ex->k + 1));
    }
    struct folio_journal *j = NULL;
    struct folio_journal_open_info info;
    int o = jt_open(dir, false, &j, &info, &d);
    if (v == FOLIO_E_CORRUPT || v == FOLIO_E_VERSION) {
        JT_CHECK(fails, o == v, "%s: verify said %s but open returned %s", label, folio_err_name(v),
                 folio_err_name(o));
        if (o != 0) {
            JT_CHECK(fails, strcmp(d.segment, seg) == 0 && d.offset == ex->P,
                     "%s: open diag %s@%llu, expected %s@%llu", label, d.segment,
                     (unsigned long long)d.offset, seg, (unsigned long long)ex->P);
            char p[4096];
            size_t flen = 0;
            jt_join(p, sizeof(p), dir, seg);
            uint8_t *now = tu_read_file(p, &flen);
            JT_CHECK(fails, now && flen == len && memcmp(now, img, len) == 0,
                     "%s: a refused open changed the segment", label);
            folio_free(now);
        }
    }
    if (o != 0) {
        JT_CHECK(fails, v == FOLIO_E_CORRUPT || v == FOLIO_E_VERSION,
                 "%s: open failed with %s (%s) after verify said %s", label, folio_err_name(o),
                 d.reason, folio_err_name(v));
        return;
    }
    bool recovered = v == FOLIO_E_TORN_TAIL;
    JT_CHECK(fails, v == 0 || v == FOLIO_E_TORN_TAIL, "%s: open succeeded although verify said %s",
             label, folio_err_name(v));
    JT_CHECK(fails, info.recovered == recovered, "%s: info.recovered %d, expected %d", label,
             info.recovered, recovered);
    uint64_t next = ex->k + 1 + (recovered ? 1 : 0);
    if (recovered)
        JT_CHECK(fails,
                 info.recovered_seq == ex->k + 1 && info.recovery.offset == ex->P &&
                     strcmp(info.recovery.segment, seg) == 0,
                 "%s: info recovered_seq %llu at %s@%llu, expected %llu at %s@%llu", label,
                 (unsigned long long)info.recovered_seq, info.recovery.segment,
                 (unsigned long long)info.recovery.offset, (unsigned long long)(ex->k + 1), seg,
                 (unsigned long long)ex->P);
    JT_CHECK(fails, info.last_seq == next - 1, "%s: info.last_seq %llu, expected %llu", label,
             (unsigned long long)info.last_seq, (unsigned long long)(next - 1));
    for (uint64_t i = 0; i < 2; i++) {
        size_t elen;
        uint8_t *e = jt_make_event(900000 + i, 120, &elen);
        struct folio_journal_entry en = {e, elen};
        uint64_t seq = 0;
        int err = folio_journal_append(j, &en, 1, &seq);
        JT_CHECK(fails, err == 0 && seq == next + i, "%s: append after recovery: %s seq %llu",
                 label, folio_err_name(err), (unsigned long long)seq);
        folio_free(e);
    }
    folio_journal_close(j);
    if (recovered)
        jt_check_quarantine(dir, seg, ex, img, fails, label);

    struct folio_journal_verify_info vi;
    v = folio_journal_verify(dir, &vi, &d);
    JT_CHECK(fails, v == 0 && vi.last_seq == next + 1 && vi.events == next + 1,
             "%s: verify after recovery: %s (%s@%llu: %s), last seq %llu", label, folio_err_name(v),
             d.segment, (unsigned long long)d.offset, d.reason, (unsigned long long)vi.last_seq);
    struct jt_recs rs;
    int rerr = jt_read_all(dir, &rs);
    JT_CHECK(fails, rerr == 0 && rs.n == next + 1, "%s: read %zu events (%s), expected %llu", label,
             rs.n, folio_err_name(rerr), (unsigned long long)(next + 1));
    for (size_t i = 0; i < rs.n; i++) {
        const struct jt_rec *r = &rs.r[i];
        if (r->seq != i + 1) {
            jt_fail(fails, "%s: event %zu has seq %llu", label, i, (unsigned long long)r->seq);
            break;
        }
        if (r->seq <= ex->k) {
            JT_CHECK(fails, r->seq <= pristine->n && jt_rec_equal(r, &pristine->r[r->seq - 1]),
                     "%s: event %llu differs from the one written", label,
                     (unsigned long long)r->seq);
        } else if (recovered && r->seq == ex->k + 1) {
            jt_check_recovered_event(r, seg, ex, fails, label);
        } else {
            enum folio_event_type t;
            uint64_t uid = 0;
            bool ok = jt_event_info(r->data, r->len, &t, &uid);
            JT_CHECK(fails, ok && uid == 900000 + (r->seq - next),
                     "%s: appended event %llu has task uid %llu", label, (unsigned long long)r->seq,
                     (unsigned long long)uid);
        }
    }
    jt_recs_free(&rs);
}

#endif
