/*
 * Helpers shared by the index tests (test_index_*.c): markers, and the
 * checks several suites make of an index (verify, outcomes, the marker, the
 * field distribution). Each test executable has its own copy of the state
 * (the next marker's task uid).
 */
#ifndef FOLIO_TESTS_INDEXUTIL_H
#define FOLIO_TESTS_INDEXUTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "folio/index.h"

/* A marker for task_uid in batch batch_seq, with an outcome (NULL: none). */
struct folio_index_marker iu_marker(uint64_t task_uid, uint64_t batch_seq, const char *outcome);
/* Markers of task 1, 2, 3, ..., each its own batch. */
struct folio_index_marker iu_next_marker(void);
/* Adds a JSON payload under the next marker; folio_index_documents_add's code. */
int iu_add_json(struct folio_index *idx, const char *json, enum folio_index_method method,
                struct folio_index_error *err);
/* Frees idx, then removes and frees its directory. */
void iu_remove(struct folio_index *idx, char *dir);
/* The index's document count (folio_index_stats_get). */
uint64_t iu_doc_count(struct folio_index *idx);
/* Whether a document with this external id is stored. */
bool iu_has_doc(struct folio_index *idx, const char *id);
/* folio_index_verify finds idx sound (its message is printed if not). */
void iu_assert_verified(struct folio_index *idx);
/* The outcome stored for task_uid is expected (NULL: none, and nothing is returned). */
void iu_assert_outcome(struct folio_index *idx, uint64_t task_uid, const char *expected);
/* The index's marker is task_uid's in batch batch_seq, without an outcome. */
void iu_assert_marker(struct folio_index *idx, uint64_t task_uid, uint64_t batch_seq);
/* The field distribution as "name:count name:count", in the order stats give it (free it). */
char *iu_dist_text(struct folio_index *idx);

/*
 * The distribution a model of documents makes: "id:<ids>" (when ids > 0),
 * then " n<i>:<counts[i]>" for each i < names with counts[i] > 0, the order
 * in which stats give names "id", "n0", ..., "n9". Fails the test, saying
 * when, if idx's distribution differs.
 */
void iu_expect_model_dist(struct folio_index *idx, int ids, const int *counts, int names,
                          const char *when);

#endif
