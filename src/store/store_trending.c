/* store_trending.c - trending tracks (see store_trending.h; table from
 * migration 12 in migrations.c).
 *
 * Every write runs in its own transaction and leaves the positions dense
 * (0..n-1): a remove shifts the rows after it, a reorder and an import
 * rewrite every position. Lists are at most STORE_TRENDING_MAX rows, so a
 * statement per row is cheap and keeps the SQL plain on both back-ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_trending.h"

kt_status store_trending_list(store *s, int64_t user_id, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return store_query(s,
                       "SELECT tt.position, tt.track_uri, t.id, t.name, al.name, "
                       "al.release_date, a.id, a.name, a.genres, af.features, tt.source, "
                       "tt.added_at FROM trending_tracks tt JOIN tracks t ON t.uri = "
                       "tt.track_uri LEFT JOIN albums al ON al.id = t.album_id LEFT JOIN "
                       "track_artists ta ON ta.track_uri = tt.track_uri AND ta.position = 0 "
                       "LEFT JOIN artists a ON a.id = ta.artist_id LEFT JOIN audio_features af "
                       "ON af.track_id = t.id AND af.features <> 'null' WHERE tt.user_id = ? "
                       "ORDER BY tt.position",
                       p, 1, out, err);
}

kt_status store_trending_in_catalog(store *s, const char *uri, int *known, kt_err *err)
{
    int64_t n = 0;
    store_param p[] = {SP_TEXT(uri)};
    kt_status st = store_query_int(
        s, "SELECT COUNT(*) FROM tracks WHERE uri = ? AND kind = 'track'", p, 1, &n, err);
    if (st == KT_OK)
        *known = n > 0;
    return st;
}

kt_status store_trending_artist_due(store *s, const char *uri, char **artist_id, kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_TEXT(uri)};
    kt_status st = store_query(s,
                               "SELECT a.id FROM track_artists ta JOIN artists a ON a.id = "
                               "ta.artist_id WHERE ta.track_uri = ? AND ta.position = 0 AND "
                               "a.genres IS NULL",
                               p, 1, &r, err);
    if (st != KT_OK)
        return st;
    *artist_id = NULL;
    if (store_rows_count(r) > 0 && (*artist_id = strdup(store_rows_text(r, 0, 0))) == NULL)
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    store_rows_free(r);
    return st;
}

static kt_status count_rows(store *s, int64_t user_id, int64_t *n, kt_err *err)
{
    store_param p[] = {SP_INT(user_id)};
    return store_query_int(s, "SELECT COUNT(*) FROM trending_tracks WHERE user_id = ?", p, 1, n,
                           err);
}

/* Runs inside a transaction: the insert, or *added = 0 when listed. */
static kt_status add_tx(store *s, int64_t user_id, const char *uri, const char *source,
                        int64_t now_ms, int *added, kt_err *err)
{
    int64_t n = 0, listed = 0;
    store_param q[] = {SP_INT(user_id), SP_TEXT(uri)};
    kt_status st = store_query_int(
        s, "SELECT COUNT(*) FROM trending_tracks WHERE user_id = ? AND track_uri = ?", q, 2,
        &listed, err);
    if (st != KT_OK || listed) {
        *added = 0;
        return st;
    }
    if ((st = count_rows(s, user_id, &n, err)) != KT_OK)
        return st;
    if (n >= STORE_TRENDING_MAX)
        return err_set(err, KT_ERR_INVALID, "list_full",
                       "track: the list already holds %d tracks (the most it keeps); remove "
                       "some first",
                       STORE_TRENDING_MAX);
    store_param p[] = {SP_INT(user_id), SP_TEXT(uri), SP_INT(n), SP_TEXT(source),
                       SP_INT(now_ms)};
    st = store_exec(s,
                    "INSERT INTO trending_tracks (user_id, track_uri, position, source, "
                    "added_at) VALUES (?, ?, ?, ?, ?)",
                    p, 5, NULL, err);
    *added = st == KT_OK;
    return st;
}

kt_status store_trending_add(store *s, int64_t user_id, const char *uri, const char *source,
                             int64_t now_ms, int *added, kt_err *err)
{
    int done = 0;
    kt_status st = store_begin(s, err);
    if (st != KT_OK)
        return st;
    if ((st = add_tx(s, user_id, uri, source, now_ms, &done, err)) == KT_OK)
        st = store_commit(s, err);
    store_rollback(s); /* no-op after a commit */
    if (st == KT_OK && added)
        *added = done;
    return st;
}

kt_status store_trending_remove(store *s, int64_t user_id, const char *uri, kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_INT(user_id), SP_TEXT(uri)};
    kt_status st = store_begin(s, err);
    if (st != KT_OK)
        return st;
    st = store_query(s,
                     "DELETE FROM trending_tracks WHERE user_id = ? AND track_uri = ? "
                     "RETURNING position",
                     p, 2, &r, err);
    if (st != KT_OK)
        goto out;
    if (store_rows_count(r) == 0) {
        /* The id is not echoed: a path may hold another user's ids. */
        st = err_set(err, KT_ERR_NOT_FOUND, "not_listed", "track: not in your list");
        goto out;
    }
    store_param q[] = {SP_INT(user_id), SP_INT(store_rows_int(r, 0, 0))};
    if ((st = store_exec(s,
                         "UPDATE trending_tracks SET position = position - 1 WHERE user_id = ? "
                         "AND position > ?",
                         q, 2, NULL, err)) == KT_OK)
        st = store_commit(s, err);
out:
    store_rollback(s);
    store_rows_free(r);
    return st;
}

kt_status store_trending_reorder(store *s, int64_t user_id, const char *const *uris, size_t n,
                                 kt_err *err)
{
    int64_t have = 0;
    kt_status st = store_begin(s, err);
    if (st != KT_OK)
        return st;
    if ((st = count_rows(s, user_id, &have, err)) != KT_OK)
        goto out;
    if ((int64_t)n != have) {
        st = err_set(err, KT_ERR_INVALID, "bad_parameter",
                     "uris: expected every listed track once (%lld), got %zu", (long long)have,
                     n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t changes = 0;
        /* A repeat would leave another track's position stale: refuse it
         * (n <= STORE_TRENDING_MAX, so the quadratic check is small). */
        for (size_t j = 0; j < i; j++)
            if (strcmp(uris[i], uris[j]) == 0) {
                st = err_set(err, KT_ERR_INVALID, "bad_parameter",
                             "uris: %.100s appears more than once", uris[i]);
                goto out;
            }
        store_param p[] = {SP_INT((int64_t)i), SP_INT(user_id), SP_TEXT(uris[i])};
        st = store_exec(s,
                        "UPDATE trending_tracks SET position = ? WHERE user_id = ? AND "
                        "track_uri = ?",
                        p, 3, &changes, err);
        if (st == KT_OK && changes == 0)
            st = err_set(err, KT_ERR_INVALID, "bad_parameter", "uris: %.100s is not in the list",
                         uris[i]);
        if (st != KT_OK)
            goto out;
    }
    st = store_commit(s, err);
out:
    store_rollback(s);
    return st;
}

kt_status store_trending_replace(store *s, int64_t user_id, const char *const *uris, size_t n,
                                 const char *source, int64_t now_ms, kt_err *err)
{
    store_param d[] = {SP_INT(user_id)};
    if (n > STORE_TRENDING_MAX)
        return err_set(err, KT_ERR_INVALID, "list_full", "the list keeps at most %d tracks",
                       STORE_TRENDING_MAX);
    kt_status st = store_begin(s, err);
    if (st != KT_OK)
        return st;
    st = store_exec(s, "DELETE FROM trending_tracks WHERE user_id = ?", d, 1, NULL, err);
    for (size_t i = 0; st == KT_OK && i < n; i++) {
        store_param p[] = {SP_INT(user_id), SP_TEXT(uris[i]), SP_INT((int64_t)i),
                           SP_TEXT(source), SP_INT(now_ms)};
        st = store_exec(s,
                        "INSERT INTO trending_tracks (user_id, track_uri, position, source, "
                        "added_at) VALUES (?, ?, ?, ?, ?)",
                        p, 5, NULL, err);
    }
    if (st == KT_OK)
        st = store_commit(s, err);
    store_rollback(s);
    return st;
}
