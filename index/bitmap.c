/*
 * Posting lists on disk: roaring bitmaps of internal document ids in the
 * portable format of the RoaringFormatSpec (docs/index-format.md, "Posting
 * lists"), checked byte by byte before CRoaring sees them.
 *
 * Why the check: CRoaring 0.2.66 has no validator; its "safe" deserializer
 * only checks lengths, trusts container contents (unsorted arrays, wrong
 * cardinalities, overlapping runs all make later operations read out of
 * bounds) and prints to stderr on short input. bitmap_check accepts exactly
 * the well-formed encodings: known cookie, keys strictly increasing, every
 * container's content consistent with its stored cardinality, offsets (when
 * present) pointing where the containers are, and no byte left over. Only
 * then is the value handed to roaring_bitmap_portable_deserialize_safe.
 *
 * Every bitmap written is run-optimised first (smaller, and what a reader of
 * the format expects), and an empty one is never stored: its key is deleted.
 */
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "search_int.h"

#define COOKIE_RUNS 12347u    /* low 16 bits; high 16 bits = containers - 1 */
#define COOKIE_NO_RUNS 12346u /* followed by a u32 container count */
#define OFFSETS_MIN_CONTAINERS 4u
#define ARRAY_MAX_CARD 4096u
#define BITSET_BYTES 8192u

static uint16_t
le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t
le32(const uint8_t *p)
{
    return folio_load_le32(p);
}

/*
 * The bits set in a bitset container. Baseline x86-64 has no POPCNT
 * instruction, so GCC would call a bit-twiddling routine 1,024 times per
 * container; with a clone for CPUs that have it (picked once, at load time)
 * the check of a frequent word's list costs a fraction of its decoding.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("popcnt", "default")))
#endif
static uint64_t
bitset_bits(const uint8_t *p)
{
    uint64_t bits = 0;
    for (size_t i = 0; i < BITSET_BYTES; i += 8)
        bits += (uint64_t)__builtin_popcountll(folio_load_le64(p + i));
    return bits;
}

/* Checks one container at p[0, avail) of cardinality card; *used = its bytes. */
static bool
container_check(const uint8_t *p, size_t avail, bool run, uint32_t card, size_t *used)
{
    if (run) {
        if (avail < 2)
            return false;
        uint32_t runs = le16(p);
        if (runs == 0 || avail - 2 < (size_t)runs * 4)
            return false;
        uint64_t total = 0;
        int64_t prev_end = -1;
        for (uint32_t i = 0; i < runs; i++) {
            uint32_t start = le16(p + 2 + 4 * i), length = le16(p + 4 + 4 * i);
            if ((int64_t)start <= prev_end || start + length > 0xFFFFu)
                return false;
            prev_end = (int64_t)start + length;
            total += (uint64_t)length + 1;
        }
        *used = 2 + (size_t)runs * 4;
        return total == card;
    }
    if (card <= ARRAY_MAX_CARD) {
        if (avail < (size_t)card * 2)
            return false;
        for (uint32_t i = 1; i < card; i++)
            if (le16(p + 2 * i) <= le16(p + 2 * (i - 1)))
                return false;
        *used = (size_t)card * 2;
        return true;
    }
    if (avail < BITSET_BYTES)
        return false;
    *used = BITSET_BYTES;
    return bitset_bits(p) == card;
}

bool
bitmap_check(const uint8_t *p, size_t n)
{
    if (n < 4)
        return false;
    uint32_t cookie = le32(p);
    uint32_t count;
    size_t pos;
    const uint8_t *run_flags = NULL;
    if ((cookie & 0xFFFFu) == COOKIE_RUNS) {
        count = (cookie >> 16) + 1;
        run_flags = p + 4;
        pos = 4 + (count + 7) / 8;
    } else if (cookie == COOKIE_NO_RUNS) {
        if (n < 8)
            return false;
        count = le32(p + 4);
        pos = 8;
        if (count > 65536)
            return false;
    } else {
        return false;
    }
    bool offsets = run_flags == NULL || count >= OFFSETS_MIN_CONTAINERS;
    size_t header = pos;
    size_t headers_bytes = (size_t)count * 4 + (offsets ? (size_t)count * 4 : 0);
    if (pos > n || n - pos < headers_bytes)
        return false;
    pos += headers_bytes;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *h = p + header + 4 * (size_t)i;
        if (i > 0 && le16(h) <= le16(h - 4))
            return false;
        if (offsets && le32(p + header + 4 * (size_t)count + 4 * (size_t)i) != pos)
            return false;
        bool run = run_flags != NULL && (run_flags[i / 8] >> (i % 8)) & 1;
        size_t used = 0;
        if (!container_check(p + pos, n - pos, run, (uint32_t)le16(h + 2) + 1, &used))
            return false;
        pos += used;
    }
    return pos == n;
}

int
bitmap_decode(const void *data, size_t len, roaring_bitmap_t **out, struct folio_index_error *err,
              const char *what)
{
    *out = NULL;
    if (bitmap_check(data, len))
        *out = roaring_bitmap_portable_deserialize_safe(data, len);
    if (*out == NULL)
        return index_errorf(err, FOLIO_E_CORRUPT, "A posting list of %s is damaged (%zu bytes).",
                            what, len);
    return FOLIO_OK;
}

int
bitmap_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t key_len, roaring_bitmap_t **out,
           struct folio_index_error *err, const char *what)
{
    MDB_val k = {key_len, (void *)key}, v;
    *out = NULL;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return index_mdb_error(err, rc, "reading a posting list");
    rc = bitmap_decode(v.mv_data, v.mv_size, out, err, what);
    return rc == FOLIO_OK ? 1 : rc;
}

int
bitmap_cursor_put(MDB_cursor *cur, const void *key, size_t key_len, bool found,
                  roaring_bitmap_t *bm, struct folio_index_error *err)
{
    MDB_val k = {key_len, (void *)key};
    int rc = 0;
    if (roaring_bitmap_is_empty(bm)) {
        if (found)
            rc = mdb_cursor_del(cur, 0);
    } else {
        roaring_bitmap_run_optimize(bm);
        size_t size = roaring_bitmap_portable_size_in_bytes(bm);
        MDB_val v = {size, NULL};
        /*
         * MDB_RESERVE: serialise straight into the page; MDB_CURRENT: where
         * the cursor is, without a second lookup (a value of another size is
         * deleted and inserted again by LMDB).
         */
        rc = mdb_cursor_put(cur, &k, &v, found ? MDB_CURRENT | MDB_RESERVE : MDB_RESERVE);
        if (rc == 0) {
            size_t written = roaring_bitmap_portable_serialize(bm, v.mv_data);
            FOLIO_ASSERT(written == size);
            FOLIO_ASSERT(bitmap_check(v.mv_data, size)); /* what we write, we can read */
        }
    }
    if (rc != 0)
        return index_mdb_error(err, rc, "writing a posting list");
    return FOLIO_OK;
}
