/* restore.h - writing an export back into Spotify (issue 9).
 *
 * A restore takes a parsed upload (restore_parse.h) and makes the user's
 * Spotify account hold it again:
 *  - playlists are recreated as new private playlists (mode "new", the
 *    default) or refill the user's existing playlist of the same id (a
 *    keeptrack export) or name (CSV) when it has one (mode "refill"), items
 *    in their order, 100 per request;
 *  - Liked Songs (when asked) are saved with PUT /me/library, at most 40
 *    URIs per request, oldest first, so Spotify's newest-first order (each
 *    save goes on top) ends as the export's order;
 *  - local files cannot be added through the Web API and entries that no
 *    longer exist cannot either: both are counted and the local files
 *    listed in the report.
 * It first syncs Liked Songs and playlists, then compares: a playlist whose
 * target already holds exactly the wanted items (mode new: an owned
 * playlist of the same name does) is left alone, and only liked songs not
 * saved yet are saved, so running the same restore twice writes nothing
 * the second time. A dry run does the same reads and reports what would be
 * written, writing nothing. Every check (the upload, the chosen playlists)
 * happens before the first write; a playlist that cannot be filled after
 * it was created is removed again (unfollowed), so nothing is left
 * half-made silently.
 *
 * An earlier version of a playlist (from its stored history) is restored
 * the same way: as a new playlist or in place (refill by id only).
 *
 * The HTTP API and the version route submit a request (restore_submit):
 * the input and options are stored in `restores` and a job of kind
 * RESTORE_JOB_KIND runs it (restore_job), writing its report there; the
 * CLI runs it in the foreground (restore_cli_run), recording it the same
 * way so that a rerun resumes it.
 *
 * Thread use: any thread; two restores for the same user at once are the
 * user's business (each re-reads the account before it writes).
 */
#ifndef KT_SERVICES_RESTORE_H
#define KT_SERVICES_RESTORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "services/app.h"
#include "services/restore_parse.h"

#define RESTORE_JOB_KIND "restore"
/* URIs per PUT /me/library (Spotify's limit), items per playlist request. */
#define RESTORE_LIKED_BATCH 40
#define RESTORE_ITEMS_BATCH 100
/* Local files listed by name in a report (all are counted). */
#define RESTORE_REPORT_LOCAL_MAX 50
/* Playlist selectors accepted. */
#define RESTORE_MAX_SELECTORS 1000

typedef enum restore_mode { RESTORE_MODE_NEW, RESTORE_MODE_REFILL } restore_mode;

typedef struct restore_options {
    restore_mode mode;
    int liked;       /* 1: re-save Liked Songs */
    int dry_run;     /* 1: report only */
    int by_id_only;  /* refill: match the existing playlist by id only (version in place) */
    char **playlists; /* selectors: playlist ids or names; n_playlists 0 = every playlist */
    size_t n_playlists;
} restore_options;

/* "new" | "refill" (NULL = new). KT_ERR_INVALID naming `mode` otherwise. */
kt_status restore_parse_mode(const char *s, restore_mode *out, kt_err *err);

/* Adds a selector (copied). KT_ERR_INVALID past RESTORE_MAX_SELECTORS. */
kt_status restore_options_add_playlist(restore_options *o, const char *selector, kt_err *err);
/* Frees the selectors and zeroes *o. NULL is a no-op. */
void restore_options_clear(restore_options *o);

/* Checks options against an input before anything is written: every
 * selector names a playlist of the input, and there is something to
 * restore (a playlist, or Liked Songs with liked). KT_ERR_INVALID with
 * what is wrong. */
kt_status restore_check(const restore_input *in, const restore_options *o, kt_err *err);

/* Progress: done of total units (total 0 = unknown) and a message. */
typedef void (*restore_progress_fn)(void *ctx, int64_t done, int64_t total, const char *msg);

/* Runs a restore for user_id (see the top). *report (owned by the caller)
 * is {"dry_run", "mode", "playlists": [{"name", "source_id", "action":
 * "create"|"refill"|"unchanged"|"skipped", "target_id", "items",
 * "local_files": [uris], "local_count", "unavailable", "reason"?}],
 * "liked": {"in_upload", "already_saved", "to_save", "local_count",
 * "unavailable"} (when asked), "writes": requests that write (or would)}.
 * Errors: those of the sync and of Spotify (KT_ERR_DEFERRED, KT_ERR_REAUTH,
 * KT_ERR_UPSTREAM...), KT_ERR_INVALID from restore_check, KT_ERR_NOT_FOUND
 * when an in-place version restore's playlist is gone.
 * restore_id > 0 (a stored request, restore_job) records every playlist the
 * run creates as soon as Spotify answers the create; when the same request
 * runs again after a deferral or a crash, those playlists are filled again
 * from the start instead of created twice (reported as "create"). 0: not
 * recorded (dry runs). */
kt_status restore_run(kt_app *app, int64_t user_id, int64_t restore_id, const restore_input *in,
                      const restore_options *o, restore_progress_fn progress, void *progress_ctx,
                      json_t **report, kt_err *err);

/* The CLI's restore: restore_run in the foreground, recorded in `restores`
 * like a job's request (without a job; `source` describes it) so the
 * playlists it creates are remembered (restore_run with its id). When the
 * user has an open CLI request with the same input and options (a run
 * deferred by Spotify, failed or killed), that request is resumed: its
 * playlists are filled instead of created again. Success closes the
 * request with its report; any failure leaves it open. A dry run records
 * nothing. Same errors and *report as restore_run. */
kt_status restore_cli_run(kt_app *app, int64_t user_id, const restore_input *in,
                          const restore_options *o, const char *source,
                          restore_progress_fn progress, void *progress_ctx, json_t **report,
                          kt_err *err);

/* Stores a checked request (input, options, `source` describing it) and
 * enqueues its job. *restore_id and *job_id receive the ids. */
kt_status restore_submit(kt_app *app, int64_t user_id, const restore_input *in,
                         const restore_options *o, const char *source, int64_t *restore_id,
                         int64_t *job_id, kt_err *err);

/* Submits the restore of one stored version of the user's playlist:
 * in_place 0 = as a new playlist named "<name> (version of <date>)", 1 =
 * in place (the playlist's contents replaced). KT_ERR_NOT_FOUND for an
 * unknown playlist or snapshot; KT_ERR_INVALID when snapshot_id is NULL or
 * empty (checked after the playlist, so another user's playlist stays a 404). */
kt_status restore_version_submit(kt_app *app, int64_t user_id, const char *playlist_id,
                                 const char *snapshot_id, int in_place, int dry_run,
                                 int64_t *restore_id, int64_t *job_id, kt_err *err);

/* The body of a restore job: runs request restore_id of user_id and
 * records its report (done) or error (failed; not for KT_ERR_DEFERRED,
 * which leaves the request queued for the resumed job). */
kt_status restore_job(kt_app *app, int64_t user_id, int64_t restore_id,
                      restore_progress_fn progress, void *progress_ctx, kt_err *err);

/* A request as JSON: {id, job_id, status, source, options, report, error,
 * created_at, finished_at}. Another user's request is KT_ERR_NOT_FOUND. */
kt_status restore_get(kt_app *app, int64_t user_id, int64_t restore_id, json_t **out,
                      kt_err *err);

#endif
