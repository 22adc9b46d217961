/*
 * Document payloads, one document at a time: a JSON object or array of
 * objects, NDJSON (objects separated by whitespace), and CSV (csv.c).
 *
 * Nothing is buffered beyond the current document: the JSON array is walked
 * element by element (jansson parses one element, JSON_DISABLE_EOF_CHECK
 * tells how many bytes it took), so memory stays bounded by the largest
 * document, not the payload. Documents are parsed by json_in_load
 * (json_in.c), which keeps integers up to UINT64_MAX as Meilisearch does.
 * Every document is checked against the size and nesting bounds of index.h.
 * Errors name the format, what was wrong and the line and column (1-based,
 * in bytes) where it was found.
 */
#include <stdio.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "index_int.h"

enum { JS_START = 0, JS_ARRAY_FIRST, JS_ARRAY_NEXT, JS_DONE };

const char *
payload_format_name(enum folio_index_format f)
{
    switch (f) {
    case FOLIO_INDEX_FORMAT_JSON: return "json";
    case FOLIO_INDEX_FORMAT_NDJSON: return "ndjson";
    case FOLIO_INDEX_FORMAT_CSV: return "csv";
    }
    return "unknown";
}

void
payload_line_col(const char *buf, size_t pos, uint64_t *line, uint64_t *col)
{
    uint64_t l = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < pos; i++) {
        if (buf[i] == '\n') {
            l++;
            line_start = i + 1;
        }
    }
    *line = l;
    *col = (uint64_t)(pos - line_start) + 1;
}

static int
malformed_at(struct payload_reader *r, size_t pos, struct folio_index_error *err,
             const char *what)
{
    uint64_t line, col;
    payload_line_col(r->buf, pos, &line, &col);
    return index_errorf(err, FOLIO_E_MALFORMED_PAYLOAD,
                        "The `%s` payload provided is malformed: %s (line %llu, column %llu).",
                        payload_format_name(r->payload->format), what, (unsigned long long)line,
                        (unsigned long long)col);
}

static void
skip_ws(struct payload_reader *r)
{
    while (r->off < r->len) {
        char c = r->buf[r->off];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        r->off++;
    }
}

/* Parses one object at r->off and moves past it. */
static int
parse_object(struct payload_reader *r, json_t **doc, struct folio_index_error *err)
{
    char what[200];
    json_error_t jerr;
    size_t start = r->off;
    json_t *v = json_in_load(r->buf + start, r->len - start,
                             JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &jerr);
    if (v == NULL) {
        /* jansson counts the offending byte as read: point at it. */
        size_t pos = start + (jerr.position > 0 ? (size_t)jerr.position - 1 : 0);
        if (pos > r->len)
            pos = r->len;
        snprintf(what, sizeof(what), "%s", jerr.text);
        return malformed_at(r, pos, err, what);
    }
    if (!json_is_object(v)) {
        snprintf(what, sizeof(what), "expected a document (a JSON object) but found %s",
                 json_type_phrase(v));
        json_decref(v);
        return malformed_at(r, start, err, what);
    }
    size_t used = (size_t)jerr.position;
    if (used > FOLIO_INDEX_DOC_BYTES_MAX)
        snprintf(what, sizeof(what), "a document is larger than %u bytes",
                 FOLIO_INDEX_DOC_BYTES_MAX);
    else if (!json_depth_ok(v, FOLIO_INDEX_DOC_DEPTH_MAX))
        snprintf(what, sizeof(what), "a document is nested deeper than %d levels",
                 FOLIO_INDEX_DOC_DEPTH_MAX);
    else
        what[0] = '\0';
    if (what[0] != '\0') {
        json_decref(v);
        return malformed_at(r, start, err, what);
    }
    r->off = start + used;
    *doc = v;
    return 1;
}

static int
json_after_end(struct payload_reader *r, struct folio_index_error *err)
{
    skip_ws(r);
    r->json_state = JS_DONE;
    if (r->off != r->len)
        return malformed_at(r, r->off, err, "unexpected data after the end of the payload");
    return 0;
}

static int
json_start(struct payload_reader *r, json_t **doc, struct folio_index_error *err)
{
    skip_ws(r);
    if (r->off < r->len && r->buf[r->off] == '[') {
        r->off++;
        r->json_state = JS_ARRAY_FIRST;
        return payload_reader_next(r, doc, err);
    }
    if (r->off < r->len && r->buf[r->off] == '{') {
        int rc = parse_object(r, doc, err);
        if (rc < 0)
            return rc;
        rc = json_after_end(r, err);
        if (rc < 0) {
            json_decref(*doc);
            *doc = NULL;
            return rc;
        }
        return 1;
    }
    return malformed_at(r, r->off, err, "expected an object or an array of objects");
}

static int
json_next(struct payload_reader *r, json_t **doc, struct folio_index_error *err)
{
    switch (r->json_state) {
    case JS_START:
        return json_start(r, doc, err);
    case JS_ARRAY_FIRST:
        skip_ws(r);
        if (r->off < r->len && r->buf[r->off] == ']') {
            r->off++;
            return json_after_end(r, err);
        }
        r->json_state = JS_ARRAY_NEXT;
        return parse_object(r, doc, err);
    case JS_ARRAY_NEXT:
        skip_ws(r);
        if (r->off < r->len && r->buf[r->off] == ']') {
            r->off++;
            return json_after_end(r, err);
        }
        if (r->off >= r->len || r->buf[r->off] != ',')
            return malformed_at(r, r->off, err, "expected `,` or `]` after a document");
        r->off++;
        skip_ws(r);
        return parse_object(r, doc, err);
    default:
        return 0;
    }
}

static int
ndjson_next(struct payload_reader *r, json_t **doc, struct folio_index_error *err)
{
    skip_ws(r);
    if (r->off >= r->len)
        return 0;
    return parse_object(r, doc, err);
}

static void
format_bytes(uint64_t n, char *buf, size_t cap)
{
    if (n >= (1u << 20) && n % (1u << 20) == 0)
        snprintf(buf, cap, "%llu MiB", (unsigned long long)(n >> 20));
    else if (n >= 1024 && n % 1024 == 0)
        snprintf(buf, cap, "%llu KiB", (unsigned long long)(n >> 10));
    else
        snprintf(buf, cap, "%llu B", (unsigned long long)n);
}

int
payload_reader_open(struct payload_reader *r, const struct folio_index_payload *payload,
                    struct folio_index_error *err)
{
    memset(r, 0, sizeof(*r));
    r->payload = payload;
    r->buf = payload->data;
    r->len = payload->len;
    size_t bytes_max = payload->bytes_max ? payload->bytes_max : FOLIO_INDEX_PAYLOAD_BYTES_DEFAULT;
    if (payload->format != FOLIO_INDEX_FORMAT_JSON && payload->format != FOLIO_INDEX_FORMAT_NDJSON &&
        payload->format != FOLIO_INDEX_FORMAT_CSV)
        return index_errorf(err, FOLIO_E_INVALID, "Unknown payload format %d.",
                            (int)payload->format);
    if (payload->len > bytes_max) {
        char limit[32];
        format_bytes(bytes_max, limit, sizeof(limit));
        return index_errorf(err, FOLIO_E_PAYLOAD_TOO_LARGE,
                            "The provided payload reached the size limit. The maximum accepted "
                            "payload size is %s.",
                            limit);
    }
    if (payload->len == 0 || payload->data == NULL)
        return index_errorf(err, FOLIO_E_MISSING_PAYLOAD, "A %s payload is missing.",
                            payload_format_name(payload->format));
    if (payload->format == FOLIO_INDEX_FORMAT_CSV)
        return csv_open(r, err);
    return FOLIO_OK;
}

int
payload_reader_next(struct payload_reader *r, json_t **doc, struct folio_index_error *err)
{
    *doc = NULL;
    switch (r->payload->format) {
    case FOLIO_INDEX_FORMAT_JSON:
        return json_next(r, doc, err);
    case FOLIO_INDEX_FORMAT_NDJSON:
        return ndjson_next(r, doc, err);
    case FOLIO_INDEX_FORMAT_CSV:
        return csv_next(r, doc, err);
    }
    return FOLIO_E_INVALID;
}

void
payload_reader_close(struct payload_reader *r)
{
    if (r->payload != NULL && r->payload->format == FOLIO_INDEX_FORMAT_CSV)
        csv_close(r);
}

int
folio_index_payload_count(const struct folio_index_payload *payload, uint64_t *out_count,
                          struct folio_index_error *err)
{
    struct payload_reader r;
    uint64_t count = 0;
    json_t *doc = NULL;
    int rc = payload_reader_open(&r, payload, err);
    if (rc != FOLIO_OK)
        goto out;
    /* The fast path (json_scan.c); when it is not sure, jansson decides and explains. */
    if (payload->format != FOLIO_INDEX_FORMAT_CSV &&
        json_scan_count(r.buf, r.len, payload->format == FOLIO_INDEX_FORMAT_NDJSON, &count))
        goto out;
    while ((rc = payload_reader_next(&r, &doc, err)) == 1) {
        json_decref(doc);
        count++;
    }
out:
    payload_reader_close(&r);
    if (rc < 0)
        return rc;
    if (out_count != NULL)
        *out_count = count;
    return FOLIO_OK;
}
