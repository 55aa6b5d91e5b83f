/* store_export.h - the domain SQL of exports and restores (issue 9).
 *
 * Exports read a user's whole library copy (migration 3 tables) without
 * ever holding it whole: every read here is one keyset page ("rows after
 * key K, at most L"), so a caller streams an export of any size with a
 * bounded amount of memory and may give its connection back between pages
 * (nothing here needs a transaction or a cursor that outlives the call).
 *
 * Restores (migration 9, table `restores`) are requests to write data back
 * into Spotify: the validated input (JSON text), the options, and the report
 * the restore job writes when it finishes.
 *
 * Conventions as store_library.h: a borrowed `store *` held by the calling
 * thread; kt_status + err; out-parameters written only on success; caller
 * owns returned rows (store_rows_free). Times are unix ms, NULL when unknown.
 */
#ifndef KT_STORE_STORE_EXPORT_H
#define KT_STORE_STORE_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* Largest page store_export_page and store_export_top return. */
#define STORE_EXPORT_MAX_LIMIT 1000

typedef enum store_export_section {
    STORE_EXPORT_LIKED,     /* scope user id; key position; track columns */
    STORE_EXPORT_EPISODES,  /* scope user id; key position; track columns */
    STORE_EXPORT_ITEMS,     /* scope playlist row id; key position; track columns */
    STORE_EXPORT_ALBUMS,    /* scope user id; key position: key, added_at, id, name,
                               album_type, release_date, total_tracks, image_url */
    STORE_EXPORT_SHOWS,     /* scope user id; key position: key, added_at, id, name,
                               publisher, total_episodes, image_url */
    STORE_EXPORT_FOLLOWED,  /* scope user id; key position: key, id, name, genres (JSON
                               text), image_url */
    STORE_EXPORT_PLAYLISTS, /* scope user id; key row id: key, spotify_id, name,
                               description, owner_id, owner_name, collaborative, public,
                               snapshot_id, items_total, image_url, synced_snapshot_id,
                               removed_at, position (NULL once removed); removed
                               playlists are included (their versions are history) */
    STORE_EXPORT_VERSIONS,  /* scope playlist row id; key version row id: key, snapshot_id,
                               seen_at, items_total, items (JSON text), cover_sha256,
                               cover_url (the custom cover; NULL for the mosaic) */
    STORE_EXPORT_PLAYS,     /* scope user id; key played_at: key, track_uri, context_uri,
                               source, ms_played, track name, artist name, album name */
    STORE_EXPORT_USER_VERSIONS /* scope user id; key version row id: key, playlist spotify_id,
                               playlist name, snapshot_id, seen_at, items_total,
                               cover_sha256, cover_url (no items: the CSV zip's index) */
} store_export_section;

/* Track columns of the LIKED, EPISODES and ITEMS sections (all NULL but
 * key/added_at/added_by for a null playlist entry). */
enum {
    STORE_EXT_KEY,
    STORE_EXT_ADDED_AT,
    STORE_EXT_ADDED_BY, /* playlist items only */
    STORE_EXT_URI,
    STORE_EXT_ID,
    STORE_EXT_KIND,
    STORE_EXT_NAME,
    STORE_EXT_DURATION_MS,
    STORE_EXT_EXPLICIT,
    STORE_EXT_DISC,
    STORE_EXT_TRACK_NUMBER,
    STORE_EXT_ISRC,
    STORE_EXT_ALBUM_ID,
    STORE_EXT_ALBUM_NAME,
    STORE_EXT_ALBUM_RELEASE_DATE,
    STORE_EXT_ALBUM_IMAGE,
    STORE_EXT_LOCAL_ARTIST,
    STORE_EXT_LOCAL_ALBUM,
    STORE_EXT_SHOW_ID,
    STORE_EXT_SHOW_NAME,
    STORE_EXT_EPISODE_RELEASE_DATE,
    STORE_EXT_NCOLS
};

/* One keyset page of a section: rows whose key is greater than `after`
 * (pass INT64_MIN for the first page), in key order, at most `limit`
 * (1..STORE_EXPORT_MAX_LIMIT). Columns are listed at each section. An
 * empty result means the section is finished. */
kt_status store_export_page(store *s, store_export_section sec, int64_t scope, int64_t after,
                            size_t limit, store_rows **out, kt_err *err);

/* Key of the top-items keyset: (day, kind, time_range, rank). */
typedef struct store_top_key {
    char day[11];
    char kind[16];
    char time_range[16];
    int64_t rank;
} store_top_key;

/* One page of the user's top-item snapshots after *after (NULL: from the
 * start), ordered by (day, kind, time_range, rank): columns day, kind,
 * time_range, rank, item, name (the track's or artist's name, NULL when
 * not in the catalog). */
kt_status store_export_top(store *s, int64_t user_id, const store_top_key *after, size_t limit,
                           store_rows **out, kt_err *err);

/* ---- restores ---- */

#define STORE_RESTORE_QUEUED "queued"
#define STORE_RESTORE_DONE "done"
#define STORE_RESTORE_FAILED "failed"

/* Records a restore request (status queued); *id receives its id. All
 * strings are required. */
kt_status store_restore_create(store *s, int64_t user_id, const char *source, const char *options,
                               const char *input, int64_t now_ms, int64_t *id, kt_err *err);

/* The newest request of user_id still queued, run by no job (the CLI's
 * own), with exactly these options and input texts, into *id:
 * KT_ERR_NOT_FOUND when there is none. The CLI resumes it instead of
 * starting a new one, so the playlists it created are reused. */
kt_status store_restore_find_open(store *s, int64_t user_id, const char *options,
                                  const char *input, int64_t *id, kt_err *err);

/* Links the request to the job that runs it. */
kt_status store_restore_set_job(store *s, int64_t id, int64_t job_id, kt_err *err);

/* Ends a request: status STORE_RESTORE_DONE or _FAILED, report (JSON text)
 * and error may be NULL. */
kt_status store_restore_finish(store *s, int64_t id, const char *status, const char *report,
                               const char *error, int64_t now_ms, kt_err *err);

/* One request: columns id, user_id, job_id, source, options, status,
 * report, error, created_at, finished_at. user_id > 0 scopes the read
 * (another user's request is KT_ERR_NOT_FOUND); 0 reads any. */
kt_status store_restore_get(store *s, int64_t user_id, int64_t id, store_rows **out,
                            kt_err *err);

/* The request's input text, malloc'd into *out. KT_ERR_NOT_FOUND when the
 * request does not exist. */
kt_status store_restore_input(store *s, int64_t id, char **out, kt_err *err);

/* Remembers that restore `id` created Spotify playlist `playlist_id` for
 * the source playlist at `source_index` of its input (replacing an earlier
 * record for that index). */
kt_status store_restore_created_put(store *s, int64_t id, int64_t source_index,
                                    const char *playlist_id, int64_t now_ms, kt_err *err);

/* The playlists restore `id` created: columns source_index, playlist_id,
 * ordered by source_index. */
kt_status store_restore_created_list(store *s, int64_t id, store_rows **out, kt_err *err);

#endif
