/*
 * The filter language of Meilisearch's search `filter`, parsed into a tree
 * (search_int.h, struct fnode), with Meilisearch's error messages.
 *
 *   filter    = WS* [or] WS* EOF            (blank: no filter)
 *   or        = and ("OR" and)*
 *   and       = not ("AND" not)*
 *   not       = "NOT" not | primary
 *   primary   = "(" or ")" | condition
 *   condition = value ("=" | "!=" | ">" | ">=" | "<" | "<=") value
 *             | value "IN" "[" [value ("," value)* [","]] "]"
 *             | value "NOT" "IN" "[" ... "]" | value "EXISTS" | value "NOT" "EXISTS"
 *             | value value "TO" value
 *   value     = word | 'single quoted' | "double quoted"
 *   word      = (letter | digit | mark | "_" | "-" | ".")+, not a keyword
 *
 * Keywords are upper case; AND OR IN NOT TO EXISTS IS NULL EMPTY CONTAINS
 * STARTS WITH _geoRadius _geoBoundingBox are reserved (Meilisearch's list) and
 * must be quoted to be used as a name or value. In quotes, a backslash
 * escapes the quote, `\\`, `\n`, `\t` and `\r`; other backslashes stay.
 *
 * Every error is FOLIO_E_INVALID_SEARCH_FILTER with Meilisearch's first line
 * and a second line "start:end filter": the 1-based character columns of the
 * culprit (end exclusive) and the whole filter. Nesting deeper than
 * FILTER_DEPTH_MAX (parentheses and NOTs, counted as Meilisearch counts
 * them) is an error. IS NULL, IS EMPTY, CONTAINS, STARTS WITH and the geo
 * filters are not supported: they are reported as a missing operation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "folio/common.h"
#include "folio/error.h"
#include "search_int.h"

#define FILTER_DEPTH_MAX 200
#define FILTER_MESSAGE_SHOWN_MAX 160 /* bytes of a fragment shown in a message */
#define FILTER_FIRST_LINE_MAX 360    /* of the 512 a message has; the position line follows */

static const char *const keywords[] = {
    "AND", "OR", "IN", "NOT", "TO", "EXISTS", "IS", "NULL", "EMPTY", "CONTAINS", "STARTS", "WITH",
    "_geoRadius", "_geoBoundingBox",
};

static const char operations[] =
    "Was expecting an operation `=`, `!=`, `>=`, `>`, `<=`, `<`, `IN`, `NOT IN`, `TO`, "
    "`EXISTS` or `NOT EXISTS`";

struct fparser {
    const char *s;
    size_t len;
    size_t pos;
    struct folio_index_error *err;
    int rc; /* the first error; once set, every parse function returns NULL */
};

/* ---- messages ---------------------------------------------------------- */

static size_t
column_of(const char *s, size_t byte)
{
    size_t col = 1;
    for (size_t i = 0; i < byte; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            col++;
    return col;
}

/* Rust's escape_debug for what a message shows: quotes, backslash, controls. */
static void
escape_debug(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    if (len > FILTER_MESSAGE_SHOWN_MAX) {
        len = FILTER_MESSAGE_SHOWN_MAX; /* cut, but not inside a character */
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    for (size_t i = 0; i < len && n + 12 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        switch (c) {
        case '\'': esc = "\\'"; break;
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (esc != NULL)
            n += (size_t)snprintf(out + n, cap - n, "%s", esc);
        else if (c < 0x20 || c == 0x7F)
            n += (size_t)snprintf(out + n, cap - n, "\\u{%x}", c);
        else
            out[n++] = (char)c;
    }
    out[n] = '\0';
}

int
filter_error(struct folio_index_error *err, const char *filter, size_t start, size_t end,
             const char *fmt, ...)
{
    if (err != NULL) {
        char first[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(first, sizeof(first), fmt, ap);
        va_end(ap);
        /* Keep room for the position line: cut a long first line (not in a character). */
        size_t n = strlen(first);
        if (n > FILTER_FIRST_LINE_MAX) {
            n = FILTER_FIRST_LINE_MAX;
            while (n > 0 && ((unsigned char)first[n] & 0xC0) == 0x80)
                n--;
            first[n] = '\0';
        }
        return index_errorf(err, FOLIO_E_INVALID_SEARCH_FILTER, "%s\n%zu:%zu %s", first,
                            column_of(filter, start), column_of(filter, end), filter);
    }
    return FOLIO_E_INVALID_SEARCH_FILTER;
}

/* Reports an error unless one is set already. */
static void
fail(struct fparser *p, size_t start, size_t end, const char *first)
{
    if (p->rc == FOLIO_OK)
        p->rc = filter_error(p->err, p->s, start, end, "%s", first);
}

/* ---- characters ---------------------------------------------------------- */

static int32_t
char_at(const struct fparser *p, size_t pos, size_t *next)
{
    int32_t cp = -1;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)p->s + pos,
                                          (utf8proc_ssize_t)(p->len - pos), &cp);
    *next = pos + (k > 0 ? (size_t)k : 1);
    return cp;
}

static bool
is_space(int32_t cp)
{
    if (cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x85)
        return true;
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

static bool
is_value_char(int32_t cp)
{
    return cp == '_' || cp == '-' || cp == '.' || text_is_word_char(cp);
}

static bool
is_syntax_char(int32_t cp)
{
    return is_space(cp) || cp == '(' || cp == ')' || cp == '=' || cp == '<' || cp == '>' ||
           cp == '!';
}

static void
skip_ws(struct fparser *p)
{
    while (p->pos < p->len) {
        size_t next;
        if (!is_space(char_at(p, p->pos, &next)))
            break;
        p->pos = next;
    }
}

/* The end of the run of value characters at pos. */
static size_t
word_end(const struct fparser *p, size_t pos)
{
    while (pos < p->len) {
        size_t next;
        if (!is_value_char(char_at(p, pos, &next)))
            break;
        pos = next;
    }
    return pos;
}

static bool
is_keyword(const char *w, size_t n)
{
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(keywords); i++)
        if (strlen(keywords[i]) == n && memcmp(keywords[i], w, n) == 0)
            return true;
    return false;
}

/* At pos (after white space): the word kw; if so, consumes it and the white space after. */
static bool
accept_keyword(struct fparser *p, const char *kw)
{
    size_t save = p->pos;
    skip_ws(p);
    size_t end = word_end(p, p->pos);
    if (end - p->pos == strlen(kw) && memcmp(p->s + p->pos, kw, end - p->pos) == 0) {
        p->pos = end;
        skip_ws(p);
        return true;
    }
    p->pos = save;
    return false;
}

static bool
accept_char(struct fparser *p, char c)
{
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == c) {
        p->pos++;
        skip_ws(p);
        return true;
    }
    return false;
}

/* ---- values ---------------------------------------------------------------- */

enum value_result { VALUE_OK, VALUE_NONE, VALUE_KEYWORD, VALUE_FAILED };

/* Where a value could not be read, for the caller's message. */
struct value_miss {
    size_t start, end;
};

static void
token_set(struct ftoken *t, const char *text, size_t len, size_t start, size_t end)
{
    t->text = folio_strndup(text, len);
    t->len = len;
    t->start = start;
    t->end = end;
}

/* What a backslash followed by e stands for inside quotes q; 0: itself (kept). */
static char
escaped(char e, char q)
{
    switch (e) {
    case '\\': return '\\';
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    default: return e == q ? q : 0;
    }
}

/* Unescapes s[start, end) of a value quoted with q into t. */
static void
token_unescape(struct ftoken *t, const char *s, size_t start, size_t end, char q)
{
    char *out = folio_malloc(end - start + 1);
    size_t n = 0;
    for (size_t i = start; i < end; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < end) {
            char mapped = escaped(s[i + 1], q);
            if (mapped != 0) {
                out[n++] = mapped;
                i++;
                continue;
            }
        }
        out[n++] = c;
    }
    out[n] = '\0';
    t->text = out;
    t->len = n;
    t->start = start;
    t->end = end;
}

static enum value_result
parse_quoted(struct fparser *p, struct ftoken *t)
{
    size_t open = p->pos;
    char q = p->s[open];
    size_t i = open + 1;
    while (i < p->len && p->s[i] != q)
        i += (p->s[i] == '\\' && i + 1 < p->len) ? 2 : 1;
    if (i >= p->len) {
        char shown[FILTER_MESSAGE_SHOWN_MAX * 2 + 16], first[1024];
        escape_debug(p->s + open, p->len - open, shown, sizeof(shown));
        snprintf(first, sizeof(first),
                 "Expression `%s` is missing the following closing delimiter: `%c`.", shown, q);
        fail(p, open, p->len, first);
        return VALUE_FAILED;
    }
    token_unescape(t, p->s, open + 1, i, q);
    p->pos = i + 1;
    skip_ws(p);
    return VALUE_OK;
}

static enum value_result
parse_value(struct fparser *p, struct ftoken *t, struct value_miss *miss)
{
    memset(t, 0, sizeof(*t));
    skip_ws(p);
    if (p->pos < p->len && (p->s[p->pos] == '\'' || p->s[p->pos] == '"'))
        return parse_quoted(p, t);
    size_t end = word_end(p, p->pos);
    if (end == p->pos || is_keyword(p->s + p->pos, end - p->pos)) {
        bool keyword = end > p->pos;
        size_t stop = p->pos;
        while (!keyword && stop < p->len) {
            size_t next;
            if (is_syntax_char(char_at(p, stop, &next)))
                break;
            stop = next;
        }
        miss->start = p->pos;
        miss->end = keyword ? end : stop;
        return keyword ? VALUE_KEYWORD : VALUE_NONE;
    }
    token_set(t, p->s + p->pos, end - p->pos, p->pos, end);
    p->pos = end;
    skip_ws(p);
    return VALUE_OK;
}

/* The message for a value that had to be there (after an operator, TO, ...). */
static void
fail_value(struct fparser *p, enum value_result r, const struct value_miss *m)
{
    char shown[FILTER_MESSAGE_SHOWN_MAX * 2 + 16], first[1024];
    if (r == VALUE_FAILED)
        return;
    escape_debug(p->s + m->start, m->end - m->start, shown, sizeof(shown));
    if (r == VALUE_KEYWORD)
        snprintf(first, sizeof(first),
                 "Was expecting a value but instead got `%s`, which is a reserved keyword. To use "
                 "`%s` as a field name or a value, surround it by quotes.",
                 shown, shown);
    else if (m->end == m->start)
        snprintf(first, sizeof(first), "Was expecting a value but instead got nothing.");
    else
        snprintf(first, sizeof(first), "Was expecting a value but instead got `%s`.", shown);
    fail(p, m->start, m->end, first);
}

/* A value that must follow; false (error reported) when it is not there. */
static bool
expect_value(struct fparser *p, struct ftoken *t)
{
    struct value_miss m = {0, 0};
    enum value_result r = parse_value(p, t, &m);
    if (r != VALUE_OK)
        fail_value(p, r, &m);
    return r == VALUE_OK;
}

/* ---- the tree ---------------------------------------------------------------- */

static struct fnode *
node_new(enum fnode_kind kind)
{
    struct fnode *n = folio_calloc(1, sizeof(*n));
    n->kind = kind;
    return n;
}

static void
node_add_kid(struct fnode *n, struct fnode *kid)
{
    n->kids = folio_reallocarray(n->kids, n->kid_count + 1, sizeof(*n->kids));
    n->kids[n->kid_count++] = kid;
}

static void
node_add_value(struct fnode *n, struct ftoken *t)
{
    n->values = folio_reallocarray(n->values, n->value_count + 1, sizeof(*n->values));
    n->values[n->value_count++] = *t;
    memset(t, 0, sizeof(*t));
}

void
filter_free(struct fnode *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->kid_count; i++)
        filter_free(n->kids[i]);
    for (size_t i = 0; i < n->value_count; i++)
        folio_free(n->values[i].text);
    folio_free(n->kids);
    folio_free(n->values);
    folio_free(n->attr.text);
    folio_free(n);
}

static struct fnode *
negate(struct fnode *n)
{
    if (n->kind == FN_NOT) { /* NOT NOT x is x, as Meilisearch folds it */
        struct fnode *inner = n->kids[0];
        n->kid_count = 0;
        filter_free(n);
        return inner;
    }
    struct fnode *neg = node_new(FN_NOT);
    node_add_kid(neg, n);
    return neg;
}

/* ---- the grammar ----------------------------------------------------------- */

static struct fnode *parse_or(struct fparser *p, int depth);

static bool
depth_ok(struct fparser *p, int depth)
{
    if (depth <= FILTER_DEPTH_MAX)
        return true;
    fail(p, p->pos, p->len,
         "The filter exceeded the maximum depth limit. Try rewriting the filter so that it "
         "contains fewer nested conditions.");
    return false;
}

/* What follows a primary's attribute could not be read: Meilisearch's InvalidPrimary. */
static void
fail_operation(struct fparser *p, size_t start)
{
    char shown[FILTER_MESSAGE_SHOWN_MAX * 2 + 16], first[1024];
    if (start >= p->len) {
        snprintf(first, sizeof(first), "%s but instead got nothing.", operations);
    } else {
        escape_debug(p->s + start, p->len - start, shown, sizeof(shown));
        snprintf(first, sizeof(first), "%s at `%s`.", operations, shown);
    }
    fail(p, start, p->len, first);
}

static const char *
rest_shown(struct fparser *p, char *buf, size_t cap)
{
    escape_debug(p->s + p->pos, p->len - p->pos, buf, cap);
    return buf;
}

/* "[" values "]" after IN. */
static bool
parse_in_list(struct fparser *p, struct fnode *n)
{
    char shown[FILTER_MESSAGE_SHOWN_MAX * 2 + 16], first[1024];
    if (p->pos >= p->len || p->s[p->pos] != '[') {
        fail(p, p->pos, p->len, "Expected `[` after `IN` keyword.");
        return false;
    }
    p->pos++;
    for (;;) {
        struct ftoken t;
        struct value_miss m;
        size_t save = p->pos;
        enum value_result r = parse_value(p, &t, &m);
        if (r == VALUE_FAILED)
            return false;
        if (r != VALUE_OK) {
            p->pos = save;
            break;
        }
        node_add_value(n, &t);
        if (!accept_char(p, ','))
            break;
    }
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        skip_ws(p);
        return true;
    }
    if (p->pos >= p->len) {
        fail(p, p->pos, p->pos,
             "Expected matching `]` after the list of field names given to `IN[`");
    } else {
        snprintf(first, sizeof(first),
                 "Expected only comma-separated field names inside `IN[..]` but instead found "
                 "`%s`.",
                 rest_shown(p, shown, sizeof(shown)));
        fail(p, p->pos, p->len, first);
    }
    return false;
}

static int
comparison_at(struct fparser *p, enum fnode_kind *kind)
{
    static const struct {
        const char *text;
        enum fnode_kind kind;
    } ops[] = {{"!=", FN_NE}, {">=", FN_GE}, {"<=", FN_LE}, {"=", FN_EQ}, {">", FN_GT},
               {"<", FN_LT}};
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(ops); i++) {
        size_t n = strlen(ops[i].text);
        if (p->len - p->pos >= n && memcmp(p->s + p->pos, ops[i].text, n) == 0) {
            *kind = ops[i].kind;
            return (int)n;
        }
    }
    return 0;
}

/* attr FROM "TO" TO. NULL: not this form (or an error after TO, reported). */
static struct fnode *
parse_to(struct fparser *p, struct ftoken *attr)
{
    struct ftoken from, to;
    struct value_miss m;
    if (parse_value(p, &from, &m) != VALUE_OK)
        return NULL;
    if (!accept_keyword(p, "TO") || !expect_value(p, &to)) {
        folio_free(from.text);
        return NULL;
    }
    struct fnode *n = node_new(FN_TO);
    node_add_value(n, &from);
    node_add_value(n, &to);
    n->attr = *attr;
    memset(attr, 0, sizeof(*attr));
    return n;
}

/* After the attribute: the operation and its values. NULL: not a condition. */
static struct fnode *
parse_operation(struct fparser *p, struct ftoken *attr)
{
    enum fnode_kind kind;
    int op_len = comparison_at(p, &kind);
    struct fnode *n = NULL;
    struct ftoken t;
    if (op_len > 0) {
        p->pos += (size_t)op_len;
        if (!expect_value(p, &t))
            return NULL;
        n = node_new(kind);
        node_add_value(n, &t);
    } else if (accept_keyword(p, "IN")) {
        n = node_new(FN_IN);
        if (!parse_in_list(p, n)) {
            filter_free(n);
            return NULL;
        }
    } else if (accept_keyword(p, "EXISTS")) {
        n = node_new(FN_EXISTS);
    } else {
        size_t save = p->pos;
        if (accept_keyword(p, "NOT")) {
            if (accept_keyword(p, "EXISTS"))
                n = node_new(FN_EXISTS);
            else if (accept_keyword(p, "IN")) {
                n = node_new(FN_IN);
                if (!parse_in_list(p, n)) {
                    filter_free(n);
                    return NULL;
                }
            }
            if (n != NULL) {
                n->attr = *attr;
                memset(attr, 0, sizeof(*attr));
                return negate(n);
            }
            p->pos = save;
            return NULL;
        }
        return parse_to(p, attr);
    }
    n->attr = *attr;
    memset(attr, 0, sizeof(*attr));
    return n;
}

static struct fnode *
parse_condition(struct fparser *p)
{
    size_t start = p->pos;
    struct ftoken attr;
    struct value_miss m = {0, 0};
    enum value_result r = parse_value(p, &attr, &m);
    struct fnode *n = NULL;
    if (r == VALUE_KEYWORD)
        fail_value(p, r, &m); /* a keyword where a name must be: say so */
    else if (r == VALUE_OK)
        n = parse_operation(p, &attr);
    folio_free(attr.text);
    if (n == NULL && p->rc == FOLIO_OK)
        fail_operation(p, start);
    return n;
}

static struct fnode *
parse_primary(struct fparser *p, int depth)
{
    if (!depth_ok(p, depth))
        return NULL;
    skip_ws(p);
    size_t open = p->pos;
    if (!accept_char(p, '('))
        return parse_condition(p);
    struct fnode *n = parse_or(p, depth + 1);
    if (n == NULL)
        return NULL;
    if (!accept_char(p, ')')) {
        char shown[FILTER_MESSAGE_SHOWN_MAX * 2 + 16], first[1024];
        escape_debug(p->s + open, p->len - open, shown, sizeof(shown));
        snprintf(first, sizeof(first),
                 "Expression `%s` is missing the following closing delimiter: `)`.", shown);
        fail(p, open, p->len, first);
        filter_free(n);
        return NULL;
    }
    return n;
}

static struct fnode *
parse_not(struct fparser *p, int depth)
{
    if (!depth_ok(p, depth))
        return NULL;
    if (!accept_keyword(p, "NOT"))
        return parse_primary(p, depth + 1);
    struct fnode *n = parse_not(p, depth + 1);
    return n == NULL ? NULL : negate(n);
}

/* and/or: first (KW next)*, all under one node of kind. */
static struct fnode *
parse_list(struct fparser *p, int depth, const char *kw, enum fnode_kind kind)
{
    if (!depth_ok(p, depth))
        return NULL;
    struct fnode *first = kind == FN_OR ? parse_list(p, depth + 1, "AND", FN_AND)
                                        : parse_not(p, depth + 1);
    if (first == NULL)
        return NULL;
    struct fnode *list = NULL;
    while (accept_keyword(p, kw)) {
        struct fnode *next = kind == FN_OR ? parse_list(p, depth + 1, "AND", FN_AND)
                                           : parse_not(p, depth + 1);
        if (next == NULL) {
            filter_free(list != NULL ? list : first);
            return NULL;
        }
        if (list == NULL) {
            list = node_new(kind);
            node_add_kid(list, first);
        }
        node_add_kid(list, next);
    }
    return list != NULL ? list : first;
}

static struct fnode *
parse_or(struct fparser *p, int depth)
{
    return parse_list(p, depth, "OR", FN_OR);
}

int
filter_parse(const char *filter, struct fnode **out, struct folio_index_error *err)
{
    struct fparser p = {.s = filter, .len = strlen(filter), .err = err};
    *out = NULL;
    if (!text_valid_utf8(filter, p.len))
        return index_errorf(err, FOLIO_E_INVALID_SEARCH_FILTER, "The filter is not valid UTF-8.");
    skip_ws(&p);
    if (p.pos == p.len)
        return FOLIO_OK; /* blank: no filter */
    struct fnode *root = parse_or(&p, 0);
    skip_ws(&p);
    if (root != NULL && p.pos < p.len) {
        char shown[FILTER_MESSAGE_SHOWN_MAX * 2 + 16], first[1024];
        snprintf(first, sizeof(first),
                 "Found unexpected characters at the end of the filter: `%s`. You probably "
                 "forgot an `OR` or an `AND` rule.",
                 rest_shown(&p, shown, sizeof(shown)));
        fail(&p, p.pos, p.len, first);
    }
    if (p.rc != FOLIO_OK) {
        filter_free(root);
        return p.rc;
    }
    FOLIO_ASSERT(root != NULL);
    *out = root;
    return FOLIO_OK;
}
