/*
 * Helpers shared by folio's tests: temporary directories, file bytes, child
 * processes. Tests use real files in real directories; nothing is mocked.
 */
#ifndef FOLIO_TESTUTIL_H
#define FOLIO_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/types.h>

/* Creates a fresh directory under $TMPDIR (or /tmp); the caller frees the path. */
char *tu_mkdtemp(const char *tag);
/* Removes a directory tree (rm -rf). */
void tu_rmrf(const char *path);
/* Joins a and b with '/'; caller frees. */
char *tu_path(const char *a, const char *b);
/* Reads a whole file into a new buffer (caller frees); NULL if it cannot. */
uint8_t *tu_read_file(const char *path, size_t *len);
/* Writes a whole file (truncating). Asserts on failure. */
void tu_write_file(const char *path, const void *data, size_t len);
/* Size of a file, or -1. */
off_t tu_file_size(const char *path);
/* Copies directory tree src to dst (cp -a). */
void tu_copy_tree(const char *src, const char *dst);
/* Runs fn(arg) in a forked child; returns the raw wait status. */
int tu_run_child(void (*fn)(void *), void *arg);
/* Runs a shell command, capturing stdout into *out (may be NULL); returns the exit status or -1. */
int tu_system(const char *cmd, char **out);
/* A fixed seed from FOLIO_TEST_SEED or the clock; printed so failures can be replayed. */
uint64_t tu_seed(void);
uint64_t tu_rand(uint64_t *state);



/*
 * Encodes a task_registered event for task_uid whose index uid is padded so
 * the encoded event is about approx_len bytes (at least ~60). Caller frees.
 */
#include "folio/event.h"
uint8_t *tu_make_event(uint64_t task_uid, size_t approx_len, size_t *len);
/* Decodes an event and returns its task uid (task_registered), asserting it decodes. */
uint64_t tu_event_task_uid(const uint8_t *data, size_t len);
#endif
