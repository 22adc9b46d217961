/*
 * Small pieces every folio module uses: always-on assertions, allocation
 * wrappers that never return NULL, and little-endian load/store helpers for
 * on-disk structures.
 */
#ifndef FOLIO_COMMON_H
#define FOLIO_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * FOLIO_ASSERT stays on in release builds. It is for programmer errors only:
 * bad input, a full disk or a corrupt file is a returned error, never an assert.
 */
#define FOLIO_ASSERT(expr)                                                                         \
    ((expr) ? (void)0 : folio_assert_fail(__FILE__, __LINE__, __func__, #expr))

_Noreturn void folio_assert_fail(const char *file, int line, const char *func, const char *expr);

/*
 * Logs "folio: fatal: <message>" with file and line and aborts. Used where the
 * design says the process must stop (a failed journal write or fsync).
 */
#define FOLIO_PANIC(...) folio_panic(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void folio_panic(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Allocation wrappers. Out of memory aborts with a message: every caller would
 * otherwise need a path it cannot test. Sizes are overflow-checked.
 */
void *folio_malloc(size_t size);
void *folio_calloc(size_t count, size_t size);
void *folio_realloc(void *ptr, size_t size);
void *folio_reallocarray(void *ptr, size_t count, size_t size);
char *folio_strdup(const char *s);
char *folio_strndup(const char *s, size_t n);
void folio_free(void *ptr);

#define FOLIO_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FOLIO_ALIGN_UP(x, a) (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))

/* The value of a hexadecimal digit (either case), or -1. */
static inline int
folio_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static inline void
folio_store_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void
folio_store_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void
folio_store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t
folio_load_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t
folio_load_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t
folio_load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* True if all n bytes at p are zero. */
int folio_is_zero(const void *p, size_t n);

#endif
