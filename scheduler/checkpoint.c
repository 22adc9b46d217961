/*
 * Checkpoint files: the state's canonical serialisation behind a fixed
 * 64-byte header (docs/scheduler.md "Checkpoint files" has the layout).
 *
 * Writing: ckpt-<20-digit seq>.tmp, fsync, rename to .bin, fsync the
 * directory, then remove all but the newest FOLIO_CKPT_KEEP checkpoints and
 * any leftover .tmp. Every write, fsync, rename and unlink goes through the
 * I/O seam, so tests can fail or tear any of them. The frame hash in the
 * header is always read from the journal, so a checkpoint can only name a
 * frame the journal holds.
 *
 * Loading: newest first. Nothing in a file is trusted before the checksum
 * over header and body matches; a file that fails it (or its magic, size or
 * version) is skipped for the next older one. A file that passes it is then
 * held to everything: its body must decode and hash to its state hash, and
 * its (seq, frame hash) must be the journal's; if not, that is corruption,
 * not a reason to fall back silently.
 *
 * For speed the file is mapped, not copied (the loaded state keeps the
 * mapping: its tasks' objects point into it), and the body is hashed piece
 * by piece just ahead of the decoder, so its bytes come from memory once.
 * The verdict is still the checksum's first: a decode of bytes that then
 * fail the checksum is thrown away and the file skipped.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include "folio/io.h"
#include "folio/journal.h"
#include "sched_int.h"

#define CKPT_MAGIC "FOLIOCKP"
#define CKPT_VERSION 1
#define CKPT_NAME_LEN 29 /* "ckpt-" + 20 digits + ".bin" */
#define CKPT_OFF_VERSION 8
#define CKPT_OFF_HEADER_BYTES 10
#define CKPT_OFF_RESERVED1 12
#define CKPT_OFF_SEQ 16
#define CKPT_OFF_FRAME_HASH 24
#define CKPT_OFF_STATE_HASH 32
#define CKPT_OFF_BODY_BYTES 40
#define CKPT_OFF_RESERVED2 48
#define CKPT_OFF_CHECKSUM 56

_Static_assert(CKPT_OFF_CHECKSUM + 8 == FOLIO_CKPT_HEADER_BYTES, "checkpoint header is 64 bytes");

static void
diag_file(struct folio_sched_diag *d, const char *file, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
diag_file(struct folio_sched_diag *d, const char *file, uint64_t seq, const char *fmt, ...)
{
    if (d == NULL)
        return;
    d->seq = seq;
    snprintf(d->file, sizeof(d->file), "%s", file);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
    va_end(ap);
}

static uint64_t
ckpt_checksum(const uint8_t *header, const uint8_t *body, size_t body_len)
{
    XXH3_state_t *st = XXH3_createState();
    FOLIO_ASSERT(st != NULL);
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, header, CKPT_OFF_CHECKSUM);
    XXH3_64bits_update(st, body, body_len);
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

static void
ckpt_name(uint64_t seq, const char *ext, char *out, size_t len)
{
    snprintf(out, len, "ckpt-%020" PRIu64 ".%s", seq, ext);
}

/* Seq of a file named ckpt-<20 digits>.<ext>, or 0. */
static uint64_t
ckpt_name_seq(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    if (n != 5 + 20 + 1 + e || strncmp(name, "ckpt-", 5) != 0 || name[25] != '.' ||
        strcmp(name + 26, ext) != 0)
        return 0;
    uint64_t v = 0;
    for (int i = 5; i < 25; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    return v;
}

/* ---- the journal's frame at a seq ---------------------------------------- */

/*
 * Frame hash of the frame holding seq. FOLIO_E_CORRUPT if the journal does
 * not hold seq (it ends before it, or starts after it).
 */
static int
journal_frame_hash(const char *journal_dir, uint64_t seq, uint64_t *hash,
                   struct folio_sched_diag *d, const char *file)
{
    struct folio_journal_reader *r = NULL;
    struct folio_journal_diag jd;
    memset(&jd, 0, sizeof(jd));
    int rc = folio_journal_reader_open(journal_dir, seq, 0, &r, &jd);
    if (rc == 0) {
        struct folio_journal_record rec;
        rc = folio_journal_reader_next(r, &rec, &jd);
        if (rc == 0 && rec.seq == seq) {
            *hash = rec.frame_hash;
        } else if (rc == 0 || rc == FOLIO_E_END) {
            diag_file(d, file, seq, "the journal holds no event at seq %" PRIu64, seq);
            rc = FOLIO_E_CORRUPT;
        } else {
            diag_file(d, file, seq, "journal %s offset %" PRIu64 ": %s", jd.segment, jd.offset,
                      jd.reason);
        }
        folio_journal_reader_close(r);
        return rc;
    }
    diag_file(d, file, seq, "cannot read the journal: %s", jd.reason[0] ? jd.reason : folio_err_message(rc));
    return rc == FOLIO_E_NOT_FOUND ? FOLIO_E_CORRUPT : rc;
}

/* ---- writing ------------------------------------------------------------- */

static void
header_build(uint8_t *h, uint64_t seq, uint64_t frame_hash, const uint8_t *body, size_t body_len)
{
    memset(h, 0, FOLIO_CKPT_HEADER_BYTES);
    memcpy(h, CKPT_MAGIC, 8);
    folio_store_le16(h + CKPT_OFF_VERSION, CKPT_VERSION);
    folio_store_le16(h + CKPT_OFF_HEADER_BYTES, FOLIO_CKPT_HEADER_BYTES);
    folio_store_le64(h + CKPT_OFF_SEQ, seq);
    folio_store_le64(h + CKPT_OFF_FRAME_HASH, frame_hash);
    folio_store_le64(h + CKPT_OFF_STATE_HASH, XXH3_64bits(body, body_len));
    folio_store_le64(h + CKPT_OFF_BODY_BYTES, body_len);
    folio_store_le64(h + CKPT_OFF_CHECKSUM, ckpt_checksum(h, body, body_len));
}

static int
io_error(struct folio_sched_diag *d, const char *file, uint64_t seq, const char *what)
{
    int e = errno;
    diag_file(d, file, seq, "%s: %s", what, strerror(e));
    return folio_err_from_errno(e);
}

static int
ensure_dir(const char *dir, struct folio_sched_diag *d)
{
    if (mkdir(dir, 0700) == 0) {
        char *parent = folio_strdup(dir);
        char *slash = strrchr(parent, '/');
        int rc = 0;
        if (slash != NULL) {
            *slash = '\0';
            if (folio_io_fsync_dir(slash == parent ? "/" : parent) != 0)
                rc = io_error(d, "", 0, "fsync of the checkpoint directory's parent");
        }
        folio_free(parent);
        return rc;
    }
    if (errno == EEXIST)
        return 0;
    return io_error(d, "", 0, "creating the checkpoint directory");
}

/* Writes header + body to dir/tmp_name, fsyncs it, renames it to bin_name, fsyncs dir. */
static int
write_file(const char *dir, const char *tmp_name, const char *bin_name, const uint8_t *header,
           const uint8_t *body, size_t body_len, uint64_t seq, struct folio_sched_diag *d)
{
    char tmp[4096], bin[4096];
    snprintf(tmp, sizeof(tmp), "%s/%s", dir, tmp_name);
    snprintf(bin, sizeof(bin), "%s/%s", dir, bin_name);
    int rc = 0;
    int fd = folio_io_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_error(d, tmp_name, seq, "create");
    if (folio_io_pwrite_all(fd, header, FOLIO_CKPT_HEADER_BYTES, 0) != 0 ||
        folio_io_pwrite_all(fd, body, body_len, FOLIO_CKPT_HEADER_BYTES) != 0)
        rc = io_error(d, tmp_name, seq, "write");
    else if (folio_io_fsync(fd) != 0)
        rc = io_error(d, tmp_name, seq, "fsync");
    close(fd);
    if (rc == 0 && folio_io_rename(tmp, bin) != 0)
        rc = io_error(d, tmp_name, seq, "rename");
    if (rc != 0) {
        folio_io_unlink(tmp);
        return rc;
    }
    if (folio_io_fsync_dir(dir) != 0)
        return io_error(d, bin_name, seq, "fsync of the checkpoint directory");
    return 0;
}

static int
seq_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Seqs of the ckpt-*.bin files of dir, newest first (caller frees). -1 if dir is unreadable. */
static int
list_checkpoints(const char *dir, uint64_t **seqs, size_t *count)
{
    DIR *dh = opendir(dir);
    *seqs = NULL;
    *count = 0;
    if (dh == NULL)
        return -1;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        uint64_t seq = ckpt_name_seq(e->d_name, "bin");
        if (seq == 0)
            continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 8;
            *seqs = folio_reallocarray(*seqs, cap, sizeof(**seqs));
        }
        (*seqs)[(*count)++] = seq;
    }
    closedir(dh);
    if (*count > 1)
        qsort(*seqs, *count, sizeof(**seqs), seq_desc);
    return 0;
}

/*
 * Removes every .tmp and all but the newest FOLIO_CKPT_KEEP checkpoints, but
 * never the one just written (written_seq) nor anything newer than it: files
 * above it (restored by an operator, or kept by retention) are not this
 * writer's to judge, and deleting the fresh one would leave only them.
 */
static int
prune(const char *dir, uint64_t written_seq, struct folio_sched_diag *d)
{
    uint64_t *seqs;
    size_t n;
    bool removed = false;
    char name[64], path[4096];
    if (list_checkpoints(dir, &seqs, &n) != 0)
        return io_error(d, "", 0, "listing the checkpoint directory");
    for (size_t i = FOLIO_CKPT_KEEP; i < n; i++) {
        if (seqs[i] >= written_seq)
            continue;
        ckpt_name(seqs[i], "bin", name, sizeof(name));
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        removed |= folio_io_unlink(path) == 0;
    }
    folio_free(seqs);
    DIR *dh = opendir(dir);
    struct dirent *e;
    while (dh != NULL && (e = readdir(dh)) != NULL) {
        if (ckpt_name_seq(e->d_name, "tmp") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        removed |= folio_io_unlink(path) == 0;
    }
    if (dh != NULL)
        closedir(dh);
    if (removed && folio_io_fsync_dir(dir) != 0)
        return io_error(d, "", 0, "fsync of the checkpoint directory");
    return 0;
}

int
ckpt_encode(const struct folio_sched_state *s, struct ckpt_encoded *e, struct folio_sched_diag *d)
{
    *e = (struct ckpt_encoded){.seq = s->last_seq, .state_frame_hash = s->frame_hash};
    mpw_init(&e->body, FOLIO_CKPT_BODY_MAX);
    if (e->seq == 0) {
        diag_file(d, "", 0, "an empty state has no checkpoint");
        return FOLIO_E_INVALID;
    }
    int rc = canon_write(s, &e->body);
    if (rc != 0) {
        char bin_name[64];
        ckpt_name(e->seq, "bin", bin_name, sizeof(bin_name));
        diag_file(d, bin_name, e->seq, "the state does not fit a checkpoint");
    }
    return rc;
}

int
ckpt_store(const char *checkpoint_dir, const char *journal_dir, const struct ckpt_encoded *e,
           char *name, size_t name_len, struct folio_sched_diag *d)
{
    char tmp_name[64], bin_name[64];
    uint64_t seq = e->seq, frame_hash = 0;
    ckpt_name(seq, "tmp", tmp_name, sizeof(tmp_name));
    ckpt_name(seq, "bin", bin_name, sizeof(bin_name));
    int rc = journal_frame_hash(journal_dir, seq, &frame_hash, d, bin_name);
    if (rc != 0)
        return rc;
    if (e->state_frame_hash != 0 && e->state_frame_hash != frame_hash) {
        diag_file(d, bin_name, seq, "the state's frame hash for seq %" PRIu64 " is not the journal's",
                  seq);
        return FOLIO_E_CORRUPT;
    }
    uint8_t header[FOLIO_CKPT_HEADER_BYTES];
    header_build(header, seq, frame_hash, e->body.buf, e->body.len);
    rc = ensure_dir(checkpoint_dir, d);
    if (rc == 0)
        rc = write_file(checkpoint_dir, tmp_name, bin_name, header, e->body.buf, e->body.len, seq,
                        d);
    if (rc == 0)
        rc = prune(checkpoint_dir, seq, d);
    if (rc == 0 && name != NULL)
        snprintf(name, name_len, "%s", bin_name);
    return rc;
}

void
ckpt_encoded_free(struct ckpt_encoded *e)
{
    mpw_free(&e->body);
}

int
folio_sched_checkpoint_write(const char *checkpoint_dir, const char *journal_dir,
                             const struct folio_sched_state *s, char *name, size_t name_len,
                             struct folio_sched_diag *d)
{
    struct ckpt_encoded e;
    int rc = ckpt_encode(s, &e, d);
    if (rc == 0)
        rc = ckpt_store(checkpoint_dir, journal_dir, &e, name, name_len, d);
    ckpt_encoded_free(&e);
    return rc;
}

/* ---- reading ------------------------------------------------------------- */

static int
header_parse(const uint8_t *h, struct folio_ckpt_header *hdr, const char *file,
             struct folio_sched_diag *d)
{
    memset(hdr, 0, sizeof(*hdr));
    if (memcmp(h, CKPT_MAGIC, 8) != 0) {
        diag_file(d, file, 0, "not a checkpoint (bad magic)");
        return FOLIO_E_CORRUPT;
    }
    hdr->version = folio_load_le16(h + CKPT_OFF_VERSION);
    hdr->seq = folio_load_le64(h + CKPT_OFF_SEQ);
    hdr->frame_hash = folio_load_le64(h + CKPT_OFF_FRAME_HASH);
    hdr->state_hash = folio_load_le64(h + CKPT_OFF_STATE_HASH);
    hdr->body_bytes = folio_load_le64(h + CKPT_OFF_BODY_BYTES);
    hdr->checksum = folio_load_le64(h + CKPT_OFF_CHECKSUM);
    if (hdr->version != CKPT_VERSION) {
        diag_file(d, file, hdr->seq, "checkpoint format version %u is not supported", hdr->version);
        return FOLIO_E_VERSION;
    }
    if (folio_load_le16(h + CKPT_OFF_HEADER_BYTES) != FOLIO_CKPT_HEADER_BYTES ||
        folio_load_le32(h + CKPT_OFF_RESERVED1) != 0 || folio_load_le64(h + CKPT_OFF_RESERVED2) != 0 ||
        hdr->body_bytes > FOLIO_CKPT_BODY_MAX) {
        diag_file(d, file, hdr->seq, "malformed checkpoint header");
        return FOLIO_E_CORRUPT;
    }
    return 0;
}

/*
 * The file's bytes, which a loaded state keeps (its tasks' objects point
 * into the body): a read-only private mapping, so start-up neither copies
 * hundreds of megabytes nor faults in as much fresh memory (MAP_POPULATE:
 * the whole file is read through right away anyway). Where the file cannot
 * be mapped, a heap copy.
 */
static int
file_load(int fd, size_t size, struct ckpt_mem *m)
{
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p != MAP_FAILED) {
        *m = (struct ckpt_mem){p, size};
        return 0;
    }
    *m = (struct ckpt_mem){folio_malloc(size), 0};
    if (folio_io_pread_all(fd, m->base, size, 0) != (ssize_t)size) {
        ckpt_mem_free(m);
        return -1;
    }
    return 0;
}

/*
 * The checksum (header [0, 56) then body) and XXH3-64 of the body (the state
 * hash), fed the body piece by piece by canon_read just before it parses
 * each piece: the bytes come from memory once, for both hashes and the
 * parse, instead of once per pass.
 */
struct body_hashes {
    XXH3_state_t *sum;
    XXH3_state_t *state;
};

static void
hashes_feed(void *ctx, const uint8_t *p, size_t n)
{
    struct body_hashes *h = ctx;
    XXH3_64bits_update(h->sum, p, n);
    XXH3_64bits_update(h->state, p, n);
}

/*
 * Opens the file, checks the header and the size, and loads it (into *mem;
 * *body is where the body starts in it).
 */
static int
read_file(const char *path, const char *file, uint8_t *header, struct ckpt_mem *mem,
          const uint8_t **body, struct folio_ckpt_header *hdr, struct folio_sched_diag *d)
{
    struct stat st;
    int rc = 0;
    *mem = (struct ckpt_mem){NULL, 0};
    *body = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? FOLIO_E_NOT_FOUND : io_error(d, file, 0, "open");
    if (fstat(fd, &st) != 0) {
        rc = io_error(d, file, 0, "stat");
        goto out;
    }
    if (st.st_size < FOLIO_CKPT_HEADER_BYTES ||
        folio_io_pread_all(fd, header, FOLIO_CKPT_HEADER_BYTES, 0) != FOLIO_CKPT_HEADER_BYTES) {
        diag_file(d, file, 0, "shorter than a checkpoint header");
        rc = FOLIO_E_CORRUPT;
        goto out;
    }
    rc = header_parse(header, hdr, file, d);
    if (rc != 0)
        goto out;
    if ((uint64_t)st.st_size != FOLIO_CKPT_HEADER_BYTES + hdr->body_bytes) {
        diag_file(d, file, hdr->seq, "file is %lld bytes, header says %" PRIu64,
                  (long long)st.st_size, FOLIO_CKPT_HEADER_BYTES + hdr->body_bytes);
        rc = FOLIO_E_CORRUPT;
        goto out;
    }
    if (file_load(fd, (size_t)st.st_size, mem) != 0) {
        rc = io_error(d, file, hdr->seq, "read");
        goto out;
    }
    *body = (const uint8_t *)mem->base + FOLIO_CKPT_HEADER_BYTES;
out:
    close(fd);
    return rc;
}

/*
 * Decodes the body while hashing it, then judges in the documented order:
 * a wrong checksum means the file is skipped whatever the decode gave (so
 * the decode ran on bytes not yet trusted, which it is built for: it reads
 * nothing out of bounds and its result is dropped); with a valid checksum
 * any other failure is corruption, never a reason to skip. On success the
 * state takes *mem; otherwise it is freed here. *checksum_ok tells which
 * of the two kinds of failure it was.
 */
static int
decode_verified(struct ckpt_mem *mem, const uint8_t *body, const uint8_t *header,
                const struct folio_ckpt_header *hdr, const char *file,
                struct folio_sched_state **out, bool *checksum_ok, struct folio_sched_diag *d)
{
    char why[SCHED_WHY_LEN];
    struct folio_sched_state *s = NULL;
    struct body_hashes h = {XXH3_createState(), XXH3_createState()};
    FOLIO_ASSERT(h.sum != NULL && h.state != NULL);
    XXH3_64bits_reset(h.sum);
    XXH3_64bits_reset(h.state);
    XXH3_64bits_update(h.sum, header, CKPT_OFF_CHECKSUM);
    struct canon_feed feed = {hashes_feed, &h};
    why[0] = '\0';
    int decoded = canon_read(body, hdr->body_bytes, mem, &feed, &s, why, sizeof(why));
    uint64_t checksum = XXH3_64bits_digest(h.sum), state_hash = XXH3_64bits_digest(h.state);
    XXH3_freeState(h.sum);
    XXH3_freeState(h.state);
    int rc = FOLIO_E_CORRUPT;
    *checksum_ok = checksum == hdr->checksum;
    if (!*checksum_ok)
        diag_file(d, file, hdr->seq, "checksum mismatch");
    else if (state_hash != hdr->state_hash)
        diag_file(d, file, hdr->seq, "valid checksum but the body does not hash to its state hash");
    else if (decoded != 0)
        diag_file(d, file, hdr->seq, "valid checksum but the state does not decode: %s", why);
    else if (s->last_seq != hdr->seq)
        diag_file(d, file, hdr->seq, "header seq %" PRIu64 " but the state is at seq %" PRIu64,
                  hdr->seq, s->last_seq);
    else
        rc = 0;
    if (rc != 0) {
        folio_sched_state_free(s); /* with *mem if it took it */
        ckpt_mem_free(mem);
        return rc;
    }
    s->frame_hash = hdr->frame_hash;
    *out = s;
    return 0;
}

/* *checksum_ok: the file passed its header and checksum checks. */
static int
ckpt_read(const char *path, struct folio_sched_state **out, struct folio_ckpt_header *hdr,
          struct folio_sched_diag *d, bool *checksum_ok)
{
    const char *slash = strrchr(path, '/');
    const char *file = slash ? slash + 1 : path;
    uint8_t header[FOLIO_CKPT_HEADER_BYTES];
    struct ckpt_mem mem;
    const uint8_t *body = NULL;
    struct folio_ckpt_header local;
    if (hdr == NULL)
        hdr = &local;
    *out = NULL;
    *checksum_ok = false;
    int rc = read_file(path, file, header, &mem, &body, hdr, d);
    if (rc != 0) {
        ckpt_mem_free(&mem);
        return rc;
    }
    return decode_verified(&mem, body, header, hdr, file, out, checksum_ok, d);
}

int
folio_sched_checkpoint_read(const char *path, struct folio_sched_state **out,
                            struct folio_ckpt_header *hdr, struct folio_sched_diag *d)
{
    bool ok;
    return ckpt_read(path, out, hdr, d, &ok);
}

static int
load_one(const char *dir, const char *journal_dir, uint64_t seq, struct folio_sched_state **out,
         bool *skipped, struct folio_sched_diag *d)
{
    char name[64], path[4096];
    struct folio_ckpt_header hdr;
    bool checksum_ok;
    ckpt_name(seq, "bin", name, sizeof(name));
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    *skipped = false;
    struct folio_sched_state *s = NULL;
    int rc = ckpt_read(path, &s, &hdr, d, &checksum_ok);
    if (rc != 0 && !checksum_ok && rc != FOLIO_E_IO && rc != FOLIO_E_NOMEM) {
        *skipped = true; /* never validated: as if it were not there */
        return rc;
    }
    if (rc != 0)
        return rc;
    uint64_t frame_hash = 0;
    if (hdr.seq != seq) {
        diag_file(d, name, seq, "file name says seq %" PRIu64 ", header says %" PRIu64, seq,
                  hdr.seq);
        rc = FOLIO_E_CORRUPT;
    }
    if (rc == 0)
        rc = journal_frame_hash(journal_dir, seq, &frame_hash, d, name);
    if (rc == 0 && frame_hash != hdr.frame_hash) {
        diag_file(d, name, seq,
                  "checkpoint disagrees with the journal: it covers seq %" PRIu64
                  " in frame %016" PRIx64 " but the journal's frame holding that seq is %016" PRIx64,
                  seq, hdr.frame_hash, frame_hash);
        rc = FOLIO_E_CORRUPT;
    }
    if (rc != 0) {
        folio_sched_state_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int
folio_sched_checkpoint_load(const char *checkpoint_dir, const char *journal_dir,
                            struct folio_sched_state **out, struct folio_sched_replay_info *info,
                            struct folio_sched_diag *d)
{
    uint64_t *seqs;
    size_t n;
    *out = NULL;
    if (list_checkpoints(checkpoint_dir, &seqs, &n) != 0)
        return errno == ENOENT ? FOLIO_E_NOT_FOUND : io_error(d, "", 0, "listing checkpoints");
    int rc = FOLIO_E_NOT_FOUND;
    for (size_t i = 0; i < n; i++) {
        bool skipped;
        rc = load_one(checkpoint_dir, journal_dir, seqs[i], out, &skipped, d);
        if (rc == 0) {
            if (info != NULL) {
                info->checkpoint_seq = seqs[i];
                ckpt_name(seqs[i], "bin", info->checkpoint_file, sizeof(info->checkpoint_file));
            }
            break;
        }
        if (!skipped)
            break;
        if (info != NULL)
            info->checkpoints_skipped++;
        rc = FOLIO_E_NOT_FOUND;
    }
    folio_free(seqs);
    return rc;
}
