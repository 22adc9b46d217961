/* Helpers shared by the index tests: see indexutil.h. */
#define _GNU_SOURCE
#include "indexutil.h"

#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "testutil.h"

static struct folio_index_error iu_err;
static uint64_t next_task_uid = 1;

struct folio_index_marker
iu_marker(uint64_t task_uid, uint64_t batch_seq, const char *outcome)
{
    struct folio_index_marker m = {.task_uid = task_uid, .batch_seq = batch_seq};
    if (outcome != NULL) {
        m.outcome = (const uint8_t *)outcome;
        m.outcome_len = strlen(outcome);
    }
    return m;
}

struct folio_index_marker
iu_next_marker(void)
{
    struct folio_index_marker m = {.task_uid = next_task_uid, .batch_seq = next_task_uid};
    next_task_uid++;
    return m;
}

void
iu_assert_verified(struct folio_index *idx)
{
    int rc = folio_index_verify(idx, &iu_err);
    if (rc != 0)
        fail_msg("verify: %s", iu_err.message);
}

void
iu_assert_outcome(struct folio_index *idx, uint64_t task_uid, const char *expected)
{
    uint8_t *got = (uint8_t *)"sentinel";
    size_t len = 99;
    int rc = folio_index_outcome_get(idx, task_uid, &got, &len, &iu_err);
    if (expected == NULL) {
        assert_int_equal(rc, FOLIO_E_NOT_FOUND);
        assert_null(got);
        assert_int_equal(len, 0);
        return;
    }
    if (rc != 0)
        fail_msg("outcome %llu: %s", (unsigned long long)task_uid, iu_err.message);
    assert_int_equal(len, strlen(expected));
    assert_memory_equal(got, expected, len);
    folio_free(got);
}

void
iu_assert_marker(struct folio_index *idx, uint64_t task_uid, uint64_t batch_seq)
{
    struct folio_index_marker m;
    memset(&m, 0xab, sizeof(m));
    assert_int_equal(folio_index_marker_get(idx, &m, &iu_err), 0);
    assert_int_equal(m.task_uid, task_uid);
    assert_int_equal(m.batch_seq, batch_seq);
    assert_null(m.outcome);
    assert_int_equal(m.outcome_len, 0);
}

char *
iu_dist_text(struct folio_index *idx)
{
    struct folio_index_stats *s = NULL;
    assert_int_equal(folio_index_stats_get(idx, &s, &iu_err), 0);
    assert_true(s->has_field_distribution);
    assert_false(s->field_distribution_truncated);
    size_t cap = 64, len = 0;
    char *out = folio_calloc(1, cap);
    for (size_t i = 0; i < s->field_count; i++) {
        size_t need = strlen(s->field_names[i]) + 32;
        if (len + need >= cap) {
            cap = (len + need) * 2;
            out = folio_realloc(out, cap);
        }
        len += (size_t)snprintf(out + len, cap - len, "%s%s:%llu", i ? " " : "", s->field_names[i],
                                (unsigned long long)s->field_documents[i]);
    }
    folio_index_stats_free(s);
    return out;
}

void
iu_expect_model_dist(struct folio_index *idx, int ids, const int *counts, int names,
                     const char *when)
{
    char want[512];
    size_t len = 0;
    want[0] = '\0';
    if (ids > 0)
        len += (size_t)snprintf(want, sizeof(want), "id:%d", ids);
    for (int n = 0; n < names && n < 10 && len < sizeof(want); n++)
        if (counts[n] > 0)
            len += (size_t)snprintf(want + len, sizeof(want) - len, " n%d:%d", n, counts[n]);
    char *got = iu_dist_text(idx);
    if (strcmp(got, want) != 0)
        fail_msg("%s: field distribution `%s`, the model makes `%s`", when, got, want);
    folio_free(got);
}

int
iu_add_json(struct folio_index *idx, const char *json, enum folio_index_method method,
            struct folio_index_error *err)
{
    struct folio_index_payload p = {
        .format = FOLIO_INDEX_FORMAT_JSON, .data = json, .len = strlen(json)};
    struct folio_index_marker m = iu_next_marker();
    return folio_index_documents_add(idx, &p, method, NULL, &m, NULL, err);
}

void
iu_remove(struct folio_index *idx, char *dir)
{
    folio_index_free(idx);
    tu_rmrf(dir);
    folio_free(dir);
}

uint64_t
iu_doc_count(struct folio_index *idx)
{
    struct folio_index_stats *s = NULL;
    assert_int_equal(folio_index_stats_get(idx, &s, &iu_err), 0);
    uint64_t n = s->document_count;
    folio_index_stats_free(s);
    return n;
}

bool
iu_has_doc(struct folio_index *idx, const char *id)
{
    char *json = NULL;
    size_t len;
    int rc = folio_index_document_get(idx, id, NULL, 0, &json, &len, &iu_err);
    folio_free(json);
    assert_true(rc == 0 || rc == FOLIO_E_DOCUMENT_NOT_FOUND);
    return rc == 0;
}
