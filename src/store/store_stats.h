/* store_stats.h - the domain SQL of statistics (issue 7): the analysis of a
 * user's Liked Songs, listening statistics over plays (polled and
 * imported), tracker points (one datapoint per user per day), top-item
 * snapshots for the movement report, and the caches the stats job fills
 * (artist details with a TTL, audio features). Tables: migration 3 (library),
 * 4 (play sources, names), 8 (artists.details_at, audio_features,
 * tracker_points); see migrations.c.
 *
 * Aggregation happens in SQL (GROUP BY, portable on both back-ends) so a
 * 50,000-song library or a 100,000-play history answers in a few queries
 * returning small result sets. Calendar arithmetic the two dialects spell
 * differently is done on integers: a play's UTC day is played_at / 86400000,
 * its UTC hour (played_at / 3600000) % 24 and its weekday
 * (played_at / 86400000 + 4) % 7 with 0 = Sunday (1970-01-01 was a
 * Thursday); months are derived in C from day numbers. Genre lists are JSON
 * text and are counted in C (services/stats.c).
 *
 * A play's names, used to group listening statistics: track = the catalog
 * track's name, else the name the export gave; artist = the track's first
 * catalog artist, else the export's artist name, else a local file's
 * artist; album likewise. A play's time = ms_played when the export gave
 * it, else the track's duration (Spotify's recently-played does not say
 * how long a polled play lasted).
 *
 * Conventions as store_library.h: a borrowed `store *` held by the calling
 * thread; kt_status + err; out-parameters written only on success; the
 * caller owns returned rows (store_rows_free). Functions marked (tx) open
 * their own transaction and must not be called inside one.
 */
#ifndef KT_STORE_STORE_STATS_H
#define KT_STORE_STORE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* Largest `limit` the list functions accept. */
#define STORE_STATS_MAX_LIMIT 500

/* ---- tracker points ---- */

typedef struct store_tracker_point {
    char day[11];         /* YYYY-MM-DD (UTC) */
    int64_t liked;        /* liked songs now */
    int64_t liked_change; /* liked minus the previous point's liked */
    int has_change;       /* 0 for the user's first point (liked_change NULL) */
    int64_t playlists;    /* current playlists (not removed) */
    int64_t followed;     /* followed artists */
    int64_t plays;        /* plays during the day [day_start_ms, day_start_ms + 1 day) */
    int64_t plays_total;  /* every play stored for the user */
} store_tracker_point;

/* Records the user's point for `day` (YYYY-MM-DD starting at day_start_ms,
 * UTC midnight) from what the store holds now, replacing an earlier point
 * of the same day (tx). The change is against the newest point before
 * `day`. *out (may be NULL) receives the point written. */
kt_status store_tracker_record(store *s, int64_t user_id, const char *day, int64_t day_start_ms,
                               int64_t now_ms, store_tracker_point *out, kt_err *err);

/* The user's points with from_day <= day <= to_day in day order: columns
 * (day, liked, liked_change|NULL, playlists, followed, plays, plays_total,
 * recorded_at). At most 10,000 rows (27 years of days). */
kt_status store_tracker_points(store *s, int64_t user_id, const char *from_day,
                               const char *to_day, store_rows **out, kt_err *err);

/* ---- caches filled by the stats job ---- */

/* Artists of the user's liked songs and top tracks, plus top artists, whose
 * details are unknown (genres NULL: only seen as a reference) or were
 * fetched before cutoff_ms: columns (id), at most `limit`, by id. */
kt_status store_stats_artists_due(store *s, int64_t user_id, int64_t cutoff_ms, size_t limit,
                                  store_rows **out, kt_err *err);

/* Stores an artist's details as fetched: genres (JSON array text,
 * required), image_url (NULL keeps the stored one), details_at = now_ms. An
 * unknown id is ignored. */
kt_status store_stats_artist_put(store *s, const char *id, const char *genres_json,
                                 const char *image_url, int64_t now_ms, kt_err *err);

/* Track ids of the user's liked songs and top tracks without a row in
 * audio_features: columns (id), at most `limit`, by id. */
kt_status store_stats_features_due(store *s, int64_t user_id, size_t limit, store_rows **out,
                                   kt_err *err);

/* Stores audio features (tx): features_json[i] is the object's JSON text or
 * "null" (Spotify has none for ids[i]). Existing rows are replaced. */
kt_status store_stats_features_put(store *s, const char *const *ids,
                                   const char *const *features_json, size_t n, int64_t now_ms,
                                   kt_err *err);

/* ---- Liked Songs ---- */

typedef struct store_liked_summary {
    int64_t tracks;         /* every liked item */
    int64_t local_files;    /* kind 'local' */
    int64_t explicit_;      /* marked explicit */
    int64_t duration_total; /* ms, over items with a known duration */
    int64_t with_duration;  /* items with a known duration */
    int64_t artists;        /* distinct artist ids over all artists of the items */
    int64_t albums;         /* distinct album ids */
    int64_t artists_detailed; /* of `artists`: genres known (fetched in full) */
    int64_t features_known; /* items whose audio features are stored (not 'null') */
} store_liked_summary;

kt_status store_stats_liked_summary(store *s, int64_t user_id, store_liked_summary *out,
                                    kt_err *err);

/* Artists by the number of liked items listing them (any position), ties
 * by name then id: columns (id, name, image_url, tracks). */
kt_status store_stats_liked_top_artists(store *s, int64_t user_id, size_t limit,
                                        store_rows **out, kt_err *err);

/* Albums by liked items, ties by name then id: columns (id, name,
 * image_url, release_date, tracks, first artist's name). */
kt_status store_stats_liked_top_albums(store *s, int64_t user_id, size_t limit,
                                       store_rows **out, kt_err *err);

/* Liked items per release year (the first 4 characters of the album's
 * release_date; items without one are left out): columns (year, tracks),
 * by year. */
kt_status store_stats_liked_years(store *s, int64_t user_id, store_rows **out, kt_err *err);

/* Liked items per UTC day added (added_at / 86400000; items without
 * added_at left out): columns (day number, tracks), by day. */
kt_status store_stats_liked_added_days(store *s, int64_t user_id, store_rows **out,
                                       kt_err *err);

/* The `limit` longest (desc 1) or shortest (desc 0) liked items with a
 * known duration, ties by uri: columns (uri, name, duration_ms, first
 * artist's name (local files: their artist), album name). */
kt_status store_stats_liked_extremes(store *s, int64_t user_id, int desc, size_t limit,
                                     store_rows **out, kt_err *err);

/* For every (liked item, artist of it) whose artist's genres are known:
 * columns (track_uri, artist_id, genres JSON text), by track. */
kt_status store_stats_liked_genres(store *s, int64_t user_id, store_rows **out, kt_err *err);

/* The stored audio features of the liked items (not 'null'): columns
 * (track_id, features JSON text). */
kt_status store_stats_liked_features(store *s, int64_t user_id, store_rows **out, kt_err *err);

/* ---- listening (plays with from_ms <= played_at < to_ms) ---- */

typedef struct store_listen_totals {
    int64_t plays;
    int64_t ms;      /* listening time (see the top of this file) */
    int64_t tracks;  /* distinct track uris */
    int64_t artists; /* distinct artist names */
    int64_t first_ms, last_ms; /* first and last play (0 when none) */
} store_listen_totals;

kt_status store_stats_listen_totals(store *s, int64_t user_id, int64_t from_ms, int64_t to_ms,
                                    store_listen_totals *out, kt_err *err);

typedef enum store_listen_group {
    STORE_LISTEN_TRACKS,  /* columns (uri, track, artist, album, plays, ms) */
    STORE_LISTEN_ARTISTS, /* columns (artist, artist id|NULL, plays, ms) */
    STORE_LISTEN_ALBUMS   /* columns (album, artist, plays, ms, album id|NULL) */
} store_listen_group;

/* The top `limit` groups by plays (by_time 0; ties by time) or by time
 * (by_time 1; ties by plays), then by name. */
kt_status store_stats_listen_top(store *s, int64_t user_id, int64_t from_ms, int64_t to_ms,
                                 store_listen_group g, int by_time, size_t limit,
                                 store_rows **out, kt_err *err);

/* Plays per UTC (weekday 0 = Sunday .. 6, hour 0..23): columns (weekday,
 * hour, plays, ms); empty cells are left out. */
kt_status store_stats_listen_hours(store *s, int64_t user_id, int64_t from_ms, int64_t to_ms,
                                   store_rows **out, kt_err *err);

/* Plays per UTC day: columns (day number, plays, ms), by day. */
kt_status store_stats_listen_days(store *s, int64_t user_id, int64_t from_ms, int64_t to_ms,
                                  store_rows **out, kt_err *err);

/* Artists whose first play ever (over all the user's plays) lies in the
 * range: columns (artist, first played_at), by that time then name, at most
 * `limit`; *total (may be NULL) receives how many there are. */
kt_status store_stats_listen_first_heard(store *s, int64_t user_id, int64_t from_ms,
                                         int64_t to_ms, size_t limit, store_rows **out,
                                         int64_t *total, kt_err *err);

/* ---- listening over time and per item (issue 19) ---- */

/* Which plays a drill-down counts: every play (STORE_ITEM_ALL, id unused),
 * the plays of one track (id = track uri), of one artist (id = artist id;
 * a play counts for the track's first artist, as the top lists group
 * them) or of one album (id = album id). */
typedef enum store_item_kind {
    STORE_ITEM_ALL,
    STORE_ITEM_TRACK,
    STORE_ITEM_ARTIST,
    STORE_ITEM_ALBUM
} store_item_kind;

/* Plays of `kind`/`id` with from_ms <= played_at < to_ms grouped into
 * buckets of unit_ms starting at multiples of unit_ms minus shift_ms
 * (bucket number = (played_at + shift_ms) / unit_ms; hours and days use
 * shift 0, weeks starting Monday 3 days): columns (bucket number, plays, ms,
 * first played_at, last played_at), by bucket; empty buckets are left out.
 * unit_ms must be 1 hour, 1 day or 1 week (the statement text is fixed per
 * unit so the statement cache works); played_at must be >= 0. */
kt_status store_stats_listen_buckets(store *s, int64_t user_id, store_item_kind kind,
                                     const char *id, int64_t from_ms, int64_t to_ms,
                                     int64_t unit_ms, int64_t shift_ms, store_rows **out,
                                     kt_err *err);

/* What the catalog knows of an item: track (id = uri): (name, first artist
 * id, first artist name, album id, album name, duration_ms); artist: (name,
 * image_url); album: (name, first artist id, first artist name, image_url,
 * release_date). No row when the catalog does not hold it. */
kt_status store_stats_item_info(store *s, store_item_kind kind, const char *id,
                                store_rows **out, kt_err *err);

/* The item's ranks in the user's stored top lists: columns (time_range,
 * day, rank), by day then time range. A track: its rank in top tracks; an
 * artist: its rank in top artists; an album: the best rank of any of its
 * tracks in top tracks. */
kt_status store_stats_rank_history(store *s, int64_t user_id, store_item_kind kind,
                                   const char *id, store_rows **out, kt_err *err);

/* Where the item sits in the user's current playlists: columns (playlist
 * id, spotify id, playlist name, position, track uri, track name), by
 * playlist position then item position, at most `limit` rows. An artist's
 * tracks are those listing it at any position. */
kt_status store_stats_item_playlists(store *s, int64_t user_id, store_item_kind kind,
                                     const char *id, size_t limit, store_rows **out,
                                     kt_err *err);

/* The same in Liked Songs: columns (position (0 = newest), added_at|NULL,
 * track uri, track name), by position, at most `limit` rows; *total (may
 * be NULL) receives how many liked items match. */
kt_status store_stats_item_liked(store *s, int64_t user_id, store_item_kind kind,
                                 const char *id, size_t limit, store_rows **out, int64_t *total,
                                 kt_err *err);

/* ---- top-item snapshots ---- */

/* The newest day with a snapshot of kind/range that is <= day (before 0)
 * or < day (before 1); day NULL means no bound. KT_ERR_NOT_FOUND when there
 * is none. */
kt_status store_stats_top_day(store *s, int64_t user_id, const char *kind, const char *range,
                              const char *day, int before, char out[11], kt_err *err);

/* A snapshot in rank order. kind "tracks": columns (rank, uri, id, name,
 * album name, album release_date, first artist id, first artist name,
 * first artist genres|NULL, audio features JSON|NULL); "artists": (rank,
 * id, name, genres|NULL, image_url). */
kt_status store_stats_top_snapshot(store *s, int64_t user_id, const char *kind,
                                   const char *range, const char *day, store_rows **out,
                                   kt_err *err);

/* ---- yearly recap (issue 18) ---- */

/* Tracks whose first play ever (over all the user's plays) lies in the
 * range: columns (uri, track name, artist name, first played_at), by that
 * time then uri (byte order), at most `limit`; *total (may be NULL)
 * receives how many there are. Names as the listening top lists give them. */
kt_status store_stats_listen_first_tracks(store *s, int64_t user_id, int64_t from_ms,
                                          int64_t to_ms, size_t limit, store_rows **out,
                                          int64_t *total, kt_err *err);

/* The UTC days on which the user has any play (polled or imported):
 * columns (day number = played_at / 86400000), ascending. At most one row
 * per day, so a lifetime of history stays a few thousand rows. */
kt_status store_stats_play_days(store *s, int64_t user_id, store_rows **out, kt_err *err);

#endif
