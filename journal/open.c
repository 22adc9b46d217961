/*
 * Opening and closing a journal for writing.
 *
 * Open takes the writer lock (flock on DIR/LOCK), removes leftover next.tmp
 * files, walks the whole journal (journal_walk), and then either creates the
 * first segment, continues after the last good frame, recovers a torn tail
 * (recover.c) or refuses to open on corruption. It starts the writer and
 * preparer threads and, after a recovery, appends a journal_recovered event.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folio/clock.h"
#include "folio/common.h"
#include "folio/error.h"
#include "folio/io.h"
#include "journal_int.h"

void
folio_journal_opts_default(struct folio_journal_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->segment_bytes = SEG_BYTES_DEFAULT;
    opts->frame_body_max = FRAME_BODY_MAX_DEFAULT;
    opts->frame_events_max = 4096;
    opts->queue_bytes_max = 8u << 20;
    opts->group_window_us = 0;
    opts->create = false;
}

static int
opts_normalise(const struct folio_journal_opts *in, struct folio_journal_opts *out)
{
    folio_journal_opts_default(out);
    if (in != NULL)
        *out = *in;
    if (out->segment_bytes < SEG_BYTES_MIN || out->segment_bytes > SEG_BYTES_MAX ||
        out->segment_bytes % 4096 != 0)
        return FOLIO_E_INVALID;
    uint64_t body_cap = out->segment_bytes / 4;
    if (out->frame_body_max == 0 || out->frame_body_max > FRAME_BODY_MAX_DEFAULT)
        out->frame_body_max = FRAME_BODY_MAX_DEFAULT;
    if (out->frame_body_max > body_cap)
        out->frame_body_max = (uint32_t)body_cap;
    out->frame_body_max &= ~(uint32_t)(FRAME_ALIGN - 1);
    if (out->frame_body_max < FRAME_BODY_MIN)
        return FOLIO_E_INVALID;
    if (out->frame_events_max == 0)
        out->frame_events_max = 4096;
    if (out->queue_bytes_max < out->frame_body_max)
        out->queue_bytes_max = out->frame_body_max;
    return FOLIO_OK;
}

static int
lock_dir(struct folio_journal *j, struct folio_journal_diag *diag)
{
    char path[4096];
    journal_path(j, "LOCK", path, sizeof(path));
    j->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (j->lock_fd < 0) {
        journal_diag_set(diag, "", 0, 0, "cannot open %s: %s", path, strerror(errno));
        return folio_err_from_errno(errno);
    }
    if (flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        journal_diag_set(diag, "", 0, 0, "journal %s is open for writing by another process",
                         j->dir);
        return FOLIO_E_LOCKED;
    }
    return FOLIO_OK;
}

static int
make_dir(const char *dir, bool create, struct folio_journal_diag *diag)
{
    struct stat st;
    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? FOLIO_OK : FOLIO_E_INVALID;
    if (!create) {
        journal_diag_set(diag, "", 0, 0, "no journal at %s", dir);
        return FOLIO_E_NOT_FOUND;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        journal_diag_set(diag, "", 0, 0, "cannot create %s: %s", dir, strerror(errno));
        return folio_err_from_errno(errno);
    }
    return FOLIO_OK;
}

/* Continues the newest segment at the walk's end position. */
static int
resume_segment(struct folio_journal *j, const struct walk_end *end,
               struct folio_journal_diag *diag)
{
    char path[4096];
    seg_name(end->last_first_seq, j->seg_name);
    journal_path(j, j->seg_name, path, sizeof(path));
    memcpy(j->journal_uid, end->hdr.journal_uid, 16);
    j->seg_hdr = end->hdr;
    j->seg_offset = end->offset;
    j->seg_frames = end->frames;
    j->last_hash = end->last_hash;
    j->written_seq = end->next_seq - 1;
    if (end->hdr.frame_body_max < j->frame_body_max)
        j->frame_body_max = end->hdr.frame_body_max;
    if (end->sealed) {
        int fd = -1;
        int err = segment_take_prepared(j, &fd);
        if (err != FOLIO_OK) {
            journal_diag_set(diag, j->seg_name, 0, end->next_seq,
                             "cannot prepare the next segment: %s", folio_err_message(err));
            return err;
        }
        segment_install(j, fd, end->next_seq, end->hdr.segment_no + 1, end->last_hash);
        return FOLIO_OK;
    }
    j->seg_fd = folio_io_open(path, O_RDWR, 0);
    if (j->seg_fd < 0) {
        journal_diag_set(diag, j->seg_name, 0, 0, "cannot open for writing: %s",
                         strerror(errno));
        return folio_err_from_errno(errno);
    }
    return FOLIO_OK;
}

/* Builds and appends the journal_recovered event describing a repaired tail. */
static int
append_recovered_event(struct folio_journal *j, const struct folio_journal_diag *where,
                       const struct walk_end *end, const char *quarantine,
                       struct folio_journal_open_info *info)
{
    struct folio_event ev = {.type = FOLIO_EV_JOURNAL_RECOVERED, .at_ns = folio_clock_now_ns()};
    struct folio_ev_journal_recovered *r = &ev.u.journal_recovered;
    r->segment = folio_str_c(where->segment);
    r->offset = end->offset;
    r->bytes_dropped = end->damage_end - end->offset;
    r->quarantine = folio_str_c(quarantine);
    r->reason = folio_str_c(where->reason);
    r->last_valid_seq = end->next_seq - 1;
    uint8_t *buf = NULL;
    size_t len = 0;
    int err = folio_event_encode(&ev, &buf, &len);
    if (err != FOLIO_OK)
        return err;
    struct folio_journal_entry e = {buf, len};
    uint64_t seq = 0;
    err = folio_journal_append(j, &e, 1, &seq);
    folio_free(buf);
    if (info != NULL)
        info->recovered_seq = seq;
    return err;
}

static int
threads_start(struct folio_journal *j)
{
    if (pthread_create(&j->preparer, NULL, segment_preparer_main, j) != 0)
        return FOLIO_E_NOMEM;
    j->preparer_started = true;
    segment_request_prepare(j);
    if (pthread_create(&j->writer, NULL, journal_writer_main, j) != 0)
        return FOLIO_E_NOMEM;
    j->writer_started = true;
    return FOLIO_OK;
}

static struct folio_journal *
journal_alloc(const char *dir, const struct folio_journal_opts *opts)
{
    struct folio_journal *j = folio_calloc(1, sizeof(*j));
    j->dir = folio_strdup(dir);
    j->opts = *opts;
    j->lock_fd = -1;
    j->seg_fd = -1;
    j->prep_fd = -1;
    j->head.fd = -1;
    j->frame_body_max = opts->frame_body_max;
    j->frame_buf = folio_malloc(frame_disk_bytes(opts->frame_body_max));
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv_work, NULL);
    pthread_cond_init(&j->cv_space, NULL);
    pthread_mutex_init(&j->prep_mu, NULL);
    pthread_cond_init(&j->prep_cv, NULL);
    return j;
}

/* Finds the append position: a new journal, a sound one, or one with a torn tail. */
static int
journal_position(struct folio_journal *j, struct folio_journal_open_info *info,
                 struct folio_journal_diag *diag, bool *recovered, struct walk_end *end,
                 char *quarantine, size_t quarantine_len)
{
    int err = journal_walk(j->dir, false, end, NULL, diag);
    if (err == FOLIO_E_NOT_FOUND && j->opts.create) {
        if (journal_random_bytes(j->journal_uid, 16) != FOLIO_OK)
            return FOLIO_E_IO;
        err = segment_create_first(j);
        if (err != FOLIO_OK)
            journal_diag_set(diag, "", 0, 1, "cannot create the first segment: %s",
                             folio_err_message(err));
        return err;
    }
    if (err == FOLIO_E_TORN_TAIL) {
        if (info != NULL)
            info->recovery = *diag;
        err = journal_recover_torn_tail(j, end, quarantine, quarantine_len);
        if (err != FOLIO_OK)
            return err;
        *recovered = true;
    }
    if (err != FOLIO_OK)
        return err;
    return resume_segment(j, end, diag);
}

static void
remove_tmp_files(struct folio_journal *j)
{
    char path[4096];
    journal_path(j, "next.tmp", path, sizeof(path));
    if (access(path, F_OK) == 0)
        (void)folio_io_unlink(path);
}

int
folio_journal_open(const char *dir, const struct folio_journal_opts *opts_in,
                   struct folio_journal **out, struct folio_journal_open_info *info,
                   struct folio_journal_diag *diag)
{
    struct folio_journal_opts opts;
    struct folio_journal_diag local_diag;
    if (diag == NULL)
        diag = &local_diag;
    memset(diag, 0, sizeof(*diag));
    if (info != NULL)
        memset(info, 0, sizeof(*info));
    int err = opts_normalise(opts_in, &opts);
    if (err != FOLIO_OK)
        return err;
    err = make_dir(dir, opts.create, diag);
    if (err != FOLIO_OK)
        return err;
    struct folio_journal *j = journal_alloc(dir, &opts);
    struct walk_end end;
    memset(&end, 0, sizeof(end));
    bool recovered = false;
    char quarantine[SEG_NAME_LEN + 32];
    struct folio_journal_diag where;
    err = lock_dir(j, diag);
    if (err != FOLIO_OK)
        goto fail;
    remove_tmp_files(j);
    err = journal_position(j, info, diag, &recovered, &end, quarantine, sizeof(quarantine));
    if (err != FOLIO_OK)
        goto fail;
    where = *diag;
    memset(diag, 0, sizeof(*diag));
    j->next_seq = j->written_seq + 1;
    j->durable_seq = j->written_seq;
    err = head_open(dir, true, &j->head);
    if (err != FOLIO_OK)
        goto fail;
    head_store(&j->head, j->durable_seq);
    err = threads_start(j);
    if (err != FOLIO_OK)
        goto fail;
    if (recovered) {
        err = append_recovered_event(j, &where, &end, quarantine, info);
        if (err != FOLIO_OK)
            goto fail;
    }
    if (info != NULL) {
        info->segments = end.segments ? end.segments : 1;
        info->recovered = recovered;
        info->last_seq = folio_journal_durable_seq(j);
    }
    *out = j;
    return FOLIO_OK;
fail:
    folio_journal_close(j);
    return err;
}

void
folio_journal_close(struct folio_journal *j)
{
    if (j == NULL)
        return;
    pthread_mutex_lock(&j->mu);
    j->closing = true;
    pthread_cond_broadcast(&j->cv_work);
    pthread_cond_broadcast(&j->cv_space);
    pthread_mutex_unlock(&j->mu);
    if (j->writer_started)
        pthread_join(j->writer, NULL);
    pthread_mutex_lock(&j->prep_mu);
    j->prep_stop = true;
    pthread_cond_broadcast(&j->prep_cv);
    pthread_mutex_unlock(&j->prep_mu);
    if (j->preparer_started)
        pthread_join(j->preparer, NULL);
    if (j->prep_fd >= 0)
        close(j->prep_fd);
    if (j->seg_fd >= 0)
        close(j->seg_fd);
    head_close(&j->head);
    if (j->lock_fd >= 0)
        close(j->lock_fd);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv_work);
    pthread_cond_destroy(&j->cv_space);
    pthread_mutex_destroy(&j->prep_mu);
    pthread_cond_destroy(&j->prep_cv);
    folio_free(j->frame_buf);
    folio_free(j->dir);
    folio_free(j);
}
