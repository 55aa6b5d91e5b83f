/* store_library.h - the domain SQL of the library copy (issue 5): the shared
 * catalog (tracks, albums, artists, shows), each user's collections (liked
 * songs, saved albums/shows/episodes, followed artists), playlists with their
 * items and every version seen, top items, plays, and the record of sync
 * runs. Tables: migration 3 (see migrations.c for the layout and why).
 *
 * Writes come from the sync engine (src/services/sync*.c) as plain rows whose
 * strings are borrowed for the duration of the call; the store never sees a
 * Spotify JSON object. They are batched, all inside one transaction per
 * call, so a collection is replaced atomically: a failure rolls the whole
 * call back and the previous copy stays as it was. SQLite: multi-row INSERTs
 * of up to STORE_LIB_BATCH rows with prepared (cached) statements.
 * PostgreSQL: one INSERT ... SELECT FROM unnest(...) per table per flush,
 * each column one array parameter (store_array.h). Catalog upserts leave a
 * row alone when none of its columns changed (no new row version).
 *
 * Reads serve the HTTP API (src/services/library.c) and return store_rows
 * whose columns are listed at each function; times are unix ms (NULL when
 * Spotify sent none).
 *
 * Conventions as store_auth.h: a borrowed `store *` held by the calling
 * thread; kt_status + err; out-parameters written only on success. Functions
 * marked "(tx)" open their own transaction and must not be called inside
 * one; the others work either way.
 */
#ifndef KT_STORE_STORE_LIBRARY_H
#define KT_STORE_STORE_LIBRARY_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* Rows per multi-row INSERT (SQLite). */
#define STORE_LIB_BATCH 100

/* Largest page the read functions return. */
#define STORE_LIB_MAX_LIMIT 500

/* ---- catalog ---- */

/* {id, name} of an artist or the name alone (local files: id NULL). */
typedef struct store_ref {
    const char *id;
    const char *name;
} store_ref;

/* An artist. `full` 0: a reference seen inside a track or album (only the
 * name is written; genres etc. stay as they were); 1: a full artist object
 * (followed, top): every column is written. Numbers -1 = unknown (NULL). */
typedef struct store_artist_row {
    const char *id; /* required */
    const char *name;
    int full;
    const char *genres_json; /* JSON array text, NULL = unknown */
    const char *image_url;
    int64_t followers;
    int64_t popularity;
} store_artist_row;

typedef struct store_album_row {
    const char *id; /* required */
    const char *name;
    const char *album_type;
    const char *release_date;
    const char *release_date_precision;
    int64_t total_tracks; /* -1 unknown */
    const char *image_url;
    const store_ref *artists; /* in order; refs without an id are skipped */
    size_t n_artists;
} store_album_row;

typedef struct store_show_row {
    const char *id; /* required */
    const char *name;
    const char *publisher;
    int64_t total_episodes; /* -1 unknown */
    const char *image_url;
} store_show_row;

/* A playable item: a track, an episode or a local file. */
typedef struct store_track_row {
    const char *uri;  /* required: spotify:track:ID, spotify:episode:ID, spotify:local:... */
    const char *id;   /* NULL for local files */
    const char *kind; /* "track" | "episode" | "local" */
    const char *name;
    int64_t duration_ms; /* -1 unknown */
    int explicit_;
    int64_t disc_number;  /* -1 unknown */
    int64_t track_number; /* -1 unknown */
    const char *isrc;
    const store_album_row *album; /* tracks: written too; local files: its name only */
    const store_ref *artists;     /* tracks: written too (by id); local: first name kept */
    size_t n_artists;
    const store_show_row *show;   /* episodes: written too */
    const char *release_date;     /* episodes */
} store_track_row;

/* Upserts catalog rows (and the albums, shows and artists the tracks and
 * albums embed) in one transaction (tx). Rows repeated within the call are
 * written once. Artist links are upserted by position. */
kt_status store_catalog_put(store *s, const store_artist_row *artists, size_t n_artists,
                            const store_album_row *albums, size_t n_albums,
                            const store_show_row *shows, size_t n_shows,
                            const store_track_row *tracks, size_t n_tracks, int64_t now_ms,
                            kt_err *err);

/* ---- simple ordered collections ---- */

typedef enum store_coll {
    STORE_COLL_LIKED,    /* saved_tracks: ref = track uri */
    STORE_COLL_ALBUMS,   /* saved_albums: ref = album id */
    STORE_COLL_SHOWS,    /* saved_shows: ref = show id */
    STORE_COLL_EPISODES, /* saved_episodes: ref = episode uri */
    STORE_COLL_FOLLOWED  /* followed_artists: ref = artist id (added_at unused) */
} store_coll;

typedef struct store_saved_row {
    const char *ref;  /* required; must exist in the catalog */
    int64_t added_at; /* unix ms; -1 = NULL */
} store_saved_row;

/* The first `limit` (<= STORE_LIB_MAX_LIMIT) entries of a collection in
 * order, columns (ref TEXT, added_at INT|NULL), and the number of entries in
 * *total. Caller owns *out. */
kt_status store_coll_head(store *s, int64_t user_id, store_coll c, size_t limit, store_rows **out,
                          int64_t *total, kt_err *err);

/* Every entry of a collection in order, columns (ref TEXT, added_at
 * INT|NULL) as store_coll_head; for a sync's cursor guesses (the followed
 * artists a page ended on last time). Caller owns *out. */
kt_status store_coll_all(store *s, int64_t user_id, store_coll c, store_rows **out, kt_err *err);

/* Replaces the collection with rows[0..n) in that order (tx). Nothing is
 * written when it is already identical. *added / *removed (may be NULL)
 * receive how many refs appeared / disappeared (counted as multisets). */
kt_status store_coll_replace(store *s, int64_t user_id, store_coll c, const store_saved_row *rows,
                             size_t n, int64_t *added, int64_t *removed, kt_err *err);

/* ---- playlists ---- */

typedef struct store_playlist_row {
    const char *spotify_id; /* required */
    const char *name;
    const char *description;
    const char *owner_id;
    const char *owner_name;
    int collaborative;
    int public_; /* 1, 0, -1 unknown */
    const char *snapshot_id;
    int64_t items_total; /* -1 unknown */
    const char *image_url;
    /* The custom cover of the playlist's current snapshot, or all NULL
     * (Spotify's mosaic, or not known): its hex SHA-256, the URL it was read
     * from, and its bytes, which may be NULL when the user already has a
     * cover of that hash stored (store_playlist_cover_urls). */
    const char *cover_sha256;
    const char *cover_url;
    const unsigned char *cover_bytes;
    size_t cover_len;
} store_playlist_row;

/* One entry of a playlist: uri NULL keeps a null entry. */
typedef struct store_item_row {
    const char *uri;
    int64_t added_at; /* -1 = NULL */
    const char *added_by;
} store_item_row;

/* The items of one playlist at one snapshot. */
typedef struct store_playlist_items {
    const char *spotify_id;
    const char *snapshot_id;
    const store_item_row *items;
    size_t n;
} store_playlist_items;

/* The user's playlists as stored, columns (spotify_id, snapshot_id,
 * synced_snapshot_id, removed_at), every row including removed ones. */
kt_status store_playlists_state(store *s, int64_t user_id, store_rows **out, kt_err *err);

/* The custom covers the user's playlist versions have: columns (cover_url,
 * cover_sha256), each pair once. A sync that sees one of these URLs again
 * knows the cover without fetching it. */
kt_status store_playlist_cover_urls(store *s, int64_t user_id, store_rows **out, kt_err *err);

/* The custom cover of version snapshot_id of the user's playlist
 * spotify_id: *bytes (caller frees) and *len, and sha_out (65 bytes, may be
 * NULL) its hex SHA-256. KT_ERR_NOT_FOUND when there is no such version;
 * KT_OK with *bytes NULL when the version had no custom cover. */
kt_status store_playlist_cover_get(store *s, int64_t user_id, const char *spotify_id,
                                   const char *snapshot_id, unsigned char **bytes, size_t *len,
                                   char sha_out[65], kt_err *err);

/* The bytes of the user's stored cover sha256 (hex): *bytes (caller frees)
 * and *len; KT_ERR_NOT_FOUND when the user has no such cover. */
kt_status store_playlist_cover_bytes(store *s, int64_t user_id, const char *sha256,
                                     unsigned char **bytes, size_t *len, kt_err *err);

/* Replaces the user's playlist list and the items of the playlists in
 * `items` in one transaction (tx): playlists[] become the list in that
 * order (upserted by spotify_id); stored playlists not in it are marked
 * removed (kept with their versions for history); for each items[] entry
 * (whose playlist must be in playlists[]) the items are replaced, the
 * playlist's synced_snapshot_id set, and a version recorded for the
 * snapshot unless one exists; a playlist row's cover (cover_sha256) is
 * then set on the version of its snapshot_id when there is one, its bytes
 * kept once per hash (KT_ERR_INVALID, nothing written, when a new hash
 * comes without bytes). *added / *removed (may be NULL) count
 * playlists and items that appeared / disappeared. */
kt_status store_playlists_replace(store *s, int64_t user_id, const store_playlist_row *playlists,
                                  size_t n, const store_playlist_items *items, size_t n_items,
                                  int64_t now_ms, int64_t *added, int64_t *removed, kt_err *err);

/* ---- top items, plays ---- */

typedef struct store_top_list {
    const char *kind;       /* "tracks" | "artists" */
    const char *time_range; /* "short_term" | "medium_term" | "long_term" */
    const char *const *refs; /* track uris / artist ids, rank 1..n in order */
    size_t n;
} store_top_list;

/* Replaces the lists' snapshots for `day` ("YYYY-MM-DD") in one
 * transaction (tx). */
kt_status store_top_replace(store *s, int64_t user_id, const char *day,
                            const store_top_list *lists, size_t n, kt_err *err);

typedef struct store_play_row {
    int64_t played_at; /* unix ms, required */
    const char *track_uri;
    const char *context_uri; /* may be NULL */
} store_play_row;

/* A polled play within this many ms of an imported play of the same uri
 * is that play (Spotify's export and recently-played both give the end
 * time, rounded differently); history_import.h's HISTORY_DUP_WINDOW_MS is
 * the same rule seen from the import side. */
#define STORE_PLAY_SAME_MS 30000

/* Adds plays, each at most once per (user, played_at), and none that is
 * already stored as an imported play (same uri within STORE_PLAY_SAME_MS;
 * each imported play absorbs at most one polled play) (tx). *added (may be
 * NULL) receives how many were new. */
kt_status store_plays_add(store *s, int64_t user_id, const store_play_row *rows, size_t n,
                          int64_t *added, kt_err *err);

/* ---- sync runs ---- */

/* Records a run as "running"; *run_id receives its id. */
kt_status store_sync_run_start(store *s, int64_t user_id, const char *what, int64_t now_ms,
                               int64_t *run_id, kt_err *err);

/* Finishes a run: status "done" | "failed" | "deferred"; error may be NULL. */
kt_status store_sync_run_finish(store *s, int64_t run_id, const char *status, int64_t now_ms,
                                int64_t requests, int64_t added, int64_t removed,
                                const char *error, kt_err *err);

/* ---- reads for the API ---- */

/* Columns of a track as the read functions return it, starting at the
 * function's first track column: uri, id, kind, name, duration_ms, explicit,
 * disc_number, track_number, isrc, album_id, album_name, album_type,
 * release_date, release_date_precision, show_id, show_name, show_publisher,
 * episode release_date, local_artist, local_album. */
#define STORE_TRACK_NCOLS 20

typedef enum store_sort {
    STORE_SORT_ADDED_AT,
    STORE_SORT_NAME,
    STORE_SORT_ARTIST,
    STORE_SORT_RELEASE_DATE
} store_sort;

/* One page of liked songs: columns (position, added_at, track columns...).
 * q (may be NULL or "") keeps the tracks whose name, album or any artist
 * contains it (case-insensitive for ASCII). Ties keep Spotify's order.
 * *total receives the matching count. limit 1..STORE_LIB_MAX_LIMIT. */
kt_status store_liked_page(store *s, int64_t user_id, const char *q, store_sort sort, int desc,
                           size_t limit, size_t offset, store_rows **out, int64_t *total,
                           kt_err *err);

/* The artists of tracks: columns (track_uri, position, artist_id, name),
 * ordered by track then position, for uris[0..n). */
kt_status store_track_artists(store *s, const char *const *uris, size_t n, store_rows **out,
                              kt_err *err);

/* The user's current playlists in order, columns (spotify_id, name,
 * description, owner_id, owner_name, collaborative, public, snapshot_id,
 * items_total, image_url, synced_snapshot_id, updated_at, position). */
kt_status store_playlists_list(store *s, int64_t user_id, size_t limit, size_t offset,
                               store_rows **out, int64_t *total, kt_err *err);

/* One playlist of the user (removed ones too, removed_at last column);
 * same columns as store_playlists_list plus removed_at and the row id.
 * KT_ERR_NOT_FOUND when the user has no such playlist. */
kt_status store_playlist_get(store *s, int64_t user_id, const char *spotify_id, store_rows **out,
                             kt_err *err);

/* A page of a playlist's stored items: columns (position, added_at,
 * added_by, track columns... (all NULL for a null entry)). *total gets the
 * number of stored items. KT_ERR_NOT_FOUND for another user's playlist. */
kt_status store_playlist_items_page(store *s, int64_t user_id, const char *spotify_id,
                                    size_t limit, size_t offset, store_rows **out, int64_t *total,
                                    kt_err *err);

/* The versions of a playlist, newest first: columns (snapshot_id, seen_at,
 * items_total, cover_sha256|NULL, cover_url|NULL: the version's custom
 * cover, migration 15). KT_ERR_NOT_FOUND for an unknown playlist. */
kt_status store_playlist_versions(store *s, int64_t user_id, const char *spotify_id,
                                  store_rows **out, kt_err *err);

/* One version's item list as stored (the JSON text); *out malloc'd.
 * KT_ERR_NOT_FOUND when the playlist or the snapshot is unknown. */
kt_status store_playlist_version_items(store *s, int64_t user_id, const char *spotify_id,
                                       const char *snapshot_id, char **out, kt_err *err);

/* Followed artists in order: columns (position, id, name, genres,
 * image_url, followers, popularity). */
kt_status store_following_page(store *s, int64_t user_id, size_t limit, size_t offset,
                               store_rows **out, int64_t *total, kt_err *err);

/* Saved albums: (position, added_at, id, name, album_type, release_date,
 * release_date_precision, total_tracks, image_url). Saved shows: (position,
 * added_at, id, name, publisher, total_episodes, image_url). Saved
 * episodes: (position, added_at, track columns...). */
kt_status store_saved_albums_page(store *s, int64_t user_id, size_t limit, size_t offset,
                                  store_rows **out, int64_t *total, kt_err *err);
kt_status store_saved_shows_page(store *s, int64_t user_id, size_t limit, size_t offset,
                                 store_rows **out, int64_t *total, kt_err *err);
kt_status store_saved_episodes_page(store *s, int64_t user_id, size_t limit, size_t offset,
                                    store_rows **out, int64_t *total, kt_err *err);

/* The artists of albums: columns (album_id, position, artist_id, name). */
kt_status store_album_artists(store *s, const char *const *ids, size_t n, store_rows **out,
                              kt_err *err);

/* The newest day ("YYYY-MM-DD") with a top snapshot of kind/range, into
 * *day (11 bytes). KT_ERR_NOT_FOUND when there is none. */
kt_status store_top_latest_day(store *s, int64_t user_id, const char *kind,
                               const char *time_range, char day[11], kt_err *err);

/* A top snapshot in rank order. Tracks: (rank, track columns...); artists:
 * (rank, id, name, genres, image_url, followers, popularity). */
kt_status store_top_get(store *s, int64_t user_id, const char *kind, const char *time_range,
                        const char *day, store_rows **out, kt_err *err);

/* Plays with from_ms <= played_at < to_ms, newest first: columns
 * (played_at, context_uri, track columns...). */
kt_status store_plays_page(store *s, int64_t user_id, int64_t from_ms, int64_t to_ms,
                           size_t limit, size_t offset, store_rows **out, int64_t *total,
                           kt_err *err);

/* The user's sync runs, newest first: columns (id, what, started_at,
 * finished_at, status, requests, added, removed, error). */
kt_status store_sync_runs_page(store *s, int64_t user_id, size_t limit, size_t offset,
                               store_rows **out, int64_t *total, kt_err *err);

#endif
