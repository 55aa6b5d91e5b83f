/* store_stats.c - statistics SQL (see store_stats.h).
 *
 * Every aggregate is one GROUP BY statement written once for both
 * back-ends. The one dialect difference is text ordering: PostgreSQL sorts
 * text by the database's locale, SQLite by bytes, so ties are broken with
 * an explicit byte-order collation (COLLATE "C" / COLLATE BINARY) spliced
 * into the statement text; that keeps the two back-ends' answers identical.
 * SUMs are cast to BIGINT because PostgreSQL widens SUM(BIGINT) to NUMERIC.
 */
#include "store/store_stats.h"

#include <stdio.h>
#include <string.h>

#define DAY_MS 86400000LL

/* Byte-order collation for tie-breaks, per back-end. */
static const char *bytes_collation(store *s)
{
    return store_get_backend(s) == STORE_POSTGRES ? " COLLATE \"C\"" : " COLLATE BINARY";
}

/* Copies `fmt` into out with every "@C@" replaced by the byte-order
 * collation and every "@O@" by `order` (may be NULL when unused). The
 * statement text is then fixed per back-end, so the statement cache works. */
static kt_status expand_sql(store *s, const char *fmt, const char *order, char *out, size_t cap,
                            kt_err *err)
{
    const char *c = bytes_collation(s);
    size_t at = 0;
    while (*fmt) {
        const char *with = NULL;
        if (strncmp(fmt, "@C@", 3) == 0)
            with = c;
        else if (strncmp(fmt, "@O@", 3) == 0 && order)
            with = order;
        size_t len = with ? strlen(with) : 1;
        if (at + len + 1 > cap)
            return err_set(err, KT_ERR_INTERNAL, NULL, "statistics statement too long");
        memcpy(out + at, with ? with : fmt, len);
        at += len;
        fmt += with ? 3 : 1;
    }
    out[at] = '\0';
    return KT_OK;
}

static kt_status bad_limit(size_t limit, kt_err *err)
{
    if (limit == 0 || limit > STORE_STATS_MAX_LIMIT)
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "limit must be 1..%d",
                       STORE_STATS_MAX_LIMIT);
    return KT_OK;
}

/* ---- tracker points ---- */

static kt_status count_of(store *s, const char *sql, const store_param *p, size_t n,
                          int64_t *out, kt_err *err)
{
    return store_query_int(s, sql, p, n, out, err);
}

kt_status store_tracker_record(store *s, int64_t user_id, const char *day, int64_t day_start_ms,
                               int64_t now_ms, store_tracker_point *out, kt_err *err)
{
    store_tracker_point pt;
    store_rows *prev = NULL;
    memset(&pt, 0, sizeof pt);
    if (!day || strlen(day) != 10)
        return err_set(err, KT_ERR_INVALID, "bad_parameter", "day must be YYYY-MM-DD");
    memcpy(pt.day, day, 11);
    store_param u[] = {SP_INT(user_id)};
    store_param ud[] = {SP_INT(user_id), SP_INT(day_start_ms), SP_INT(day_start_ms + DAY_MS)};
    store_param up[] = {SP_INT(user_id), SP_TEXT(day)};
    kt_status st = store_begin(s, err);
    if (st != KT_OK)
        return st;
    if ((st = count_of(s, "SELECT COUNT(*) FROM saved_tracks WHERE user_id = ?", u, 1, &pt.liked,
                       err)) != KT_OK ||
        (st = count_of(s,
                       "SELECT COUNT(*) FROM playlists WHERE user_id = ? AND removed_at IS NULL",
                       u, 1, &pt.playlists, err)) != KT_OK ||
        (st = count_of(s, "SELECT COUNT(*) FROM followed_artists WHERE user_id = ?", u, 1,
                       &pt.followed, err)) != KT_OK ||
        (st = count_of(s,
                       "SELECT COUNT(*) FROM plays WHERE user_id = ? AND played_at >= ? AND "
                       "played_at < ?",
                       ud, 3, &pt.plays, err)) != KT_OK ||
        (st = count_of(s, "SELECT COUNT(*) FROM plays WHERE user_id = ?", u, 1, &pt.plays_total,
                       err)) != KT_OK ||
        (st = store_query(s,
                          "SELECT liked FROM tracker_points WHERE user_id = ? AND day < ? "
                          "ORDER BY day DESC LIMIT 1",
                          up, 2, &prev, err)) != KT_OK)
        goto out;
    if (store_rows_count(prev) == 1) {
        pt.has_change = 1;
        pt.liked_change = pt.liked - store_rows_int(prev, 0, 0);
    }
    store_param w[] = {SP_INT(user_id),      SP_TEXT(day),
                       SP_INT(pt.liked),     pt.has_change ? SP_INT(pt.liked_change) : SP_NULL,
                       SP_INT(pt.playlists), SP_INT(pt.followed),
                       SP_INT(pt.plays),     SP_INT(pt.plays_total),
                       SP_INT(now_ms)};
    st = store_exec(s,
                    "INSERT INTO tracker_points (user_id, day, liked, liked_change, playlists, "
                    "followed, plays, plays_total, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (user_id, day) DO UPDATE SET liked = excluded.liked, "
                    "liked_change = excluded.liked_change, playlists = excluded.playlists, "
                    "followed = excluded.followed, plays = excluded.plays, plays_total = "
                    "excluded.plays_total, recorded_at = excluded.recorded_at",
                    w, 9, NULL, err);
    if (st == KT_OK)
        st = store_commit(s, err);
out:
    store_rollback(s);
    store_rows_free(prev);
    if (st == KT_OK && out)
        *out = pt;
    return st;
}

kt_status store_tracker_points(store *s, int64_t user_id, const char *from_day,
                               const char *to_day, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_TEXT(from_day), SP_TEXT(to_day)};
    return store_query(s,
                       "SELECT day, liked, liked_change, playlists, followed, plays, plays_total, "
                       "recorded_at FROM tracker_points WHERE user_id = ? AND day >= ? AND "
                       "day <= ? ORDER BY day LIMIT 10000",
                       p, 3, out, err);
}

/* ---- caches ---- */

/* The ids of the artists a user's stats need details for. */
#define USER_ARTISTS                                                                          \
    "SELECT ta.artist_id AS id FROM saved_tracks st JOIN track_artists ta ON ta.track_uri = " \
    "st.track_uri WHERE st.user_id = ? UNION SELECT ta.artist_id FROM top_items ti JOIN "     \
    "track_artists ta ON ta.track_uri = ti.item WHERE ti.user_id = ? AND ti.kind = 'tracks' " \
    "UNION SELECT ti.item FROM top_items ti WHERE ti.user_id = ? AND ti.kind = 'artists'"

kt_status store_stats_artists_due(store *s, int64_t user_id, int64_t cutoff_ms, size_t limit,
                                  store_rows **out, kt_err *err)
{
    char sql[1024];
    kt_status st = bad_limit(limit, err);
    if (st == KT_OK)
        st = expand_sql(s,
                                "SELECT a.id FROM artists a WHERE a.id IN (" USER_ARTISTS
                                ") AND (a.genres IS NULL OR a.details_at < ?) ORDER BY a.id@C@ "
                                "LIMIT ?",
                                NULL, sql, sizeof sql, err);
    if (st != KT_OK)
        return st;
    store_param p[] = {SP_INT(user_id), SP_INT(user_id), SP_INT(user_id), SP_INT(cutoff_ms),
                       SP_INT(limit)};
    return store_query(s, sql, p, 5, out, err);
}

kt_status store_stats_artist_put(store *s, const char *id, const char *genres_json,
                                 const char *image_url, int64_t now_ms, kt_err *err)
{
    if (!id || !genres_json)
        return err_set(err, KT_ERR_INVALID, NULL, "artist id and genres are required");
    store_param p[] = {SP_TEXT(genres_json), SP_TEXT(image_url), SP_INT(now_ms), SP_TEXT(id)};
    return store_exec(s,
                      "UPDATE artists SET genres = ?, image_url = COALESCE(?, image_url), "
                      "details_at = ? WHERE id = ?",
                      p, 4, NULL, err);
}

kt_status store_stats_features_due(store *s, int64_t user_id, size_t limit, store_rows **out,
                                   kt_err *err)
{
    char sql[1024];
    kt_status st = bad_limit(limit, err);
    if (st == KT_OK)
        st = expand_sql(s,
            "SELECT t.id FROM tracks t WHERE t.kind = 'track' AND t.id IS NOT NULL AND "
            "(t.uri IN (SELECT track_uri FROM saved_tracks WHERE user_id = ?) OR t.uri IN "
            "(SELECT item FROM top_items WHERE user_id = ? AND kind = 'tracks')) AND NOT EXISTS "
            "(SELECT 1 FROM audio_features af WHERE af.track_id = t.id) ORDER BY t.id@C@ LIMIT ?",
            NULL, sql, sizeof sql, err);
    if (st != KT_OK)
        return st;
    store_param p[] = {SP_INT(user_id), SP_INT(user_id), SP_INT(limit)};
    return store_query(s, sql, p, 3, out, err);
}

kt_status store_stats_features_put(store *s, const char *const *ids,
                                   const char *const *features_json, size_t n, int64_t now_ms,
                                   kt_err *err)
{
    kt_status st = store_begin(s, err);
    for (size_t i = 0; st == KT_OK && i < n; i++) {
        store_param p[] = {SP_TEXT(ids[i]), SP_TEXT(features_json[i]), SP_INT(now_ms)};
        st = store_exec(s,
                        "INSERT INTO audio_features (track_id, features, fetched_at) VALUES "
                        "(?, ?, ?) ON CONFLICT (track_id) DO UPDATE SET features = "
                        "excluded.features, fetched_at = excluded.fetched_at",
                        p, 3, NULL, err);
    }
    if (st == KT_OK)
        st = store_commit(s, err);
    store_rollback(s);
    return st;
}

/* ---- Liked Songs ---- */

#define LIKED " FROM saved_tracks st JOIN tracks t ON t.uri = st.track_uri WHERE st.user_id = ?"

kt_status store_stats_liked_summary(store *s, int64_t user_id, store_liked_summary *out,
                                    kt_err *err)
{
    store_rows *r = NULL, *a = NULL;
    int64_t features = 0;
    store_param p[] = {SP_INT(user_id)};
    kt_status st = store_query(
        s,
        "SELECT COUNT(*), COALESCE(CAST(SUM(CASE WHEN t.kind = 'local' THEN 1 ELSE 0 END) AS "
        "BIGINT), 0), COALESCE(CAST(SUM(t.explicit) AS BIGINT), 0), "
        "COALESCE(CAST(SUM(t.duration_ms) AS BIGINT), 0), COUNT(t.duration_ms), "
        "COUNT(DISTINCT t.album_id)" LIKED,
        p, 1, &r, err);
    if (st == KT_OK)
        st = store_query(s,
                         "SELECT COUNT(DISTINCT a.id), COUNT(DISTINCT CASE WHEN a.genres IS NOT "
                         "NULL THEN a.id END) FROM saved_tracks st JOIN track_artists ta ON "
                         "ta.track_uri = st.track_uri JOIN artists a ON a.id = ta.artist_id "
                         "WHERE st.user_id = ?",
                         p, 1, &a, err);
    if (st == KT_OK)
        st = store_query_int(s,
                             "SELECT COUNT(*)" LIKED " AND EXISTS (SELECT 1 FROM audio_features "
                             "af WHERE af.track_id = t.id AND af.features <> 'null')",
                             p, 1, &features, err);
    if (st == KT_OK) {
        out->tracks = store_rows_int(r, 0, 0);
        out->local_files = store_rows_int(r, 0, 1);
        out->explicit_ = store_rows_int(r, 0, 2);
        out->duration_total = store_rows_int(r, 0, 3);
        out->with_duration = store_rows_int(r, 0, 4);
        out->albums = store_rows_int(r, 0, 5);
        out->artists = store_rows_int(a, 0, 0);
        out->artists_detailed = store_rows_int(a, 0, 1);
        out->features_known = features;
    }
    store_rows_free(r);
    store_rows_free(a);
    return st;
}

/* Runs a (user_id, limit) query (text as expand_sql takes it). */
static kt_status user_limit_query(store *s, const char *fmt, int64_t user_id,
                                  size_t limit, store_rows **out, kt_err *err)
{
    char sql[2048];
    kt_status st = bad_limit(limit, err);
    if (st == KT_OK)
        st = expand_sql(s, fmt, NULL, sql, sizeof sql, err);
    if (st != KT_OK)
        return st;
    store_param p[] = {SP_INT(user_id), SP_INT(limit)};
    return store_query(s, sql, p, 2, out, err);
}

kt_status store_stats_liked_top_artists(store *s, int64_t user_id, size_t limit,
                                        store_rows **out, kt_err *err)
{
    return user_limit_query(s,
                            "SELECT a.id, MAX(a.name), MAX(a.image_url), COUNT(*) AS n FROM "
                            "saved_tracks st JOIN track_artists ta ON ta.track_uri = "
                            "st.track_uri JOIN artists a ON a.id = ta.artist_id WHERE "
                            "st.user_id = ? GROUP BY a.id ORDER BY n DESC, MAX(a.name)@C@, a.id@C@ "
                            "LIMIT ?",
                            user_id, limit, out, err);
}

kt_status store_stats_liked_top_albums(store *s, int64_t user_id, size_t limit,
                                       store_rows **out, kt_err *err)
{
    return user_limit_query(
        s,
        "SELECT al.id, MAX(al.name), MAX(al.image_url), MAX(al.release_date), COUNT(*) AS n, "
        "(SELECT ar.name FROM album_artists aa JOIN artists ar ON ar.id = aa.artist_id "
        "WHERE aa.album_id = al.id AND aa.position = 0) FROM saved_tracks st JOIN tracks t ON "
        "t.uri = st.track_uri JOIN albums al ON al.id = t.album_id WHERE st.user_id = ? GROUP "
        "BY al.id ORDER BY n DESC, MAX(al.name)@C@, al.id@C@ LIMIT ?",
        user_id, limit, out, err);
}

kt_status store_stats_liked_years(store *s, int64_t user_id, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return store_query(s,
                       "SELECT SUBSTR(al.release_date, 1, 4) AS y, COUNT(*) FROM saved_tracks st "
                       "JOIN tracks t ON t.uri = st.track_uri JOIN albums al ON al.id = "
                       "t.album_id WHERE st.user_id = ? AND al.release_date IS NOT NULL AND "
                       "LENGTH(al.release_date) >= 4 GROUP BY SUBSTR(al.release_date, 1, 4) "
                       "ORDER BY y",
                       p, 1, out, err);
}

kt_status store_stats_liked_added_days(store *s, int64_t user_id, store_rows **out,
                                       kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return store_query(s,
                       "SELECT st.added_at / 86400000 AS d, COUNT(*) FROM saved_tracks st WHERE "
                       "st.user_id = ? AND st.added_at IS NOT NULL GROUP BY st.added_at / "
                       "86400000 ORDER BY d",
                       p, 1, out, err);
}

kt_status store_stats_liked_extremes(store *s, int64_t user_id, int desc, size_t limit,
                                     store_rows **out, kt_err *err)
{
    static const char *const fmt[2] = {
        "SELECT t.uri, t.name, t.duration_ms, COALESCE((SELECT a.name FROM track_artists ta "
        "JOIN artists a ON a.id = ta.artist_id WHERE ta.track_uri = t.uri AND ta.position = 0), "
        "t.local_artist), COALESCE(al.name, t.local_album) FROM saved_tracks st JOIN tracks t "
        "ON t.uri = st.track_uri LEFT JOIN albums al ON al.id = t.album_id WHERE st.user_id = ? "
        "AND t.duration_ms IS NOT NULL ORDER BY t.duration_ms ASC, t.uri@C@ LIMIT ?",
        "SELECT t.uri, t.name, t.duration_ms, COALESCE((SELECT a.name FROM track_artists ta "
        "JOIN artists a ON a.id = ta.artist_id WHERE ta.track_uri = t.uri AND ta.position = 0), "
        "t.local_artist), COALESCE(al.name, t.local_album) FROM saved_tracks st JOIN tracks t "
        "ON t.uri = st.track_uri LEFT JOIN albums al ON al.id = t.album_id WHERE st.user_id = ? "
        "AND t.duration_ms IS NOT NULL ORDER BY t.duration_ms DESC, t.uri@C@ LIMIT ?"};
    return user_limit_query(s, fmt[desc ? 1 : 0], user_id, limit, out, err);
}

kt_status store_stats_liked_genres(store *s, int64_t user_id, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return store_query(s,
                       "SELECT st.track_uri, a.id, a.genres FROM saved_tracks st JOIN "
                       "track_artists ta ON ta.track_uri = st.track_uri JOIN artists a ON a.id = "
                       "ta.artist_id WHERE st.user_id = ? AND a.genres IS NOT NULL ORDER BY "
                       "st.position, ta.position",
                       p, 1, out, err);
}

kt_status store_stats_liked_features(store *s, int64_t user_id, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return store_query(s,
                       "SELECT af.track_id, af.features FROM saved_tracks st JOIN tracks t ON "
                       "t.uri = st.track_uri JOIN audio_features af ON af.track_id = t.id WHERE "
                       "st.user_id = ? AND af.features <> 'null' ORDER BY st.position",
                       p, 1, out, err);
}

/* ---- listening ---- */

/* Every play with the names it is grouped by (see store_stats.h). */
#define LISTEN_JOINS                                                                          \
    " FROM plays p LEFT JOIN tracks t ON t.uri = p.track_uri LEFT JOIN track_artists ta ON "  \
    "ta.track_uri = p.track_uri AND ta.position = 0 LEFT JOIN artists a ON a.id = "           \
    "ta.artist_id LEFT JOIN albums al ON al.id = t.album_id LEFT JOIN album_artists aa ON "   \
    "aa.album_id = t.album_id AND aa.position = 0 LEFT JOIN artists aar ON aar.id = "         \
    "aa.artist_id"
#define LISTEN_RANGE " WHERE p.user_id = ? AND p.played_at >= ? AND p.played_at < ?"
#define L_MS "COALESCE(p.ms_played, t.duration_ms, 0)"
#define L_SUM_MS "CAST(SUM(" L_MS ") AS BIGINT)"
#define L_TRACK "COALESCE(t.name, p.track_name)"
#define L_ARTIST "COALESCE(a.name, p.artist_name, t.local_artist)"
#define L_ALBUM "COALESCE(al.name, p.album_name, t.local_album)"
#define L_ALBUM_ARTIST "COALESCE(aar.name, p.artist_name, t.local_artist)"

kt_status store_stats_listen_totals(store *s, int64_t user_id, int64_t from_ms, int64_t to_ms,
                                    store_listen_totals *out, kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_INT(user_id), SP_INT(from_ms), SP_INT(to_ms)};
    kt_status st = store_query(s,
                               "SELECT COUNT(*), COALESCE(" L_SUM_MS ", 0), COUNT(DISTINCT "
                               "p.track_uri), COUNT(DISTINCT " L_ARTIST "), "
                               "MIN(p.played_at), MAX(p.played_at)" LISTEN_JOINS LISTEN_RANGE,
                               p, 3, &r, err);
    if (st != KT_OK)
        return st;
    out->plays = store_rows_int(r, 0, 0);
    out->ms = store_rows_int(r, 0, 1);
    out->tracks = store_rows_int(r, 0, 2);
    out->artists = store_rows_int(r, 0, 3);
    out->first_ms = store_rows_int(r, 0, 4);
    out->last_ms = store_rows_int(r, 0, 5);
    store_rows_free(r);
    return KT_OK;
}

kt_status store_stats_listen_top(store *s, int64_t user_id, int64_t from_ms, int64_t to_ms,
                                 store_listen_group g, int by_time, size_t limit,
                                 store_rows **out, kt_err *err)
{
    static const char *const fmt[3] = {
        "SELECT p.track_uri, MAX(" L_TRACK "), MAX(" L_ARTIST "), MAX(" L_ALBUM "), COUNT(*) AS "
        "n, " L_SUM_MS " AS ms" LISTEN_JOINS LISTEN_RANGE " GROUP BY p.track_uri ORDER BY @O@, "
        "p.track_uri@C@ LIMIT ?",
        "SELECT " L_ARTIST " AS grp_artist, MAX(a.id), COUNT(*) AS n, " L_SUM_MS
        " AS ms" LISTEN_JOINS LISTEN_RANGE " AND " L_ARTIST " IS NOT NULL GROUP BY " L_ARTIST
        " ORDER BY @O@, " L_ARTIST "@C@ LIMIT ?",
        "SELECT " L_ALBUM " AS grp_album, " L_ALBUM_ARTIST " AS grp_artist, COUNT(*) AS n, "
        L_SUM_MS " AS ms, MAX(t.album_id)" LISTEN_JOINS LISTEN_RANGE " AND " L_ALBUM " IS NOT NULL GROUP BY "
        L_ALBUM ", " L_ALBUM_ARTIST " ORDER BY @O@, " L_ALBUM "@C@, " L_ALBUM_ARTIST "@C@ LIMIT ?"};
    char sql[4096];
    const char *order = by_time ? "ms DESC, n DESC" : "n DESC, ms DESC";
    kt_status st = bad_limit(limit, err);
    if (st != KT_OK)
        return st;
    if ((unsigned)g > STORE_LISTEN_ALBUMS)
        return err_set(err, KT_ERR_INVALID, NULL, "unknown listening group");
    if ((st = expand_sql(s, fmt[g], order, sql, sizeof sql, err)) != KT_OK)
        return st;
    store_param p[] = {SP_INT(user_id), SP_INT(from_ms), SP_INT(to_ms), SP_INT(limit)};
    return store_query(s, sql, p, 4, out, err);
}

kt_status store_stats_listen_hours(store *s, int64_t user_id, int64_t from_ms, int64_t to_ms,
                                   store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_INT(from_ms), SP_INT(to_ms)};
    return store_query(s,
                       "SELECT (p.played_at / 86400000 + 4) % 7, (p.played_at / 3600000) % 24, "
                       "COUNT(*), " L_SUM_MS LISTEN_JOINS LISTEN_RANGE
                       " GROUP BY (p.played_at / 86400000 + 4) % 7, (p.played_at / 3600000) % "
                       "24 ORDER BY 1, 2",
                       p, 3, out, err);
}

kt_status store_stats_listen_days(store *s, int64_t user_id, int64_t from_ms, int64_t to_ms,
                                  store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_INT(from_ms), SP_INT(to_ms)};
    return store_query(s,
                       "SELECT p.played_at / 86400000, COUNT(*), " L_SUM_MS LISTEN_JOINS
                           LISTEN_RANGE " GROUP BY p.played_at / 86400000 ORDER BY 1",
                       p, 3, out, err);
}

/* Artists with their first play ever, those whose first play is in range. */
#define FIRST_HEARD                                                                           \
    "SELECT " L_ARTIST " AS grp_artist, MIN(p.played_at) AS first_at" LISTEN_JOINS            \
    " WHERE p.user_id = ? AND " L_ARTIST " IS NOT NULL GROUP BY " L_ARTIST                     \
    " HAVING MIN(p.played_at) >= ? AND MIN(p.played_at) < ?"

/* The "first heard in range" lists (artists here, tracks in the recap): a
 * page of `limit` rows from `page_sql` (parameters: user, from, to, limit;
 * "@C@" expanded) and, when `total` is wanted, the count from `count_sql`
 * (parameters: user, from, to). */
static kt_status first_in_range(store *s, const char *page_sql, const char *count_sql,
                                int64_t user_id, int64_t from_ms, int64_t to_ms, size_t limit,
                                store_rows **out, int64_t *total, kt_err *err)
{
    char sql[4096];
    store_rows *r = NULL;
    int64_t n = 0;
    kt_status st = bad_limit(limit, err);
    if (st == KT_OK)
        st = expand_sql(s, page_sql, NULL, sql, sizeof sql, err);
    if (st != KT_OK)
        return st;
    store_param p[] = {SP_INT(user_id), SP_INT(from_ms), SP_INT(to_ms), SP_INT(limit)};
    st = store_query(s, sql, p, 4, &r, err);
    if (st == KT_OK && total)
        st = store_query_int(s, count_sql, p, 3, &n, err);
    if (st != KT_OK) {
        store_rows_free(r);
        return st;
    }
    if (total)
        *total = n;
    *out = r;
    return KT_OK;
}

kt_status store_stats_listen_first_heard(store *s, int64_t user_id, int64_t from_ms,
                                         int64_t to_ms, size_t limit, store_rows **out,
                                         int64_t *total, kt_err *err)
{
    return first_in_range(s, FIRST_HEARD " ORDER BY MIN(p.played_at), " L_ARTIST "@C@ LIMIT ?",
                          "SELECT COUNT(*) FROM (" FIRST_HEARD ") fh", user_id, from_ms, to_ms,
                          limit, out, total, err);
}

/* ---- listening over time and per item ---- */

#define HOUR_MS 3600000LL
#define WEEK_MS (7 * DAY_MS)

/* The condition selecting an item's plays (LISTEN_JOINS aliases), with one
 * parameter; "" for every play. */
static const char *play_filter(store_item_kind kind)
{
    switch (kind) {
    case STORE_ITEM_TRACK:
        return " AND p.track_uri = ?";
    case STORE_ITEM_ARTIST:
        return " AND ta.artist_id = ?";
    case STORE_ITEM_ALBUM:
        return " AND t.album_id = ?";
    case STORE_ITEM_ALL:
        break;
    }
    return "";
}

kt_status store_stats_listen_buckets(store *s, int64_t user_id, store_item_kind kind,
                                     const char *id, int64_t from_ms, int64_t to_ms,
                                     int64_t unit_ms, int64_t shift_ms, store_rows **out,
                                     kt_err *err)
{
    char sql[2048];
    if (unit_ms != HOUR_MS && unit_ms != DAY_MS && unit_ms != WEEK_MS)
        return err_set(err, KT_ERR_INVALID, NULL, "bucket unit must be an hour, a day or a week");
    if (shift_ms < 0 || shift_ms >= unit_ms || (kind != STORE_ITEM_ALL && !id))
        return err_set(err, KT_ERR_INVALID, NULL, "bad listening bucket arguments");
    /* Unit and shift are spliced as literals: one of three fixed texts per
     * filter, and PostgreSQL then sees the same GROUP BY expression as the
     * select list (a parameter there would be a different expression). */
    int n = snprintf(sql, sizeof sql,
                     "SELECT (p.played_at + %lld) / %lld, COUNT(*), " L_SUM_MS
                     ", MIN(p.played_at), MAX(p.played_at)" LISTEN_JOINS LISTEN_RANGE
                     "%s GROUP BY (p.played_at + %lld) / %lld ORDER BY 1",
                     (long long)shift_ms, (long long)unit_ms, play_filter(kind),
                     (long long)shift_ms, (long long)unit_ms);
    if (n < 0 || (size_t)n >= sizeof sql)
        return err_set(err, KT_ERR_INTERNAL, NULL, "statistics statement too long");
    store_param p[] = {SP_INT(user_id), SP_INT(from_ms), SP_INT(to_ms), SP_TEXT(id)};
    return store_query(s, sql, p, kind == STORE_ITEM_ALL ? 3 : 4, out, err);
}

static kt_status bad_kind(store_item_kind kind, const char *id, kt_err *err)
{
    if ((kind != STORE_ITEM_TRACK && kind != STORE_ITEM_ARTIST && kind != STORE_ITEM_ALBUM) ||
        !id)
        return err_set(err, KT_ERR_INVALID, NULL, "an item kind and id are required");
    return KT_OK;
}

kt_status store_stats_item_info(store *s, store_item_kind kind, const char *id,
                                store_rows **out, kt_err *err)
{
    static const char *const sql[] = {
        [STORE_ITEM_TRACK] = "SELECT t.name, a.id, a.name, al.id, al.name, t.duration_ms FROM "
                             "tracks t LEFT JOIN track_artists ta ON ta.track_uri = t.uri AND "
                             "ta.position = 0 LEFT JOIN artists a ON a.id = ta.artist_id LEFT "
                             "JOIN albums al ON al.id = t.album_id WHERE t.uri = ?",
        [STORE_ITEM_ARTIST] = "SELECT name, image_url FROM artists WHERE id = ?",
        [STORE_ITEM_ALBUM] = "SELECT al.name, ar.id, ar.name, al.image_url, al.release_date "
                             "FROM albums al LEFT JOIN album_artists aa ON aa.album_id = al.id "
                             "AND aa.position = 0 LEFT JOIN artists ar ON ar.id = aa.artist_id "
                             "WHERE al.id = ?",
    };
    kt_status st = bad_kind(kind, id, err);
    if (st != KT_OK)
        return st;
    store_param p[] = {SP_TEXT(id)};
    return store_query(s, sql[kind], p, 1, out, err);
}

kt_status store_stats_rank_history(store *s, int64_t user_id, store_item_kind kind,
                                   const char *id, store_rows **out, kt_err *err)
{
    static const char *const sql[] = {
        [STORE_ITEM_TRACK] = "SELECT time_range, day, rank FROM top_items WHERE user_id = ? AND "
                             "kind = 'tracks' AND item = ? ORDER BY day, time_range",
        [STORE_ITEM_ARTIST] = "SELECT time_range, day, rank FROM top_items WHERE user_id = ? "
                              "AND kind = 'artists' AND item = ? ORDER BY day, time_range",
        [STORE_ITEM_ALBUM] = "SELECT ti.time_range, ti.day, MIN(ti.rank) FROM top_items ti JOIN "
                             "tracks t ON t.uri = ti.item WHERE ti.user_id = ? AND ti.kind = "
                             "'tracks' AND t.album_id = ? GROUP BY ti.time_range, ti.day ORDER "
                             "BY ti.day, ti.time_range",
    };
    kt_status st = bad_kind(kind, id, err);
    if (st != KT_OK)
        return st;
    store_param p[] = {SP_INT(user_id), SP_TEXT(id)};
    return store_query(s, sql[kind], p, 2, out, err);
}

/* Checks an item query's arguments and writes the condition matching a
 * library row's track (aliases: `uri_col` the track uri, t the tracks
 * row), with one parameter. */
static kt_status item_match(store_item_kind kind, const char *id, size_t limit,
                            const char *uri_col, char *out, size_t cap, kt_err *err)
{
    kt_status st = bad_kind(kind, id, err);
    if (st == KT_OK)
        st = bad_limit(limit, err);
    if (st != KT_OK)
        return st;
    if (kind == STORE_ITEM_TRACK)
        snprintf(out, cap, "%s = ?", uri_col);
    else if (kind == STORE_ITEM_ALBUM)
        snprintf(out, cap, "t.album_id = ?");
    else
        snprintf(out, cap,
                 "EXISTS (SELECT 1 FROM track_artists x WHERE x.track_uri = %s AND "
                 "x.artist_id = ?)",
                 uri_col);
    return KT_OK;
}

kt_status store_stats_item_playlists(store *s, int64_t user_id, store_item_kind kind,
                                     const char *id, size_t limit, store_rows **out,
                                     kt_err *err)
{
    char match[160], sql[1024];
    kt_status st = item_match(kind, id, limit, "pi.item_uri", match, sizeof match, err);
    if (st != KT_OK)
        return st;
    snprintf(sql, sizeof sql,
             "SELECT pl.id, pl.spotify_id, pl.name, pi.position, pi.item_uri, t.name FROM "
             "playlists pl JOIN playlist_items pi ON pi.playlist_id = pl.id JOIN tracks t ON "
             "t.uri = pi.item_uri WHERE pl.user_id = ? AND pl.removed_at IS NULL AND %s ORDER "
             "BY pl.position, pl.id, pi.position LIMIT ?",
             match);
    store_param p[] = {SP_INT(user_id), SP_TEXT(id), SP_INT(limit)};
    return store_query(s, sql, p, 3, out, err);
}

kt_status store_stats_item_liked(store *s, int64_t user_id, store_item_kind kind,
                                 const char *id, size_t limit, store_rows **out, int64_t *total,
                                 kt_err *err)
{
    char match[160], sql[1024], count[1024];
    store_rows *r = NULL;
    int64_t n = 0;
    kt_status st = item_match(kind, id, limit, "st.track_uri", match, sizeof match, err);
    if (st != KT_OK)
        return st;
    snprintf(sql, sizeof sql,
             "SELECT st.position, st.added_at, st.track_uri, t.name FROM saved_tracks st JOIN "
             "tracks t ON t.uri = st.track_uri WHERE st.user_id = ? AND %s ORDER BY st.position "
             "LIMIT ?",
             match);
    snprintf(count, sizeof count,
             "SELECT COUNT(*) FROM saved_tracks st JOIN tracks t ON t.uri = st.track_uri WHERE "
             "st.user_id = ? AND %s",
             match);
    store_param p[] = {SP_INT(user_id), SP_TEXT(id), SP_INT(limit)};
    st = store_query(s, sql, p, 3, &r, err);
    if (st == KT_OK && total)
        st = store_query_int(s, count, p, 2, &n, err);
    if (st != KT_OK) {
        store_rows_free(r);
        return st;
    }
    if (total)
        *total = n;
    *out = r;
    return KT_OK;
}

/* ---- top snapshots ---- */

kt_status store_stats_top_day(store *s, int64_t user_id, const char *kind, const char *range,
                              const char *day, int before, char out[11], kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_INT(user_id), SP_TEXT(kind), SP_TEXT(range),
                       SP_TEXT(day ? day : "9999-12-31")};
    kt_status st = store_query(s,
                               before ? "SELECT MAX(day) FROM top_items WHERE user_id = ? AND "
                                        "kind = ? AND time_range = ? AND day < ?"
                                      : "SELECT MAX(day) FROM top_items WHERE user_id = ? AND "
                                        "kind = ? AND time_range = ? AND day <= ?",
                               p, 4, &r, err);
    if (st != KT_OK)
        return st;
    const char *d = store_rows_text(r, 0, 0);
    if (!d || strlen(d) != 10)
        st = err_set(err, KT_ERR_NOT_FOUND, "no_top_items", "no top %s snapshot for %s", kind,
                     range);
    else
        memcpy(out, d, 11);
    store_rows_free(r);
    return st;
}

kt_status store_stats_top_snapshot(store *s, int64_t user_id, const char *kind,
                                   const char *range, const char *day, store_rows **out,
                                   kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_TEXT(range), SP_TEXT(day)};
    if (kind && strcmp(kind, "artists") == 0)
        return store_query(s,
                           "SELECT ti.rank, ti.item, a.name, a.genres, a.image_url FROM "
                           "top_items ti LEFT JOIN artists a ON a.id = ti.item WHERE ti.user_id "
                           "= ? AND ti.kind = 'artists' AND ti.time_range = ? AND ti.day = ? "
                           "ORDER BY ti.rank",
                           p, 3, out, err);
    return store_query(s,
                       "SELECT ti.rank, ti.item, t.id, t.name, al.name, al.release_date, a.id, "
                       "a.name, a.genres, af.features FROM top_items ti LEFT JOIN tracks t ON "
                       "t.uri = ti.item LEFT JOIN albums al ON al.id = t.album_id LEFT JOIN "
                       "track_artists ta ON ta.track_uri = ti.item AND ta.position = 0 LEFT "
                       "JOIN artists a ON a.id = ta.artist_id LEFT JOIN audio_features af ON "
                       "af.track_id = t.id AND af.features <> 'null' WHERE ti.user_id = ? AND "
                       "ti.kind = 'tracks' AND ti.time_range = ? AND ti.day = ? ORDER BY "
                       "ti.rank",
                       p, 3, out, err);
}

/* ---- yearly recap ---- */

/* Tracks with their first play ever, those whose first play is in range. */
#define FIRST_TRACKS                                                                          \
    "SELECT p.track_uri, MAX(" L_TRACK "), MAX(" L_ARTIST "), MIN(p.played_at)" LISTEN_JOINS   \
    " WHERE p.user_id = ? GROUP BY p.track_uri HAVING MIN(p.played_at) >= ? AND "              \
    "MIN(p.played_at) < ?"

kt_status store_stats_listen_first_tracks(store *s, int64_t user_id, int64_t from_ms,
                                          int64_t to_ms, size_t limit, store_rows **out,
                                          int64_t *total, kt_err *err)
{
    /* The count needs no names: plays alone say when each track was first heard. */
    return first_in_range(s, FIRST_TRACKS " ORDER BY MIN(p.played_at), p.track_uri@C@ LIMIT ?",
                          "SELECT COUNT(*) FROM (SELECT track_uri FROM plays WHERE user_id = ? "
                          "GROUP BY track_uri HAVING MIN(played_at) >= ? AND MIN(played_at) < ?) ft",
                          user_id, from_ms, to_ms, limit, out, total, err);
}

kt_status store_stats_play_days(store *s, int64_t user_id, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return store_query(s,
                       "SELECT played_at / 86400000 FROM plays WHERE user_id = ? GROUP BY "
                       "played_at / 86400000 ORDER BY 1",
                       p, 1, out, err);
}
