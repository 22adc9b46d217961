/*
 * CSV payloads as Meilisearch reads them: the first record is the header;
 * a header "name:type" with type string, number or boolean types its column
 * (split at the last ':'; an unknown suffix leaves the whole header as a
 * string column's name). Values are strings unless typed; an empty value is
 * null; a number is an integer when it fits int64, else a finite double.
 *
 * Records follow RFC 4180: fields separated by the delimiter (default ','),
 * optionally quoted with '"' ("" is a quote inside quotes; quoted fields may
 * span lines), records ended by \n, \r\n or \r; empty lines are skipped.
 * Every record must have as many fields as the header. A record is bounded
 * like a document (FOLIO_INDEX_DOC_BYTES_MAX) and so is its field count.
 * Errors give the line where the record starts.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "index_int.h"

enum { CSV_STRING = 0, CSV_NUMBER, CSV_BOOLEAN };
enum { TERM_DELIM, TERM_NEWLINE, TERM_EOF };

static int csv_malformed(struct folio_index_error *err, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
csv_malformed(struct folio_index_error *err, uint64_t line, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return index_errorf(err, FOLIO_E_MALFORMED_PAYLOAD,
                        "The `csv` payload provided is malformed: %s (line %llu).", what,
                        (unsigned long long)line);
}

static int
field_end_push(struct payload_reader *r, size_t *count, uint64_t line,
               struct folio_index_error *err)
{
    if (*count >= INDEX_CSV_FIELDS_MAX)
        return csv_malformed(err, line, "a record has more than 65536 fields");
    if (*count == r->field_cap) {
        r->field_cap = r->field_cap ? r->field_cap * 2 : 16;
        r->field_ends = folio_reallocarray(r->field_ends, r->field_cap, sizeof(size_t));
    }
    r->field_ends[(*count)++] = r->field_bytes.len;
    return FOLIO_OK;
}

static int
field_append(struct payload_reader *r, const char *p, size_t n, uint64_t line,
             struct folio_index_error *err)
{
    if (memchr(p, '\0', n) != NULL)
        return csv_malformed(err, line, "a field contains a NUL byte");
    if (dbuf_append(&r->field_bytes, p, n) != FOLIO_OK)
        return csv_malformed(err, line, "a record is larger than 16 MiB");
    return FOLIO_OK;
}

/* The quoted part of a field, from the opening quote to the closing one. */
static int
csv_quoted(struct payload_reader *r, uint64_t line, struct folio_index_error *err)
{
    uint64_t quote_line = r->line;
    r->off++;
    for (;;) {
        const char *q = memchr(r->buf + r->off, '"', r->len - r->off);
        if (q == NULL)
            return csv_malformed(err, quote_line, "a quoted field is never closed");
        size_t n = (size_t)(q - (r->buf + r->off));
        for (size_t i = 0; i < n; i++)
            if (r->buf[r->off + i] == '\n' ||
                (r->buf[r->off + i] == '\r' && (i + 1 >= n || r->buf[r->off + i + 1] != '\n')))
                r->line++;
        int rc = field_append(r, r->buf + r->off, n, line, err);
        if (rc != FOLIO_OK)
            return rc;
        r->off += n + 1;
        if (r->off < r->len && r->buf[r->off] == '"') {
            rc = field_append(r, "\"", 1, line, err);
            if (rc != FOLIO_OK)
                return rc;
            r->off++;
            continue;
        }
        return FOLIO_OK;
    }
}

/* One field; returns its terminator (TERM_*) or a negative error. */
static int
csv_field(struct payload_reader *r, uint64_t line, struct folio_index_error *err)
{
    if (r->off < r->len && r->buf[r->off] == '"') {
        int rc = csv_quoted(r, line, err);
        if (rc != FOLIO_OK)
            return rc;
    }
    /* Unquoted bytes (or stray ones after a closing quote) are kept verbatim. */
    size_t start = r->off;
    while (r->off < r->len) {
        char c = r->buf[r->off];
        if (c == r->delimiter || c == '\n' || c == '\r')
            break;
        r->off++;
    }
    int rc = field_append(r, r->buf + start, r->off - start, line, err);
    if (rc != FOLIO_OK)
        return rc;
    if (r->off >= r->len)
        return TERM_EOF;
    return r->buf[r->off] == r->delimiter ? TERM_DELIM : TERM_NEWLINE;
}

static void
skip_newline(struct payload_reader *r)
{
    if (r->buf[r->off] == '\r' && r->off + 1 < r->len && r->buf[r->off + 1] == '\n')
        r->off++;
    r->off++;
    r->line++;
}

/* Reads one record into field_bytes/field_ends. 1, 0 at the end, or an error. */
static int
csv_record(struct payload_reader *r, size_t *count, uint64_t *record_line,
           struct folio_index_error *err)
{
    while (r->off < r->len && (r->buf[r->off] == '\n' || r->buf[r->off] == '\r'))
        skip_newline(r);
    if (r->off >= r->len)
        return 0;
    *record_line = r->line;
    *count = 0;
    r->field_bytes.len = 0;
    for (;;) {
        int term = csv_field(r, *record_line, err);
        if (term < 0)
            return term;
        int rc = field_end_push(r, count, *record_line, err);
        if (rc != FOLIO_OK)
            return rc;
        if (term == TERM_EOF)
            return 1;
        if (term == TERM_NEWLINE) {
            skip_newline(r);
            return 1;
        }
        r->off++; /* the delimiter */
    }
}

static void
field_get(const struct payload_reader *r, size_t i, const char **p, size_t *n)
{
    size_t start = i == 0 ? 0 : r->field_ends[i - 1];
    *p = r->field_bytes.data + start;
    *n = r->field_ends[i] - start;
}

static int
csv_header(struct payload_reader *r, size_t count, uint64_t line, struct folio_index_error *err)
{
    r->columns = folio_calloc(count, sizeof(*r->columns));
    r->column_count = count;
    for (size_t i = 0; i < count; i++) {
        const char *p;
        size_t n;
        field_get(r, i, &p, &n);
        int type = CSV_STRING;
        const char *colon = NULL;
        for (size_t k = 0; k < n; k++)
            if (p[k] == ':')
                colon = p + k;
        if (colon != NULL) {
            size_t name_len = (size_t)(colon - p), type_len = n - name_len - 1;
            int t = -1;
            if (type_len == 6 && memcmp(colon + 1, "string", 6) == 0)
                t = CSV_STRING;
            else if (type_len == 6 && memcmp(colon + 1, "number", 6) == 0)
                t = CSV_NUMBER;
            else if (type_len == 7 && memcmp(colon + 1, "boolean", 7) == 0)
                t = CSV_BOOLEAN;
            if (t >= 0) {
                type = t;
                n = name_len;
            }
        }
        json_t *check = json_stringn(p, n);
        if (check == NULL)
            return csv_malformed(err, line, "a header is not valid UTF-8");
        json_decref(check);
        r->columns[i].name = folio_strndup(p, n);
        r->columns[i].type = type;
    }
    return FOLIO_OK;
}

int
csv_open(struct payload_reader *r, struct folio_index_error *err)
{
    char d = r->payload->csv_delimiter ? r->payload->csv_delimiter : ',';
    if ((unsigned char)d >= 0x80 || d == '"' || d == '\n' || d == '\r')
        return index_errorf(err, FOLIO_E_INVALID,
                            "Invalid value for `csvDelimiter`: it must be one ASCII character "
                            "other than a quote or a line break.");
    r->delimiter = d;
    r->line = 1;
    dbuf_init(&r->field_bytes, FOLIO_INDEX_DOC_BYTES_MAX);
    if (r->len >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0)
        r->off = 3;
    size_t count = 0;
    uint64_t line = 1;
    int rc = csv_record(r, &count, &line, err);
    if (rc <= 0)
        return rc; /* no header at all: no documents */
    return csv_header(r, count, line, err);
}

static int
csv_number(const char *p, size_t n, json_t **out)
{
    char buf[128];
    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == 0) {
        *out = json_null();
        return 0;
    }
    if (n >= sizeof(buf) || memchr(p, 'x', n) || memchr(p, 'X', n))
        return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long long i = strtoll(buf, &end, 10);
    if (errno == 0 && *end == '\0') {
        *out = json_integer(i);
        return 0;
    }
    double d = strtod(buf, &end);
    if (*end != '\0' || !isfinite(d))
        return -1;
    *out = json_real(d);
    return 0;
}

static int
csv_boolean(const char *p, size_t n, json_t **out)
{
    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == 0)
        *out = json_null();
    else if (n == 4 && memcmp(p, "true", 4) == 0)
        *out = json_true();
    else if (n == 5 && memcmp(p, "false", 5) == 0)
        *out = json_false();
    else
        return -1;
    return 0;
}

static int
csv_value(const struct csv_column *col, const char *p, size_t n, uint64_t line, json_t **out,
          struct folio_index_error *err)
{
    char shown[128];
    snprintf(shown, sizeof(shown), "%.*s", n > 100 ? 100 : (int)n, p);
    switch (col->type) {
    case CSV_NUMBER:
        if (csv_number(p, n, out) != 0)
            return csv_malformed(err, line, "`%s` is not a number (column `%s`)", shown,
                                 col->name);
        return FOLIO_OK;
    case CSV_BOOLEAN:
        if (csv_boolean(p, n, out) != 0)
            return csv_malformed(err, line, "`%s` is not a boolean (column `%s`)", shown,
                                 col->name);
        return FOLIO_OK;
    default:
        *out = n == 0 ? json_null() : json_stringn(p, n);
        if (*out == NULL)
            return csv_malformed(err, line, "a value is not valid UTF-8 (column `%s`)",
                                 col->name);
        return FOLIO_OK;
    }
}

int
csv_next(struct payload_reader *r, json_t **doc, struct folio_index_error *err)
{
    size_t count = 0;
    uint64_t line = r->line;
    if (r->columns == NULL)
        return 0;
    int rc = csv_record(r, &count, &line, err);
    if (rc <= 0)
        return rc;
    if (count != r->column_count) {
        return csv_malformed(err, line, "found a record with %zu fields, but the header has %zu",
                             count, r->column_count);
    }
    json_t *obj = json_object();
    for (size_t i = 0; i < count; i++) {
        const char *p;
        size_t n;
        json_t *value = NULL;
        field_get(r, i, &p, &n);
        rc = csv_value(&r->columns[i], p, n, line, &value, err);
        if (rc != FOLIO_OK) {
            json_decref(obj);
            return rc;
        }
        json_object_set_new(obj, r->columns[i].name, value);
    }
    *doc = obj;
    return 1;
}

void
csv_close(struct payload_reader *r)
{
    for (size_t i = 0; i < r->column_count; i++)
        folio_free(r->columns ? r->columns[i].name : NULL);
    folio_free(r->columns);
    folio_free(r->field_ends);
    dbuf_release(&r->field_bytes);
    r->columns = NULL;
    r->field_ends = NULL;
    r->column_count = 0;
}
