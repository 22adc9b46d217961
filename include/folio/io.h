/*
 * The I/O seam.
 *
 * Every journal write, fsync, rename, truncate and unlink goes through these
 * functions, so tests can make any of them fail, write only part of the
 * buffer, or stop the world right after it (SQLite's crash VFS, TigerBeetle's
 * simulated storage). Without a fault plan they are thin wrappers over the
 * system calls, with EINTR and short writes handled.
 *
 * A fault plan picks the Nth call (1-based, counted per process across all
 * threads) of one operation and what happens to it:
 *   fail  - the call does nothing and fails with errno (default EIO)
 *   short - a write writes only `bytes` bytes and reports that (the wrapper's
 *           caller sees a short write; folio_io_pwrite_all keeps going)
 *   tear  - a write writes only `bytes` bytes, then the process dies (SIGKILL)
 *   crash - the call completes, then the process dies (SIGKILL)
 *   before- the process dies (SIGKILL) before the call does anything
 *   hold  - the call waits, before doing anything, until
 *           folio_io_hold_release(); then it runs normally (a test can see
 *           what the rest of the process does meanwhile)
 *
 * With lose_unsynced set, a death (tear, crash, before) is a power loss rather
 * than a process crash: before dying, every write not yet covered by a
 * successful fsync/fdatasync of its file descriptor is rolled back (old bytes
 * restored, files grown by it cut back), newest first. This is one legal
 * post-power-loss state, and the one that exposes an acknowledgement given
 * before the data was synced.
 *
 * Plans come from folio_io_fault_set() or, for whole programs, from the
 * environment variable
 * FOLIO_IO_FAULT="op=fsync,nth=3,action=fail,errno=28,bytes=100,lose=1".
 */
#ifndef FOLIO_IO_H
#define FOLIO_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum folio_io_op {
    FOLIO_IO_WRITE = 0, /* pwrite */
    FOLIO_IO_FSYNC,     /* fsync and fdatasync, on files and directories */
    FOLIO_IO_RENAME,
    FOLIO_IO_TRUNCATE,  /* ftruncate */
    FOLIO_IO_UNLINK,
    FOLIO_IO_OPEN,      /* open with O_CREAT */
    FOLIO_IO_OP_COUNT
};

enum folio_io_action {
    FOLIO_IO_ACT_NONE = 0,
    FOLIO_IO_ACT_FAIL,
    FOLIO_IO_ACT_SHORT,
    FOLIO_IO_ACT_TEAR,
    FOLIO_IO_ACT_CRASH,
    FOLIO_IO_ACT_BEFORE,
    FOLIO_IO_ACT_HOLD,
};

struct folio_io_fault {
    enum folio_io_op op;
    enum folio_io_action action;
    uint64_t nth;      /* 1-based index of the call that faults */
    int errnum;        /* for FAIL; 0 means EIO */
    size_t bytes;      /* for SHORT and TEAR: bytes actually written */
    int lose_unsynced; /* on death, roll back writes no fsync covered */
};

/* Installs a plan (NULL clears it) and resets all call counters. */
void folio_io_fault_set(const struct folio_io_fault *fault);
/* Parses a plan from "op=..,nth=..,action=..[,errno=..][,bytes=..]". 0 or FOLIO_E_INVALID. */
int folio_io_fault_parse(const char *spec, struct folio_io_fault *out);
/* With a hold plan: whether its call is waiting now; and letting it go. */
int folio_io_hold_waiting(void);
void folio_io_hold_release(void);
/* Calls of op made so far (since the last folio_io_fault_set). */
uint64_t folio_io_count(enum folio_io_op op);
const char *folio_io_op_name(enum folio_io_op op);

/* Each returns what the system call returns (-1 and errno on failure). */
ssize_t folio_io_pwrite(int fd, const void *buf, size_t len, off_t off);
int folio_io_fsync(int fd);
int folio_io_fdatasync(int fd);
int folio_io_rename(const char *from, const char *to);
/* Like rename, but fails with EEXIST rather than replace an existing `to` (counts as a rename). */
int folio_io_rename_noreplace(const char *from, const char *to);
int folio_io_ftruncate(int fd, off_t len);
int folio_io_unlink(const char *path);
int folio_io_open(const char *path, int flags, mode_t mode);

/* Writes all len bytes at off, retrying short writes. 0, or -1 and errno. */
int folio_io_pwrite_all(int fd, const void *buf, size_t len, off_t off);
/* Reads up to len bytes at off, retrying short reads; returns bytes read or -1. */
ssize_t folio_io_pread_all(int fd, void *buf, size_t len, off_t off);
/* Opens dir and fsyncs it. 0, or -1 and errno. */
int folio_io_fsync_dir(const char *dir);

/*
 * A named crash point: code that wants tests to be able to stop the world
 * between two steps (an index commit and the event recording it, ...) calls
 * folio_crash_point("name") there. With FOLIO_CRASH_POINT="name" or
 * "name:N" in the environment, the Nth call (default 1st) with that name
 * kills the process with SIGKILL (after rolling back unsynced writes if the
 * FOLIO_IO_FAULT plan asked for lose=1). Otherwise it does nothing.
 */
void folio_crash_point(const char *name);
/* Sets the crash point as FOLIO_CRASH_POINT would ("name[:N]"; NULL clears) and resets its count. */
void folio_crash_point_set(const char *spec);

#endif
