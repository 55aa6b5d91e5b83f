/* sync_internal.h - what the sync engine's files share (not for callers:
 * they use sync.h).
 *
 *  - sync.c: sync_run (the run record, the order of collections, errors),
 *    what-parsing.
 *  - sync_catalog.c: sync_cat, the buffer of parsed Spotify objects that
 *    become catalog rows (tracks, albums, artists, shows), written in short
 *    transactions as pages arrive, so memory stays bounded however large
 *    the library; and the per-run "already written" set.
 *  - sync_collections.c: liked songs, saved albums/shows/episodes, followed
 *    artists, top items, recently played.
 *  - sync_playlists.c: playlists and their items.
 *  - sync_estimate.c: the requests the next run will spend, from the
 *    stored copy (counts what the two files above send).
 *
 * The rule every collection follows: fetch everything it needs (writing
 * only catalog rows meanwhile), then replace the collection in ONE
 * transaction, so a failure half-way leaves the previous copy intact. No
 * database connection is held while Spotify is called (the token hooks need
 * connections of their own). A run may sync some collections on threads of
 * their own (sync.c), each with its own sync_ctx; their writes take the
 * run's write lock (sync_db_write), one writer at a time.
 */
#ifndef KT_SERVICES_SYNC_INTERNAL_H
#define KT_SERVICES_SYNC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strset.h"
#include "services/app.h"
#include "services/sync.h"
#include "spotify/spotify_parse.h"

/* Parsed objects waiting to be written to the catalog. Owns them. */
typedef struct sync_cat {
    spotify_track **tracks;
    size_t n_tracks, cap_tracks;
    spotify_album **albums;
    size_t n_albums, cap_albums;
    spotify_artist **artists;
    size_t n_artists, cap_artists;
    spotify_show **shows;
    size_t n_shows, cap_shows;
} sync_cat;

/* What every thread of one run shares (sync.c owns it). */
typedef struct sync_shared {
    pthread_mutex_t write_lock; /* held from sync_db_write to sync_db_put */
    pthread_mutex_t mu;         /* guards written and cat */
    strset *written;            /* catalog keys queued or written this run (uris, ids) */
    sync_cat cat;               /* queued catalog objects, whoever queued them */
} sync_shared;

/* One run's state, shared by the collection functions. */
typedef struct sync_ctx {
    kt_app *app;
    int64_t user_id;
    char spotify_id[128]; /* the user's Spotify id: owner of "own" playlists */
    sync_progress_fn progress;
    sync_stopping_fn stopping;
    sync_commit_fn commit; /* run inside the "done" record's transaction */
    void *progress_ctx;   /* the ctx of progress, stopping and commit */
    sync_shared *sh;      /* the run's catalog queue and write lock */
    int64_t added, removed;
    int64_t step, steps;  /* collections done / to do, for progress */
    int64_t db_ms;        /* time spent holding a connection (database work) */
    int64_t db_since;     /* when the current connection was taken (monotonic) */
    int locked;           /* this ctx holds sh->write_lock */
    const atomic_int *stop; /* set by the run when it failed: a helper thread gives up */
} sync_ctx;

/* KT_OK, or KT_ERR_CONFLICT (code SYNC_CODE_STOPPED) when the run should
 * stop: its stopping hook says so, or (a helper) the run gave up. Page
 * callbacks call it first, so a stop takes effect within a page. */
kt_status sync_check_stop(sync_ctx *c, kt_err *err);

/* Catalog rows are flushed when this many objects are pending, and the
 * flush waits for another thread's write only when this many are. */
#define SYNC_CAT_FLUSH 1000
#define SYNC_CAT_HOLD_MAX 4000

/* The run's queue is one for all its threads, and so is the set of what was
 * queued: an object is written once per run, by whichever thread flushes
 * it, and a collection's forced flush (sync_cat_flush with force, under the
 * write lock) writes whatever any thread queued before, so every catalog row
 * a collection refers to is committed before the collection is. */

/* Queue a parsed object (taken: freed now when already queued this run). */
kt_status sync_cat_track(sync_ctx *c, spotify_track *t, kt_err *err);
kt_status sync_cat_album(sync_ctx *c, spotify_album *a, kt_err *err);
kt_status sync_cat_artist(sync_ctx *c, spotify_artist *a, kt_err *err);
kt_status sync_cat_show(sync_ctx *c, spotify_show *s, kt_err *err);
/* Writes what is queued (one transaction), as `mode` says:
 * SYNC_FLUSH_IF_FULL: only when over SYNC_CAT_FLUSH objects, waiting for
 *   another thread's write only when over SYNC_CAT_HOLD_MAX;
 * SYNC_FLUSH_ALL: everything, waiting for the write lock (a collection's
 *   flush before its own write);
 * SYNC_FLUSH_IF_FREE: everything, unless another thread is writing (then
 *   nothing): the last pages of a collection, so that the flush its write
 *   waits for at the end holds one page's objects, not up to
 *   SYNC_CAT_FLUSH (~25 ms at the end of a full sync). */
#define SYNC_FLUSH_IF_FULL 0
#define SYNC_FLUSH_ALL 1
#define SYNC_FLUSH_IF_FREE 2
kt_status sync_cat_flush(sync_ctx *c, int mode, kt_err *err);

/* A saved-items collection flushes the catalog after each page
 * (SYNC_FLUSH_IF_FREE) once it holds this many items short of its total:
 * the pages still in flight at the end of a walk (8 x 50). */
#define SYNC_CAT_TAIL_ITEMS 400
void sync_cat_clear(sync_cat *cat);

/* Sets up / frees a run's shared state; init returns KT_ERR_NOMEM. */
kt_status sync_shared_init(sync_shared *sh, kt_err *err);
void sync_shared_free(sync_shared *sh);

/* Reports progress inside the current collection. */
void sync_report(sync_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A growable list of (ref, added_at, by) owned strings (by[i] shares refs[i]'s
 * allocation when refs[i] is not NULL: only sync_list_add and sync_list_free
 * may set or free them). */
typedef struct sync_list {
    char **refs;
    int64_t *at;
    char **by; /* playlist items: added_by (may hold NULLs); NULL when unused */
    size_t n, cap;
} sync_list;

kt_status sync_list_add(sync_list *l, const char *ref, int64_t at, const char *by, kt_err *err);
void sync_list_free(sync_list *l);

/* Collections. Each adds to c->added / c->removed. */
kt_status sync_saved(sync_ctx *c, spotify_saved_kind kind, kt_err *err);
kt_status sync_following(sync_ctx *c, kt_err *err);
kt_status sync_top(sync_ctx *c, kt_err *err);
kt_status sync_recent(sync_ctx *c, kt_err *err);
kt_status sync_playlists(sync_ctx *c, kt_err *err);

/* app_state key of the Spotify mode the last sync learnt ("development" or
 * "extended"): sync_estimate's page sizes in a process that has not asked
 * Spotify yet. */
#define SYNC_MODE_STATE_KEY "sync.spotify_mode"

/* Records the mode in app_state when it differs from the stored one
 * (failures ignored: the next run then probes again). */
void sync_remember_mode(kt_app *app, spotify_mode mode);

/* The mode stored by sync_remember_mode; SPOTIFY_MODE_UNKNOWN when none
 * (or the store cannot be read). */
spotify_mode sync_stored_mode(kt_app *app);

/* Logs (debug level) one span of the run's database work: `what` (a word)
 * from start_ms to now, both wall-clock ms, so bench/sync.py --timeline can
 * lay the writes next to the emulator's request log. */
void sync_span(const char *what, int64_t start_ms);

/* Borrow / return a pooled connection for one short store call. */
kt_status sync_db(sync_ctx *c, store **out, kt_err *err);
void sync_db_put(sync_ctx *c, store *s);
/* sync_db for a write: takes the run's write lock first (released by
 * sync_db_put), so the run's threads never write at once: on SQLite a second
 * writer would sleep in the busy handler, on PostgreSQL two catalog upserts
 * of the same rows in another order could deadlock. */
kt_status sync_db_write(sync_ctx *c, store **out, kt_err *err);

#endif
