/* sync.h - the library sync engine: a complete, exact, incremental local
 * copy of one user's Spotify library.
 *
 * sync_run() fetches what changed through the Spotify client and replaces
 * each collection in the store in one transaction, so a failed sync leaves
 * the previous copy intact. Every run is recorded in sync_runs (what, when,
 * requests spent, items added/removed, error). It is called by the job
 * queue (job kind "sync") and by `keeptrack sync` in the foreground; it
 * never parses HTTP and never sleeps on a long rate limit (it returns
 * KT_ERR_DEFERRED with err->retry_at_ms and the job is resumed later).
 *
 * Thread use: sync_run may run for different users on different threads at
 * once; two runs for the same user at once are the job queue's to prevent.
 */
#ifndef KT_SERVICES_SYNC_H
#define KT_SERVICES_SYNC_H

#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "services/app.h"

/* What to sync: a bit set. */
enum {
    SYNC_LIKED = 1u << 0,     /* /me/tracks */
    SYNC_PLAYLISTS = 1u << 1, /* /me/playlists and owned/collaborative playlists' items */
    SYNC_ALBUMS = 1u << 2,    /* /me/albums */
    SYNC_SHOWS = 1u << 3,     /* /me/shows */
    SYNC_EPISODES = 1u << 4,  /* /me/episodes */
    SYNC_FOLLOWING = 1u << 5, /* /me/following?type=artist */
    SYNC_TOP = 1u << 6,       /* /me/top/{tracks,artists} x 3 time ranges */
    SYNC_RECENT = 1u << 7,    /* /me/player/recently-played */
    SYNC_ALL = 0xffu,
    /* The library as the scheduler syncs it every few hours. */
    SYNC_LIBRARY = SYNC_LIKED | SYNC_PLAYLISTS | SYNC_ALBUMS | SYNC_SHOWS | SYNC_EPISODES |
                   SYNC_FOLLOWING
};

/* Parses a comma-separated list ("liked,playlists", "all", "library";
 * names: liked playlists albums shows episodes following top recent).
 * NULL or "" means all. KT_ERR_INVALID naming the unknown word otherwise. */
kt_status sync_parse_what(const char *csv, unsigned *out, kt_err *err);

/* Writes the names of the bits in `what` as a comma-separated list. */
void sync_format_what(unsigned what, char *out, size_t size);

/* Progress of a run: `done` of `total` units (total 0 = unknown yet) and a
 * short message ("playlists 12/40"). May be NULL. Called from the running
 * thread. */
typedef void (*sync_progress_fn)(void *ctx, int64_t done, int64_t total, const char *msg);

/* Asked between pages whether the run should stop early (nonzero: stop),
 * e.g. because the process is shutting down. May be NULL. Called from the
 * run's threads, possibly two at once: must be thread-safe. */
typedef int (*sync_stopping_fn)(void *ctx);

/* The code of the error a run stopped by its sync_stopping_fn returns
 * (status KT_ERR_CONFLICT). */
#define SYNC_CODE_STOPPED "sync_stopped"

/* Called with the run's ctx inside the transaction that records a
 * successful run as "done", on that transaction's connection `s`, so that
 * what it writes commits with the record or not at all: the job queue
 * marks the run's job done there (jobs_ctx_finish_in), and a process killed
 * between the two can no longer leave a finished run whose job is rerun.
 * An error rolls both back: the run is then recorded as "stopped" (for
 * KT_ERR_CONFLICT: another worker has the job) or "failed", and sync_run
 * returns that error. */
typedef kt_status (*sync_commit_fn)(void *ctx, store *s, kt_err *err);

/* Syncs the collections in `what` for one user; `progress`, `stopping` and
 * `commit` (each may be NULL) get `ctx`. KT_ERR_DEFERRED (with err->retry_at_ms)
 * when Spotify rate-limits for long; KT_ERR_REAUTH when the user must log
 * in again; KT_ERR_CONFLICT with code SYNC_CODE_STOPPED when `stopping`
 * asked it to stop (recorded as "stopped"); other errors after the run is
 * recorded as failed. Collections finished before a failure or a stop
 * stay committed; the one in progress keeps its previous copy. */
kt_status sync_run(kt_app *app, int64_t user_id, unsigned what, sync_progress_fn progress,
                   sync_stopping_fn stopping, sync_commit_fn commit, void *ctx, kt_err *err);

/* The Spotify requests the next sync_run of `what` for the user will spend,
 * computed from the stored copy without calling Spotify (shown before a run:
 * `keeptrack sync --dry-run`, GET /api/sync/estimate). *out (owned by the
 * caller) is {"what", "requests": the count when Spotify holds what is
 * stored, "if_changed": the count when every collection changed at its
 * stored size, "mode": "development"|"extended"|"unknown" (the page sizes
 * used), "synced": false before the user's first recorded run (sizes then
 * read as 0), "collections": {name: {"requests", "if_changed"}}}. A token
 * refresh, when due, is one request more. Store errors only; any thread. */
kt_status sync_estimate(kt_app *app, int64_t user_id, unsigned what, json_t **out, kt_err *err);

#endif
