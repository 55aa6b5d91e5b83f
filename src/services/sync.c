/* sync.c - sync_run: one run of the library sync engine for one user (see
 * sync.h for the contract, sync_internal.h for how the collections share
 * the work).
 *
 * A run is recorded in sync_runs before anything is fetched ("running") and
 * finished with its status ("done" | "failed" | "deferred" | "stopped"), the requests
 * it spent (spotify_thread_requests: the calls run in this thread and in
 * its helper), the items added and removed, and the error. Collections run
 * one after the other in a fixed order; each commits on its own, so a
 * failure in one keeps the ones before it and leaves its own previous copy
 * intact. The followed-artists cursor walk (one page after the other, so
 * latency-bound) is fetched on a helper thread while the collections before
 * it run; the run joins it at its turn and writes it there, so the
 * collections are still written and reported in the same order. (Page
 * callbacks, catalog writes and progress reports may run on the thread a
 * Spotify call parses on, spotify_delivery.c: one at a time, while the run's
 * thread waits for the call.) When an earlier collection fails the helper
 * is told to stop and what it fetched is dropped. The stopping hook is asked
 * before each collection and each page: a stop ends the run with
 * KT_ERR_CONFLICT (SYNC_CODE_STOPPED), recorded as "stopped". A long rate
 * limit (KT_ERR_DEFERRED) or a refused refresh token (KT_ERR_REAUTH) stops
 * the run at once and is returned as is, retry_at_ms included.
 */
#include "services/sync.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "services/sync_internal.h"
#include "store/store_auth.h"
#include "store/store_library.h"

typedef struct what_name {
    const char *name;
    unsigned bits;
} what_name;

static const what_name names[] = {
    {"liked", SYNC_LIKED},         {"playlists", SYNC_PLAYLISTS}, {"albums", SYNC_ALBUMS},
    {"shows", SYNC_SHOWS},         {"episodes", SYNC_EPISODES},   {"following", SYNC_FOLLOWING},
    {"top", SYNC_TOP},             {"recent", SYNC_RECENT},       {"library", SYNC_LIBRARY},
    {"all", SYNC_ALL},
};
#define N_SINGLE 8 /* the first 8 names are single bits, in run order */

kt_status sync_parse_what(const char *csv, unsigned *out, kt_err *err)
{
    unsigned bits = 0;
    const char *p = csv;
    if (!csv || !*csv) {
        *out = SYNC_ALL;
        return KT_OK;
    }
    while (*p) {
        size_t n = strcspn(p, ",");
        size_t k;
        for (k = 0; k < sizeof names / sizeof names[0]; k++)
            if (strlen(names[k].name) == n && strncmp(names[k].name, p, n) == 0)
                break;
        if (k == sizeof names / sizeof names[0])
            return err_set(err, KT_ERR_INVALID, "bad_what",
                           "unknown collection '%.*s' (known: liked, playlists, albums, shows, "
                           "episodes, following, top, recent, library, all)",
                           (int)(n > 40 ? 40 : n), p);
        bits |= names[k].bits;
        p += n;
        if (*p == ',')
            p++;
    }
    if (bits == 0)
        return err_set(err, KT_ERR_INVALID, "bad_what", "nothing to sync");
    *out = bits;
    return KT_OK;
}

void sync_format_what(unsigned what, char *out, size_t size)
{
    size_t at = 0;
    if (size == 0)
        return;
    out[0] = '\0';
    for (size_t k = 0; k < N_SINGLE; k++) {
        if (!(what & names[k].bits))
            continue;
        int w = snprintf(out + at, size - at, "%s%s", at ? "," : "", names[k].name);
        if (w < 0 || (size_t)w >= size - at)
            break;
        at += (size_t)w;
    }
}

static kt_status run_one(sync_ctx *c, unsigned bit, kt_err *err)
{
    switch (bit) {
    case SYNC_LIKED: return sync_saved(c, SPOTIFY_SAVED_TRACK, err);
    case SYNC_PLAYLISTS: return sync_playlists(c, err);
    case SYNC_ALBUMS: return sync_saved(c, SPOTIFY_SAVED_ALBUM, err);
    case SYNC_SHOWS: return sync_saved(c, SPOTIFY_SAVED_SHOW, err);
    case SYNC_EPISODES: return sync_saved(c, SPOTIFY_SAVED_EPISODE, err);
    case SYNC_FOLLOWING: return sync_following(c, err);
    case SYNC_TOP: return sync_top(c, err);
    case SYNC_RECENT: return sync_recent(c, err);
    default: return err_set(err, KT_ERR_INTERNAL, NULL, "unknown sync bit %u", bit);
    }
}

/* The followed-artists walk on its own thread (see the top of this file). */
typedef struct follow_job {
    sync_ctx c;         /* the helper's own: no progress, own catalog and written set */
    sync_list list;     /* the walk's result, once joined with st == KT_OK */
    kt_status st;
    kt_err err;
    uint64_t requests;  /* spent by the helper thread */
    atomic_int stop;
    pthread_t tid;
    int running;        /* started and not yet joined */
} follow_job;

static void *follow_main(void *arg)
{
    follow_job *j = arg;
    uint64_t r0 = spotify_thread_requests();
    j->st = sync_following_fetch(&j->c, &j->list, &j->err);
    j->requests = spotify_thread_requests() - r0;
    return NULL;
}

/* Starts the walk when following runs after another collection that needs
 * the network; 0 (run it in turn) when that is pointless or impossible. */
static int follow_start(follow_job *j, const sync_ctx *c, unsigned what)
{
    if (!(what & SYNC_FOLLOWING) ||
        !(what & (SYNC_LIKED | SYNC_PLAYLISTS | SYNC_ALBUMS | SYNC_SHOWS | SYNC_EPISODES)))
        return 0;
    j->c = (sync_ctx){.app = c->app, .user_id = c->user_id, .hold_catalog = 1,
                      .stop = &j->stop, .stopping = c->stopping,
                      .progress_ctx = c->progress_ctx};
    memcpy(j->c.spotify_id, c->spotify_id, sizeof j->c.spotify_id);
    err_clear(&j->err);
    atomic_init(&j->stop, 0);
    if (!(j->c.written = strset_new()))
        return 0;
    if (pthread_create(&j->tid, NULL, follow_main, j) != 0) {
        LOG_WARN("sync_follow_thread", "could not start a thread: following runs in turn");
        strset_free(j->c.written);
        j->c.written = NULL;
        return 0;
    }
    j->running = 1;
    return 1;
}

static void follow_join(follow_job *j)
{
    if (!j->running)
        return;
    pthread_join(j->tid, NULL);
    j->running = 0;
}

/* Following's turn: the helper's result written in one transaction. */
static kt_status follow_finish(follow_job *j, sync_ctx *c, kt_err *err)
{
    kt_status st;
    follow_join(j);
    if (j->st != KT_OK) {
        *err = j->err;
        return j->st;
    }
    st = sync_following_write(&j->c, &j->list, err);
    c->added += j->c.added;
    c->removed += j->c.removed;
    c->db_ms += j->c.db_ms;
    j->c.added = j->c.removed = j->c.db_ms = 0;
    return st;
}

/* Stops and frees the helper (any state). */
static void follow_free(follow_job *j)
{
    atomic_store(&j->stop, 1);
    follow_join(j);
    sync_list_free(&j->list);
    sync_cat_clear(&j->c.cat);
    strset_free(j->c.written);
    j->c.written = NULL;
}

/* Reads the user's Spotify id (owner of "own" playlists). */
static kt_status load_user(sync_ctx *c, kt_err *err)
{
    store *s = NULL;
    store_user u = {0};
    kt_status st = sync_db(c, &s, err);
    if (st != KT_OK)
        return st;
    st = store_user_get(s, c->user_id, &u, err);
    sync_db_put(c, s);
    if (st != KT_OK)
        return st;
    snprintf(c->spotify_id, sizeof c->spotify_id, "%s", u.spotify_id ? u.spotify_id : "");
    if (u.status && strcmp(u.status, STORE_USER_ACTIVE) != 0)
        st = err_set(err, KT_ERR_REAUTH, "reauth_required",
                     "this account is %s: log in with Spotify again before syncing", u.status);
    store_user_clear(&u);
    return st;
}

static void record(sync_ctx *c, int64_t run_id, const char *status, uint64_t requests,
                   const char *error)
{
    store *s = NULL;
    kt_err e;
    err_clear(&e);
    if (run_id <= 0)
        return;
    if (sync_db(c, &s, &e) == KT_OK) {
        if (store_sync_run_finish(s, run_id, status, time_now_ms(), (int64_t)requests, c->added,
                                  c->removed, error, &e) != KT_OK)
            LOG_WARN("sync_record_failed", "run=%lld error=%s", (long long)run_id, e.msg);
        sync_db_put(c, s);
    } else {
        LOG_WARN("sync_record_failed", "run=%lld error=%s", (long long)run_id, e.msg);
    }
}

/* The run's status word for sync_runs. */
static const char *run_status(kt_status st, const kt_err *err)
{
    if (st == KT_OK)
        return "done";
    if (st == KT_ERR_DEFERRED)
        return "deferred";
    if (st == KT_ERR_CONFLICT && strcmp(err->code, SYNC_CODE_STOPPED) == 0)
        return "stopped";
    return "failed";
}

kt_status sync_run(kt_app *app, int64_t user_id, unsigned what, sync_progress_fn progress,
                   sync_stopping_fn stopping, void *ctx, kt_err *out_err)
{
    kt_err e, *err = &e;
    err_clear(&e);
    sync_ctx c = {.app = app, .user_id = user_id, .progress = progress, .stopping = stopping,
                  .progress_ctx = ctx};
    char what_s[128];
    int64_t run_id = 0;
    store *s = NULL;
    uint64_t req0 = spotify_thread_requests();
    int64_t t0 = time_mono_ms();
    follow_job fj = {0};
    int helper = 0;
    kt_status st;
    what &= SYNC_ALL;
    if (!app || what == 0)
        return err_set(out_err, KT_ERR_INVALID, "bad_what", "nothing to sync");
    sync_format_what(what, what_s, sizeof what_s);
    if (!(c.written = strset_new()))
        return err_set(out_err, KT_ERR_NOMEM, NULL, "out of memory");
    if ((st = sync_db(&c, &s, err)) == KT_OK) {
        st = store_sync_run_start(s, user_id, what_s, time_now_ms(), &run_id, err);
        sync_db_put(&c, s);
    }
    if (st == KT_OK)
        st = load_user(&c, err);
    for (size_t k = 0; k < N_SINGLE; k++)
        c.steps += (what & names[k].bits) ? 1 : 0;
    if (st == KT_OK)
        helper = follow_start(&fj, &c, what);
    for (size_t k = 0; k < N_SINGLE && st == KT_OK; k++) {
        if (!(what & names[k].bits))
            continue;
        sync_report(&c, "%s", names[k].name);
        if ((st = sync_check_stop(&c, err)) != KT_OK)
            break;
        if (helper && names[k].bits == SYNC_FOLLOWING)
            st = follow_finish(&fj, &c, err);
        else
            st = run_one(&c, names[k].bits, err);
        sync_cat_clear(&c.cat);
        c.step++;
    }
    follow_free(&fj);
    uint64_t requests = spotify_thread_requests() - req0 + fj.requests;
    const char *status = run_status(st, err);
    if (st == KT_OK)
        sync_report(&c, "done");
    record(&c, run_id, status, requests, st == KT_OK ? NULL : err->msg);
    LOG_INFO("sync_run",
             "user=%lld what=%s status=%s requests=%llu added=%lld removed=%lld wall_ms=%lld "
             "db_ms=%lld error=%s",
             (long long)user_id, what_s, status, (unsigned long long)requests,
             (long long)c.added, (long long)c.removed, (long long)(time_mono_ms() - t0),
             (long long)c.db_ms, st == KT_OK ? "" : err->msg);
    sync_cat_clear(&c.cat);
    strset_free(c.written);
    if (st != KT_OK && out_err)
        *out_err = e;
    return st;
}
