/* fromtops.h - playlists from top tracks (issue 18, item 2).
 *
 * A definition says which tracks: Spotify's top tracks of a range
 * (short_term, medium_term, long_term; synced from /me/top/tracks as the
 * job runs) or keeptrack's own listening history over a period ranked by
 * plays or by time (the ranking of GET /api/stats/tops, so both agree),
 * and how many (1..100). Definitions are saved per user; asking again for
 * the same ranking finds the same definition, and the job "fromtops"
 * writes its tracks into the same private playlist, replacing its items
 * (shuffle_write_list, shuffled_playlists kind "fromtops", source the
 * definition's id). A definition may be refreshed weekly or monthly by the
 * scheduler (fromtops_enqueue_due).
 *
 * Thread-safe: each call borrows its own pooled connection. Bad input is
 * KT_ERR_INVALID "bad_parameter" with a message starting with the field.
 */
#ifndef KT_SERVICES_FROMTOPS_H
#define KT_SERVICES_FROMTOPS_H

#include <jansson.h>
#include <stdint.h>

#include "core/err.h"
#include "services/app.h"
#include "services/shuffle.h"

/* The job kind that writes a definition's playlist: params {"def": id}. */
#define FROMTOPS_JOB_KIND "fromtops"
/* How many tracks when the request does not say. */
#define FROMTOPS_DEFAULT_LIMIT 50

/* Checks a request body ({"source": "spotify" | "history", "range"
 * (spotify; default medium_term), "period", "from", "to" (ISO 8601 or
 * unix ms), "by" (history; as GET /api/stats/tops), "limit" 1..100 (50),
 * "name"? (1..SHUFFLE_NAME_MAX bytes; default from the ranking; it names
 * the playlist when the first run makes it: Spotify's copy is not renamed),
 * "refresh": "none" | "weekly" | "monthly" (none)}) and saves it as the
 * user's definition: a new one, or the one with the same ranking (its name
 * and refresh updated). *out receives the definition as fromtops_list
 * shows it and *def_id its id. A field of the other source is a 400
 * naming it. */
kt_status fromtops_save(kt_app *app, int64_t user_id, const json_t *body, int64_t now_ms,
                        int64_t *def_id, json_t **out, kt_err *err);

/* GET /api/playlists/from-tops: {definitions: [{id, source, range|null,
 * period|null, from|null, to|null, by|null, limit, name, refresh,
 * playlist_id|null, last_run_at|null, created_at}]}. Caller owns *out. */
kt_status fromtops_list(kt_app *app, int64_t user_id, json_t **out, kt_err *err);

/* Deletes a definition (the playlist stays in Spotify). KT_ERR_NOT_FOUND
 * "no_definition" when the user has none with that id. */
kt_status fromtops_delete(kt_app *app, int64_t user_id, int64_t def_id, kt_err *err);

/* Ranks the tracks of definition def_id now and writes them into its
 * playlist (made on the first run, its items replaced on later ones),
 * then records the run. Spotify sources sync the user's top items first.
 * Errors: KT_ERR_NOT_FOUND (no such definition), KT_ERR_INVALID
 * "empty_list" (no tracks to write: no plays in the period, or no top
 * list), and those of shuffle_write_list. progress may be NULL. */
kt_status fromtops_run(kt_app *app, int64_t user_id, int64_t def_id,
                       shuffle_progress_fn progress, void *progress_ctx, shuffle_result *out,
                       kt_err *err);

/* Enqueues the "fromtops" job of every definition due for its weekly or
 * monthly refresh at now_ms (store_fromtops_due); *enqueued (may be NULL)
 * receives how many jobs were new. */
kt_status fromtops_enqueue_due(kt_app *app, int64_t now_ms, int64_t *enqueued, kt_err *err);

/* Enqueues the job writing definition def_id for user_id (one per
 * definition at a time: while one is queued or running, that job is
 * returned). *job_id receives it, *created 1 when new. */
kt_status fromtops_enqueue(kt_app *app, int64_t user_id, int64_t def_id, int64_t *job_id,
                           int *created, kt_err *err);

#endif
