/*
 * Benchmark helpers (see benchutil.h). Everything here runs outside the timed
 * loops except bench_now_ns and bench_hist_add.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "folio/common.h"

int64_t
bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
bench_sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

double
bench_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- histograms ---------------------------------------------------------- */

void
bench_hist_init(struct bench_hist *h)
{
    h->counts = folio_calloc(BENCH_HIST_BUCKETS, sizeof(h->counts[0]));
    h->total = 0;
    h->max_ns = 0;
}

void
bench_hist_free(struct bench_hist *h)
{
    folio_free(h->counts);
    h->counts = NULL;
}

void
bench_hist_reset(struct bench_hist *h)
{
    memset(h->counts, 0, BENCH_HIST_BUCKETS * sizeof(h->counts[0]));
    h->total = 0;
    h->max_ns = 0;
}

void
bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    if (src->max_ns > dst->max_ns)
        dst->max_ns = src->max_ns;
}

/* Midpoint of the values that land in bucket idx. */
static uint64_t
hist_bucket_mid_ns(unsigned idx)
{
    if (idx < BENCH_HIST_SUB)
        return idx;
    unsigned block = idx / BENCH_HIST_SUB, sub = idx % BENCH_HIST_SUB;
    uint64_t lower = (uint64_t)(BENCH_HIST_SUB + sub) << (block - 1);
    return lower + (((uint64_t)1 << (block - 1)) >> 1);
}

uint64_t
bench_hist_quantile_ns(const struct bench_hist *h, double q)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->total + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t mid = hist_bucket_mid_ns(i);
            return mid < h->max_ns ? mid : h->max_ns;
        }
    }
    return h->max_ns;
}

/* ---- summaries and formatting ------------------------------------------- */

static int
double_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double
bench_median(const double *v, size_t n)
{
    FOLIO_ASSERT(n >= 1);
    double *s = folio_reallocarray(NULL, n, sizeof(*s));
    memcpy(s, v, n * sizeof(*s));
    qsort(s, n, sizeof(*s), double_cmp);
    double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    folio_free(s);
    return m;
}

double
bench_min(const double *v, size_t n)
{
    double m = v[0];
    for (size_t i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

double
bench_max(const double *v, size_t n)
{
    double m = v[0];
    for (size_t i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

const char *
bench_fmt_count(char buf[32], double v)
{
    char digits[32];
    snprintf(digits, sizeof(digits), "%.0f", v < 0 ? 0 : v);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* ---- the machine header ------------------------------------------------- */

static const char *
fs_type_name(long type)
{
    switch ((unsigned long)type) {
    case 0xEF53:
        return "ext2/3/4";
    case 0x58465342:
        return "xfs";
    case 0x9123683E:
        return "btrfs";
    case 0x01021994:
        return "tmpfs";
    case 0x794C7630:
        return "overlayfs";
    case 0x2FC12FC1:
        return "zfs";
    case 0xF2F52010:
        return "f2fs";
    case 0x6969:
        return "nfs";
    default:
        return "unknown";
    }
}

/* Copies the value of the first "key<spaces>: value" line of a /proc file. */
static void
proc_field(const char *path, const char *key, char *out, size_t out_len)
{
    snprintf(out, out_len, "?");
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    char line[512];
    size_t key_len = strlen(key);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, key_len) != 0)
            continue;
        const char *v = strchr(line, ':');
        if (v == NULL)
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        snprintf(out, out_len, "%.*s", (int)strcspn(v, "\n"), v);
        break;
    }
    fclose(f);
}

double
bench_loadavg(void)
{
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "re");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%lf", &load) != 1)
        load = -1;
    fclose(f);
    return load;
}

void
bench_print_machine(const char *dir, const char *build_type)
{
    struct utsname u;
    char cpu[256], mem[64];
    if (uname(&u) != 0)
        memset(&u, 0, sizeof(u));
    proc_field("/proc/cpuinfo", "model name", cpu, sizeof(cpu));
    proc_field("/proc/meminfo", "MemTotal", mem, sizeof(mem));
    struct statfs sfs;
    long fs_type = statfs(dir, &sfs) == 0 ? (long)sfs.f_type : 0;
    struct stat st;
    unsigned long long dev = stat(dir, &st) == 0 ? (unsigned long long)st.st_dev : 0;
    printf("  machine   : %ld CPUs online (%s), RAM %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu, mem);
    printf("  kernel    : %s %s %s\n", u.sysname, u.release, u.machine);
    printf("  load      : %.2f (1-minute load average at start; other work skews timings)\n",
           bench_loadavg());
    printf("  directory : %s\n", dir);
    printf("  filesystem: %s (statfs f_type 0x%lx, st_dev %llu)\n", fs_type_name(fs_type),
           (unsigned long)fs_type, dev);
    printf("  build     : %s\n", build_type);
}

/* ---- scratch directories ------------------------------------------------ */

char *
bench_mkdtemp(const char *parent)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/folio-bench-XXXXXX", parent);
    if (mkdtemp(path) == NULL) {
        fprintf(stderr, "bench: mkdtemp %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char abs_path[PATH_MAX];
    if (realpath(path, abs_path) == NULL)
        return folio_strdup(path);
    return folio_strdup(abs_path);
}

static int
rmrf_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    if (remove(path) != 0)
        fprintf(stderr, "bench: remove %s: %s\n", path, strerror(errno));
    return 0;
}

int
bench_rmrf(const char *path)
{
    return nftw(path, rmrf_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* ---- page cache --------------------------------------------------------- */

static bool
proc_drop_caches(void)
{
    sync();
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = write(fd, "3\n", 2) == 2;
    close(fd);
    return ok;
}

int
bench_drop_caches(const char *dir, bool *global_dropped)
{
    int advised = 0;
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            if (fd < 0)
                continue;
            struct stat st;
            /* Dirty pages cannot be dropped: write them back first. */
            if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && fdatasync(fd) == 0 &&
                posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0)
                advised++;
            close(fd);
        }
        closedir(d);
    }
    *global_dropped = proc_drop_caches();
    return advised;
}

/* ---- reproducible random text ------------------------------------------------ */

uint64_t
bench_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void
bench_vocab_init(struct bench_vocab *v, size_t count, uint64_t *rng)
{
    static const char cons[] = "bcdfghklmnprstvz", vow[] = "aeiou";
    v->count = count;
    v->words = calloc(count, sizeof(*v->words));
    v->cdf = calloc(count, sizeof(*v->cdf));
    if (v->words == NULL || v->cdf == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    double sum = 0;
    for (size_t i = 0; i < count; i++) {
        int syllables = 1 + (int)(bench_rand(rng) % 4), n = 0;
        for (int s = 0; s < syllables; s++) {
            v->words[i][n++] = cons[bench_rand(rng) % 16];
            v->words[i][n++] = vow[bench_rand(rng) % 5];
            if (bench_rand(rng) % 3 == 0)
                v->words[i][n++] = cons[bench_rand(rng) % 16];
        }
        v->words[i][n] = '\0';
        sum += 1.0 / (double)(i + 1);
        v->cdf[i] = sum;
    }
    for (size_t i = 0; i < count; i++)
        v->cdf[i] /= sum;
}

void
bench_vocab_free(struct bench_vocab *v)
{
    free(v->words);
    free(v->cdf);
    memset(v, 0, sizeof(*v));
}

const char *
bench_vocab_word(const struct bench_vocab *v, uint64_t *rng)
{
    double u = (double)(bench_rand(rng) >> 11) / (double)(1ull << 53);
    size_t lo = 0, hi = v->count - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return v->words[lo];
}

size_t
bench_vocab_words(const struct bench_vocab *v, uint64_t *rng, char *buf, size_t n, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        n += (size_t)sprintf(buf + n, "%s%s", i ? " " : "", bench_vocab_word(v, rng));
    return n;
}
