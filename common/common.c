/*
 * Always-on assertions, fatal errors and allocation wrappers.
 *
 * Allocation failure aborts: folio bounds every buffer and queue, so running
 * out of memory means the machine is overcommitted, and a path that handles
 * it in every caller would be a path no test exercises.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "folio/common.h"

void
folio_assert_fail(const char *file, int line, const char *func, const char *expr)
{
    fprintf(stderr, "folio: assertion failed: %s:%d: %s: %s\n", file, line, func, expr);
    fflush(stderr);
    abort();
}

void
folio_panic(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "folio: fatal: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (%s:%d)\n", file, line);
    fflush(stderr);
    abort();
}

static void *
check_alloc(void *p, size_t size)
{
    if (p == NULL && size != 0)
        folio_panic(__FILE__, __LINE__, "out of memory allocating %zu bytes", size);
    return p;
}

void *
folio_malloc(size_t size)
{
    return check_alloc(malloc(size ? size : 1), size);
}

void *
folio_calloc(size_t count, size_t size)
{
    return check_alloc(calloc(count ? count : 1, size ? size : 1), count * size);
}

void *
folio_realloc(void *ptr, size_t size)
{
    return check_alloc(realloc(ptr, size ? size : 1), size);
}

void *
folio_reallocarray(void *ptr, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        folio_panic(__FILE__, __LINE__, "allocation size overflow (%zu x %zu)", count, size);
    return folio_realloc(ptr, count * size);
}

char *
folio_strndup(const char *s, size_t n)
{
    char *p = folio_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
folio_strdup(const char *s)
{
    return folio_strndup(s, strlen(s));
}

void
folio_free(void *ptr)
{
    free(ptr);
}

int
folio_is_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    /* Check word-at-a-time once aligned; zero scans run over whole segments. */
    while (n > 0 && ((uintptr_t)b & 7u) != 0) {
        if (*b++ != 0)
            return 0;
        n--;
    }
    while (n >= 64) {
        uint64_t acc = 0;
        for (int i = 0; i < 8; i++) {
            uint64_t w;
            memcpy(&w, b + 8 * i, 8);
            acc |= w;
        }
        if (acc != 0)
            return 0;
        b += 64;
        n -= 64;
    }
    while (n > 0) {
        if (*b++ != 0)
            return 0;
        n--;
    }
    return 1;
}
