/* store_shuffle.c - shuffle sources, made playlists and shuffle statistics
 * (see store_shuffle.h; tables from migration 5 in migrations.c).
 *
 * Sources are read straight from the library copy (saved_tracks or
 * playlist_items, joined to the catalog for the spread shuffle's artist and
 * album keys). Keys are prefixed by what they are ("a:" artist id, "s:"
 * show id, "l:" a local file's artist name) so an id never equals a name.
 * Track counts are aggregated in memory first (a uri repeated in one
 * shuffle is one upsert adding its multiplicity: PostgreSQL refuses an
 * INSERT ... ON CONFLICT that touches one row twice) and written in
 * multi-row upserts of up to COUNT_BATCH rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_shuffle.h"

#define COUNT_BATCH 100
#define TOP_MAX 100
#define HISTORY_MAX 500

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
}

static int is_liked(const char *source)
{
    return strcmp(source, STORE_SHUFFLE_LIKED) == 0;
}

kt_status store_shuffle_source_info(store *s, int64_t user_id, const char *source, char **name,
                                    int *readable, kt_err *err)
{
    store_rows *r = NULL;
    char *copy = NULL;
    if (is_liked(source)) {
        if ((copy = strdup("Liked Songs")) == NULL)
            return nomem(err);
        *name = copy;
        *readable = 1;
        return KT_OK;
    }
    store_param p[] = {SP_INT(user_id), SP_TEXT(source)};
    kt_status rc = store_query(s,
                               "SELECT name, synced_snapshot_id FROM playlists "
                               "WHERE user_id = ? AND spotify_id = ? AND removed_at IS NULL",
                               p, 2, &r, err);
    if (rc != KT_OK)
        return rc;
    if (store_rows_count(r) == 0) {
        rc = err_set(err, KT_ERR_NOT_FOUND, "playlist_not_found",
                     "playlist %.64s is not in your library (sync first, or check the id)",
                     source);
    } else if ((copy = strdup(store_rows_text(r, 0, 0) ? store_rows_text(r, 0, 0) : source)) ==
               NULL) {
        rc = nomem(err);
    } else {
        *name = copy;
        *readable = !store_rows_is_null(r, 0, 1);
    }
    store_rows_free(r);
    return rc;
}

#define KEY_COLUMNS                                                                           \
    "t.kind, COALESCE('a:' || ta.artist_id, 's:' || t.show_id, 'l:' || t.local_artist), "    \
    "COALESCE('b:' || t.album_id, 's:' || t.show_id, 'l:' || t.local_album) "

kt_status store_shuffle_source_items(store *s, int64_t user_id, const char *source,
                                     store_rows **out, kt_err *err)
{
    if (is_liked(source)) {
        store_param p[] = {SP_INT(user_id)};
        return store_query(s,
                           "SELECT st.track_uri, " KEY_COLUMNS
                           "FROM saved_tracks st JOIN tracks t ON t.uri = st.track_uri "
                           "LEFT JOIN track_artists ta ON ta.track_uri = st.track_uri AND "
                           "ta.position = 0 WHERE st.user_id = ? ORDER BY st.position",
                           p, 1, out, err);
    }
    store_param p[] = {SP_INT(user_id), SP_TEXT(source)};
    return store_query(s,
                       "SELECT pi.item_uri, " KEY_COLUMNS
                       "FROM playlist_items pi JOIN playlists p ON p.id = pi.playlist_id "
                       "LEFT JOIN tracks t ON t.uri = pi.item_uri "
                       "LEFT JOIN track_artists ta ON ta.track_uri = pi.item_uri AND "
                       "ta.position = 0 "
                       "WHERE p.user_id = ? AND p.spotify_id = ? ORDER BY pi.position",
                       p, 2, out, err);
}

kt_status store_shuffled_find(store *s, int64_t user_id, const char *kind, const char *source,
                              store_rows **out, kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_INT(user_id), SP_TEXT(kind), SP_TEXT(source),
                       SP_TEXT(STORE_SHUFFLED_DELETED)};
    kt_status rc = store_query(s,
                               "SELECT id, spotify_id, name, status, mode, track_count "
                               "FROM shuffled_playlists WHERE user_id = ? AND kind = ? AND "
                               "source = ? AND status <> ? ORDER BY created_at DESC, id DESC "
                               "LIMIT 1",
                               p, 4, &r, err);
    if (rc != KT_OK)
        return rc;
    if (store_rows_count(r) == 0) {
        store_rows_free(r);
        return err_set(err, KT_ERR_NOT_FOUND, "not_found", "no playlist made from %.64s yet",
                       source);
    }
    *out = r;
    return KT_OK;
}

kt_status store_shuffled_begin(store *s, int64_t user_id, const char *kind, const char *source,
                               const char *mode, const char *spotify_id, const char *name,
                               int64_t now_ms, int64_t *id, kt_err *err)
{
    store_param p[] = {SP_INT(user_id),   SP_TEXT(kind), SP_TEXT(source),
                       SP_TEXT(mode),     SP_TEXT(spotify_id), SP_TEXT(name),
                       SP_TEXT(STORE_SHUFFLED_BUILDING), SP_INT(now_ms), SP_INT(now_ms)};
    return store_query_int(
        s,
        "INSERT INTO shuffled_playlists (user_id, kind, source, mode, spotify_id, name, status, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (user_id, spotify_id) DO UPDATE SET kind = excluded.kind, "
        "source = excluded.source, mode = excluded.mode, name = excluded.name, "
        "status = excluded.status, updated_at = excluded.updated_at RETURNING id",
        p, 9, id, err);
}

kt_status store_shuffled_finish(store *s, int64_t id, const char *status, int64_t track_count,
                                int64_t local_skipped, int64_t now_ms, kt_err *err)
{
    int done = strcmp(status, STORE_SHUFFLED_DONE) == 0;
    store_param p[] = {SP_TEXT(status), SP_INT(done), SP_INT(track_count), SP_INT(done),
                       SP_INT(local_skipped), SP_INT(now_ms), SP_INT(id)};
    return store_exec(s,
                      "UPDATE shuffled_playlists SET status = ?, "
                      "track_count = CASE WHEN ? = 1 THEN ? ELSE track_count END, "
                      "local_skipped = CASE WHEN ? = 1 THEN ? ELSE local_skipped END, "
                      "updated_at = ? WHERE id = ?",
                      p, 7, NULL, err);
}

kt_status store_shuffled_mark_deleted(store *s, int64_t user_id, const char *spotify_id,
                                      int64_t now_ms, int64_t *changes, kt_err *err)
{
    store_param p[] = {SP_TEXT(STORE_SHUFFLED_DELETED), SP_INT(now_ms), SP_INT(user_id),
                       SP_TEXT(spotify_id), SP_TEXT(STORE_SHUFFLED_DELETED)};
    return store_exec(s,
                      "UPDATE shuffled_playlists SET status = ?, updated_at = ? "
                      "WHERE user_id = ? AND spotify_id = ? AND status <> ?",
                      p, 5, changes, err);
}

kt_status store_shuffled_list(store *s, int64_t user_id, const char *kind, int include_deleted,
                              store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_TEXT(kind), SP_TEXT(kind), SP_INT(include_deleted),
                       SP_TEXT(STORE_SHUFFLED_DELETED)};
    return store_query(s,
                       "SELECT spotify_id, kind, source, mode, name, status, track_count, "
                       "local_skipped, created_at, updated_at FROM shuffled_playlists "
                       "WHERE user_id = ? AND (CAST(? AS TEXT) IS NULL OR kind = ?) "
                       "AND (? = 1 OR status <> ?) ORDER BY created_at DESC, id DESC",
                       p, 5, out, err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Upserts rows [0, m) of (uri, times) with one statement. */
static kt_status counts_write(store *s, int64_t user_id, const char *const *uris,
                              const int64_t *times, size_t m, kt_err *err)
{
    static const char head[] = "INSERT INTO shuffle_track_counts (user_id, track_uri, times) "
                               "VALUES ";
    static const char tail[] = " ON CONFLICT (user_id, track_uri) DO UPDATE SET "
                               "times = shuffle_track_counts.times + excluded.times";
    char sql[sizeof head + COUNT_BATCH * sizeof "(?, ?, ?), " + sizeof tail];
    store_param p[COUNT_BATCH * 3];
    size_t at = (size_t)snprintf(sql, sizeof sql, "%s", head);
    for (size_t i = 0; i < m; i++) {
        at += (size_t)snprintf(sql + at, sizeof sql - at, "%s(?, ?, ?)", i ? ", " : "");
        p[3 * i] = SP_INT(user_id);
        p[3 * i + 1] = SP_TEXT(uris[i]);
        p[3 * i + 2] = SP_INT(times[i]);
    }
    snprintf(sql + at, sizeof sql - at, "%s", tail);
    return store_exec(s, sql, p, 3 * m, NULL, err);
}

/* Adds one to the count of every uri (aggregated by uri first). */
static kt_status counts_add(store *s, int64_t user_id, const char *const *uris, size_t n,
                            kt_err *err)
{
    const char **sorted = n ? malloc(n * sizeof *sorted) : NULL;
    const char *batch[COUNT_BATCH];
    int64_t times[COUNT_BATCH];
    size_t m = 0;
    kt_status rc = KT_OK;
    if (n && sorted == NULL)
        return nomem(err);
    if (n)
        memcpy(sorted, uris, n * sizeof *sorted);
    if (n)
        qsort(sorted, n, sizeof *sorted, cmp_str);
    for (size_t i = 0; i < n && rc == KT_OK; i++) {
        if (m > 0 && strcmp(batch[m - 1], sorted[i]) == 0) {
            times[m - 1]++;
            continue;
        }
        if (m == COUNT_BATCH) {
            rc = counts_write(s, user_id, batch, times, m, err);
            m = 0;
        }
        batch[m] = sorted[i];
        times[m++] = 1;
    }
    if (rc == KT_OK && m > 0)
        rc = counts_write(s, user_id, batch, times, m, err);
    free(sorted);
    return rc;
}

kt_status store_shuffle_record(store *s, int64_t user_id, const char *source,
                               const char *source_name, const char *mode,
                               const char *spotify_id, int64_t tracks, int64_t local_skipped,
                               const char *const *uris, size_t n, int64_t now_ms, kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_TEXT(source),   SP_TEXT(source_name),
                       SP_TEXT(mode),   SP_TEXT(spotify_id), SP_INT(tracks),
                       SP_INT(local_skipped), SP_INT(now_ms)};
    kt_status rc = store_begin(s, err);
    if (rc != KT_OK)
        return rc;
    rc = store_exec(s,
                    "INSERT INTO shuffle_events (user_id, source, source_name, mode, spotify_id, "
                    "tracks, local_skipped, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    p, 8, NULL, err);
    if (rc == KT_OK)
        rc = counts_add(s, user_id, uris, n, err);
    if (rc == KT_OK)
        return store_commit(s, err);
    store_rollback(s);
    err_prefix(err, "recording the shuffle");
    return rc;
}

kt_status store_shuffle_totals(store *s, int64_t user_id, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_INT(user_id), SP_INT(user_id), SP_INT(user_id)};
    return store_query(s,
                       "SELECT COUNT(*), COALESCE(SUM(tracks), 0), COUNT(DISTINCT user_id), "
                       "COALESCE(SUM(local_skipped), 0), "
                       "(SELECT COUNT(*) FROM (SELECT DISTINCT user_id, source FROM "
                       "shuffle_events WHERE CAST(? AS BIGINT) = 0 OR user_id = ?) d) "
                       "FROM shuffle_events WHERE CAST(? AS BIGINT) = 0 OR user_id = ?",
                       p, 4, out, err);
}

static kt_status check_limit(size_t limit, size_t max, kt_err *err)
{
    if (limit < 1 || limit > max)
        return err_set(err, KT_ERR_INVALID, "bad_limit", "limit must be 1..%zu", max);
    return KT_OK;
}

kt_status store_shuffle_top_tracks(store *s, int64_t user_id, size_t limit, store_rows **out,
                                   kt_err *err)
{
    if (check_limit(limit, TOP_MAX, err) != KT_OK)
        return KT_ERR_INVALID;
    store_param p[] = {SP_INT(user_id), SP_INT(user_id), SP_INT(limit)};
    return store_query(s,
                       "SELECT c.track_uri, t.name, SUM(c.times) AS n "
                       "FROM shuffle_track_counts c LEFT JOIN tracks t ON t.uri = c.track_uri "
                       "WHERE CAST(? AS BIGINT) = 0 OR c.user_id = ? "
                       "GROUP BY c.track_uri, t.name ORDER BY n DESC, c.track_uri LIMIT ?",
                       p, 3, out, err);
}

kt_status store_shuffle_top_artists(store *s, int64_t user_id, size_t limit, store_rows **out,
                                    kt_err *err)
{
    if (check_limit(limit, TOP_MAX, err) != KT_OK)
        return KT_ERR_INVALID;
    store_param p[] = {SP_INT(user_id), SP_INT(user_id), SP_INT(limit)};
    return store_query(s,
                       "SELECT ta.artist_id, a.name, SUM(c.times) AS n "
                       "FROM shuffle_track_counts c "
                       "JOIN track_artists ta ON ta.track_uri = c.track_uri "
                       "JOIN artists a ON a.id = ta.artist_id "
                       "WHERE CAST(? AS BIGINT) = 0 OR c.user_id = ? "
                       "GROUP BY ta.artist_id, a.name ORDER BY n DESC, ta.artist_id LIMIT ?",
                       p, 3, out, err);
}

kt_status store_shuffle_history(store *s, int64_t user_id, size_t limit, size_t offset,
                                store_rows **out, int64_t *total, kt_err *err)
{
    store_rows *r = NULL;
    int64_t n = 0;
    if (check_limit(limit, HISTORY_MAX, err) != KT_OK)
        return KT_ERR_INVALID;
    store_param pc[] = {SP_INT(user_id)};
    kt_status rc = store_query_int(s, "SELECT COUNT(*) FROM shuffle_events WHERE user_id = ?", pc,
                                   1, &n, err);
    if (rc != KT_OK)
        return rc;
    store_param p[] = {SP_INT(user_id), SP_INT(limit), SP_INT(offset)};
    rc = store_query(s,
                     "SELECT source, source_name, mode, spotify_id, tracks, local_skipped, "
                     "created_at FROM shuffle_events WHERE user_id = ? "
                     "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                     p, 3, &r, err);
    if (rc != KT_OK)
        return rc;
    *out = r;
    *total = n;
    return KT_OK;
}
