/* sync.c - sync_run: one run of the library sync engine for one user (see
 * sync.h for the contract, sync_internal.h for how the collections share
 * the work).
 *
 * A run is recorded in sync_runs before anything is fetched ("running") and
 * finished with its status ("done" | "failed" | "deferred" | "stopped"), the requests
 * it spent (spotify_thread_requests: the calls run in this thread and in
 * its helpers), the items added and removed, and the error. Collections run
 * in a fixed order and each commits on its own, so a failure in one keeps
 * what committed before it and leaves its own previous copy intact.
 *
 * Overlap (issues 16 and 20): playlists and followed artists, when some
 * collection runs before them, are synced whole (fetch and their one
 * transaction) on helper threads started with the run, while this thread
 * runs the others in order; at a helper's turn the run waits for it and
 * takes its result. This thread's requests yield the user's request slots
 * to the helpers' (spotify_thread_yield): the playlists are fetched first
 * and their large write overlaps Liked Songs' remaining pages, whose own
 * requests fill every slot the helpers leave, so the 8 slots stay full from
 * the first request to the last and only the last collection's write is
 * serial. The threads share one catalog queue and one write lock
 * (sync_internal.h): one writer at a time, every catalog row a collection
 * refers to committed before it. A helper's collection may thus commit
 * before an earlier collection does, or even when an earlier one fails;
 * each is still either its previous copy or the new one, never half of
 * either. (Page callbacks, catalog writes and progress reports may run on
 * the thread a Spotify call parses on, spotify_delivery.c.) When a
 * collection fails, the helpers still running are told to stop and their
 * collections keep their previous copy. The stopping hook is asked
 * before each collection and each page: a stop ends the run with
 * KT_ERR_CONFLICT (SYNC_CODE_STOPPED), recorded as "stopped". A long rate
 * limit (KT_ERR_DEFERRED) or a refused refresh token (KT_ERR_REAUTH) stops
 * the run (at once on this thread, at its turn on a helper) and is returned
 * as is, retry_at_ms included.
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

/* A collection synced on a thread of its own (see the top of this file). */
typedef struct coll_job {
    sync_ctx c;         /* the helper's own (no progress), sharing the run's sync_shared */
    unsigned bit;       /* the collection (SYNC_PLAYLISTS or SYNC_FOLLOWING) */
    kt_status st;       /* its result, once joined */
    kt_err err;
    uint64_t requests;  /* spent by the helper thread */
    atomic_int stop;
    pthread_t tid;
    int running;        /* started and not yet joined */
} coll_job;

/* The collections that get a helper, in run order. */
static const unsigned helper_bits[] = {SYNC_PLAYLISTS, SYNC_FOLLOWING};
#define N_HELPERS (sizeof helper_bits / sizeof helper_bits[0])

/* What a collection on a helper runs behind: every collection before it in
 * run order that spends requests (all of them do). */
static unsigned before_bits(unsigned bit)
{
    unsigned before = 0;
    for (size_t k = 0; k < N_SINGLE && names[k].bits != bit; k++)
        before |= names[k].bits;
    return before;
}

static void *job_main(void *arg)
{
    coll_job *j = arg;
    uint64_t r0 = spotify_thread_requests();
    j->st = run_one(&j->c, j->bit, &j->err);
    j->requests = spotify_thread_requests() - r0;
    return NULL;
}

/* Starts collection j->bit on a helper when it is selected behind another
 * selected collection; 0 (run it in turn) when that is pointless or the
 * thread cannot start. */
static int job_start(coll_job *j, const sync_ctx *c, unsigned what)
{
    if (!(what & j->bit) || !(what & before_bits(j->bit)))
        return 0;
    j->c = (sync_ctx){.app = c->app, .user_id = c->user_id, .sh = c->sh, .stop = &j->stop,
                      .stopping = c->stopping, .progress_ctx = c->progress_ctx};
    memcpy(j->c.spotify_id, c->spotify_id, sizeof j->c.spotify_id);
    err_clear(&j->err);
    atomic_init(&j->stop, 0);
    if (pthread_create(&j->tid, NULL, job_main, j) != 0) {
        LOG_WARN("sync_helper_thread", "could not start a thread: the collection runs in turn");
        return 0;
    }
    j->running = 1;
    return 1;
}

static void job_join(coll_job *j)
{
    if (!j->running)
        return;
    pthread_join(j->tid, NULL);
    j->running = 0;
}

/* The helper's turn: waits for it and takes its counts and result. */
static kt_status job_finish(coll_job *j, sync_ctx *c, kt_err *err)
{
    job_join(j);
    c->added += j->c.added;
    c->removed += j->c.removed;
    c->db_ms += j->c.db_ms;
    j->c.added = j->c.removed = j->c.db_ms = 0;
    if (j->st != KT_OK)
        *err = j->err;
    return j->st;
}

/* Stops and frees the helper (any state); what it already committed stays. */
static void job_free(coll_job *j, sync_ctx *c)
{
    atomic_store(&j->stop, 1);
    job_join(j);
    c->added += j->c.added;
    c->removed += j->c.removed;
    c->db_ms += j->c.db_ms;
    j->c.added = j->c.removed = j->c.db_ms = 0;
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

/* Records a successful run as "done" and runs the commit hook in the same
 * transaction (sync_commit_fn). */
static kt_status record_done(sync_ctx *c, int64_t run_id, uint64_t requests, kt_err *err)
{
    store *s = NULL;
    kt_status st = sync_db(c, &s, err);
    if (st != KT_OK)
        return st;
    if ((st = store_begin(s, err)) == KT_OK &&
        (st = store_sync_run_finish(s, run_id, "done", time_now_ms(), (int64_t)requests,
                                    c->added, c->removed, NULL, err)) == KT_OK &&
        (st = c->commit(c->progress_ctx, s, err)) == KT_OK)
        st = store_commit(s, err);
    store_rollback(s); /* no-op after the commit */
    sync_db_put(c, s);
    return st;
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
                   sync_stopping_fn stopping, sync_commit_fn commit, void *ctx, kt_err *out_err)
{
    kt_err e, *err = &e;
    err_clear(&e);
    sync_ctx c = {.app = app, .user_id = user_id, .progress = progress, .stopping = stopping,
                  .commit = commit, .progress_ctx = ctx};
    char what_s[128];
    int64_t run_id = 0;
    store *s = NULL;
    uint64_t req0 = spotify_thread_requests();
    int64_t t0 = time_mono_ms(), wall0 = time_now_ms();
    coll_job jobs[N_HELPERS];
    sync_shared sh;
    unsigned helpers = 0; /* bits of the collections running on a helper */
    kt_status st;
    memset(jobs, 0, sizeof jobs);
    c.sh = &sh;
    what &= SYNC_ALL;
    if (!app || what == 0)
        return err_set(out_err, KT_ERR_INVALID, "bad_what", "nothing to sync");
    sync_format_what(what, what_s, sizeof what_s);
    if ((st = sync_shared_init(&sh, out_err)) != KT_OK)
        return st;
    if ((st = sync_db(&c, &s, err)) == KT_OK) {
        st = store_sync_run_start(s, user_id, what_s, time_now_ms(), &run_id, err);
        sync_db_put(&c, s);
    }
    if (st == KT_OK)
        st = load_user(&c, err);
    for (size_t k = 0; k < N_SINGLE; k++)
        c.steps += (what & names[k].bits) ? 1 : 0;
    for (size_t h = 0; h < N_HELPERS && st == KT_OK; h++) {
        jobs[h].bit = helper_bits[h];
        if (job_start(&jobs[h], &c, what))
            helpers |= helper_bits[h];
    }
    /* The helpers' collections are written later in run order than this
     * thread's: they fetch first, this thread's requests fill what is left. */
    int yielded = spotify_thread_yield(helpers != 0);
    for (size_t k = 0; k < N_SINGLE && st == KT_OK; k++) {
        if (!(what & names[k].bits))
            continue;
        sync_report(&c, "%s", names[k].name);
        if ((st = sync_check_stop(&c, err)) != KT_OK)
            break;
        if (helpers & names[k].bits) {
            for (size_t h = 0; h < N_HELPERS; h++)
                if (jobs[h].bit == names[k].bits)
                    st = job_finish(&jobs[h], &c, err);
        } else {
            st = run_one(&c, names[k].bits, err);
        }
        c.step++;
    }
    spotify_thread_yield(yielded);
    uint64_t requests = spotify_thread_requests() - req0;
    for (size_t h = 0; h < N_HELPERS; h++) {
        job_free(&jobs[h], &c);
        requests += jobs[h].requests;
    }
    int refused = 0; /* the commit hook's conflict: another worker has the job */
    if (st == KT_OK)
        sync_report(&c, "done");
    if (st == KT_OK && c.commit && run_id > 0) {
        st = record_done(&c, run_id, requests, err);
        if (st == KT_OK)
            run_id = 0; /* recorded */
        refused = st == KT_ERR_CONFLICT;
    }
    const char *status = refused ? "stopped" : run_status(st, err);
    record(&c, run_id, status, requests, st == KT_OK ? NULL : err->msg);
    LOG_INFO("sync_run",
             "user=%lld what=%s status=%s requests=%llu added=%lld removed=%lld wall_ms=%lld "
             "db_ms=%lld error=%s",
             (long long)user_id, what_s, status, (unsigned long long)requests,
             (long long)c.added, (long long)c.removed, (long long)(time_mono_ms() - t0),
             (long long)c.db_ms, st == KT_OK ? "" : err->msg);
    sync_shared_free(&sh);
    sync_span("run", wall0);
    if (st != KT_OK && out_err)
        *out_err = e;
    return st;
}
