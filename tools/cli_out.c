/*
 * Output of the folio CLI: JSON strings written by hand (the CLI links no
 * JSON library; each event's own JSON comes from folio_event_to_json),
 * diagnostics, the event line formats, and the rule for a closed pipe.
 *
 * Invariants: every line of --json output is one complete JSON object;
 * nothing but events and summaries goes to stdout, diagnostics go to stderr;
 * a reader that closes the pipe early (`| head`) ends the command with exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"

int
cli_exit_for(int err)
{
    switch (err) {
    case FOLIO_OK:
    case FOLIO_E_END:
        return CLI_OK;
    case FOLIO_E_TORN_TAIL:
        return CLI_TORN;
    case FOLIO_E_CORRUPT:
    case FOLIO_E_VERSION:
    case FOLIO_E_DECODE:
    case FOLIO_E_UNKNOWN_TYPE:
    case FOLIO_E_TOO_LARGE:
        return CLI_CORRUPT;
    case FOLIO_E_NOT_FOUND:
        return CLI_NO_JOURNAL;
    default:
        return CLI_IO;
    }
}

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0. */
static size_t
utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t need = c < 0x80                 ? 1
                  : c >= 0xc2 && c <= 0xdf ? 2
                  : c >= 0xe0 && c <= 0xef ? 3
                  : c >= 0xf0 && c <= 0xf4 ? 4
                                           : 0;
    if (need <= 1)
        return need;
    /* The second byte's range rules out overlongs, surrogates and > U+10FFFF. */
    unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return need;
}

void
cli_json_str(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    while (*p != '\0') {
        size_t k = utf8_len(p);
        if (*p == '"' || *p == '\\') {
            fputc('\\', f);
            fputc(*p, f);
        } else if (*p < 0x20) {
            fprintf(f, "\\u%04x", *p);
        } else if (k == 0) {
            fputs("\\ufffd", f);
            k = 1;
        } else {
            fwrite(p, 1, k, f);
            p += k;
            continue;
        }
        p++;
    }
    fputc('"', f);
}

void
cli_json_time(FILE *f, int64_t unix_ns, bool have)
{
    char buf[FOLIO_RFC3339_LEN];
    if (!have) {
        fputs("null", f);
        return;
    }
    cli_json_str(f, folio_clock_format_rfc3339(unix_ns, buf, sizeof(buf)));
}

void
cli_diag_print(const char *prefix, const struct folio_journal_diag *d)
{
    fflush(stdout);
    fprintf(stderr, "folio: %ssegment %s offset %" PRIu64 " seq %" PRIu64 ": %s\n", prefix,
            d->segment[0] ? d->segment : "-", d->offset, d->seq, d->reason);
}

/*
 * errno of the first failed write to stdout. stdio keeps only an error flag,
 * and errno is overwritten by whatever runs next, so it is noted right after
 * each printed event; that is how a closed pipe (EPIPE) is told from a full
 * disk when the flag is seen later.
 */
static int out_errno;

static void
out_note_error(void)
{
    if (ferror(stdout) && out_errno == 0)
        out_errno = errno ? errno : EIO;
}

bool
cli_out_failed(void)
{
    return ferror(stdout) != 0;
}

int
cli_out_flush(bool *stop)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout))
        return CLI_OK;
    out_note_error();
    if (stop != NULL)
        *stop = true;
    if (out_errno == EPIPE)
        return CLI_OK;
    fprintf(stderr, "folio: writing output: %s\n", strerror(out_errno));
    return CLI_IO;
}

/*
 * folio_event_to_json renders keys in encoded order, and the encoder always
 * writes seq, type and at first. The text line shows those three as
 * seq=/type=/at=, so they are cut from the front of the JSON; an event
 * written in another key order simply keeps them.
 */
static const char *
json_after_prefix_keys(const char *json)
{
    static const char *const keys[] = {"\"seq\":", "\"type\":", "\"at\":"};
    const char *p = json + 1;
    for (size_t i = 0; i < FOLIO_ARRAY_LEN(keys); i++) {
        size_t n = strlen(keys[i]);
        if (strncmp(p, keys[i], n) != 0)
            return NULL;
        const char *v = p + n;
        if (*v == '"') {
            /* A type name: no escapes possible. */
            const char *q = strchr(v + 1, '"');
            if (q == NULL)
                return NULL;
            v = q + 1;
        } else {
            v += *v == '-';
            while (*v >= '0' && *v <= '9')
                v++;
        }
        if (*v != ',' && *v != '}')
            return NULL;
        p = *v == ',' ? v + 1 : v;
    }
    return p;
}

static void
print_text_line(const struct folio_journal_record *rec, const char *json)
{
    enum folio_event_type type = FOLIO_EV_NONE;
    int64_t at_ns = 0;
    char at[FOLIO_RFC3339_LEN];
    folio_event_peek(rec->data, rec->len, NULL, &type, &at_ns);
    const char *rest = json_after_prefix_keys(json);
    printf("seq=%" PRIu64 " at=%s type=%s segment=%s offset=%" PRIu64 " ", rec->seq,
           folio_clock_format_rfc3339(at_ns, at, sizeof(at)), folio_event_type_name(type),
           rec->segment, rec->frame_offset);
    if (rest == NULL)
        fputs(json, stdout);
    else
        printf("{%s", rest);
    fputc('\n', stdout);
}

int
cli_print_event(const struct folio_journal_record *rec, bool json)
{
    char *ev_json = NULL;
    int err = folio_event_to_json(rec->data, rec->len, &ev_json);
    if (err != FOLIO_OK) {
        struct folio_journal_diag d = {.offset = rec->frame_offset, .seq = rec->seq};
        snprintf(d.segment, sizeof(d.segment), "%s", rec->segment);
        snprintf(d.reason, sizeof(d.reason), "event does not decode: %s", folio_err_message(err));
        cli_diag_print("", &d);
        return CLI_CORRUPT;
    }
    if (json) {
        printf("{\"seq\":%" PRIu64 ",\"segment\":", rec->seq);
        cli_json_str(stdout, rec->segment);
        printf(",\"offset\":%" PRIu64 ",\"frame_at\":%" PRId64 ",\"event\":%s}\n",
               rec->frame_offset, rec->frame_at_ns, ev_json);
    } else {
        print_text_line(rec, ev_json);
    }
    out_note_error();
    folio_free(ev_json);
    return CLI_OK;
}

bool
cli_type_selected(const struct folio_journal_record *rec, uint32_t type_mask, int *err)
{
    enum folio_event_type type = FOLIO_EV_NONE;
    *err = FOLIO_OK;
    if (type_mask == 0)
        return true;
    *err = folio_event_peek(rec->data, rec->len, NULL, &type, NULL);
    if (*err != FOLIO_OK)
        return false;
    return (type_mask & (1u << type)) != 0;
}

bool
cli_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int
cli_resolve_dir(const char *arg, char *dir, size_t dir_len)
{
    struct stat st;
    if (stat(arg, &st) != 0) {
        bool missing = errno == ENOENT || errno == ENOTDIR;
        fprintf(stderr, "folio: no such journal: %s: %s\n", arg, strerror(errno));
        return missing ? CLI_NO_JOURNAL : CLI_IO;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "folio: no such journal: %s: not a directory\n", arg);
        return CLI_NO_JOURNAL;
    }
    int n = snprintf(dir, dir_len, "%s/journal", arg);
    if (n < 0 || (size_t)n >= dir_len) {
        fprintf(stderr, "folio: path too long: %s\n", arg);
        return CLI_USAGE;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        snprintf(dir, dir_len, "%s", arg);
    return CLI_OK;
}
