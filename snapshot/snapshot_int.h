/*
 * Private pieces of the snapshot module shared by its files: error
 * reporting, name and hex helpers, and the archive-level constants.
 */
#ifndef FOLIO_SNAPSHOT_INT_H
#define FOLIO_SNAPSHOT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "folio/snapshot.h"

#ifndef FOLIO_VERSION_STRING
#define FOLIO_VERSION_STRING "unknown"
#endif

/* Files are read and archive data is streamed in chunks of this size. */
#define SNAP_CHUNK_BYTES (1u << 20)
/* Free space an extraction leaves on its destination's file system (the journal's too). */
#define SNAP_FREE_RESERVE_BYTES (64ull << 20)
/* Temporary archive names: "<dest>.tmp-" then this many lowercase hex digits. */
#define SNAP_TEMP_TAG ".tmp-"
#define SNAP_TEMP_HEX 16
/* Upper bounds of manifest strings that have no rule of their own. */
#define SNAP_INDEX_UID_BYTES_MAX 400
#define SNAP_UUID_BYTES_MAX 64
#define SNAP_VERSION_BYTES_MAX 64
#define SNAP_PRIMARY_KEY_BYTES_MAX 512

/*
 * Sets err (may be NULL) to code and a formatted message, and returns code,
 * so a failure reads `return snap_fail(err, FOLIO_E_..., "...", ...)`.
 */
int snap_fail(struct folio_snapshot_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Maps an errno from a file operation to a folio code (NOSPC, NOT_FOUND, IO...). */
int snap_errno_code(int errnum);

/* The entry-name rule of folio/snapshot.h. */
bool snap_name_valid(const char *name, size_t len);

/* 16 bytes -> 32 lowercase hex digits and a NUL. */
void snap_hex128(const uint8_t in[16], char out[33]);
/* 32 hex digits (either case) -> 16 bytes; false if malformed. */
bool snap_unhex128(const char *hex, size_t len, uint8_t out[16]);

/* Canonical (big-endian) bytes of an XXH3-128 state's digest. */
struct XXH3_state_s;
void snap_digest128(struct XXH3_state_s *st, uint8_t out[16]);

/* Copies s into a bounded message-safe form (non-printable bytes as '?'). */
void snap_printable(const char *s, char *out, size_t out_len);

#endif
