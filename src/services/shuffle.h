/* shuffle.h - true shuffles, shared Liked Songs, deleting what keeptrack
 * made, and shuffle statistics (issue 6).
 *
 * shuffle_run() syncs the source first (Liked Songs, or the playlists so
 * the named one is current), orders every entry it can add (duplicates and
 * episodes included; local files and null entries, which the Web API
 * cannot add, are counted and reported) with shuffle_algo (uniform or
 * spread), and writes a private playlist (POST /me/playlists, or POST
 * /users/{id}/playlists for extended-quota apps) 100 items per request,
 * strictly in order. Shuffling the same source again replaces the contents
 * of the earlier output (PUT the first 100, POST the rest) unless
 * force_new. A request that fails after the client's retries is
 * reconciled against the playlist's item count and resumed (at most
 * SHUFFLE_RECOVERIES times); when that fails too the playlist is removed
 * (unfollowed) and the error says so, so no half-filled playlist is left
 * behind silently. A long rate limit (KT_ERR_DEFERRED) leaves the output
 * marked "building": the resumed job replaces its contents.
 *
 * Called by the job queue (kinds "shuffle" and "share", see
 * jobs_builtin.c) and by `keeptrack shuffle` in the foreground. Thread use:
 * any thread; two runs for the same user and source at once are the
 * caller's to prevent (the job lane "shuffle:<user>").
 */
#ifndef KT_SERVICES_SHUFFLE_H
#define KT_SERVICES_SHUFFLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "services/app.h"

#define SHUFFLE_JOB_KIND "shuffle"
#define SHUFFLE_SHARE_JOB_KIND "share"

/* Items per add request (Spotify's maximum). */
#define SHUFFLE_CHUNK 100
/* Reconcile-and-resume attempts after a failed add. */
#define SHUFFLE_RECOVERIES 3
/* The longest name a caller may give (bytes). */
#define SHUFFLE_NAME_MAX 200

typedef enum shuffle_mode { SHUFFLE_MODE_UNIFORM, SHUFFLE_MODE_SPREAD } shuffle_mode;

/* "uniform" | "spread" (NULL = uniform). KT_ERR_INVALID naming `mode`. */
kt_status shuffle_parse_mode(const char *s, shuffle_mode *out, kt_err *err);
const char *shuffle_mode_name(shuffle_mode m);

/* A source is "liked" or a Spotify playlist id (1..64 characters of
 * [A-Za-z0-9]). KT_ERR_INVALID naming `source` otherwise. */
kt_status shuffle_check_source(const char *source, kt_err *err);

/* Progress: done of total units (total 0 = unknown) and a short message. */
typedef void (*shuffle_progress_fn)(void *ctx, int64_t done, int64_t total, const char *msg);

typedef struct shuffle_options {
    const char *source; /* "liked" or a playlist id (shuffle_check_source) */
    shuffle_mode mode;
    const char *name;   /* NULL: from KEEPTRACK_SHUFFLE_NAME */
    int force_new;      /* 1: a new playlist even when an earlier output exists */
} shuffle_options;

typedef struct shuffle_result {
    char playlist_id[72];  /* the output playlist's Spotify id */
    char name[SHUFFLE_NAME_MAX + 64];
    int64_t tracks;        /* items placed (tracks and episodes) */
    int64_t local_skipped; /* local files in the source (the API cannot add them) */
    int64_t unavailable;   /* null entries in the source (removed from Spotify) */
    int replaced;          /* 1: an earlier output's contents were replaced */
    int64_t requests;      /* Spotify requests spent writing (create/replace + adds) */
} shuffle_result;

/* Shuffles a source into a playlist for user_id (see the top). progress
 * may be NULL. Errors: KT_ERR_INVALID (bad options, empty source, more than
 * SHUFFLE_MAX_ITEMS entries), KT_ERR_NOT_FOUND (no such playlist),
 * KT_ERR_FORBIDDEN (a playlist whose items the user cannot read),
 * KT_ERR_DEFERRED, KT_ERR_REAUTH, KT_ERR_UPSTREAM (after cleanup). *out is
 * written on success. */
kt_status shuffle_run(kt_app *app, int64_t user_id, const shuffle_options *opt,
                      shuffle_progress_fn progress, void *progress_ctx, shuffle_result *out,
                      kt_err *err);

/* Shares Liked Songs: syncs them, then writes them in their order into the
 * user's shared playlist (made on first use, named `name` or "Liked
 * Songs", public when public_ is 1), replacing its contents on later
 * calls. Errors and *out as shuffle_run. */
kt_status shuffle_share_liked(kt_app *app, int64_t user_id, const char *name, int public_,
                              shuffle_progress_fn progress, void *progress_ctx,
                              shuffle_result *out, kt_err *err);

/* A list of tracks to write as one playlist that later calls replace. */
typedef struct shuffle_list_spec {
    const char *kind;   /* what made it (shuffled_playlists.kind), e.g. "trending" */
    const char *source; /* which list of that kind */
    const char *name;   /* 1..SHUFFLE_NAME_MAX bytes */
    const char *desc;   /* the playlist's description */
    const char *const *uris; /* in order, each a track or episode URI */
    size_t n;                /* 1.. */
} shuffle_list_spec;

/* Writes spec->uris in order into the user's playlist of (kind, source):
 * the one an earlier call made (its contents replaced, *out.replaced = 1)
 * or a new private one, with the retries, reconciliation and cleanup of
 * shuffle_run (see the top). Errors as shuffle_run; KT_ERR_INVALID
 * "empty_list" for n == 0. */
kt_status shuffle_write_list(kt_app *app, int64_t user_id, const shuffle_list_spec *spec,
                             shuffle_progress_fn progress, void *progress_ctx,
                             shuffle_result *out, kt_err *err);

/* Unfollows every playlist keeptrack made as a shuffle for user_id: those
 * it recorded plus any owned playlist in every page of /me/playlists whose
 * description marks it as a keeptrack shuffle (DELETE /me/library, 40 URIs
 * per request; DELETE /playlists/{id}/followers for extended-quota apps).
 * *deleted (may be NULL) receives how many were unfollowed. */
kt_status shuffle_delete_all(kt_app *app, int64_t user_id, int64_t *deleted, kt_err *err);

/* Statistics as JSON: {"overall": {shuffles, tracks_shuffled, users,
 * sources, local_files_skipped, top_tracks, top_artists}, "mine": {the same
 * for user_id, history (newest first, up to 50), playlists (the outputs
 * made, with status)}}. Caller owns *out. */
kt_status shuffle_stats(kt_app *app, int64_t user_id, json_t **out, kt_err *err);

#endif
