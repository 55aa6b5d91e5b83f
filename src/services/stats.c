/* stats.c - statistics services (see stats.h): JSON answers built from
 * store_stats.h aggregates, tracker points, and the "stats" job that
 * fetches artist details and audio features.
 *
 * The aggregates come out of SQL; what SQL cannot say portably is finished
 * here: day numbers become dates and months, years become decades, genre
 * lists (JSON text per artist) are counted per track, and audio-feature
 * objects are averaged.
 */
#include "services/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/strset.h"
#include "core/timeutil.h"
#include "services/app_priv.h"
#include "services/jobs.h"
#include "services/scheduler.h"
#include "store/store_auth.h"
#include "store/store_stats.h"

#define DAY_MS 86400000LL
#define TOP_LIMIT 10
#define GENRES_MAX 50
#define FIRST_HEARD_MAX 100
#define DUE_CHUNK 50
#define FEATURES_BATCH 100

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
}

static json_t *str_or_null(const store_rows *r, size_t row, size_t col)
{
    const char *s = store_rows_text(r, row, col);
    return s ? json_string(s) : json_null();
}

static json_t *int_of(const store_rows *r, size_t row, size_t col)
{
    return json_integer(store_rows_int(r, row, col));
}

/* "YYYY-MM-DD" of a UTC day number. */
static void day_text(int64_t day_number, char out[11])
{
    char iso[32];
    time_format_iso8601(day_number * DAY_MS, iso);
    memcpy(out, iso, 10);
    out[10] = '\0';
}

static json_t *iso_or_null(int64_t ms)
{
    char iso[32];
    if (ms == 0)
        return json_null();
    time_format_iso8601(ms, iso);
    return json_string(iso);
}

/* 1 when s is a real date "YYYY-MM-DD"; its UTC midnight into *ms. */
static int parse_day(const char *s, int64_t *ms)
{
    return s && strlen(s) == 10 && time_parse_iso8601(s, ms) == KT_OK;
}

/* Parses a JSON text owned by the store; NULL when absent or malformed. */
static json_t *parse_text(const char *text)
{
    return text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
}

/* ================= Liked Songs ================= */

static json_t *extremes_json(const store_rows *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < store_rows_count(r); i++)
        json_array_append_new(arr, json_pack("{s:o,s:o,s:o,s:o,s:I}", "uri", str_or_null(r, i, 0),
                                             "name", str_or_null(r, i, 1), "artist",
                                             str_or_null(r, i, 3), "album", str_or_null(r, i, 4),
                                             "duration_ms",
                                             (json_int_t)store_rows_int(r, i, 2)));
    return arr;
}

static json_t *top_artists_json(const store_rows *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < store_rows_count(r); i++) {
        const char *id = store_rows_text(r, i, 0);
        json_array_append_new(arr, json_pack("{s:s,s:o,s:o,s:o,s:I}", "id", id, "uri",
                                             json_sprintf("spotify:artist:%s", id), "name",
                                             str_or_null(r, i, 1), "image_url",
                                             str_or_null(r, i, 2), "tracks",
                                             (json_int_t)store_rows_int(r, i, 3)));
    }
    return arr;
}

static json_t *top_albums_json(const store_rows *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < store_rows_count(r); i++) {
        const char *id = store_rows_text(r, i, 0);
        json_array_append_new(
            arr, json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:I}", "id", id, "uri",
                           json_sprintf("spotify:album:%s", id), "name", str_or_null(r, i, 1),
                           "artist", str_or_null(r, i, 5), "image_url", str_or_null(r, i, 2),
                           "release_date", str_or_null(r, i, 3), "tracks",
                           (json_int_t)store_rows_int(r, i, 4)));
    }
    return arr;
}

/* Years and decades from (year text, tracks) rows. */
static void years_json(const store_rows *r, json_t **years, json_t **decades)
{
    *years = json_array();
    *decades = json_array();
    int64_t dec = -1, dec_n = 0;
    for (size_t i = 0; i <= store_rows_count(r); i++) {
        int last = i == store_rows_count(r);
        const char *y = last ? NULL : store_rows_text(r, i, 0);
        char *end = NULL;
        long year = y ? strtol(y, &end, 10) : 0;
        if (!last && (!y || *end != '\0' || year <= 0))
            continue; /* not a year: left out */
        int64_t d = last ? -2 : year / 10 * 10;
        if (d != dec && dec >= 0)
            json_array_append_new(*decades, json_pack("{s:I,s:I}", "decade", (json_int_t)dec,
                                                      "tracks", (json_int_t)dec_n));
        if (last)
            break;
        if (d != dec) {
            dec = d;
            dec_n = 0;
        }
        dec_n += store_rows_int(r, i, 1);
        json_array_append_new(*years, json_pack("{s:I,s:I}", "year", (json_int_t)year, "tracks",
                                                (json_int_t)store_rows_int(r, i, 1)));
    }
}

/* Per-month counts from (day number, tracks) rows ordered by day. */
static json_t *months_json(const store_rows *r)
{
    json_t *arr = json_array();
    char cur[8] = "", day[11];
    int64_t n = 0;
    for (size_t i = 0; arr && i <= store_rows_count(r); i++) {
        int last = i == store_rows_count(r);
        if (!last)
            day_text(store_rows_int(r, i, 0), day);
        if (cur[0] && (last || strncmp(day, cur, 7) != 0))
            json_array_append_new(arr, json_pack("{s:s,s:I}", "month", cur, "tracks",
                                                 (json_int_t)n));
        if (last)
            break;
        if (strncmp(day, cur, 7) != 0) {
            memcpy(cur, day, 7);
            cur[7] = '\0';
            n = 0;
        }
        n += store_rows_int(r, i, 1);
    }
    return arr;
}

/* Sorts genre items: tracks desc, then genre. */
static int genre_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t tx = json_integer_value(json_object_get(x, "tracks"));
    json_int_t ty = json_integer_value(json_object_get(y, "tracks"));
    if (tx != ty)
        return tx > ty ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x, "genre")),
                  json_string_value(json_object_get(y, "genre")));
}

/* Counts, per genre, the liked items (once per item) and the artists
 * carrying it, from (track_uri, artist_id, genres) rows ordered by track. */
static kt_status genres_items(const store_rows *r, json_t **out, int *any, kt_err *err)
{
    json_t *by = json_object(), *track_seen = NULL, *items = NULL;
    strset *artists_seen = strset_new();
    json_t **v = NULL;
    const char *cur_track = NULL;
    kt_status st = by && artists_seen ? KT_OK : nomem(err);
    for (size_t i = 0; st == KT_OK && i < store_rows_count(r); i++) {
        const char *uri = store_rows_text(r, i, 0), *artist = store_rows_text(r, i, 1);
        if (!cur_track || strcmp(cur_track, uri) != 0) {
            json_decref(track_seen);
            track_seen = json_object(); /* genres already counted for this item */
            cur_track = uri;
        }
        int new_artist = strset_add(artists_seen, artist);
        json_t *g = parse_text(store_rows_text(r, i, 2)), *e, *row_seen = json_object();
        size_t k;
        if (!track_seen || !row_seen || new_artist < 0)
            st = nomem(err);
        json_array_foreach(g, k, e)
        {
            const char *name = json_string_value(e);
            if (!name || st != KT_OK || json_object_get(row_seen, name))
                continue; /* a genre listed twice by one artist counts once */
            json_object_set_new(row_seen, name, json_true());
            json_t *it = json_object_get(by, name);
            if (!it) {
                it = json_pack("{s:s,s:I,s:I}", "genre", name, "tracks", (json_int_t)0,
                               "artists", (json_int_t)0);
                json_object_set_new(by, name, it);
            }
            if (!json_object_get(track_seen, name)) {
                json_object_set_new(track_seen, name, json_true());
                json_object_set_new(it, "tracks", json_integer(json_integer_value(
                                                      json_object_get(it, "tracks")) + 1));
            }
            if (new_artist > 0)
                json_object_set_new(it, "artists", json_integer(json_integer_value(
                                                       json_object_get(it, "artists")) + 1));
        }
        json_decref(g);
        json_decref(row_seen);
    }
    json_decref(track_seen);
    strset_free(artists_seen);
    size_t n = json_object_size(by), at = 0;
    if (st == KT_OK && (!(items = json_array()) || !(v = calloc(n + 1, sizeof *v))))
        st = nomem(err);
    if (st == KT_OK) {
        const char *key;
        json_t *val;
        json_object_foreach(by, key, val) v[at++] = val;
        qsort(v, n, sizeof *v, genre_cmp);
        for (size_t i = 0; i < n && i < GENRES_MAX; i++)
            json_array_append(items, v[i]);
        *any = n > 0;
        *out = items;
        items = NULL;
    }
    free(v);
    json_decref(items);
    json_decref(by);
    return st;
}

static kt_status genres_json(store *s, int64_t user_id, const store_liked_summary *sum,
                             json_t **out, kt_err *err)
{
    store_rows *r = NULL;
    json_t *items = NULL;
    int any = 0;
    kt_status st = store_stats_liked_genres(s, user_id, &r, err);
    if (st == KT_OK)
        st = genres_items(r, &items, &any, err);
    store_rows_free(r);
    if (st != KT_OK)
        return st;
    json_t *g = json_pack("{s:b,s:I,s:I,s:f,s:o}", "available", any, "artists_total",
                          (json_int_t)sum->artists, "artists_checked",
                          (json_int_t)sum->artists_detailed, "coverage",
                          sum->artists ? (double)sum->artists_detailed / (double)sum->artists
                                       : 0.0,
                          "items", items);
    if (g && !any)
        json_object_set_new(
            g, "reason",
            json_string(sum->artists_detailed == 0
                            ? "artist details have not been fetched yet (the daily stats job, "
                              "or POST /api/stats/refresh)"
                            : "Spotify returned no genres for these artists (genres are "
                              "deprecated and empty for apps in development mode)"));
    *out = g;
    return g ? KT_OK : nomem(err);
}

/* The numeric audio features averaged; key and mode counted. */
static const char *const feature_names[] = {"acousticness", "danceability", "energy",
                                            "instrumentalness", "liveness", "loudness",
                                            "speechiness", "tempo", "valence"};
#define N_FEATURES (sizeof feature_names / sizeof feature_names[0])

static kt_status features_json(store *s, int64_t user_id, const store_liked_summary *sum,
                               json_t **out, kt_err *err)
{
    store_rows *r = NULL;
    char *state = NULL;
    kt_err ignored = {0};
    if (sum->features_known == 0) {
        const char *reason = "audio features have not been fetched yet (the daily stats job, or "
                             "POST /api/stats/refresh)";
        if (store_app_state_get(s, STATS_FEATURES_STATE_KEY, &state, &ignored) == KT_OK &&
            strncmp(state, "unavailable: ", 13) == 0)
            reason = state + 13;
        else if (state && strcmp(state, "available") == 0)
            reason = "Spotify has no audio features for these tracks";
        *out = json_pack("{s:b,s:s}", "available", 0, "reason", reason);
        free(state);
        return *out ? KT_OK : nomem(err);
    }
    kt_status st = store_stats_liked_features(s, user_id, &r, err);
    if (st != KT_OK)
        return st;
    double totals[N_FEATURES] = {0};
    int64_t keys[12] = {0}, major = 0, minor = 0, n = 0;
    for (size_t i = 0; i < store_rows_count(r); i++) {
        json_t *f = parse_text(store_rows_text(r, i, 1));
        if (!json_is_object(f)) {
            json_decref(f);
            continue;
        }
        n++;
        for (size_t k = 0; k < N_FEATURES; k++)
            totals[k] += json_number_value(json_object_get(f, feature_names[k]));
        json_int_t key = json_integer_value(json_object_get(f, "key"));
        if (key >= 0 && key < 12)
            keys[key]++;
        if (json_integer_value(json_object_get(f, "mode")) == 1)
            major++;
        else
            minor++;
        json_decref(f);
    }
    store_rows_free(r);
    json_t *avg = json_object(), *karr = json_array();
    for (size_t k = 0; avg && k < N_FEATURES; k++)
        json_object_set_new(avg, feature_names[k], json_real(n ? totals[k] / (double)n : 0.0));
    for (int k = 0; karr && k < 12; k++)
        json_array_append_new(karr, json_pack("{s:i,s:I}", "key", k, "tracks",
                                              (json_int_t)keys[k]));
    *out = json_pack("{s:b,s:I,s:f,s:o,s:o,s:{s:I,s:I}}", "available", 1, "tracks",
                     (json_int_t)n, "coverage",
                     sum->tracks ? (double)n / (double)sum->tracks : 0.0, "averages", avg, "keys",
                     karr, "modes", "major", (json_int_t)major, "minor", (json_int_t)minor);
    return *out ? KT_OK : nomem(err);
}

typedef struct lib_args {
    int64_t user_id;
} lib_args;

static kt_status read_library(store *s, void *ctx, json_t **out, kt_err *err)
{
    const lib_args *a = ctx;
    store_liked_summary sum;
    store_rows *artists = NULL, *albums = NULL, *years = NULL, *days = NULL, *longest = NULL,
               *shortest = NULL;
    json_t *genres = NULL, *features = NULL, *yj = NULL, *dj = NULL;
    kt_status st;
    if ((st = store_stats_liked_summary(s, a->user_id, &sum, err)) != KT_OK ||
        (st = store_stats_liked_top_artists(s, a->user_id, TOP_LIMIT, &artists, err)) != KT_OK ||
        (st = store_stats_liked_top_albums(s, a->user_id, TOP_LIMIT, &albums, err)) != KT_OK ||
        (st = store_stats_liked_years(s, a->user_id, &years, err)) != KT_OK ||
        (st = store_stats_liked_added_days(s, a->user_id, &days, err)) != KT_OK ||
        (st = store_stats_liked_extremes(s, a->user_id, 1, TOP_LIMIT, &longest, err)) != KT_OK ||
        (st = store_stats_liked_extremes(s, a->user_id, 0, TOP_LIMIT, &shortest, err)) !=
            KT_OK ||
        (st = genres_json(s, a->user_id, &sum, &genres, err)) != KT_OK ||
        (st = features_json(s, a->user_id, &sum, &features, err)) != KT_OK)
        goto out;
    years_json(years, &yj, &dj);
    *out = json_pack(
        "{s:I,s:I,s:I,s:I,s:{s:I,s:I,s:o,s:o},s:{s:I,s:f},s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
        "tracks", (json_int_t)sum.tracks, "local_files", (json_int_t)sum.local_files, "artists",
        (json_int_t)sum.artists, "albums", (json_int_t)sum.albums, "duration", "total_ms",
        (json_int_t)sum.duration_total, "average_ms",
        (json_int_t)(sum.with_duration ? sum.duration_total / sum.with_duration : 0), "longest",
        extremes_json(longest), "shortest", extremes_json(shortest), "explicit", "count",
        (json_int_t)sum.explicit_, "share",
        sum.tracks ? (double)sum.explicit_ / (double)sum.tracks : 0.0, "top_artists",
        top_artists_json(artists), "top_albums", top_albums_json(albums), "genres", genres,
        "release_years", yj, "decades", dj, "added_per_month", months_json(days),
        "audio_features", features);
    genres = features = yj = dj = NULL; /* taken by json_pack ("o"), even on failure */
out:
    json_decref(genres);
    json_decref(features);
    store_rows_free(artists);
    store_rows_free(albums);
    store_rows_free(years);
    store_rows_free(days);
    store_rows_free(longest);
    store_rows_free(shortest);
    return st;
}

kt_status stats_library(kt_app *app, int64_t user_id, json_t **out, kt_err *err)
{
    lib_args a = {.user_id = user_id};
    return app_db_read_json(app, read_library, &a, out, err);
}

/* ================= listening ================= */

typedef struct listen_args {
    int64_t user_id, from_ms, to_ms;
    int limit;
} listen_args;

static json_t *listen_rows_json(const store_rows *r, store_listen_group g)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < store_rows_count(r); i++) {
        json_t *e;
        if (g == STORE_LISTEN_TRACKS)
            e = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "uri", str_or_null(r, i, 0), "name",
                          str_or_null(r, i, 1), "artist", str_or_null(r, i, 2), "album",
                          str_or_null(r, i, 3), "plays", int_of(r, i, 4), "ms", int_of(r, i, 5));
        else if (g == STORE_LISTEN_ARTISTS)
            e = json_pack("{s:o,s:o,s:o,s:o}", "name", str_or_null(r, i, 0), "id",
                          str_or_null(r, i, 1), "plays", int_of(r, i, 2), "ms", int_of(r, i, 3));
        else
            e = json_pack("{s:o,s:o,s:o,s:o}", "name", str_or_null(r, i, 0), "artist",
                          str_or_null(r, i, 1), "plays", int_of(r, i, 2), "ms", int_of(r, i, 3));
        json_array_append_new(arr, e);
    }
    return arr;
}

/* {by_plays, by_time} for one group. */
static kt_status listen_tops(store *s, const listen_args *a, store_listen_group g, json_t **out,
                             kt_err *err)
{
    store_rows *p = NULL, *t = NULL;
    kt_status st = store_stats_listen_top(s, a->user_id, a->from_ms, a->to_ms, g, 0,
                                          (size_t)a->limit, &p, err);
    if (st == KT_OK)
        st = store_stats_listen_top(s, a->user_id, a->from_ms, a->to_ms, g, 1, (size_t)a->limit,
                                    &t, err);
    if (st == KT_OK && !(*out = json_pack("{s:o,s:o}", "by_plays", listen_rows_json(p, g),
                                          "by_time", listen_rows_json(t, g))))
        st = nomem(err);
    store_rows_free(p);
    store_rows_free(t);
    return st;
}

static json_t *grid_json(const store_rows *r)
{
    static const char *const days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                       "Thursday", "Friday", "Saturday"};
    int64_t plays[7][24] = {{0}}, ms[7][24] = {{0}};
    for (size_t i = 0; i < store_rows_count(r); i++) {
        int64_t d = store_rows_int(r, i, 0), h = store_rows_int(r, i, 1);
        if (d >= 0 && d < 7 && h >= 0 && h < 24) {
            plays[d][h] = store_rows_int(r, i, 2);
            ms[d][h] = store_rows_int(r, i, 3);
        }
    }
    json_t *names = json_array(), *pj = json_array(), *mj = json_array();
    for (int d = 0; d < 7 && names && pj && mj; d++) {
        json_t *pr = json_array(), *mr = json_array();
        for (int h = 0; h < 24; h++) {
            json_array_append_new(pr, json_integer(plays[d][h]));
            json_array_append_new(mr, json_integer(ms[d][h]));
        }
        json_array_append_new(names, json_string(days[d]));
        json_array_append_new(pj, pr);
        json_array_append_new(mj, mr);
    }
    return json_pack("{s:s,s:o,s:o,s:o}", "timezone", "UTC", "weekdays", names, "plays", pj, "ms",
                     mj);
}

static json_t *per_day_json(const store_rows *r)
{
    json_t *arr = json_array();
    char day[11];
    for (size_t i = 0; arr && i < store_rows_count(r); i++) {
        day_text(store_rows_int(r, i, 0), day);
        json_array_append_new(arr, json_pack("{s:s,s:o,s:o}", "day", day, "plays",
                                             int_of(r, i, 1), "ms", int_of(r, i, 2)));
    }
    return arr;
}

static kt_status read_listening(store *s, void *ctx, json_t **out, kt_err *err)
{
    const listen_args *a = ctx;
    store_listen_totals tot;
    store_rows *hours = NULL, *days = NULL, *first = NULL;
    json_t *tracks = NULL, *artists = NULL, *albums = NULL;
    int64_t first_total = 0;
    kt_status st;
    if ((st = store_stats_listen_totals(s, a->user_id, a->from_ms, a->to_ms, &tot, err)) !=
            KT_OK ||
        (st = listen_tops(s, a, STORE_LISTEN_TRACKS, &tracks, err)) != KT_OK ||
        (st = listen_tops(s, a, STORE_LISTEN_ARTISTS, &artists, err)) != KT_OK ||
        (st = listen_tops(s, a, STORE_LISTEN_ALBUMS, &albums, err)) != KT_OK ||
        (st = store_stats_listen_hours(s, a->user_id, a->from_ms, a->to_ms, &hours, err)) !=
            KT_OK ||
        (st = store_stats_listen_days(s, a->user_id, a->from_ms, a->to_ms, &days, err)) !=
            KT_OK ||
        (st = store_stats_listen_first_heard(s, a->user_id, a->from_ms, a->to_ms,
                                             FIRST_HEARD_MAX, &first, &first_total, err)) != KT_OK)
        goto out;
    json_t *fh = json_array();
    for (size_t i = 0; fh && i < store_rows_count(first); i++)
        json_array_append_new(fh, json_pack("{s:o,s:o}", "artist", str_or_null(first, i, 0),
                                            "first_played_at",
                                            iso_or_null(store_rows_int(first, i, 1))));
    *out = json_pack("{s:o,s:o,s:s,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:{s:I,s:o}}", "from",
                     iso_or_null(a->from_ms), "to",
                     a->to_ms == INT64_MAX ? json_null() : iso_or_null(a->to_ms), "timezone",
                     "UTC", "plays", (json_int_t)tot.plays, "listening_ms", (json_int_t)tot.ms,
                     "distinct_tracks", (json_int_t)tot.tracks, "distinct_artists",
                     (json_int_t)tot.artists, "first_play", iso_or_null(tot.first_ms),
                     "last_play", iso_or_null(tot.last_ms), "top_tracks", tracks, "top_artists",
                     artists, "top_albums", albums, "weekday_hour", grid_json(hours), "per_day",
                     per_day_json(days), "first_heard", "total", (json_int_t)first_total,
                     "items", fh);
    tracks = artists = albums = NULL;
out:
    json_decref(tracks);
    json_decref(artists);
    json_decref(albums);
    store_rows_free(hours);
    store_rows_free(days);
    store_rows_free(first);
    return st;
}

kt_status stats_listening(kt_app *app, int64_t user_id, int64_t from_ms, int64_t to_ms,
                          int limit, json_t **out, kt_err *err)
{
    if (limit < 1 || limit > 100)
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "limit: must be 1..100");
    if (from_ms > to_ms)
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "from: must not be after to");
    listen_args a = {.user_id = user_id, .from_ms = from_ms, .to_ms = to_ms, .limit = limit};
    return app_db_read_json(app, read_listening, &a, out, err);
}

/* ================= listening over time, tops, drill-down (issue 19) ================= */

#define HOUR_MS 3600000LL
#define WEEK_MS (7 * DAY_MS)
/* Weeks start on Monday: 1970-01-05, three days after the epoch's Thursday
 * would start a week, so week numbers are (t + WEEK_SHIFT) / WEEK_MS. */
#define WEEK_SHIFT (3 * DAY_MS)
#define ITEM_ROWS_MAX 500
#define ID_MAX 64

typedef enum bucket_unit { B_HOUR, B_DAY, B_WEEK, B_MONTH, B_YEAR, B_COUNT } bucket_unit;
static const char *const bucket_names[B_COUNT] = {"hour", "day", "week", "month", "year"};

/* Start of the UTC bucket holding t (t >= 0). */
static int64_t bucket_floor(bucket_unit u, int64_t t)
{
    int64_t y;
    int m, d;
    switch (u) {
    case B_HOUR:
        return t / HOUR_MS * HOUR_MS;
    case B_WEEK:
        return (t + WEEK_SHIFT) / WEEK_MS * WEEK_MS - WEEK_SHIFT;
    case B_MONTH:
    case B_YEAR:
        time_civil_from_days(t / DAY_MS, &y, &m, &d);
        return time_days_from_civil(y, u == B_MONTH ? m : 1, 1) * DAY_MS;
    case B_DAY:
    case B_COUNT:
        break;
    }
    return t / DAY_MS * DAY_MS;
}

/* Start of the bucket after the one starting at `start`. */
static int64_t bucket_next(bucket_unit u, int64_t start)
{
    int64_t y;
    int m, d;
    switch (u) {
    case B_HOUR:
        return start + HOUR_MS;
    case B_WEEK:
        return start + WEEK_MS;
    case B_MONTH:
        time_civil_from_days(start / DAY_MS, &y, &m, &d);
        return time_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * DAY_MS;
    case B_YEAR:
        time_civil_from_days(start / DAY_MS, &y, &m, &d);
        return time_days_from_civil(y + 1, 1, 1) * DAY_MS;
    case B_DAY:
    case B_COUNT:
        break;
    }
    return start + DAY_MS;
}

/* A stats_range_args checked and made concrete. */
typedef struct range_res {
    const char *period; /* as answered: day .. all, custom */
    int64_t from_ms, to_ms;
    bucket_unit unit;
    int has_previous; /* 0 for "all" */
} range_res;

/* A 400 whose message starts with the parameter's name. */
static kt_status bad_param(kt_err *err, const char *msg)
{
    return err_set(err, KT_ERR_INVALID, "bad_parameter", "%s", msg);
}

/* Checks a range and resolves it against the user's plays (the start of
 * "all" is the first play). */
static kt_status resolve_range(store *s, int64_t user_id, const stats_range_args *a,
                               int64_t now_ms, range_res *out, kt_err *err)
{
    static const char *const periods[] = {"day", "week", "month", "year", "all", "custom"};
    static const int64_t days[] = {1, 7, 30, 365};
    const char *period = a->period ? a->period : a->from_ms != STATS_NO_TIME ? "custom" : "month";
    size_t k = 0;
    while (k < sizeof periods / sizeof periods[0] && strcmp(period, periods[k]) != 0)
        k++;
    if (k == sizeof periods / sizeof periods[0])
        return bad_param(err, "period: must be day, week, month, year, all or custom");
    int custom = strcmp(period, "custom") == 0;
    if (custom && a->from_ms == STATS_NO_TIME)
        return bad_param(err, "from: required with period=custom");
    if (!custom && a->from_ms != STATS_NO_TIME)
        return bad_param(err, "from: only with period=custom (or without a period)");
    int64_t to = a->to_ms != STATS_NO_TIME ? a->to_ms : (now_ms / DAY_MS + 1) * DAY_MS;
    if (to <= 0)
        return bad_param(err, "to: must be after 1970-01-01");
    int64_t from = a->from_ms;
    if (custom && from < 0)
        return bad_param(err, "from: must not be before 1970-01-01");
    if (custom && from >= to)
        return bad_param(err, "from: must be before to");
    if (k < 4)
        from = to > days[k] * DAY_MS ? to - days[k] * DAY_MS : 0;
    if (strcmp(period, "all") == 0) {
        store_listen_totals t;
        kt_status st = store_stats_listen_totals(s, user_id, 0, to, &t, err);
        if (st != KT_OK)
            return st;
        /* No plays yet: the last day, so the answer still has a shape. */
        from = t.plays ? t.first_ms / DAY_MS * DAY_MS : (to > DAY_MS ? to - DAY_MS : 0);
    }
    bucket_unit u = B_COUNT;
    if (a->bucket) {
        for (int i = 0; i < B_COUNT; i++)
            if (strcmp(a->bucket, bucket_names[i]) == 0)
                u = (bucket_unit)i;
        if (u == B_COUNT)
            return bad_param(err, "bucket: must be hour, day, week, month or year");
    } else {
        int64_t span = to - from;
        u = span <= 2 * DAY_MS ? B_HOUR
            : span <= 92 * DAY_MS ? B_DAY
            : span <= 3 * 366 * DAY_MS ? B_WEEK
                                       : B_MONTH;
    }
    int64_t n = 0;
    for (int64_t b = bucket_floor(u, from); b < to && n <= STATS_MAX_BUCKETS; b = bucket_next(u, b))
        n++;
    if (n > STATS_MAX_BUCKETS)
        return err_set(err, KT_ERR_INVALID, "bad_parameter",
                       "bucket: more than %d %ss in the range; choose a longer bucket",
                       STATS_MAX_BUCKETS, bucket_names[u]);
    *out = (range_res){.period = period, .from_ms = from, .to_ms = to, .unit = u,
                       .has_previous = strcmp(period, "all") != 0};
    return KT_OK;
}

typedef struct series_args {
    int64_t user_id, now_ms;
    const stats_range_args *range;
} series_args;

/* The range's buckets, filled from the store's hour/day/week rows (months
 * and years are whole days, so day rows add up into them exactly). */
static kt_status series_buckets(store *s, int64_t user_id, const range_res *r, json_t **out,
                                kt_err *err)
{
    int64_t unit = r->unit == B_HOUR ? HOUR_MS : r->unit == B_WEEK ? WEEK_MS : DAY_MS;
    int64_t shift = r->unit == B_WEEK ? WEEK_SHIFT : 0;
    store_rows *rows = NULL;
    kt_status st = store_stats_listen_buckets(s, user_id, STORE_ITEM_ALL, NULL, r->from_ms,
                                              r->to_ms, unit, shift, &rows, err);
    if (st != KT_OK)
        return st;
    json_t *arr = json_array();
    size_t j = 0, n = store_rows_count(rows);
    for (int64_t b = bucket_floor(r->unit, r->from_ms); arr && b < r->to_ms;
         b = bucket_next(r->unit, b)) {
        int64_t next = bucket_next(r->unit, b), plays = 0, ms = 0;
        for (; j < n && store_rows_int(rows, j, 0) * unit - shift < next; j++) {
            plays += store_rows_int(rows, j, 1);
            ms += store_rows_int(rows, j, 2);
        }
        if (json_array_append_new(arr, json_pack("{s:o,s:I,s:I}", "start", iso_or_null(b),
                                                 "plays", (json_int_t)plays, "ms",
                                                 (json_int_t)ms)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    store_rows_free(rows);
    if (!arr)
        return nomem(err);
    *out = arr;
    return KT_OK;
}

static kt_status read_series(store *s, void *ctx, json_t **out, kt_err *err)
{
    const series_args *a = ctx;
    range_res r;
    store_listen_totals cur, prev = {0};
    json_t *buckets = NULL, *previous = NULL;
    int64_t len = 0;
    kt_status st = resolve_range(s, a->user_id, a->range, a->now_ms, &r, err);
    if (st == KT_OK) {
        len = r.to_ms - r.from_ms;
        st = store_stats_listen_totals(s, a->user_id, r.from_ms, r.to_ms, &cur, err);
    }
    if (st == KT_OK && r.has_previous)
        st = store_stats_listen_totals(s, a->user_id, r.from_ms - len, r.from_ms, &prev, err);
    if (st == KT_OK)
        st = series_buckets(s, a->user_id, &r, &buckets, err);
    if (st != KT_OK)
        return st;
    previous = r.has_previous
                   ? json_pack("{s:o,s:o,s:I,s:I}", "from", iso_or_null(r.from_ms - len), "to",
                               iso_or_null(r.from_ms), "plays", (json_int_t)prev.plays, "ms",
                               (json_int_t)prev.ms)
                   : json_null();
    *out = json_pack("{s:s,s:s,s:o,s:o,s:s,s:I,s:I,s:I,s:I,s:o,s:o}", "period", r.period,
                     "bucket", bucket_names[r.unit], "from", iso_or_null(r.from_ms), "to",
                     iso_or_null(r.to_ms), "timezone", "UTC", "plays", (json_int_t)cur.plays,
                     "ms", (json_int_t)cur.ms, "distinct_tracks", (json_int_t)cur.tracks,
                     "distinct_artists", (json_int_t)cur.artists, "previous", previous,
                     "buckets", buckets);
    return *out ? KT_OK : nomem(err);
}

kt_status stats_listening_series(kt_app *app, int64_t user_id, const stats_range_args *range,
                                 int64_t now_ms, json_t **out, kt_err *err)
{
    series_args a = {.user_id = user_id, .now_ms = now_ms, .range = range};
    return app_db_read_json(app, read_series, &a, out, err);
}

typedef struct tops_args {
    int64_t user_id, now_ms;
    const stats_range_args *range;
    store_listen_group group;
    int by_time, limit;
    const char *kind, *by;
} tops_args;

/* The track id of a "spotify:track:<id>" uri, else NULL. */
static json_t *track_id_of(const char *uri)
{
    static const char prefix[] = "spotify:track:";
    return uri && strncmp(uri, prefix, sizeof prefix - 1) == 0
               ? json_string(uri + sizeof prefix - 1)
               : json_null();
}

static double share_of(int64_t part, int64_t whole)
{
    return whole > 0 ? (double)part / (double)whole : 0.0;
}

static json_t *tops_items(const store_rows *r, store_listen_group g, int by_time,
                          const store_listen_totals *tot)
{
    json_t *arr = json_array();
    /* Columns of plays and ms per group (see store_stats_listen_top). */
    size_t pc = g == STORE_LISTEN_TRACKS ? 4 : 2;
    for (size_t i = 0; arr && i < store_rows_count(r); i++) {
        int64_t plays = store_rows_int(r, i, pc), ms = store_rows_int(r, i, pc + 1);
        json_t *e = json_pack("{s:I,s:I,s:I,s:f}", "rank", (json_int_t)(i + 1), "plays",
                              (json_int_t)plays, "ms", (json_int_t)ms, "share",
                              by_time ? share_of(ms, tot->ms) : share_of(plays, tot->plays));
        if (!e)
            break;
        if (g == STORE_LISTEN_TRACKS)
            json_object_update_new(
                e, json_pack("{s:o,s:o,s:o,s:o,s:o}", "uri", str_or_null(r, i, 0), "id",
                             track_id_of(store_rows_text(r, i, 0)), "name", str_or_null(r, i, 1),
                             "artist", str_or_null(r, i, 2), "album", str_or_null(r, i, 3)));
        else if (g == STORE_LISTEN_ARTISTS)
            json_object_update_new(e, json_pack("{s:o,s:o}", "name", str_or_null(r, i, 0), "id",
                                                str_or_null(r, i, 1)));
        else
            json_object_update_new(e, json_pack("{s:o,s:o,s:o}", "name", str_or_null(r, i, 0),
                                                "artist", str_or_null(r, i, 1), "id",
                                                str_or_null(r, i, 4)));
        json_array_append_new(arr, e);
    }
    return arr;
}

static kt_status read_tops(store *s, void *ctx, json_t **out, kt_err *err)
{
    const tops_args *a = ctx;
    range_res r;
    store_listen_totals tot;
    store_rows *rows = NULL;
    kt_status st = resolve_range(s, a->user_id, a->range, a->now_ms, &r, err);
    if (st == KT_OK)
        st = store_stats_listen_totals(s, a->user_id, r.from_ms, r.to_ms, &tot, err);
    if (st == KT_OK)
        st = store_stats_listen_top(s, a->user_id, r.from_ms, r.to_ms, a->group, a->by_time,
                                    (size_t)a->limit, &rows, err);
    if (st == KT_OK) {
        *out = json_pack("{s:s,s:s,s:s,s:o,s:o,s:I,s:I,s:o}", "kind", a->kind, "by", a->by,
                         "period", r.period, "from", iso_or_null(r.from_ms), "to",
                         iso_or_null(r.to_ms), "plays", (json_int_t)tot.plays, "ms",
                         (json_int_t)tot.ms, "items", tops_items(rows, a->group, a->by_time, &tot));
        if (!*out)
            st = nomem(err);
    }
    store_rows_free(rows);
    return st;
}

kt_status stats_tops(kt_app *app, int64_t user_id, const char *kind, const char *by,
                     const stats_range_args *range, int limit, int64_t now_ms, json_t **out,
                     kt_err *err)
{
    static const char *const kinds[] = {"tracks", "artists", "albums"};
    tops_args a = {.user_id = user_id, .now_ms = now_ms, .range = range, .limit = limit,
                   .kind = kind ? kind : "tracks", .by = by ? by : "plays"};
    size_t k = 0;
    while (k < 3 && strcmp(a.kind, kinds[k]) != 0)
        k++;
    if (k == 3)
        return bad_param(err, "kind: must be tracks, artists or albums");
    if (strcmp(a.by, "plays") != 0 && strcmp(a.by, "time") != 0)
        return bad_param(err, "by: must be plays or time");
    if (limit < 1 || limit > 100)
        return bad_param(err, "limit: must be 1..100");
    a.group = k == 0 ? STORE_LISTEN_TRACKS : k == 1 ? STORE_LISTEN_ARTISTS : STORE_LISTEN_ALBUMS;
    a.by_time = strcmp(a.by, "time") == 0;
    return app_db_read_json(app, read_tops, &a, out, err);
}

typedef struct item_args {
    int64_t user_id;
    store_item_kind kind;
    const char *kind_name, *id;
    char key[ID_MAX + 16]; /* what the store matches: the track uri, else the id */
    char uri[ID_MAX + 24];
} item_args;

/* {id, name} from two columns, or null when the id is NULL. */
static json_t *ref_json(const store_rows *r, size_t id_col, size_t name_col)
{
    if (store_rows_count(r) == 0 || store_rows_is_null(r, 0, id_col))
        return json_null();
    return json_pack("{s:o,s:o}", "id", str_or_null(r, 0, id_col), "name",
                     str_or_null(r, 0, name_col));
}

/* Playlist rows (store_stats_item_playlists) grouped per playlist. */
static json_t *placements_json(const store_rows *r)
{
    json_t *arr = json_array(), *cur = NULL;
    int64_t cur_id = -1;
    for (size_t i = 0; arr && i < store_rows_count(r); i++) {
        if (!cur || store_rows_int(r, i, 0) != cur_id) {
            cur_id = store_rows_int(r, i, 0);
            cur = json_pack("{s:I,s:o,s:o,s:[]}", "id", (json_int_t)cur_id, "spotify_id",
                            str_or_null(r, i, 1), "name", str_or_null(r, i, 2), "positions");
            if (json_array_append_new(arr, cur) != 0) {
                json_decref(arr);
                return NULL;
            }
        }
        json_array_append_new(json_object_get(cur, "positions"),
                              json_pack("{s:I,s:o,s:o}", "position",
                                        (json_int_t)store_rows_int(r, i, 3), "uri",
                                        str_or_null(r, i, 4), "name", str_or_null(r, i, 5)));
    }
    return arr;
}

static json_t *liked_json(const store_rows *r, int64_t total)
{
    json_t *items = json_array();
    for (size_t i = 0; items && i < store_rows_count(r); i++)
        json_array_append_new(
            items, json_pack("{s:I,s:o,s:o,s:o}", "position", (json_int_t)store_rows_int(r, i, 0),
                             "added_at",
                             store_rows_is_null(r, i, 1) ? json_null()
                                                         : iso_or_null(store_rows_int(r, i, 1)),
                             "uri", str_or_null(r, i, 2), "name", str_or_null(r, i, 3)));
    return json_pack("{s:I,s:o}", "total", (json_int_t)total, "items", items);
}

static json_t *ranks_json(const store_rows *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < store_rows_count(r); i++)
        json_array_append_new(arr, json_pack("{s:o,s:o,s:I}", "range", str_or_null(r, i, 0),
                                             "day", str_or_null(r, i, 1), "rank",
                                             (json_int_t)store_rows_int(r, i, 2)));
    return arr;
}

static kt_status read_item(store *s, void *ctx, json_t **out, kt_err *err)
{
    const item_args *a = ctx;
    store_rows *info = NULL, *days = NULL, *ranks = NULL, *lists = NULL, *liked = NULL;
    int64_t liked_total = 0, plays = 0, ms = 0, first = 0, last = 0;
    kt_status st;
    if ((st = store_stats_item_info(s, a->kind, a->key, &info, err)) != KT_OK ||
        (st = store_stats_listen_buckets(s, a->user_id, a->kind, a->key, 0, INT64_MAX, DAY_MS, 0,
                                         &days, err)) != KT_OK ||
        (st = store_stats_rank_history(s, a->user_id, a->kind, a->key, &ranks, err)) != KT_OK ||
        (st = store_stats_item_playlists(s, a->user_id, a->kind, a->key, ITEM_ROWS_MAX, &lists,
                                         err)) != KT_OK ||
        (st = store_stats_item_liked(s, a->user_id, a->kind, a->key, ITEM_ROWS_MAX, &liked,
                                     &liked_total, err)) != KT_OK)
        goto out;
    size_t nd = store_rows_count(days);
    /* The catalog is shared by every user: an item none of this user's
     * plays, lists or top items hold is "not found", so the answer never
     * tells what another user has. */
    if (nd == 0 && store_rows_count(ranks) == 0 && store_rows_count(lists) == 0 &&
        liked_total == 0) {
        st = err_set(err, KT_ERR_NOT_FOUND, "no_such_item",
                     "no such %s in your plays, playlists, Liked Songs or top items",
                     a->kind_name);
        goto out;
    }
    json_t *per_day = json_array();
    for (size_t i = 0; per_day && i < nd; i++) {
        char day[11];
        plays += store_rows_int(days, i, 1);
        ms += store_rows_int(days, i, 2);
        day_text(store_rows_int(days, i, 0), day);
        json_array_append_new(per_day, json_pack("{s:s,s:I,s:I}", "day", day, "plays",
                                                 (json_int_t)store_rows_int(days, i, 1), "ms",
                                                 (json_int_t)store_rows_int(days, i, 2)));
    }
    if (nd) {
        first = store_rows_int(days, 0, 3);
        last = store_rows_int(days, nd - 1, 4);
    }
    int has_info = store_rows_count(info) > 0;
    json_t *artist = NULL, *album = NULL, *image = NULL;
    if (has_info && a->kind == STORE_ITEM_TRACK) {
        artist = ref_json(info, 1, 2);
        album = ref_json(info, 3, 4);
    } else if (has_info && a->kind == STORE_ITEM_ALBUM) {
        artist = ref_json(info, 1, 2);
        image = str_or_null(info, 0, 3);
    } else if (has_info) {
        image = str_or_null(info, 0, 1);
    }
    *out = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "kind",
                     a->kind_name, "id", a->id, "uri", a->uri, "name",
                     has_info ? str_or_null(info, 0, 0) : json_null(), "image_url",
                     image ? image : json_null(), "artist", artist ? artist : json_null(),
                     "album", album ? album : json_null(), "plays", (json_int_t)plays, "ms",
                     (json_int_t)ms, "first_play", iso_or_null(first), "last_play",
                     iso_or_null(last), "per_day", per_day, "rank_history", ranks_json(ranks),
                     "playlists", placements_json(lists), "liked",
                     liked_json(liked, liked_total));
    if (!*out)
        st = nomem(err);
out:
    store_rows_free(info);
    store_rows_free(days);
    store_rows_free(ranks);
    store_rows_free(lists);
    store_rows_free(liked);
    return st;
}

kt_status stats_item(kt_app *app, int64_t user_id, const char *kind, const char *id,
                     json_t **out, kt_err *err)
{
    static const char *const kinds[] = {"track", "artist", "album"};
    static const store_item_kind codes[] = {STORE_ITEM_TRACK, STORE_ITEM_ARTIST,
                                            STORE_ITEM_ALBUM};
    item_args a = {.user_id = user_id, .id = id};
    size_t k = 0;
    while (kind && k < 3 && strcmp(kind, kinds[k]) != 0)
        k++;
    if (!kind || k == 3)
        return bad_param(err, "kind: must be track, artist or album");
    size_t len = id ? strlen(id) : 0;
    if (len == 0 || len > ID_MAX ||
        strspn(id, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != len)
        return bad_param(err, "id: must be a Spotify id (letters and digits)");
    a.kind = codes[k];
    a.kind_name = kinds[k];
    snprintf(a.uri, sizeof a.uri, "spotify:%s:%s", kinds[k], id);
    snprintf(a.key, sizeof a.key, "%s", a.kind == STORE_ITEM_TRACK ? a.uri : id);
    return app_db_read_json(app, read_item, &a, out, err);
}

static kt_status read_growth(store *s, void *ctx, json_t **out, kt_err *err)
{
    const int64_t *user_id = ctx;
    store_liked_summary sum;
    store_rows *days = NULL;
    kt_status st = store_stats_liked_summary(s, *user_id, &sum, err);
    if (st == KT_OK)
        st = store_stats_liked_added_days(s, *user_id, &days, err);
    if (st != KT_OK)
        return st;
    int64_t dated = 0;
    for (size_t i = 0; i < store_rows_count(days); i++)
        dated += store_rows_int(days, i, 1);
    /* Items without added_at are counted from the start: they were there
     * before anything dated could be said about them. */
    int64_t liked = sum.tracks - dated;
    json_t *points = json_array();
    for (size_t i = 0; points && i < store_rows_count(days); i++) {
        char day[11];
        liked += store_rows_int(days, i, 1);
        day_text(store_rows_int(days, i, 0), day);
        json_array_append_new(points, json_pack("{s:s,s:I,s:I}", "day", day, "added",
                                                (json_int_t)store_rows_int(days, i, 1), "liked",
                                                (json_int_t)liked));
    }
    store_rows_free(days);
    *out = json_pack("{s:I,s:I,s:o}", "liked", (json_int_t)sum.tracks, "undated",
                     (json_int_t)(sum.tracks - dated), "points", points);
    return *out ? KT_OK : nomem(err);
}

kt_status stats_library_growth(kt_app *app, int64_t user_id, json_t **out, kt_err *err)
{
    return app_db_read_json(app, read_growth, &user_id, out, err);
}

/* ================= trackers ================= */

static const char *const tracker_names[] = {"liked", "playlists", "followed", "plays"};
/* Column of each series in store_tracker_points' rows. */
static const size_t tracker_cols[] = {1, 3, 4, 5};

typedef struct tracker_args {
    int64_t user_id;
    int series; /* index into tracker_names, -1 = all */
    char from[11], to[11];
} tracker_args;

static json_t *point_all_json(const store_rows *r, size_t i)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "day", str_or_null(r, i, 0), "liked",
                     int_of(r, i, 1), "liked_change",
                     store_rows_is_null(r, i, 2) ? json_null() : int_of(r, i, 2), "playlists",
                     int_of(r, i, 3), "followed", int_of(r, i, 4), "plays", int_of(r, i, 5),
                     "plays_total", int_of(r, i, 6));
}

static kt_status read_tracker(store *s, void *ctx, json_t **out, kt_err *err)
{
    const tracker_args *a = ctx;
    store_rows *r = NULL;
    kt_status st = store_tracker_points(s, a->user_id, a->from, a->to, &r, err);
    if (st != KT_OK)
        return st;
    json_t *pts = json_array();
    for (size_t i = 0; pts && i < store_rows_count(r); i++) {
        json_t *p;
        if (a->series < 0)
            p = point_all_json(r, i);
        else
            p = json_pack("{s:o,s:o}", "day", str_or_null(r, i, 0), "value",
                          int_of(r, i, tracker_cols[a->series]));
        if (p && a->series == 0)
            json_object_set_new(p, "change",
                                store_rows_is_null(r, i, 2) ? json_null() : int_of(r, i, 2));
        json_array_append_new(pts, p);
    }
    store_rows_free(r);
    *out = json_pack("{s:o,s:s,s:s,s:o}", "name",
                     a->series < 0 ? json_null() : json_string(tracker_names[a->series]), "from",
                     a->from, "to", a->to, "points", pts);
    return KT_OK;
}

kt_status stats_tracker(kt_app *app, int64_t user_id, const char *name, const char *from_day,
                        const char *to_day, int64_t now_ms, json_t **out, kt_err *err)
{
    tracker_args a = {.user_id = user_id, .series = -1};
    int64_t from_ms = 0, to_ms = 0;
    if (name) {
        size_t k;
        for (k = 0; k < sizeof tracker_names / sizeof tracker_names[0]; k++)
            if (strcmp(name, tracker_names[k]) == 0)
                break;
        if (k == sizeof tracker_names / sizeof tracker_names[0])
            return err_set(err, KT_ERR_INVALID, "bad_parameter",
                           "name: must be liked, playlists, followed or plays");
        a.series = (int)k;
    }
    if (to_day && !parse_day(to_day, &to_ms))
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "to: must be a date YYYY-MM-DD");
    if (from_day && !parse_day(from_day, &from_ms))
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "from: must be a date YYYY-MM-DD");
    if (!to_day)
        to_ms = scheduler_period_start(now_ms, DAY_MS);
    if (!from_day)
        from_ms = to_ms - 89 * DAY_MS;
    if (from_ms > to_ms)
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "from: must not be after to");
    day_text(from_ms / DAY_MS, a.from);
    day_text(to_ms / DAY_MS, a.to);
    return app_db_read_json(app, read_tracker, &a, out, err);
}

static kt_status record_point(kt_app *app, int64_t user_id, int64_t now_ms, kt_err *err)
{
    store *s = NULL;
    char day[11];
    int64_t start = scheduler_period_start(now_ms, DAY_MS);
    day_text(start / DAY_MS, day);
    kt_status st = app_db_get(app, &s, err);
    if (st != KT_OK)
        return st;
    st = store_tracker_record(s, user_id, day, start, now_ms, NULL, err);
    app_db_put(app, s);
    return st;
}

kt_status stats_trackers_update(kt_app *app, int64_t user_id, int64_t now_ms, int64_t *points,
                                kt_err *err)
{
    store *s = NULL;
    store_user *users = NULL;
    size_t n = 0;
    int64_t done = 0;
    kt_status st = KT_OK;
    if (user_id > 0) {
        st = record_point(app, user_id, now_ms, err);
        if (st == KT_OK && points)
            *points = 1;
        return st;
    }
    if ((st = app_db_get(app, &s, err)) != KT_OK)
        return st;
    st = store_user_list(s, &users, &n, err);
    app_db_put(app, s);
    for (size_t i = 0; st == KT_OK && i < n; i++)
        if ((st = record_point(app, users[i].id, now_ms, err)) == KT_OK)
            done++;
    store_user_list_free(users, n);
    if (st == KT_OK) {
        LOG_INFO("tracker_points", "points=%lld", (long long)done);
        if (points)
            *points = done;
    }
    return st;
}

/* ================= top movement ================= */

typedef struct move_args {
    int64_t user_id;
    const char *range, *kind, *from, *to;
} move_args;

/* A snapshot row as the API shows the item. */
static json_t *top_item_json(const store_rows *r, size_t i, int tracks)
{
    if (!tracks) {
        json_t *g = parse_text(store_rows_text(r, i, 3));
        const char *id = store_rows_text(r, i, 1);
        return json_pack("{s:o,s:o,s:o,s:o,s:o}", "id", str_or_null(r, i, 1), "uri",
                         id ? json_sprintf("spotify:artist:%s", id) : json_null(), "name",
                         str_or_null(r, i, 2), "genres", g ? g : json_null(), "image_url",
                         str_or_null(r, i, 4));
    }
    const char *date = store_rows_text(r, i, 5), *artist = store_rows_text(r, i, 6);
    json_t *g = parse_text(store_rows_text(r, i, 8)), *f = parse_text(store_rows_text(r, i, 9));
    long year = date && strlen(date) >= 4 ? strtol(date, NULL, 10) : 0;
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "uri", str_or_null(r, i, 1), "id",
                     str_or_null(r, i, 2), "name", str_or_null(r, i, 3), "artist",
                     str_or_null(r, i, 7), "artist_uri",
                     artist ? json_sprintf("spotify:artist:%s", artist) : json_null(), "album",
                     str_or_null(r, i, 4), "release_year",
                     year > 0 ? json_integer(year) : json_null(), "genres",
                     g ? g : json_null(), "audio_features", json_is_object(f) ? f : json_null());
}

/* Index of item `ref` in snapshot rows (column 1), or -1. */
static long find_rank(const store_rows *r, const char *ref)
{
    for (size_t i = 0; r && i < store_rows_count(r); i++) {
        const char *x = store_rows_text(r, i, 1);
        if (x && strcmp(x, ref) == 0)
            return (long)i;
    }
    return -1;
}

static int change_desc(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t cx = json_integer_value(json_object_get(x, "change"));
    json_int_t cy = json_integer_value(json_object_get(y, "change"));
    json_int_t rx = json_integer_value(json_object_get(x, "rank"));
    json_int_t ry = json_integer_value(json_object_get(y, "rank"));
    if (cx != cy) /* larger moves first (climbs up, falls down) */
        return (cx < 0 ? -cx : cx) > (cy < 0 ? -cy : cy) ? -1 : 1;
    return rx < ry ? -1 : rx > ry;
}

static void sort_by_change(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v = calloc(n + 1, sizeof *v);
    if (!v)
        return; /* left in rank order */
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof *v, change_desc);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, v[i]);
    free(v);
}

static json_t *movement_json(const move_args *a, const char *from_day, const char *to_day,
                             const store_rows *prev, const store_rows *cur)
{
    int tracks = strcmp(a->kind, "tracks") == 0;
    const char *key = tracks ? "track" : "artist";
    json_t *new_ = json_array(), *up = json_array(), *down = json_array(), *same = json_array(),
           *dropped = json_array();
    for (size_t i = 0; i < store_rows_count(cur); i++) {
        int64_t rank = store_rows_int(cur, i, 0);
        long j = find_rank(prev, store_rows_text(cur, i, 1));
        json_t *e = json_pack("{s:I,s:o}", "rank", (json_int_t)rank, key,
                              top_item_json(cur, i, tracks));
        if (j < 0) {
            json_array_append_new(new_, e);
            continue;
        }
        int64_t before = store_rows_int(prev, (size_t)j, 0);
        json_object_set_new(e, "previous_rank", json_integer(before));
        json_object_set_new(e, "change", json_integer(before - rank));
        json_array_append_new(before > rank ? up : before < rank ? down : same, e);
    }
    for (size_t j = 0; j < store_rows_count(prev); j++)
        if (find_rank(cur, store_rows_text(prev, j, 1)) < 0)
            json_array_append_new(dropped, json_pack("{s:I,s:o}", "previous_rank",
                                                     (json_int_t)store_rows_int(prev, j, 0), key,
                                                     top_item_json(prev, j, tracks)));
    sort_by_change(up);
    sort_by_change(down);
    return json_pack("{s:s,s:s,s:o,s:s,s:o,s:o,s:o,s:o,s:o}", "range", a->range, "kind", a->kind,
                     "from_day", from_day ? json_string(from_day) : json_null(), "to_day",
                     to_day, "new", new_, "climbers", up, "fallers", down, "dropped", dropped,
                     "unchanged", same);
}

static kt_status read_movement(store *s, void *ctx, json_t **out, kt_err *err)
{
    const move_args *a = ctx;
    char to_day[11], from_day[11];
    store_rows *cur = NULL, *prev = NULL;
    int have_from = 0;
    kt_err none = {0};
    kt_status st = store_stats_top_day(s, a->user_id, a->kind, a->range, a->to, 0, to_day, err);
    if (st != KT_OK)
        return st;
    kt_status fs = a->from ? store_stats_top_day(s, a->user_id, a->kind, a->range, a->from, 0,
                                                 from_day, &none)
                           : store_stats_top_day(s, a->user_id, a->kind, a->range, to_day, 1,
                                                 from_day, &none);
    if (fs == KT_OK)
        have_from = 1;
    else if (fs != KT_ERR_NOT_FOUND)
        return err_set(err, fs, none.code, "%s", none.msg);
    if ((st = store_stats_top_snapshot(s, a->user_id, a->kind, a->range, to_day, &cur, err)) ==
            KT_OK &&
        have_from)
        st = store_stats_top_snapshot(s, a->user_id, a->kind, a->range, from_day, &prev, err);
    if (st == KT_OK)
        *out = movement_json(a, have_from ? from_day : NULL, to_day, prev, cur);
    store_rows_free(cur);
    store_rows_free(prev);
    return st;
}

kt_status stats_top_movement(kt_app *app, int64_t user_id, const char *range, const char *kind,
                             const char *from_day, const char *to_day, json_t **out,
                             kt_err *err)
{
    int64_t ms = 0;
    if (!range || (strcmp(range, "short_term") != 0 && strcmp(range, "medium_term") != 0 &&
                   strcmp(range, "long_term") != 0))
        return err_set(err, KT_ERR_INVALID, "bad_parameter",
                       "range: must be short_term, medium_term or long_term");
    if (kind && strcmp(kind, "tracks") != 0 && strcmp(kind, "artists") != 0)
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "kind: must be tracks or artists");
    if (from_day && !parse_day(from_day, &ms))
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "from: must be a date YYYY-MM-DD");
    if (to_day && !parse_day(to_day, &ms))
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "to: must be a date YYYY-MM-DD");
    if (from_day && to_day && strcmp(from_day, to_day) > 0)
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "from: must not be after to");
    move_args a = {.user_id = user_id, .range = range, .kind = kind ? kind : "tracks",
                   .from = from_day, .to = to_day};
    return app_db_read_json(app, read_movement, &a, out, err);
}

/* ================= aggregate ================= */

kt_status stats_aggregate(kt_app *app, int64_t user_id, int64_t now_ms, json_t **out,
                          kt_err *err)
{
    static const char *const ranges[] = {"short_term", "medium_term", "long_term"};
    json_t *trackers = NULL, *library = NULL, *listening = NULL, *moves = json_object();
    int64_t today = scheduler_period_start(now_ms, DAY_MS);
    char from[11], to[11];
    day_text(today / DAY_MS - 29, from);
    day_text(today / DAY_MS, to);
    kt_status st = moves ? KT_OK : nomem(err);
    if (st == KT_OK)
        st = stats_tracker(app, user_id, NULL, from, to, now_ms, &trackers, err);
    if (st == KT_OK)
        st = stats_library(app, user_id, &library, err);
    if (st == KT_OK)
        st = stats_listening(app, user_id, today - 29 * DAY_MS, today + DAY_MS, 5, &listening,
                             err);
    for (size_t i = 0; st == KT_OK && i < sizeof ranges / sizeof ranges[0]; i++) {
        json_t *m = NULL;
        kt_err merr = {0};
        kt_status ms = stats_top_movement(app, user_id, ranges[i], "tracks", NULL, NULL, &m,
                                          &merr);
        if (ms == KT_ERR_NOT_FOUND)
            m = json_null(); /* no snapshot yet */
        else if (ms != KT_OK)
            st = err_set(err, ms, merr.code, "%s", merr.msg);
        if (st == KT_OK)
            json_object_set_new(moves, ranges[i], m);
    }
    if (st == KT_OK) {
        *out = json_pack("{s:o,s:O,s:O,s:O,s:O}", "generated_at", iso_or_null(now_ms), "trackers",
                         trackers, "library", library, "top_movement", moves, "listening",
                         listening);
        if (!*out)
            st = nomem(err);
    }
    json_decref(trackers);
    json_decref(library);
    json_decref(listening);
    json_decref(moves);
    return st;
}

/* ================= the stats job ================= */

static int hook_stopping(const stats_hooks *h)
{
    return h && h->stopping && h->stopping(h->ctx);
}

static void hook_progress(const stats_hooks *h, int64_t done, const char *msg)
{
    if (h && h->progress)
        h->progress(h->ctx, done, 0, msg);
}

/* Stores an artist object's genres and widest image. */
static kt_status put_artist(kt_app *app, const char *id, const json_t *artist, int64_t now_ms,
                            kt_err *err)
{
    store *s = NULL;
    char *genres = NULL;
    const json_t *g = json_object_get(artist, "genres");
    const char *image = NULL;
    json_t *empty = json_array();
    genres = json_dumps(json_is_array(g) ? g : empty, JSON_COMPACT);
    json_decref(empty);
    if (!genres)
        return nomem(err);
    /* Spotify lists images widest first. */
    image = json_string_value(json_object_get(json_array_get(json_object_get(artist, "images"), 0),
                                              "url"));
    kt_status st = app_db_get(app, &s, err);
    if (st == KT_OK)
        st = store_stats_artist_put(s, id, genres, image, now_ms, err);
    app_db_put(app, s);
    free(genres);
    return st;
}

/* Fetches due artists one at a time, each stored as it arrives. */
static kt_status refresh_artists(kt_app *app, int64_t user_id, int64_t now_ms,
                                 const stats_hooks *h, stats_refresh_result *res, kt_err *err)
{
    kt_status st = KT_OK;
    while (st == KT_OK && res->artists_fetched < STATS_ARTISTS_PER_RUN && !res->stopped) {
        store *s = NULL;
        store_rows *due = NULL;
        if ((st = app_db_get(app, &s, err)) != KT_OK)
            break;
        st = store_stats_artists_due(s, user_id, now_ms - STATS_ARTIST_TTL_MS, DUE_CHUNK, &due,
                                     err);
        app_db_put(app, s);
        if (st != KT_OK || store_rows_count(due) == 0) {
            store_rows_free(due);
            break;
        }
        for (size_t i = 0; st == KT_OK && i < store_rows_count(due); i++) {
            char path[128];
            json_t *body = NULL;
            const char *id = store_rows_text(due, i, 0);
            if (hook_stopping(h)) {
                res->stopped = 1;
                break;
            }
            snprintf(path, sizeof path, "/artists/%.64s", id);
            st = spotify_get(app->spotify, user_id, path, &body, err);
            if (st == KT_ERR_NOT_FOUND) { /* gone from Spotify: remember, do not ask again */
                json_decref(body);
                body = json_object();
                st = body ? KT_OK : nomem(err);
            }
            if (st == KT_OK)
                st = put_artist(app, id, body, now_ms, err);
            json_decref(body);
            if (st == KT_OK && ++res->artists_fetched % 25 == 0)
                hook_progress(h, res->artists_fetched, "fetching artist details");
        }
        store_rows_free(due);
    }
    return st;
}

static void set_features_state(kt_app *app, const char *value, int64_t now_ms)
{
    store *s = NULL;
    kt_err err = {0};
    if (app_db_get(app, &s, &err) == KT_OK &&
        store_app_state_set(s, STATS_FEATURES_STATE_KEY, value, now_ms, &err) == KT_OK) {
        app_db_put(app, s);
        return;
    }
    app_db_put(app, s);
    LOG_WARN("stats_state_failed", "code=%s", err.code);
}

/* Stores one /audio-features answer for the asked ids. */
static kt_status put_features(kt_app *app, const store_rows *due, const json_t *body,
                              int64_t now_ms, kt_err *err)
{
    size_t n = store_rows_count(due);
    const char **ids = calloc(n + 1, sizeof *ids), **texts = calloc(n + 1, sizeof *texts);
    char **owned = calloc(n + 1, sizeof *owned);
    const json_t *list = json_object_get(body, "audio_features");
    store *s = NULL;
    kt_status st = ids && texts && owned ? KT_OK : nomem(err);
    for (size_t i = 0; st == KT_OK && i < n; i++) {
        ids[i] = store_rows_text(due, i, 0);
        const json_t *f = json_array_get(list, i);
        /* Answers are in request order; a null (or a mismatched id) means none. */
        if (json_is_object(f) && json_string_value(json_object_get(f, "id")) &&
            strcmp(json_string_value(json_object_get(f, "id")), ids[i]) == 0) {
            if (!(owned[i] = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS)))
                st = nomem(err);
            texts[i] = owned[i];
        } else {
            texts[i] = "null";
        }
    }
    if (st == KT_OK && (st = app_db_get(app, &s, err)) == KT_OK)
        st = store_stats_features_put(s, ids, texts, n, now_ms, err);
    app_db_put(app, s);
    for (size_t i = 0; owned && i < n; i++)
        free(owned[i]);
    free(owned);
    free(ids);
    free(texts);
    return st;
}

static kt_status refresh_features(kt_app *app, int64_t user_id, int64_t now_ms,
                                  const stats_hooks *h, stats_refresh_result *res, kt_err *err)
{
    spotify_mode mode = spotify_get_mode(app->spotify);
    kt_status st = KT_OK;
    if (mode == SPOTIFY_MODE_UNKNOWN &&
        (st = spotify_detect_mode(app->spotify, user_id, &mode, err)) != KT_OK)
        return st;
    if (!spotify_endpoint_available(app->spotify, "GET /audio-features")) {
        set_features_state(app,
                           "unavailable: this Spotify app is in development mode, where "
                           "/audio-features answers 403 (it needs extended quota)",
                           now_ms);
        return KT_OK;
    }
    for (int batch = 0; st == KT_OK && batch < STATS_FEATURE_BATCHES_PER_RUN; batch++) {
        store *s = NULL;
        store_rows *due = NULL;
        char path[64 + FEATURES_BATCH * 64];
        json_t *body = NULL;
        if (hook_stopping(h)) {
            res->stopped = 1;
            break;
        }
        if ((st = app_db_get(app, &s, err)) == KT_OK)
            st = store_stats_features_due(s, user_id, FEATURES_BATCH, &due, err);
        app_db_put(app, s);
        if (st != KT_OK || store_rows_count(due) == 0) {
            store_rows_free(due);
            break;
        }
        size_t at = (size_t)snprintf(path, sizeof path, "/audio-features?ids=");
        for (size_t i = 0; i < store_rows_count(due) && at < sizeof path; i++)
            at += (size_t)snprintf(path + at, sizeof path - at, "%s%.60s", i ? "," : "",
                                   store_rows_text(due, i, 0));
        st = spotify_get(app->spotify, user_id, path, &body, err);
        if (st == KT_ERR_FORBIDDEN) { /* access withdrawn: say so, not an error */
            set_features_state(app,
                               "unavailable: Spotify refused /audio-features to this app (403)",
                               now_ms);
            store_rows_free(due);
            return KT_OK;
        }
        if (st == KT_OK)
            st = put_features(app, due, body, now_ms, err);
        if (st == KT_OK) {
            res->features_fetched += (int64_t)store_rows_count(due);
            hook_progress(h, res->artists_fetched + res->features_fetched,
                          "fetching audio features");
        }
        json_decref(body);
        store_rows_free(due);
    }
    if (st == KT_OK) {
        res->features_available = 1;
        set_features_state(app, "available", now_ms);
    }
    return st;
}

kt_status stats_refresh(kt_app *app, int64_t user_id, int64_t now_ms, const stats_hooks *hooks,
                        stats_refresh_result *res, kt_err *err)
{
    stats_refresh_result r = {0};
    hook_progress(hooks, 0, "fetching artist details");
    kt_status st = refresh_artists(app, user_id, now_ms, hooks, &r, err);
    if (st == KT_OK && !r.stopped)
        st = refresh_features(app, user_id, now_ms, hooks, &r, err);
    if (st == KT_OK) {
        LOG_INFO("stats_refreshed", "user=%lld artists=%lld features=%lld",
                 (long long)user_id, (long long)r.artists_fetched, (long long)r.features_fetched);
        if (res)
            *res = r;
    }
    return st;
}

kt_status stats_enqueue_refresh(kt_app *app, int64_t user_id, const char *dedupe_key,
                                int64_t *id, int *created, kt_err *err)
{
    char lane[48];
    snprintf(lane, sizeof lane, "stats:%lld", (long long)user_id);
    store_job_spec spec = {.kind = STATS_JOB_REFRESH, .user_id = user_id, .params = "{}",
                           .dedupe_key = dedupe_key, .lane = lane};
    return jobs_enqueue(app, &spec, id, created, err);
}

kt_status stats_schedule(kt_app *app, int64_t user_id, int64_t period_start, int *enqueued,
                         kt_err *err)
{
    char key[STORE_JOB_KEY_MAX + 1];
    int64_t id = 0, day = period_start;
    int created = 0;
    snprintf(key, sizeof key, "sched:tracker:u%lld:p%lld", (long long)user_id, (long long)day);
    store_job_spec spec = {.kind = STATS_JOB_TRACKERS, .user_id = user_id, .params = "{}",
                           .dedupe_key = key};
    kt_status st = jobs_enqueue(app, &spec, &id, &created, err);
    if (st == KT_OK && created) {
        (*enqueued)++;
        LOG_INFO("job_scheduled", "id=%lld schedule=tracker user=%lld", (long long)id,
                 (long long)user_id);
    }
    snprintf(key, sizeof key, "sched:stats:u%lld:p%lld", (long long)user_id, (long long)day);
    if (st == KT_OK && (st = stats_enqueue_refresh(app, user_id, key, &id, &created, err)) ==
                           KT_OK &&
        created) {
        (*enqueued)++;
        LOG_INFO("job_scheduled", "id=%lld schedule=stats user=%lld", (long long)id,
                 (long long)user_id);
    }
    return st;
}
