/* trending.h - trending tracks (issue 18, item 1): a curated, ordered list
 * of tracks per user, as a top-track tracker keeps one.
 *
 * Tracks are added from the library, the top lists, the movement view or
 * by Spotify URI/URL (the `source` says which). A track that is not in the
 * catalog yet is fetched with GET /tracks/{id} (one at a time: batch
 * lookups are gone in development mode) and written to the catalog first.
 * A row shows the track, its first artist, album, release year, the
 * artist's genres where Spotify still returns them (extended quota: the
 * artist is fetched with GET /artists/{id} as its track is added, unless
 * the catalog knows it already), and energy, key, valence,
 * tempo and a mood (from valence and energy) when the app may read audio
 * features (extended quota: fetched with /audio-features?ids= as tracks
 * are added); otherwise the list says why not.
 *
 * The list is imported and exported as CSV (the import replaces the whole
 * list in one transaction, or nothing, with a message naming the row), and
 * written into a Spotify playlist by the job "trending_playlist", which
 * replaces the same playlist's items when run again.
 *
 * Thread-safe: each call borrows its own pooled connection. Bad input is
 * KT_ERR_INVALID with a message naming the field.
 */
#ifndef KT_SERVICES_TRENDING_H
#define KT_SERVICES_TRENDING_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "services/app.h"
#include "services/shuffle.h"

/* The job kind that writes the list into a playlist: params {"name"?}. */
#define TRENDING_JOB_PLAYLIST "trending_playlist"
/* The playlist's name when none is given. */
#define TRENDING_PLAYLIST_NAME "Trending tracks"
/* The longest URI or URL accepted (bytes). */
#define TRENDING_REF_MAX 512

/* Turns a track reference into its URI: "spotify:track:ID" or an
 * open.spotify.com track URL (http or https, optional /intl-xx/ segment,
 * query and fragment ignored); ID is 1..64 of [A-Za-z0-9]. uri receives
 * "spotify:track:ID". KT_ERR_INVALID naming `field` otherwise. */
kt_status trending_parse_ref(const char *ref, const char *field, char uri[96], kt_err *err);

/* 1 for the sources a track may be added from: "library", "top",
 * "movement", "uri" (and "csv", which only the import uses). */
int trending_source_valid(const char *source);

/* GET /api/trending: {tracks [{position, uri, id, name, artist,
 * artist_uri, album, release_year, genres|null, source, added_at,
 * audio_features {energy, key, key_name, mode, valence, tempo, mood}|null}],
 * total, audio_features {available, reason?}}. Caller owns *out. */
kt_status trending_list(kt_app *app, int64_t user_id, json_t **out, kt_err *err);

/* Adds a track (ref: URI or URL) from `source` at the end of the list,
 * fetching it from Spotify when the catalog does not have it.
 * *out = {added (false when it was already listed), track (as a row of
 * trending_list)}. Errors: KT_ERR_INVALID naming track or source, or
 * "list_full"; KT_ERR_NOT_FOUND "no_such_track" when Spotify has no such
 * track; Spotify's errors otherwise. */
kt_status trending_add(kt_app *app, int64_t user_id, const char *ref, const char *source,
                       json_t **out, kt_err *err);

/* Removes a track (ref: URI or URL). KT_ERR_NOT_FOUND "not_listed". */
kt_status trending_remove(kt_app *app, int64_t user_id, const char *ref, kt_err *err);

/* Puts the list in the order of `uris` (a JSON array of every listed URI
 * once). KT_ERR_INVALID naming uris otherwise. */
kt_status trending_reorder(kt_app *app, int64_t user_id, const json_t *uris, kt_err *err);

/* The list as CSV (a header row, then one row per track in order):
 * Position, Artist Name(s), Track Name, Album Name, Release Year, Track
 * URI, Artist URI, Genres ("; "-separated), Energy, Key, Valence, Tempo,
 * Mood. Appends to *out. */
kt_status trending_export_csv(kt_app *app, int64_t user_id, buf *out, kt_err *err);

/* Replaces the list with a CSV file's tracks in its order: a header row
 * with a "Track URI" (or "URI") column (what trending_export_csv writes;
 * Exportify files too), one track URI per row. Every row is checked
 * before anything is written: KT_ERR_INVALID "bad_csv" naming the row for
 * malformed CSV, an empty or non-track URI, a repeat, more than
 * STORE_TRENDING_MAX rows or a track Spotify does not have; the list is
 * then unchanged. *out = {imported, fetched (tracks fetched from
 * Spotify)}. */
kt_status trending_import_csv(kt_app *app, int64_t user_id, const char *data, size_t len,
                              json_t **out, kt_err *err);

/* Writes the list into the user's trending playlist (made on the first
 * run, replaced on later ones; see shuffle_write_list). name NULL:
 * TRENDING_PLAYLIST_NAME. KT_ERR_INVALID "empty_list" when the list is
 * empty. */
kt_status trending_playlist(kt_app *app, int64_t user_id, const char *name,
                            shuffle_progress_fn progress, void *progress_ctx,
                            shuffle_result *out, kt_err *err);

#endif
