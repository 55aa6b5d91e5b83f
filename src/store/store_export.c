/* store_export.c - keyset pages for exports and the `restores` rows (see
 * store_export.h). Each section is one SQL text in a table, so every page
 * is a cached prepared statement bound with (scope, after, limit).
 */
#include "store/store_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Track columns in STORE_EXT_* order after (key, added_at, added_by). */
#define EXT_TRACK_COLS                                                                      \
    "t.uri, t.id, t.kind, t.name, t.duration_ms, t.explicit, t.disc_number, "              \
    "t.track_number, t.isrc, t.album_id, al.name, al.release_date, al.image_url, "          \
    "t.local_artist, t.local_album, t.show_id, sh.name, t.release_date"
#define EXT_TRACK_JOINS \
    " LEFT JOIN albums al ON al.id = t.album_id LEFT JOIN shows sh ON sh.id = t.show_id"

static const char *const section_sql[] = {
    [STORE_EXPORT_LIKED] =
        "SELECT st.position, st.added_at, CAST(NULL AS TEXT), " EXT_TRACK_COLS
        " FROM saved_tracks st JOIN tracks t ON t.uri = st.track_uri" EXT_TRACK_JOINS
        " WHERE st.user_id = ? AND st.position > ? ORDER BY st.position LIMIT ?",
    [STORE_EXPORT_EPISODES] =
        "SELECT se.position, se.added_at, CAST(NULL AS TEXT), " EXT_TRACK_COLS
        " FROM saved_episodes se JOIN tracks t ON t.uri = se.episode_uri" EXT_TRACK_JOINS
        " WHERE se.user_id = ? AND se.position > ? ORDER BY se.position LIMIT ?",
    [STORE_EXPORT_ITEMS] =
        "SELECT pi.position, pi.added_at, pi.added_by, " EXT_TRACK_COLS
        " FROM playlist_items pi LEFT JOIN tracks t ON t.uri = pi.item_uri" EXT_TRACK_JOINS
        " WHERE pi.playlist_id = ? AND pi.position > ? ORDER BY pi.position LIMIT ?",
    [STORE_EXPORT_ALBUMS] =
        "SELECT sa.position, sa.added_at, a.id, a.name, a.album_type, a.release_date, "
        "a.total_tracks, a.image_url FROM saved_albums sa JOIN albums a ON a.id = sa.album_id "
        "WHERE sa.user_id = ? AND sa.position > ? ORDER BY sa.position LIMIT ?",
    [STORE_EXPORT_SHOWS] =
        "SELECT ss.position, ss.added_at, sh.id, sh.name, sh.publisher, sh.total_episodes, "
        "sh.image_url FROM saved_shows ss JOIN shows sh ON sh.id = ss.show_id "
        "WHERE ss.user_id = ? AND ss.position > ? ORDER BY ss.position LIMIT ?",
    [STORE_EXPORT_FOLLOWED] =
        "SELECT fa.position, a.id, a.name, a.genres, a.image_url FROM followed_artists fa "
        "JOIN artists a ON a.id = fa.artist_id WHERE fa.user_id = ? AND fa.position > ? "
        "ORDER BY fa.position LIMIT ?",
    [STORE_EXPORT_PLAYLISTS] =
        "SELECT id, spotify_id, name, description, owner_id, owner_name, collaborative, "
        "public, snapshot_id, items_total, image_url, synced_snapshot_id, removed_at, position "
        "FROM playlists WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?",
    [STORE_EXPORT_VERSIONS] =
        "SELECT id, snapshot_id, seen_at, items_total, items, cover_sha256, cover_url FROM "
        "playlist_versions WHERE playlist_id = ? AND id > ? ORDER BY id LIMIT ?",
    [STORE_EXPORT_USER_VERSIONS] =
        "SELECT v.id, p.spotify_id, p.name, v.snapshot_id, v.seen_at, v.items_total, "
        "v.cover_sha256, v.cover_url FROM playlist_versions v JOIN playlists p ON p.id = "
        "v.playlist_id WHERE p.user_id = ? AND v.id > ? ORDER BY v.id LIMIT ?",
    /* Imported plays may name tracks never synced: their own names first. */
    [STORE_EXPORT_PLAYS] =
        "SELECT pl.played_at, pl.track_uri, pl.context_uri, pl.source, pl.ms_played, "
        "COALESCE(pl.track_name, t.name), pl.artist_name, COALESCE(pl.album_name, al.name) "
        "FROM plays pl LEFT JOIN tracks t ON t.uri = pl.track_uri LEFT JOIN albums al ON "
        "al.id = t.album_id WHERE pl.user_id = ? AND pl.played_at > ? ORDER BY pl.played_at "
        "LIMIT ?",
};

static kt_status check_limit(size_t limit, kt_err *err)
{
    if (limit < 1 || limit > STORE_EXPORT_MAX_LIMIT)
        return err_set(err, KT_ERR_INVALID, "bad_limit", "export page size must be 1..%d",
                       STORE_EXPORT_MAX_LIMIT);
    return KT_OK;
}

kt_status store_export_page(store *s, store_export_section sec, int64_t scope, int64_t after,
                            size_t limit, store_rows **out, kt_err *err)
{
    if ((size_t)sec >= sizeof section_sql / sizeof section_sql[0])
        return err_set(err, KT_ERR_INTERNAL, NULL, "unknown export section %d", (int)sec);
    kt_status st = check_limit(limit, err);
    if (st != KT_OK)
        return st;
    store_param p[] = {SP_INT(scope), SP_INT(after), SP_INT((int64_t)limit)};
    return store_query(s, section_sql[sec], p, 3, out, err);
}

kt_status store_export_top(store *s, int64_t user_id, const store_top_key *after, size_t limit,
                           store_rows **out, kt_err *err)
{
    kt_status st = check_limit(limit, err);
    if (st != KT_OK)
        return st;
    /* Row-value comparison (SQLite >= 3.15 and PostgreSQL): the key is the
     * table's primary key after user_id, so the page is an index range. */
    static const char *sql =
        "SELECT ti.day, ti.kind, ti.time_range, ti.rank, ti.item, COALESCE(t.name, a.name) "
        "FROM top_items ti LEFT JOIN tracks t ON ti.kind = 'tracks' AND t.uri = ti.item "
        "LEFT JOIN artists a ON ti.kind = 'artists' AND a.id = ti.item WHERE ti.user_id = ? "
        "AND (ti.day, ti.kind, ti.time_range, ti.rank) > (?, ?, ?, ?) "
        "ORDER BY ti.day, ti.kind, ti.time_range, ti.rank LIMIT ?";
    store_param p[] = {SP_INT(user_id),
                       SP_TEXT(after ? after->day : ""),
                       SP_TEXT(after ? after->kind : ""),
                       SP_TEXT(after ? after->time_range : ""),
                       SP_INT(after ? after->rank : INT64_MIN),
                       SP_INT((int64_t)limit)};
    return store_query(s, sql, p, 6, out, err);
}

/* ---- restores ---- */

kt_status store_restore_create(store *s, int64_t user_id, const char *source, const char *options,
                               const char *input, int64_t now_ms, int64_t *id, kt_err *err)
{
    store_rows *r = NULL;
    if (!source || !options || !input)
        return err_set(err, KT_ERR_INVALID, NULL, "restore request without source/options/input");
    store_param p[] = {SP_INT(user_id), SP_TEXT(source), SP_TEXT(options), SP_TEXT(input),
                       SP_TEXT(STORE_RESTORE_QUEUED), SP_INT(now_ms)};
    kt_status st = store_query(s,
                               "INSERT INTO restores (user_id, source, options, input, status, "
                               "created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                               p, 6, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) != 1)
        st = err_set(err, KT_ERR_INTERNAL, NULL, "INSERT ... RETURNING gave no id");
    else
        *id = store_rows_int(r, 0, 0);
    store_rows_free(r);
    return st;
}

kt_status store_restore_find_open(store *s, int64_t user_id, const char *options,
                                  const char *input, int64_t *id, kt_err *err)
{
    if (!options || !input)
        return err_set(err, KT_ERR_INVALID, NULL, "restore lookup without options/input");
    store_param p[] = {SP_INT(user_id), SP_TEXT(STORE_RESTORE_QUEUED), SP_TEXT(options),
                       SP_TEXT(input)};
    return store_query_int(s,
                           "SELECT id FROM restores WHERE user_id = ? AND status = ? AND "
                           "job_id IS NULL AND options = ? AND input = ? "
                           "ORDER BY id DESC LIMIT 1",
                           p, 4, id, err);
}

kt_status store_restore_set_job(store *s, int64_t id, int64_t job_id, kt_err *err)
{
    store_param p[] = {SP_INT(job_id), SP_INT(id)};
    return store_exec(s, "UPDATE restores SET job_id = ? WHERE id = ?", p, 2, NULL, err);
}

kt_status store_restore_finish(store *s, int64_t id, const char *status, const char *report,
                               const char *error, int64_t now_ms, kt_err *err)
{
    if (!status || (strcmp(status, STORE_RESTORE_DONE) != 0 &&
                    strcmp(status, STORE_RESTORE_FAILED) != 0))
        return err_set(err, KT_ERR_INVALID, NULL, "restore status must be done or failed");
    store_param p[] = {SP_TEXT(status), SP_TEXT(report), SP_TEXT(error), SP_INT(now_ms),
                       SP_INT(id)};
    return store_exec(s,
                      "UPDATE restores SET status = ?, report = ?, error = ?, finished_at = ? "
                      "WHERE id = ?",
                      p, 5, NULL, err);
}

kt_status store_restore_get(store *s, int64_t user_id, int64_t id, store_rows **out,
                            kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_INT(id), SP_INT(user_id), SP_INT(user_id)};
    kt_status st = store_query(s,
                               "SELECT id, user_id, job_id, source, options, status, report, "
                               "error, created_at, finished_at FROM restores WHERE id = ? AND "
                               "(CAST(? AS BIGINT) = 0 OR user_id = ?)",
                               p, 3, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) == 0) {
        store_rows_free(r);
        return err_set(err, KT_ERR_NOT_FOUND, "restore_not_found", "no such restore");
    }
    *out = r;
    return KT_OK;
}

kt_status store_restore_input(store *s, int64_t id, char **out, kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_INT(id)};
    kt_status st = store_query(s, "SELECT input FROM restores WHERE id = ?", p, 1, &r, err);
    if (st != KT_OK)
        return st;
    const char *text = store_rows_count(r) ? store_rows_text(r, 0, 0) : NULL;
    char *copy = text ? strdup(text) : NULL;
    if (!text)
        st = err_set(err, KT_ERR_NOT_FOUND, "restore_not_found", "no such restore");
    else if (!copy)
        st = err_set(err, KT_ERR_NOMEM, NULL, "out of memory");
    store_rows_free(r);
    if (st == KT_OK)
        *out = copy;
    return st;
}

kt_status store_restore_created_put(store *s, int64_t id, int64_t source_index,
                                    const char *playlist_id, int64_t now_ms, kt_err *err)
{
    if (!playlist_id || !*playlist_id)
        return err_set(err, KT_ERR_INVALID, NULL, "a created playlist needs its id");
    store_param p[] = {SP_INT(id), SP_INT(source_index), SP_TEXT(playlist_id), SP_INT(now_ms)};
    return store_exec(s,
                      "INSERT INTO restore_playlists (restore_id, source_index, playlist_id, "
                      "created_at) VALUES (?, ?, ?, ?) ON CONFLICT (restore_id, source_index) "
                      "DO UPDATE SET playlist_id = excluded.playlist_id, "
                      "created_at = excluded.created_at",
                      p, 4, NULL, err);
}

kt_status store_restore_created_list(store *s, int64_t id, store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(id)};
    return store_query(s,
                       "SELECT source_index, playlist_id FROM restore_playlists "
                       "WHERE restore_id = ? ORDER BY source_index",
                       p, 1, out, err);
}
