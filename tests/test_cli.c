/*
 * The folio CLI (FOLIO_CLI_PATH), run as a real program against journals
 * this test writes with the journal API: inspect (text and --json, the
 * --from/--to/--type filters), verify on a sound journal, a flipped byte in
 * a middle frame (exit 1, naming segment, offset and seq) and a torn tail
 * (exit 2), stats by type, tail with and without --follow (a live child
 * process while this process appends), a closed pipe, --help and usage
 * errors.
 *
 * The base journal has 12 events, seq n of type task_registered when
 * n % 3 == 1, batch_started when n % 3 == 2 and progress when n % 3 == 0, in
 * frames of one and two events, so every filter has one right answer that is
 * worked out here from that rule, not from the program's output.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "folio/event.h"
#include "folio/journal.h"
#include "testutil.h"

#define SEG_BYTES (64u * 1024u)
#define SEG1 "00000000000000000001.seg"
#define BASE_EVENTS 12u

static const char *
type_of(uint64_t seq)
{
    static const char *const names[] = {"progress", "task_registered", "batch_started"};
    return names[seq % 3];
}

/* An event of type_of(seq); task and batch uids derive from seq. Caller frees. */
static uint8_t *
make_typed_event(uint64_t seq, size_t *len)
{
    uint64_t task_uid = seq * 10;
    struct folio_event ev = {.at_ns = 1763800000000000000ll + (int64_t)seq * 1000};
    uint8_t *buf = NULL;
    if (seq % 3 == 1)
        return tu_make_event(task_uid, 100, len);
    if (seq % 3 == 2) {
        ev.type = FOLIO_EV_BATCH_STARTED;
        ev.u.batch_started.batch_uid = seq;
        ev.u.batch_started.task_uids = (struct folio_u64_array){&task_uid, 1};
        ev.u.batch_started.reason = folio_str_c("test batch");
    } else {
        ev.type = FOLIO_EV_PROGRESS;
        ev.u.progress.batch_uid = seq;
        ev.u.progress.step = folio_str_c("step");
        ev.u.progress.step_index = 0;
        ev.u.progress.step_total = 2;
    }
    assert_int_equal(folio_event_encode(&ev, &buf, len), 0);
    return buf;
}

static struct folio_journal *
journal_open_small(const char *dir)
{
    struct folio_journal_opts o;
    struct folio_journal *j = NULL;
    folio_journal_opts_default(&o);
    o.segment_bytes = SEG_BYTES;
    o.create = true;
    assert_int_equal(folio_journal_open(dir, &o, &j, NULL, NULL), 0);
    return j;
}

/* Appends seqs [from, to]: frames [1] [2,3] [4] [5,6] [7] ..., a seq = 2 mod 3 starts a pair. */
static void
append_typed(struct folio_journal *j, uint64_t from, uint64_t to)
{
    for (uint64_t seq = from; seq <= to;) {
        size_t n = (seq % 3 == 2 && seq < to) ? 2 : 1, lens[2];
        uint8_t *bufs[2];
        struct folio_journal_entry es[2];
        for (size_t i = 0; i < n; i++) {
            bufs[i] = make_typed_event(seq + i, &lens[i]);
            es[i] = (struct folio_journal_entry){bufs[i], lens[i]};
        }
        uint64_t first = 0;
        assert_int_equal(folio_journal_append(j, es, n, &first), 0);
        assert_int_equal(first, seq);
        for (size_t i = 0; i < n; i++)
            folio_free(bufs[i]);
        seq += n;
    }
}

/* A data dir <tmp> holding journal/ with the base journal; *jdir gets <tmp>/journal. */
static char *
make_base(char **jdir)
{
    char *base = tu_mkdtemp("cli");
    *jdir = tu_path(base, "journal");
    struct folio_journal *j = journal_open_small(*jdir);
    append_typed(j, 1, BASE_EVENTS);
    folio_journal_close(j);
    return base;
}

static void
drop_base(char *base, char *jdir)
{
    tu_rmrf(base);
    folio_free(base);
    folio_free(jdir);
}

/* Runs "folio <args>" through the shell; returns the exit code, *out its stdout. */
__attribute__((format(printf, 2, 3))) static int
cli(char **out, const char *fmt, ...)
{
    char args[8192], cmd[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "'%s' %s", FOLIO_CLI_PATH, args);
    return tu_system(cmd, out);
}

/* Seqs named by "seq=N " (text) or "{\"seq\":N," (json) at each line's start. */
static size_t
line_seqs(const char *out, bool json, uint64_t *seqs, size_t max)
{
    size_t n = 0;
    const char *prefix = json ? "{\"seq\":" : "seq=";
    for (const char *p = out; *p != '\0' && n < max;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_memory_equal(p, prefix, strlen(prefix));
        seqs[n++] = strtoull(p + strlen(prefix), NULL, 10);
        if (json)
            assert_true(nl[-1] == '}');
        p = nl + 1;
    }
    return n;
}

/* Asserts that out lists exactly the seqs in want (n of them), in order. */
static void
assert_seqs(const char *out, bool json, const uint64_t *want, size_t n)
{
    uint64_t got[512];
    size_t k = line_seqs(out, json, got, FOLIO_ARRAY_LEN(got));
    assert_int_equal(k, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(got[i], want[i]);
}

static void
test_inspect_text_and_json(void **state)
{
    char *jdir, *base = make_base(&jdir), *out = NULL;
    uint64_t all[BASE_EVENTS];
    for (uint64_t i = 0; i < BASE_EVENTS; i++)
        all[i] = i + 1;
    assert_int_equal(cli(&out, "journal inspect '%s'", jdir), 0);
    assert_seqs(out, false, all, BASE_EVENTS);
    /* Line 1: the first frame of the first segment, its type and its fields. */
    /* tu_make_event stamps task_registered events at 1700000000 s. */
    assert_ptr_equal(strstr(out, "seq=1 at=2023-11-14T22:13:20.000000000Z type=task_registered"
                                 " segment=" SEG1 " offset=4096 {\"task_uid\":10,"),
                     out);
    const char *line = out;
    for (uint64_t s = 1; s <= BASE_EVENTS; s++) {
        char want[80], text[1024];
        size_t len = strcspn(line, "\n");
        assert_true(len < sizeof(text));
        memcpy(text, line, len);
        text[len] = '\0';
        snprintf(want, sizeof(want), " type=%s segment=" SEG1 " offset=", type_of(s));
        assert_non_null(strstr(text, want));
        line += len + 1;
    }
    folio_free(out);

    /* --json, and DIR given as the data dir holding journal/. */
    assert_int_equal(cli(&out, "journal inspect --json '%s'", base), 0);
    assert_seqs(out, true, all, BASE_EVENTS);
    assert_non_null(strstr(out, "{\"seq\":2,\"segment\":\"" SEG1 "\",\"offset\":"));
    assert_non_null(strstr(out, ",\"event\":{\"seq\":2,\"type\":\"batch_started\",\"at\":"
                                "1763800000000002000,\"batch_uid\":2,\"task_uids\":[20],"
                                "\"reason\":\"test batch\"}}\n"));
    folio_free(out);
    drop_base(base, jdir);
}

static void
test_inspect_filters(void **state)
{
    char *jdir, *base = make_base(&jdir), *out = NULL;
    static const uint64_t range[] = {3, 4, 5, 6, 7};
    static const uint64_t progress[] = {3, 6, 9, 12};
    static const uint64_t two_types[] = {5, 6, 8, 9, 11, 12};
    static const uint64_t registered_to_7[] = {1, 4, 7};

    assert_int_equal(cli(&out, "journal inspect '%s' --from 3 --to 7", jdir), 0);
    assert_seqs(out, false, range, FOLIO_ARRAY_LEN(range));
    folio_free(out);
    assert_int_equal(cli(&out, "journal inspect '%s' --json --type progress", jdir), 0);
    assert_seqs(out, true, progress, FOLIO_ARRAY_LEN(progress));
    folio_free(out);
    assert_int_equal(cli(&out, "journal inspect '%s' --type progress,batch_started --from 4", jdir),
                     0);
    assert_seqs(out, false, two_types, FOLIO_ARRAY_LEN(two_types));
    folio_free(out);
    assert_int_equal(
        cli(&out, "journal inspect '%s' --type task_registered --type task_registered --to 7",
            jdir),
        0);
    assert_seqs(out, false, registered_to_7, FOLIO_ARRAY_LEN(registered_to_7));
    folio_free(out);
    assert_int_equal(cli(&out, "journal inspect '%s' --from 13", jdir), 0);
    assert_string_equal(out, "");
    folio_free(out);

    assert_int_equal(cli(NULL, "journal inspect '%s' --type bogus 2>/dev/null", jdir), 64);
    assert_int_equal(cli(NULL, "journal inspect '%s' --from x3 2>/dev/null", jdir), 64);
    assert_int_equal(cli(NULL, "journal inspect '%s' --follow 2>/dev/null", jdir), 64);
    assert_int_equal(cli(NULL, "journal verify '%s' --from 2 2>/dev/null", jdir), 64);
    drop_base(base, jdir);
}

static void
test_verify_sound(void **state)
{
    char *jdir, *base = make_base(&jdir), *out = NULL;
    assert_int_equal(cli(&out, "journal verify '%s'", jdir), 0);
    assert_non_null(strstr(out, "status: ok\n"));
    assert_non_null(strstr(out, "segments: 1 (0 sealed)\n"));
    assert_non_null(strstr(out, "frames: 8\n")); /* 1, 2+3, 4, 5+6, 7, 8+9, 10, 11+12 */
    assert_non_null(strstr(out, "events: 12 (seq 1..12)\n"));
    assert_non_null(strstr(out, "used of 65536\n"));
    folio_free(out);
    assert_int_equal(cli(&out, "journal verify --json '%s'", base), 0);
    assert_non_null(strstr(out, "{\"status\":\"ok\","));
    assert_non_null(strstr(out, ",\"segments\":1,\"sealed_segments\":0,\"frames\":8,\"events\":12,"
                                "\"first_seq\":1,\"last_seq\":12,"));
    assert_non_null(strstr(out, ",\"bytes_total\":65536,\"error\":null}\n"));
    assert_int_equal(strchr(out, '\n')[1], '\0'); /* one line */
    folio_free(out);
    drop_base(base, jdir);
}

/* Frame offset of the frame holding seq, from the library reader. */
static uint64_t
frame_offset_of(const char *jdir, uint64_t seq)
{
    struct folio_journal_reader *r = NULL;
    struct folio_journal_record rec;
    uint64_t off = 0;
    assert_int_equal(folio_journal_reader_open(jdir, seq, 0, &r, NULL), 0);
    assert_int_equal(folio_journal_reader_next(r, &rec, NULL), 0);
    assert_int_equal(rec.seq, seq);
    off = rec.frame_offset;
    folio_journal_reader_close(r);
    return off;
}

static void
patch_segment(const char *jdir, uint64_t offset, int truncate_to)
{
    char *path = tu_path(jdir, SEG1);
    size_t len;
    uint8_t *buf = tu_read_file(path, &len);
    if (truncate_to >= 0)
        len = (size_t)truncate_to;
    else
        buf[offset] ^= 0x40;
    tu_write_file(path, buf, len);
    folio_free(buf);
    folio_free(path);
}

static void
test_flipped_byte_is_corruption(void **state)
{
    char *jdir, *base = make_base(&jdir), *out = NULL;
    uint64_t off5 = frame_offset_of(jdir, 5); /* the frame of seqs 5 and 6 */
    char want[160];
    patch_segment(jdir, off5 + 64 + 30, -1);
    snprintf(want, sizeof(want), "segment " SEG1 " offset %" PRIu64 " seq 5: ", off5);

    assert_int_equal(cli(&out, "journal verify '%s'", jdir), 1);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "status: FAILED"));
    folio_free(out);
    assert_int_equal(cli(&out, "journal verify --json '%s'", jdir), 1);
    snprintf(
        want, sizeof(want),
        "\"error\":{\"segment\":\"" SEG1 "\",\"offset\":%" PRIu64 ",\"seq\":5,\"reason\":", off5);
    assert_non_null(strstr(out, want));
    folio_free(out);

    /* inspect prints seqs 1..4, then names the damage on stderr. */
    static const uint64_t before[] = {1, 2, 3, 4};
    assert_int_equal(cli(&out, "journal inspect '%s' 2>/dev/null", jdir), 1);
    assert_seqs(out, false, before, 4);
    folio_free(out);
    assert_int_equal(cli(&out, "journal inspect '%s' 2>&1 >/dev/null", jdir), 1);
    snprintf(want, sizeof(want), "segment " SEG1 " offset %" PRIu64 " seq 5: ", off5);
    assert_non_null(strstr(out, want));
    folio_free(out);
    assert_int_equal(cli(NULL, "journal stats '%s' >/dev/null", jdir), 1);
    drop_base(base, jdir);
}

static void
test_torn_tail(void **state)
{
    char *jdir, *base = make_base(&jdir), *out = NULL;
    uint64_t off11 = frame_offset_of(jdir, 11); /* the last frame: seqs 11 and 12 */
    char want[160];
    patch_segment(jdir, 0, (int)(off11 + 64 + 40)); /* cut inside its body */
    snprintf(want, sizeof(want), "segment " SEG1 " offset %" PRIu64 " seq 11: torn tail", off11);

    assert_int_equal(cli(&out, "journal verify '%s'", jdir), 2);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "status: torn tail"));
    folio_free(out);
    static const uint64_t before[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    assert_int_equal(cli(&out, "journal inspect --json '%s' 2>/dev/null", jdir), 2);
    assert_seqs(out, true, before, 10);
    folio_free(out);
    assert_int_equal(cli(&out, "journal inspect '%s' 2>&1 >/dev/null", jdir), 2);
    assert_non_null(strstr(out, want));
    folio_free(out);
    /* Events before the tail are still there for --to. */
    assert_int_equal(cli(NULL, "journal inspect '%s' --to 10 >/dev/null", jdir), 0);
    drop_base(base, jdir);
}

static void
test_stats(void **state)
{
    char *jdir, *base = make_base(&jdir), *out = NULL;
    assert_int_equal(cli(&out, "journal stats --json '%s'", jdir), 0);
    assert_non_null(strstr(out, "\"by_type\":{\"task_registered\":4,\"batch_started\":4,"
                                "\"progress\":4}"));
    assert_non_null(strstr(out, "\"segments\":1,\"sealed_segments\":0,"));
    assert_non_null(strstr(out, "\"events\":12,\"first_seq\":1,\"last_seq\":12,"));
    folio_free(out);
    assert_int_equal(cli(&out, "journal stats '%s'", base), 0);
    assert_non_null(strstr(out, "  task_registered      4\n"));
    assert_non_null(strstr(out, "  batch_started        4\n"));
    assert_non_null(strstr(out, "  progress             4\n"));
    assert_null(strstr(out, "task_succeeded"));
    folio_free(out);
    drop_base(base, jdir);
}

static void
test_tail_without_follow(void **state)
{
    char *jdir, *base = make_base(&jdir), *out = NULL;
    static const uint64_t last10[] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    static const uint64_t last3[] = {10, 11, 12};
    static const uint64_t from9[] = {9, 10, 11, 12};
    static const uint64_t from5_progress[] = {6, 9, 12};
    assert_int_equal(cli(&out, "journal tail '%s'", jdir), 0);
    assert_seqs(out, false, last10, 10);
    folio_free(out);
    assert_int_equal(cli(&out, "journal tail -n 3 --json '%s'", jdir), 0);
    assert_seqs(out, true, last3, 3);
    folio_free(out);
    assert_int_equal(cli(&out, "journal tail --from 9 '%s'", base), 0);
    assert_seqs(out, false, from9, 4);
    folio_free(out);
    assert_int_equal(cli(&out, "journal tail --from 5 --type progress '%s'", jdir), 0);
    assert_seqs(out, false, from5_progress, 3);
    folio_free(out);
    drop_base(base, jdir);
}

/* ---- tail --follow against a live writer --------------------------------------- */

struct child {
    pid_t pid;
    int out_fd; /* read end of the child's stdout */
    char buf[1 << 20];
    size_t len;
};

/* The follower's pid while it runs, so a failed assertion cannot leave it behind. */
static pid_t follower_pid;

static int
kill_follower(void **state)
{
    if (follower_pid > 0) {
        kill(follower_pid, SIGKILL);
        waitpid(follower_pid, NULL, 0);
        follower_pid = 0;
    }
    return 0;
}

static void
child_start(struct child *c, const char *jdir)
{
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    fflush(NULL);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        execl(FOLIO_CLI_PATH, "folio", "journal", "tail", "--follow", "--from", "1", "--json", jdir,
              (char *)NULL);
        _exit(127);
    }
    follower_pid = c->pid;
    close(fds[1]);
    c->out_fd = fds[0];
    c->len = 0;
}

/* Reads the child's output until it holds `lines` lines or 20 s pass. */
static void
child_read_lines(struct child *c, size_t lines)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        size_t have = 0;
        for (size_t i = 0; i < c->len; i++)
            have += c->buf[i] == '\n';
        if (have >= lines)
            return;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 20)
            fail_msg("tail --follow printed %zu of %zu lines in 20 s", have, lines);
        struct pollfd p = {.fd = c->out_fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = read(c->out_fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
        assert_true(n > 0);
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
    }
}

static void
test_tail_follow_live(void **state)
{
    char *dir = tu_mkdtemp("cli-follow"), *out = NULL;
    struct folio_journal *j = journal_open_small(dir);
    struct child *c = folio_calloc(1, sizeof(*c));
    append_typed(j, 1, 3);
    child_start(c, dir);
    child_read_lines(c, 3); /* caught up before anything new exists */

    /* Appended while the child follows: enough 600-byte events to roll segments twice. */
    uint64_t next = 4;
    for (int round = 0; round < 100; round++) {
        size_t lens[4];
        uint8_t *bufs[4];
        struct folio_journal_entry es[4];
        size_t n = (size_t)round % 4 + 1;
        for (size_t i = 0; i < n; i++) {
            bufs[i] = tu_make_event(next + i, 600, &lens[i]);
            es[i] = (struct folio_journal_entry){bufs[i], lens[i]};
        }
        uint64_t first = 0;
        assert_int_equal(folio_journal_append(j, es, n, &first), 0);
        assert_int_equal(first, next);
        for (size_t i = 0; i < n; i++)
            folio_free(bufs[i]);
        next += n;
        if (round % 17 == 0)
            child_read_lines(c, next - 1); /* sometimes wait, sometimes let them pile up */
    }
    child_read_lines(c, next - 1);
    struct folio_journal_stats st;
    folio_journal_get_stats(j, &st);
    assert_true(st.segments_rolled >= 2);

    uint64_t want[512];
    for (uint64_t s = 1; s < next; s++)
        want[s - 1] = s;
    assert_seqs(c->buf, true, want, next - 1);

    assert_int_equal(kill(c->pid, SIGTERM), 0);
    int status = 0;
    while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
        ;
    follower_pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* Nothing more came after the last event. */
    ssize_t n = read(c->out_fd, c->buf, sizeof(c->buf));
    assert_int_equal(n, 0);
    close(c->out_fd);
    folio_free(c);
    folio_journal_close(j);

    assert_int_equal(cli(&out, "journal verify '%s'", dir), 0);
    folio_free(out);
    tu_rmrf(dir);
    folio_free(dir);
}

/* A reader that closes the pipe early is not an error (and no SIGPIPE death). */
static void
test_closed_pipe(void **state)
{
    char *dir = tu_mkdtemp("cli-pipe"), *out = NULL;
    struct folio_journal *j = journal_open_small(dir);
    for (uint64_t s = 1; s <= 400; s += 4) {
        size_t lens[4];
        uint8_t *bufs[4];
        struct folio_journal_entry es[4];
        for (size_t i = 0; i < 4; i++) {
            bufs[i] = tu_make_event(s + i, 600, &lens[i]);
            es[i] = (struct folio_journal_entry){bufs[i], lens[i]};
        }
        assert_int_equal(folio_journal_append(j, es, 4, NULL), 0);
        for (size_t i = 0; i < 4; i++)
            folio_free(bufs[i]);
    }
    folio_journal_close(j);
    /*
     * ~250 KiB of output, far more than a pipe holds, so head exits while folio
     * still writes. The shell reports folio's own exit status on fd 3.
     */
    char cmd[4200];
    snprintf(cmd, sizeof(cmd),
             "exec 3>&1; { '%s' journal inspect '%s'; echo \"status=$?\" >&3; } | head -n 1 "
             ">/dev/null",
             FOLIO_CLI_PATH, dir);
    assert_int_equal(tu_system(cmd, &out), 0);
    assert_string_equal(out, "status=0\n");
    folio_free(out);
    tu_rmrf(dir);
    folio_free(dir);
}

static void
test_help_and_usage(void **state)
{
    static const char *const cmds[] = {"inspect", "verify", "tail", "stats"};
    char *out = NULL, *dir = tu_mkdtemp("cli-empty");
    assert_int_equal(cli(&out, "--help"), 0);
    assert_non_null(strstr(out, "Exit codes:"));
    assert_non_null(strstr(out, "  66  no such journal"));
    folio_free(out);
    assert_int_equal(cli(&out, "journal --help"), 0);
    assert_non_null(strstr(out, "usage: folio journal <command>"));
    folio_free(out);
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(cmds); i++) {
        char want[64];
        assert_int_equal(cli(&out, "journal %s --help", cmds[i]), 0);
        snprintf(want, sizeof(want), "usage: folio journal %s DIR", cmds[i]);
        assert_ptr_equal(strstr(out, want), out);
        folio_free(out);
    }
    assert_int_equal(cli(NULL, "bogus 2>/dev/null"), 64);
    assert_int_equal(cli(NULL, "2>/dev/null"), 64);
    assert_int_equal(cli(NULL, "journal bogus 2>/dev/null"), 64);
    assert_int_equal(cli(NULL, "journal 2>/dev/null"), 64);
    assert_int_equal(cli(NULL, "journal inspect 2>/dev/null"), 64);
    assert_int_equal(cli(NULL, "journal inspect a b 2>/dev/null"), 64);
    assert_int_equal(cli(NULL, "journal inspect --bogus '%s' 2>/dev/null", dir), 64);
    assert_int_equal(cli(NULL, "journal verify '%s/missing' 2>/dev/null", dir), 66);
    assert_int_equal(cli(NULL, "journal verify '%s' 2>/dev/null", dir), 66); /* no segments */
    assert_int_equal(cli(NULL, "journal inspect '%s' 2>/dev/null", dir), 66);
    assert_int_equal(cli(NULL, "journal tail '%s' 2>/dev/null", dir), 66);
    assert_int_equal(cli(NULL, "journal stats '%s' 2>/dev/null", dir), 66);
    tu_rmrf(dir);
    folio_free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inspect_text_and_json),
        cmocka_unit_test(test_inspect_filters),
        cmocka_unit_test(test_verify_sound),
        cmocka_unit_test(test_flipped_byte_is_corruption),
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_tail_without_follow),
        cmocka_unit_test_teardown(test_tail_follow_live, kill_follower),
        cmocka_unit_test(test_closed_pipe),
        cmocka_unit_test(test_help_and_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
