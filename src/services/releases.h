/* releases.h - new releases: the job that finds them and the read side
 * that serves them (GET /api/artists/, GET /api/releases).
 *
 * The job (kind "releases", one at a time: lane "releases") fills the
 * store from Spotify:
 *   - extended-quota apps: every page of /browse/new-releases, for each
 *     market of KEEPTRACK_RELEASES_MARKETS (or Spotify's default), with the
 *     app's client-credentials token (the client reuses it until it
 *     expires);
 *   - development mode (where /browse/new-releases is gone): the albums
 *     and singles of every artist active users follow or have in their
 *     newest top-artists snapshot, /artists/{id}/albums?include_groups=
 *     album,single&limit=10 (newest first; a further page only while it is
 *     still inside the window), only for artists not checked for
 *     KEEPTRACK_RELEASES_RECHECK_HOURS. Artists go in batches, each batch's
 *     releases and checks committed together, so a deferral (429 /
 *     QUOTA_EXCEEDED) keeps what was done and the resumed job goes on with
 *     the rest. Requests go through the client's shared budget.
 * Releases dated before the window (KEEPTRACK_RELEASES_WINDOW_DAYS) are not
 * stored and stored ones age out at every run. Re-running adds nothing
 * twice. The token used is the app token when SPOTIFY_CLIENT_SECRET is set,
 * else the first active user's.
 *
 * The read side never calls Spotify. Global answers (no user) are cached
 * serialized, per parameter set, keyed by the store's releases data
 * version: a write by this process invalidates them at once, one by
 * another process (PostgreSQL) within RELEASES_REVALIDATE_MS; a cache hit
 * takes no database connection. User-scoped answers are built per request.
 *
 * Thread use: everything here is thread-safe.
 */
#ifndef KT_SERVICES_RELEASES_H
#define KT_SERVICES_RELEASES_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "services/app.h"

#define RELEASES_JOB_KIND "releases"
#define RELEASES_LANE "releases"

/* How long a cached global answer is served before the store's data
 * version is read again (changes made by other processes). */
#define RELEASES_REVALIDATE_MS 1000

/* Bounds of the read parameters (the routes check them). */
#define RELEASES_LIMIT_MAX 100
#define RELEASES_LIMIT_DEFAULT 20
#define RELEASES_OFFSET_MAX 100000
#define RELEASES_RELEASE_LIMIT_MAX 50
#define RELEASES_RELEASE_LIMIT_DEFAULT 5

/* ---- the job ---- */

typedef struct releases_hooks {
    void *ctx;
    /* Progress: done of total units (0 = unknown) and a message. May be NULL. */
    void (*progress)(void *ctx, int64_t done, int64_t total, const char *msg);
    /* Non-zero when the run should stop early (between batches; see
     * releases_run's `stopped`). May be NULL. */
    int (*stopping)(void *ctx);
} releases_hooks;

typedef struct releases_report {
    int extended;             /* 1: /browse/new-releases; 0: the artist walk */
    int64_t found;            /* releases seen inside the window */
    int64_t added;            /* new releases stored */
    int64_t aged_out;         /* releases removed for being too old */
    int64_t artists_checked;  /* development mode */
    int64_t artists_left;     /* development mode: still due after this run */
    uint64_t requests;        /* Spotify requests spent */
} releases_report;

/* Runs the releases refresh once at now_ms (see the top). hooks and report
 * may be NULL. *stopped (may be NULL) is set to 1 when hooks->stopping cut
 * the run short (what was done is kept). Errors: KT_ERR_DEFERRED with
 * err->retry_at_ms (rate limit / quota; committed batches stay),
 * KT_ERR_REAUTH (the user whose token was used must log in again), the
 * client's and the store's errors. KT_OK with nothing done when there is
 * no token to use (no client secret and no active user). */
kt_status releases_run(kt_app *app, int64_t now_ms, const releases_hooks *hooks,
                       releases_report *report, int *stopped, kt_err *err);

/* Enqueues a releases job in the "releases" lane; user_id (0 = none) is
 * recorded so that user can follow it at /api/jobs/{id}. When a releases
 * job is already queued or running, that one is returned (*created 0). */
kt_status releases_enqueue(kt_app *app, int64_t user_id, const char *dedupe_key, int64_t *id,
                           int *created, kt_err *err);

/* The scheduler's hook: enqueues the refresh of the period of `every_ms`
 * (> 0; KEEPTRACK_RELEASES_INTERVAL_HOURS) containing now_ms, epoch-aligned,
 * dedupe key "sched:releases:p<period start>", so every scheduler on one
 * database makes the same single job. *enqueued is incremented when a job
 * was created. */
kt_status releases_schedule(kt_app *app, int64_t every_ms, int64_t now_ms, int *enqueued,
                            kt_err *err);

/* ---- the read side ---- */

typedef enum releases_view {
    RELEASES_VIEW_ARTISTS, /* GET /api/artists/ */
    RELEASES_VIEW_ALBUMS   /* GET /api/releases */
} releases_view;

typedef struct releases_query {
    releases_view view;
    int64_t user_id;      /* 0: global; else the user's followed artists only */
    char since[11];       /* "YYYY-MM-DD" or "" */
    size_t limit;         /* 1..RELEASES_LIMIT_MAX */
    size_t offset;        /* 0..RELEASES_OFFSET_MAX */
    size_t release_limit; /* artists view: 1..RELEASES_RELEASE_LIMIT_MAX */
    const char *base_path; /* "/api/artists/" or "/api/releases": paging links; borrowed */
} releases_query;

/* A serialized answer: immutable, reference-counted, shareable between
 * threads. */
typedef struct releases_payload releases_payload;

/* The JSON answer for q, from the cache or the store. The ETag is a strong
 * validator of the body (a hash of it). KT_ERR_INVALID for parameters out
 * of bounds. *out is a reference the caller drops with
 * releases_payload_unref. */
kt_status releases_get(kt_app *app, const releases_query *q, releases_payload **out,
                       kt_err *err);

const char *releases_payload_body(const releases_payload *p, size_t *len);
/* The ETag header value, quotes included. */
const char *releases_payload_etag(const releases_payload *p);
/* NULL is a no-op. */
void releases_payload_unref(releases_payload *p);

/* Forgets every cached answer (tests; the job does it after its writes). */
void releases_cache_invalidate(void);

/* 1 when an If-None-Match header value (a list of entity tags, weak ones
 * compared weakly as RFC 9110 says, or "*") matches etag. Pure. */
int releases_etag_matches(const char *if_none_match, const char *etag);

#endif
