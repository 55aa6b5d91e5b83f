/* stats.h - statistics over the local copy (issue 7): the analysis of
 * Liked Songs, listening statistics, tracker points, top-item movement, one
 * aggregate for a dashboard, and the job that fills what those need from
 * Spotify (artist genres and images, audio features).
 *
 * Reads never call Spotify: they read the store (store_stats.h) and say how
 * complete the cached parts are. Spotify is called only by the "stats" job
 * (stats_refresh): artists of the user's liked songs and top items fetched
 * one at a time with GET /artists/{id} (batch lookups are gone in
 * development mode), kept for STATS_ARTIST_TTL_MS, at most
 * STATS_ARTISTS_PER_RUN per run; audio features with GET
 * /audio-features?ids= (100 per request) only when the app has extended
 * quota. Every request goes through the client's request budget; a long
 * rate limit defers the job, which resumes where it stopped because each
 * answer is stored as it arrives.
 *
 * Times: days are UTC ("YYYY-MM-DD"); the hour x weekday grid is in UTC
 * (weekday 0 = Sunday). All JSON answers are new references owned by the
 * caller. Invalid arguments are KT_ERR_INVALID with code "bad_parameter"
 * and a message naming the parameter. Thread-safe: each call borrows its
 * own pooled connection.
 */
#ifndef KT_SERVICES_STATS_H
#define KT_SERVICES_STATS_H

#include <jansson.h>
#include <stdint.h>

#include "core/err.h"
#include "services/app.h"

/* Job kinds: "trackers" (params {}; records the job user's point for the
 * day) and "stats" (params {}; stats_refresh for the job's user). */
#define STATS_JOB_TRACKERS "trackers"
#define STATS_JOB_REFRESH "stats"

/* Artist details are fetched again after 30 days. */
#define STATS_ARTIST_TTL_MS (30LL * 24 * 3600 * 1000)
/* Artists fetched per run at most (the rest in the next run). */
#define STATS_ARTISTS_PER_RUN 2000
/* Audio-feature requests (100 tracks each) per run at most. */
#define STATS_FEATURE_BATCHES_PER_RUN 100

/* app_state key holding whether audio features could be fetched:
 * "available" or "unavailable: <reason>". */
#define STATS_FEATURES_STATE_KEY "stats.audio_features"

/* GET /api/stats/library: {tracks, local_files, artists, albums, duration
 * {total_ms, average_ms, longest[10], shortest[10]}, explicit {count,
 * share}, top_artists[10] {id, uri, name, image_url, tracks}, top_albums[10]
 * {id, uri, name, artist, image_url, release_date, tracks}, genres
 * {available, reason?, artists_total, artists_checked, coverage, items
 * [{genre, tracks, artists}]}, release_years [{year, tracks}], decades
 * [{decade, tracks}], added_per_month [{month "YYYY-MM", tracks}],
 * audio_features {available: false, reason} | {available: true, tracks,
 * coverage, averages {...}, keys [12], modes {major, minor}}}. */
kt_status stats_library(kt_app *app, int64_t user_id, json_t **out, kt_err *err);

/* GET /api/stats/listening over plays with from_ms <= played_at < to_ms:
 * {from, to, timezone "UTC", plays, listening_ms, distinct_tracks,
 * distinct_artists, top_tracks {by_plays, by_time}, top_artists {...},
 * top_albums {...} (each list `limit` long, 1..100), weekday_hour {weekdays
 * ["Sunday"..], plays [7][24], ms [7][24]}, per_day [{day, plays, ms}],
 * first_heard {total, items [{artist, first_played_at}]}}. */
kt_status stats_listening(kt_app *app, int64_t user_id, int64_t from_ms, int64_t to_ms,
                          int limit, json_t **out, kt_err *err);

/* A listening range as the listening routes take it (issue 19). period
 * "day" | "week" | "month" | "year" (the last 1, 7, 30, 365 UTC days up to
 * `to`) | "all" (from the first play) | "custom" or NULL with `from`;
 * from_ms/to_ms are STATS_NO_TIME when not given (`to` then = the end of
 * today, UTC). bucket "hour" | "day" | "week" (starting Monday) | "month" |
 * "year" | NULL (chosen from the period: hour for a day, day up to 92 days,
 * week up to 3 years, month beyond). */
#define STATS_NO_TIME INT64_MIN
typedef struct stats_range_args {
    const char *period;
    int64_t from_ms, to_ms;
    const char *bucket;
} stats_range_args;

/* GET /api/stats/listening/series: {period, bucket, from, to, timezone
 * "UTC", plays, ms, distinct_tracks, distinct_artists, previous {from, to,
 * plays, ms} (the range of the same length just before; null for "all"),
 * buckets [{start (ISO 8601), plays, ms}] (every bucket overlapping the
 * range, empty ones included; at most STATS_MAX_BUCKETS)}. A play counts
 * in a range when from <= played_at < to. Bad arguments: KT_ERR_INVALID
 * "bad_parameter" naming period, from, to or bucket. */
#define STATS_MAX_BUCKETS 1000
kt_status stats_listening_series(kt_app *app, int64_t user_id, const stats_range_args *range,
                                 int64_t now_ms, json_t **out, kt_err *err);

/* GET /api/stats/tops: kind "tracks" | "artists" | "albums", by "plays" |
 * "time", limit 1..100. {kind, by, period, from, to, plays, ms (totals of
 * the range), items [{rank, name, plays, ms, share (of the range's plays,
 * or of its listening time when by time; 0 when there is none), tracks:
 * uri, id|null, artist, album; artists: id|null; albums: id|null, artist}]}.
 * Ranks and ties as store_stats_listen_top. */
kt_status stats_tops(kt_app *app, int64_t user_id, const char *kind, const char *by,
                     const stats_range_args *range, int limit, int64_t now_ms, json_t **out,
                     kt_err *err);

/* GET /api/stats/{track,artist,album}/{id}: one item's listening over all
 * the user's plays. kind "track" | "artist" | "album"; id a Spotify id
 * (base62). {kind, id, uri, name, image_url, artist {id, name}|null, album
 * {id, name}|null, plays, ms, first_play, last_play (ISO 8601 or null),
 * per_day [{day, plays, ms}] (days with plays), rank_history [{range, day,
 * rank}] (store_stats_rank_history), playlists [{id, spotify_id, name,
 * positions [{position, uri, name}]}] (current playlists holding it; at
 * most 500 entries in all), liked {total, items [{position, added_at,
 * uri, name}] (at most 500)}}. KT_ERR_NOT_FOUND ("no_such_item") when
 * none of the user's plays, playlists, Liked Songs or top items hold it
 * (the catalog is shared: nothing is said about another user's items). */
kt_status stats_item(kt_app *app, int64_t user_id, const char *kind, const char *id,
                     json_t **out, kt_err *err);

/* GET /api/stats/library/growth: Liked Songs over time, rebuilt from each
 * liked item's added_at, so there is a history right after the first sync.
 * {liked (now), undated (items without added_at, counted from the start),
 * points [{day, added, liked}] (one per UTC day on which songs were
 * added, liked = the count at the end of that day)}. */
kt_status stats_library_growth(kt_app *app, int64_t user_id, json_t **out, kt_err *err);

/* GET /api/stats/tracker: name "liked" | "playlists" | "followed" |
 * "plays" | NULL (every series); from_day..to_day inclusive (YYYY-MM-DD;
 * NULL = 90 days before to_day / today UTC). {name, from, to, points:
 * [{day, value, change (liked only)}]} or, without a name, points with
 * every field. */
kt_status stats_tracker(kt_app *app, int64_t user_id, const char *name, const char *from_day,
                        const char *to_day, int64_t now_ms, json_t **out, kt_err *err);

/* GET /api/top/movement: range short_term | medium_term | long_term, kind
 * "tracks" | "artists" (NULL = tracks). The `to` snapshot is the newest on
 * or before to_day (NULL: the newest), the `from` snapshot the newest on or
 * before from_day (NULL: the one before `to`). {range, kind, from_day|null,
 * to_day, new [{rank, track|artist}], climbers / fallers [{rank,
 * previous_rank, change (positive = up), ...}], dropped [{previous_rank,
 * ...}], unchanged [...]}. A track: {uri, id, name, artist, artist_uri,
 * album, release_year, genres|null, audio_features|null}. KT_ERR_NOT_FOUND
 * (no_top_items) when there is no snapshot on or before to_day. */
kt_status stats_top_movement(kt_app *app, int64_t user_id, const char *range, const char *kind,
                             const char *from_day, const char *to_day, json_t **out,
                             kt_err *err);

/* GET /api/stats/aggregate: {generated_at, trackers (last 30 days, every
 * field), library (stats_library), top_movement {short_term, medium_term,
 * long_term} (tracks; null without snapshots), listening (last 30 days,
 * lists of 5)}. */
kt_status stats_aggregate(kt_app *app, int64_t user_id, int64_t now_ms, json_t **out,
                          kt_err *err);

/* Records today's (UTC, from now_ms) tracker point of one user, or of every
 * user when user_id is 0. *points (may be NULL) receives how many were
 * written. POST /api/admin/trackers/update and the "trackers" job. */
kt_status stats_trackers_update(kt_app *app, int64_t user_id, int64_t now_ms, int64_t *points,
                                kt_err *err);

/* What a stats_refresh run did. */
typedef struct stats_refresh_result {
    int64_t artists_fetched;
    int64_t features_fetched; /* tracks asked for */
    int features_available;   /* 1 when the app may read audio features */
    int stopped;              /* the stopping hook asked to stop early */
} stats_refresh_result;

typedef struct stats_hooks {
    void *ctx;
    void (*progress)(void *ctx, int64_t done, int64_t total, const char *msg); /* may be NULL */
    int (*stopping)(void *ctx);                                                /* may be NULL */
} stats_hooks;

/* The "stats" job: fetches missing or stale artist details and missing
 * audio features for the user's liked songs and top items. Errors as
 * spotify.h (KT_ERR_DEFERRED on a long rate limit; what was stored stays).
 * hooks and res may be NULL. */
kt_status stats_refresh(kt_app *app, int64_t user_id, int64_t now_ms, const stats_hooks *hooks,
                        stats_refresh_result *res, kt_err *err);

/* Enqueues a "stats" job for the user in the lane "stats:<user>" (the
 * running one is returned when there is one; *created tells). dedupe_key
 * may be NULL. */
kt_status stats_enqueue_refresh(kt_app *app, int64_t user_id, const char *dedupe_key,
                                int64_t *id, int *created, kt_err *err);

/* The scheduler's periodic work for one user: a "trackers" job
 * ("sched:tracker:u<user>:p<period_start>") and a "stats" job
 * ("sched:stats:u<user>:p<period_start>"), each once per period however
 * many schedulers run. *enqueued is incremented per job created. */
kt_status stats_schedule(kt_app *app, int64_t user_id, int64_t period_start, int *enqueued,
                         kt_err *err);

#endif
