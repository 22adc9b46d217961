/*
 * Text normalisation with utf8proc: the words of a string (what documents
 * are indexed by and what a query asks for) and the normal form of a facet
 * string (what filters compare). docs/index-format.md, "Words", describes
 * both; the index and the query side must call the same functions here, or
 * a query stops finding what was indexed.
 *
 * Words: NFKD + case folding, then the non-spacing marks that follow a Latin
 * letter are dropped (so "Café" and "cafe" are one word, while marks that
 * are part of other scripts' letters stay), then NFC. A word is a run of
 * letters, digits and marks; anything else separates words. A Han, Hiragana
 * or Katakana character is a word of its own (there is no dictionary
 * segmentation). The index skips words longer than INDEX_WORD_BYTES_MAX
 * bytes; a query word that long matches nothing.
 *
 * Facet strings: NFKC + case folding, ASCII white space trimmed, cut at a
 * character boundary to INDEX_FACET_STRING_BYTES_MAX bytes. Accents stay.
 *
 * Long strings are processed in chunks cut at ASCII white space, which
 * always separates words, so the code point buffer stays small.
 */
#include <string.h>
#include <utf8proc.h>

#include "folio/common.h"
#include "folio/error.h"
#include "index_int.h"

#define TEXT_CHUNK_BYTES (64u << 10)

static bool
is_ascii_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool
is_latin(int32_t cp)
{
    return cp < 0x250 || (cp >= 0x1E00 && cp <= 0x1EFF) || (cp >= 0x2C60 && cp <= 0x2C7F) ||
           (cp >= 0xA720 && cp <= 0xA7FF);
}

/* Han ideographs, Hiragana and Katakana: each character is a word. */
static bool
is_cjk_single(int32_t cp)
{
    return (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0x20000 && cp <= 0x3134F);
}

bool
text_is_word_char(int32_t cp)
{
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

/*
 * The normalised code points of s[0, len) in a buffer of *cap entries that
 * grows as needed. Returns the count, or FOLIO_E_INVALID (not UTF-8).
 */
static utf8proc_ssize_t
normalise_cps(const char *s, size_t len, int32_t **buf, size_t *cap)
{
    const utf8proc_option_t opts =
        UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD;
    utf8proc_ssize_t n;
    for (;;) {
        n = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, *buf,
                               (utf8proc_ssize_t)*cap, opts);
        if (n < 0)
            return FOLIO_E_INVALID;
        if ((size_t)n <= *cap)
            break;
        *cap = (size_t)n;
        *buf = folio_reallocarray(*buf, *cap, sizeof(**buf));
    }
    /* Drop the marks of Latin letters (accents), keep everything else. */
    int32_t *cps = *buf;
    size_t kept = 0;
    bool after_latin = false;
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        int32_t cp = cps[i];
        if (utf8proc_category(cp) == UTF8PROC_CATEGORY_MN) {
            if (after_latin)
                continue;
        } else {
            after_latin = is_latin(cp) && text_is_word_char(cp);
        }
        cps[kept++] = cp;
    }
    if (kept == 0)
        return 0;
    n = utf8proc_normalize_utf32(cps, (utf8proc_ssize_t)kept, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (n < 0)
        return FOLIO_E_INVALID;
    return n;
}

/* Encodes cps[0, n) as UTF-8 into out (4 * n bytes). Returns the byte count. */
static size_t
encode_cps(const int32_t *cps, size_t n, char *out)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)utf8proc_encode_char(cps[i], (utf8proc_uint8_t *)out + len);
    return len;
}

#define EMIT_STACK_BYTES 512u

struct word_emit {
    text_word_fn fn;
    void *ctx;
    char *bytes; /* stack, or allocated when a word or string is longer */
    size_t cap;
    char stack[EMIT_STACK_BYTES];
};

/* Makes room for n bytes in e->bytes (its content need not survive). */
static void
emit_reserve(struct word_emit *e, size_t n)
{
    if (n <= e->cap)
        return;
    if (e->bytes != e->stack)
        folio_free(e->bytes);
    e->cap = n;
    e->bytes = folio_malloc(n);
}

/* Emits the word cps[0, n) as UTF-8 (any length: callers skip long ones). */
static int
emit_word(struct word_emit *e, const int32_t *cps, size_t n)
{
    emit_reserve(e, 4 * n);
    size_t len = encode_cps(cps, n, e->bytes);
    return e->fn(e->ctx, e->bytes, len);
}

/* Splits normalised code points into words. */
static int
split_words(struct word_emit *e, const int32_t *cps, size_t n)
{
    size_t start = 0;
    bool in_word = false;
    for (size_t i = 0; i <= n; i++) {
        bool word_char = i < n && text_is_word_char(cps[i]);
        bool single = word_char && is_cjk_single(cps[i]);
        int rc = FOLIO_OK;
        if (in_word && (!word_char || single)) {
            rc = emit_word(e, cps + start, i - start);
            in_word = false;
        }
        if (rc == FOLIO_OK && single)
            rc = emit_word(e, cps + i, 1);
        else if (word_char && !in_word) {
            in_word = true;
            start = i;
        }
        if (rc != FOLIO_OK)
            return rc;
    }
    return FOLIO_OK;
}

static bool
ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * ASCII text needs no utf8proc: NFKD and NFC leave it as it is, case folding
 * lowercases A-Z, and its only letters and digits are [A-Za-z0-9]. Same words
 * as the general path, much faster (most documents are mostly ASCII).
 */
static int
split_ascii(struct word_emit *e, const char *s, size_t len)
{
    emit_reserve(e, len);
    for (size_t i = 0; i < len;) {
        while (i < len && !ascii_alnum((unsigned char)s[i]))
            i++;
        size_t n = 0;
        for (; i < len && ascii_alnum((unsigned char)s[i]); i++) {
            char c = s[i];
            e->bytes[n++] = c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
        }
        if (n > 0) {
            int rc = e->fn(e->ctx, e->bytes, n);
            if (rc != FOLIO_OK)
                return rc;
        }
    }
    return FOLIO_OK;
}

static bool
all_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

/* The end of the next chunk of s from start: at most TEXT_CHUNK_BYTES, cut after white space. */
static size_t
chunk_end(const char *s, size_t len, size_t start)
{
    if (len - start <= TEXT_CHUNK_BYTES)
        return len;
    size_t end = start + TEXT_CHUNK_BYTES;
    while (end > start && !is_ascii_space((unsigned char)s[end - 1]))
        end--;
    if (end > start)
        return end;
    end = start + TEXT_CHUNK_BYTES; /* no white space: the next one, or the end */
    while (end < len && !is_ascii_space((unsigned char)s[end]))
        end++;
    return end;
}

int
text_words(const char *s, size_t len, text_word_fn fn, void *ctx, bool *ends_in_word)
{
    struct word_emit e;
    e.fn = fn;
    e.ctx = ctx;
    e.bytes = e.stack;
    e.cap = sizeof(e.stack);
    int32_t *buf = NULL;
    size_t cap = 0;
    int rc = FOLIO_OK;
    bool ends = false;
    for (size_t start = 0; start < len && rc == FOLIO_OK;) {
        size_t end = chunk_end(s, len, start);
        if (all_ascii(s + start, end - start)) {
            rc = split_ascii(&e, s + start, end - start);
            ends = ascii_alnum((unsigned char)s[end - 1]);
            start = end;
            continue;
        }
        utf8proc_ssize_t n = normalise_cps(s + start, end - start, &buf, &cap);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        rc = split_words(&e, buf, (size_t)n);
        ends = n > 0 && text_is_word_char(buf[n - 1]);
        start = end;
    }
    folio_free(buf);
    if (e.bytes != e.stack)
        folio_free(e.bytes);
    if (rc == TEXT_WORDS_STOP)
        rc = FOLIO_OK;
    if (ends_in_word != NULL)
        *ends_in_word = rc == FOLIO_OK && ends;
    return rc;
}

int
text_facet_string(const char *s, size_t len, char *out, size_t *out_len)
{
    utf8proc_uint8_t *mapped = NULL;
    const utf8proc_option_t opts =
        UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &mapped,
                                      opts);
    if (n < 0)
        return FOLIO_E_INVALID;
    size_t a = 0, b = (size_t)n;
    while (a < b && is_ascii_space(mapped[a]))
        a++;
    while (b > a && is_ascii_space(mapped[b - 1]))
        b--;
    size_t keep = b - a;
    if (keep > INDEX_FACET_STRING_BYTES_MAX) {
        keep = INDEX_FACET_STRING_BYTES_MAX;
        while (keep > 0 && (mapped[a + keep] & 0xC0) == 0x80)
            keep--; /* do not split a character */
    }
    memcpy(out, mapped + a, keep);
    *out_len = keep;
    free(mapped); /* utf8proc allocates with malloc */
    return FOLIO_OK;
}

int
text_decode(const char *s, size_t len, int32_t *out, size_t cap, size_t *out_n)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0 || n >= cap)
            return FOLIO_E_INVALID;
        out[n++] = cp;
        i += (size_t)k;
    }
    *out_n = n;
    return FOLIO_OK;
}

bool
text_valid_utf8(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0)
            return false;
        i += (size_t)k;
    }
    return true;
}
