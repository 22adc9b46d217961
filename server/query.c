/*
 * Request values: query strings (percent-decoded, `+` as space, the last of
 * a repeated key wins), the scalar parsers behind Meilisearch's query
 * parameter errors, task dates, JSON bodies and the wording Meilisearch uses
 * to describe a JSON value in an error ("a positive integer: `1`").
 *
 * The messages follow Meilisearch's deserr ones: "Unknown parameter `x`:
 * expected one of `a`, `b`", "Invalid value in parameter `limit`: could not
 * parse `x` as a positive integer", "Invalid value type at `.uid`: expected a
 * string, but found ...".
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folio/common.h"
#include "folio/error.h"
#include "server_int.h"

/* ---- comma lists -------------------------------------------------------------- */

struct folio_str *
param_pieces(const struct srv_param *p, bool trim, bool drop_empty, size_t *count)
{
    size_t n = 1;
    for (size_t i = 0; i < p->val_len; i++)
        n += p->val[i] == ',';
    struct folio_str *out = folio_calloc(n, sizeof(*out));
    const char *s = p->val, *end = p->val + p->val_len;
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *a = s, *b = comma != NULL ? comma : end;
        s = b + 1;
        while (trim && a < b && *a == ' ')
            a++;
        while (trim && b > a && b[-1] == ' ')
            b--;
        if (b > a || !drop_empty)
            out[(*count)++] = (struct folio_str){a, (uint32_t)(b - a)};
    }
    return out;
}

void
str_list_free(char **list, size_t count)
{
    for (size_t i = 0; list != NULL && i < count; i++)
        folio_free(list[i]);
    folio_free(list);
}

/* ---- decoding --------------------------------------------------------------------- */

char *
url_decode(const char *s, size_t len, bool form, size_t *out_len)
{
    char *out = folio_malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = folio_hex_value((unsigned char)s[i + 1])) >= 0 &&
            (lo = folio_hex_value((unsigned char)s[i + 2])) >= 0) {
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (form && s[i] == '+') {
            out[n++] = ' ';
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
    if (out_len != NULL)
        *out_len = n;
    return out;
}

int
params_parse(struct srv_ctx *x)
{
    const char *q = x->query, *end = x->query + x->query_len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp != NULL ? amp : end;
        if (stop > q) {
            if (x->param_count == SRV_PARAMS_MAX) {
                resp_error(x->req, 400, "bad_request",
                           "Too many query parameters: at most %u are accepted.", SRV_PARAMS_MAX);
                return -1;
            }
            const char *eq = memchr(q, '=', (size_t)(stop - q));
            const char *kend = eq != NULL ? eq : stop;
            struct srv_param *p = &x->params[x->param_count++];
            p->key = url_decode(q, (size_t)(kend - q), true, &p->key_len);
            p->val = eq != NULL ? url_decode(eq + 1, (size_t)(stop - eq - 1), true, &p->val_len)
                                : url_decode("", 0, true, &p->val_len);
        }
        q = stop + 1;
    }
    return 0;
}

const struct srv_param *
param_get(const struct srv_ctx *x, const char *key)
{
    for (size_t i = x->param_count; i-- > 0;)
        if (strlen(key) == x->params[i].key_len && strcmp(x->params[i].key, key) == 0)
            return &x->params[i];
    return NULL;
}

bool
params_known(struct srv_ctx *x, const char *const *known)
{
    for (size_t i = 0; i < x->param_count; i++) {
        bool ok = false;
        for (size_t k = 0; known[k] != NULL && !ok; k++)
            ok = strlen(known[k]) == x->params[i].key_len &&
                 strcmp(known[k], x->params[i].key) == 0;
        if (ok)
            continue;
        char list[1000];
        size_t n = 0;
        list[0] = '\0';
        for (size_t k = 0; known[k] != NULL && n < sizeof(list); k++)
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s`%s`", k ? ", " : "", known[k]);
        resp_error(x->req, 400, "bad_request", "Unknown parameter `%.200s`: expected one of %s",
                   x->params[i].key, list);
        return false;
    }
    return true;
}

void
resp_param_error(struct srv_ctx *x, const char *code, const char *param, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    resp_error(x->req, 400, code, "Invalid value in parameter `%s`: %s", param, msg);
}

/* ---- scalars -------------------------------------------------------------------------- */

bool
parse_u64(const char *s, size_t len, uint64_t *out)
{
    size_t i = 0;
    if (len > 0 && s[0] == '+')
        i = 1;
    if (i == len)
        return false;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool
parse_u32(const char *s, size_t len, uint32_t *out)
{
    uint64_t v;
    if (!parse_u64(s, len, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

bool
parse_bool(const char *s, size_t len, bool *out)
{
    if (len == 4 && memcmp(s, "true", 4) == 0)
        *out = true;
    else if (len == 5 && memcmp(s, "false", 5) == 0)
        *out = false;
    else
        return false;
    return true;
}

/* ---- dates ------------------------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool
digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

static bool
valid_day(unsigned y, unsigned m, unsigned d)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap ? 1u : 0u);
}

/*
 * The time part of an RFC 3339 date-time, from 'T': seconds since midnight UTC
 * (offset applied) and nanoseconds. The offset (`Z` or +hh:mm) is required.
 */
static bool
parse_time_part(const char *s, size_t len, int64_t *sec, int64_t *ns)
{
    unsigned hh, mm, ss;
    if (len < 9 || (s[0] != 'T' && s[0] != 't' && s[0] != ' ') || s[3] != ':' || s[6] != ':' ||
        !digits(s + 1, 2, &hh) || !digits(s + 4, 2, &mm) || !digits(s + 7, 2, &ss) || hh > 23 ||
        mm > 59 || ss > 60)
        return false;
    size_t i = 9;
    int64_t frac = 0;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        int64_t scale = 100000000;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            frac += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start)
            return false;
    }
    int64_t offset_s;
    if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
        offset_s = 0;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        unsigned oh, om;
        if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset_s = (int64_t)(oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    } else {
        return false;
    }
    *sec = (int64_t)hh * 3600 + mm * 60 + (ss > 59 ? 59 : ss) - offset_s;
    *ns = frac;
    return true;
}

/*
 * sec seconds and ns nanoseconds since the epoch, in nanoseconds. Dates past
 * what int64 nanoseconds hold (before 1677-09-21, after 2262-04-11) saturate,
 * so a bound before every task matches none and one after every task all.
 */
static int64_t
epoch_ns(int64_t sec, int64_t ns)
{
    const int64_t G = 1000000000;
    if (sec >= INT64_MAX / G)
        return INT64_MAX;
    if (sec <= INT64_MIN / G)
        return INT64_MIN;
    return sec * G + ns;
}

bool
parse_task_date(const char *s, size_t len, bool after, int64_t *out_ns)
{
    unsigned y, m, d;
    if (len < 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
        !digits(s + 8, 2, &d) || !valid_day(y, m, d))
        return false;
    int64_t day_s = days_from_civil(y, m, d) * 86400; /* years 0-9999: far inside int64 */
    if (len == 10) {
        /* A bare date: `before` its midnight, `after` the next one (Meilisearch). */
        *out_ns = epoch_ns(day_s + (after ? 86400 : 0), 0);
        return true;
    }
    int64_t t_s, t_ns;
    if (!parse_time_part(s + 10, len - 10, &t_s, &t_ns))
        return false;
    *out_ns = epoch_ns(day_s + t_s, t_ns);
    return true;
}

/* ---- JSON values in error messages -------------------------------------------------- */

char *
json_value_description(const json_t *v)
{
    const char *kind;
    switch (json_typeof(v)) {
    case JSON_NULL: return folio_strdup("null");
    case JSON_TRUE:
    case JSON_FALSE: kind = "a boolean"; break;
    case JSON_INTEGER:
        kind = json_integer_value(v) >= 0 ? "a positive integer" : "a negative integer";
        break;
    case JSON_REAL: kind = "a number"; break;
    case JSON_STRING: kind = "a string"; break;
    case JSON_ARRAY: kind = "an array"; break;
    default: kind = "an object"; break;
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *out = NULL;
    if (asprintf(&out, "%s: `%.300s%s`", kind, text ? text : "",
                 text && strlen(text) > 300 ? "..." : "") < 0)
        out = NULL;
    free(text);
    char *copy = folio_strdup(out ? out : kind);
    free(out);
    return copy;
}

int
body_json(struct srv_ctx *x, json_t **out)
{
    struct srv_req *r = x->req;
    *out = NULL;
    size_t i = 0;
    while (i < r->body.len && (r->body.ptr[i] == ' ' || r->body.ptr[i] == '\n' ||
                               r->body.ptr[i] == '\r' || r->body.ptr[i] == '\t'))
        i++;
    if (i == r->body.len) {
        resp_error(r, 400, "missing_payload", "A json payload is missing.");
        return -1;
    }
    json_error_t err;
    *out = json_loadb(r->body.ptr, r->body.len, JSON_DECODE_ANY, &err);
    if (*out == NULL) {
        /* jansson's text for a \u0000 names its own flag: say what is wrong instead. */
        const char *text = json_error_code(&err) == json_error_null_character
                               ? "\\u0000 (a NUL character) is not accepted in a string"
                               : err.text;
        resp_error(r, 400, "malformed_payload",
                   "The json payload provided is malformed. `%s at line %d column %d`.", text,
                   err.line, err.column);
        return -1;
    }
    return 0;
}

int
body_json_typed(struct srv_ctx *x, bool array, json_t **out)
{
    if (body_json(x, out) != 0)
        return -1;
    if (array ? json_is_array(*out) : json_is_object(*out))
        return 0;
    resp_value_type(x, "bad_request", "", array ? "an array" : "an object", *out);
    json_decref(*out);
    *out = NULL;
    return -1;
}

/* ---- index uids ----------------------------------------------------------------------------- */

bool
check_index_uid(struct srv_ctx *x, const char *uid, size_t len)
{
    if (folio_index_uid_valid(uid, len))
        return true;
    resp_error(x->req, 400, "invalid_index_uid",
               "`%.*s` is not a valid index uid. Index uid can be an integer or a string "
               "containing only alphanumeric characters, hyphens (-) and underscores (_), and "
               "can not be more than %u bytes.",
               (int)(len > 450 ? 450 : len), uid, FOLIO_INDEX_UID_MAX);
    return false;
}

void
resp_index_not_found(struct srv_ctx *x, const char *uid, size_t len)
{
    resp_error(x->req, 404, "index_not_found", "Index `%.*s` not found.", (int)len, uid);
}

/* ---- JSON bodies ------------------------------------------------------------------------ */

void
resp_value_type(struct srv_ctx *x, const char *code, const char *location, const char *expected,
                const json_t *v)
{
    char *found = json_value_description(v);
    if (location != NULL && location[0] != '\0')
        resp_error(x->req, 400, code, "Invalid value type at `%s`: expected %s, but found %s",
                   location, expected, found);
    else
        resp_error(x->req, 400, code, "Invalid value type: expected %s, but found %s", expected,
                   found);
    folio_free(found);
}

bool
json_fields_known(struct srv_ctx *x, const json_t *obj, const char *const *known,
                  const char *inside)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        bool ok = false;
        for (size_t k = 0; known[k] != NULL && !ok; k++)
            ok = strcmp(known[k], key) == 0;
        if (ok)
            continue;
        char list[400];
        size_t n = 0;
        list[0] = '\0';
        for (size_t k = 0; known[k] != NULL && n < sizeof(list); k++)
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s`%s`", k ? ", " : "", known[k]);
        if (inside != NULL && inside[0] != '\0')
            resp_error(x->req, 400, "bad_request",
                       "Unknown field `%.200s` inside `%s`: expected one of %s", key, inside, list);
        else
            resp_error(x->req, 400, "bad_request", "Unknown field `%.200s`: expected one of %s",
                       key, list);
        return false;
    }
    return true;
}

/* ---- primary keys --------------------------------------------------------------------------- */

void
resp_empty_primary_key(struct srv_req *r, const char *where)
{
    resp_error(r, 400, "invalid_index_primary_key",
               "Invalid value %s: `` is not a valid primary key: it must be a UTF-8 string of 1 "
               "to %u bytes.",
               where, FOLIO_INDEX_PRIMARY_KEY_BYTES_MAX);
}
