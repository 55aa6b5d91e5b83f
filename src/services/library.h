/* library.h - the read side of the library copy: what the HTTP API shows.
 *
 * Each function reads one user's data through store_library.h on a pooled
 * connection and builds the JSON answer (a new reference in *out, owned by
 * the caller). Shapes follow Spotify's objects closely so clients can reuse
 * their code: a track is {uri, id, type ("track" | "episode" | "local"),
 * name, duration_ms, explicit, disc_number, track_number, isrc, album {id,
 * name, album_type, release_date, release_date_precision}, artists [{id,
 * name}], and for episodes show {id, name, publisher} and release_date};
 * local files carry their album and artist names with null ids. Times are
 * ISO 8601 strings ("2024-05-01T12:34:56Z") or null. Lists are pages:
 * {total, limit, offset, items}.
 *
 * Everything is user-scoped: another user's playlist is KT_ERR_NOT_FOUND,
 * exactly like one that does not exist. Invalid arguments are
 * KT_ERR_INVALID naming the parameter (code "bad_parameter").
 * Thread-safe (each call borrows its own connection).
 */
#ifndef KT_SERVICES_LIBRARY_H
#define KT_SERVICES_LIBRARY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "services/app.h"
#include "store/store_library.h"

/* Liked songs: {total, limit, offset, items: [{added_at, position, track}]}.
 * q (may be NULL) filters on track, album and artist names. */
kt_status library_tracks(kt_app *app, int64_t user_id, const char *q, store_sort sort, int desc,
                         size_t limit, size_t offset, json_t **out, kt_err *err);

/* Saved albums / shows / episodes: kind "albums" | "shows" | "episodes";
 * items [{added_at, position, album|show|episode}]. */
kt_status library_saved(kt_app *app, int64_t user_id, const char *kind, size_t limit,
                        size_t offset, json_t **out, kt_err *err);

/* The current playlists in the user's order: items [{id, uri, name,
 * description, owner {id, display_name}, collaborative, public, snapshot_id,
 * items_total, image_url, items_synced (whether the items are stored),
 * synced_snapshot_id}]. */
kt_status library_playlists(kt_app *app, int64_t user_id, size_t limit, size_t offset,
                            json_t **out, kt_err *err);

/* One playlist (as in the list, plus removed_at) with a page of its stored
 * items: "items": {total, limit, offset, items: [{position, added_at,
 * added_by, is_local, item (a track/episode/local file, or null)}]}. */
kt_status library_playlist(kt_app *app, int64_t user_id, const char *spotify_id, size_t limit,
                           size_t offset, json_t **out, kt_err *err);

/* Versions newest first: {items: [{snapshot_id, seen_at, items_total,
 * cover: {sha256, url} | null}]} (cover: the version's custom cover; null
 * for Spotify's generated mosaic). */
kt_status library_playlist_versions(kt_app *app, int64_t user_id, const char *spotify_id,
                                    json_t **out, kt_err *err);

/* The bytes of the user's stored playlist cover sha256 (hex, as a
 * version's cover.sha256 gives it): *bytes (caller frees) and *len, a JPEG.
 * KT_ERR_INVALID "bad_parameter" for a malformed hash; KT_ERR_NOT_FOUND
 * "no_cover" when the user has no such cover (another user's included). */
kt_status library_cover(kt_app *app, int64_t user_id, const char *sha256, unsigned char **bytes,
                        size_t *len, kt_err *err);

/* What changed from one version to another: {from, to, added: [{position,
 * uri}], removed: [{position, uri}], reordered: bool} (items matched as
 * multisets of uris; null entries count as uri null). */
kt_status library_playlist_diff(kt_app *app, int64_t user_id, const char *spotify_id,
                                const char *from, const char *to, json_t **out, kt_err *err);

/* Followed artists in Spotify's order: items [{id, name, genres, image_url,
 * followers, popularity}]. */
kt_status library_following(kt_app *app, int64_t user_id, size_t limit, size_t offset,
                            json_t **out, kt_err *err);

/* Top items: kind "tracks" | "artists", range "short_term" | "medium_term"
 * | "long_term", day "YYYY-MM-DD" or NULL for the newest snapshot:
 * {kind, range, day, items: [{rank, track|artist}]}. */
kt_status library_top(kt_app *app, int64_t user_id, const char *kind, const char *range,
                      const char *day, json_t **out, kt_err *err);

/* Plays with from_ms <= played_at < to_ms, newest first: items [{played_at,
 * context_uri, track}]. */
kt_status library_plays(kt_app *app, int64_t user_id, int64_t from_ms, int64_t to_ms,
                        size_t limit, size_t offset, json_t **out, kt_err *err);

/* Sync runs newest first: items [{id, what, started_at, finished_at, status,
 * requests, added, removed, error}]. */
kt_status library_sync_runs(kt_app *app, int64_t user_id, size_t limit, size_t offset,
                            json_t **out, kt_err *err);

#endif
