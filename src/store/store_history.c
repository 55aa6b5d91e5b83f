/* store_history.c - domain SQL of listening-history imports (see
 * store_history.h). PostgreSQL batches travel as one JSON array per
 * statement (jansson builds it, json_array_elements unpacks it).
 */
#include "store/store_history.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
}

/* Column k of a batch element, per back-end. */
#define PG_TXT(k) "e->>" #k
#define PG_INT(k) "CAST(e->>" #k " AS BIGINT)"
#define PG_FROM " FROM json_array_elements(CAST(? AS json)) AS e"

static const char *const tracks_sql =
    "INSERT INTO tracks (uri, id, kind, name, local_artist, local_album, updated_at) SELECT " PG_TXT(0)
    ", " PG_TXT(1) ", " PG_TXT(2) ", " PG_TXT(3) ", " PG_TXT(4) ", " PG_TXT(5) ", 0" PG_FROM
    " ON CONFLICT (uri) DO NOTHING";

static const char *const plays_sql =
    "INSERT INTO plays (user_id, played_at, track_uri, source, ms_played, source_ts, track_name, "
    "artist_name, album_name) SELECT ?, " PG_INT(0) ", " PG_TXT(1) ", 'import', " PG_INT(2) ", "
    PG_INT(3) ", " PG_TXT(4) ", " PG_TXT(5) ", " PG_TXT(6) PG_FROM
    " ON CONFLICT (user_id, played_at) DO NOTHING";

/* SQLite: one cached single-row statement per table, run per row (in
 * process, a row costs a few microseconds; no round trip to save). */
static kt_status sqlite_row(store *s, int64_t user_id, const store_hist_row *r, int64_t *changes,
                            kt_err *err)
{
    int unresolved = strcmp(r->kind, "unresolved") == 0;
    int64_t ch = 0;
    store_param t[] = {SP_TEXT(r->uri), SP_TEXT(r->id), SP_TEXT(r->kind), SP_TEXT(r->track_name),
                       SP_TEXT(unresolved ? r->artist_name : NULL),
                       SP_TEXT(unresolved ? r->album_name : NULL)};
    store_param p[] = {SP_INT(user_id),        SP_INT(r->played_at),    SP_TEXT(r->uri),
                       SP_INT(r->ms_played),   SP_INT(r->source_ts),    SP_TEXT(r->track_name),
                       SP_TEXT(r->artist_name), SP_TEXT(r->album_name)};
    kt_status st = store_exec(s,
                              "INSERT INTO tracks (uri, id, kind, name, local_artist, local_album, "
                              "updated_at) VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT (uri) DO "
                              "NOTHING",
                              t, 6, NULL, err);
    if (st == KT_OK)
        st = store_exec(s,
                        "INSERT INTO plays (user_id, played_at, track_uri, source, ms_played, "
                        "source_ts, track_name, artist_name, album_name) VALUES (?, ?, ?, "
                        "'import', ?, ?, ?, ?, ?) ON CONFLICT (user_id, played_at) DO NOTHING",
                        p, 8, &ch, err);
    *changes += ch;
    return st;
}

kt_status store_history_window(store *s, int64_t user_id, int64_t from_ms, int64_t to_ms,
                               store_rows **out, kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_INT(from_ms), SP_INT(to_ms)};
    return store_query(s,
                       "SELECT played_at, track_uri, source, source_ts, ms_played FROM plays "
                       "WHERE user_id = ? AND played_at >= ? AND played_at <= ? ORDER BY "
                       "played_at",
                       p, 3, out, err);
}

static json_t *str_or_null(const char *v)
{
    return v ? json_string(v) : json_null();
}

/* The two JSON arrays of a batch: distinct stub tracks, and the plays. */
static kt_status batch_json(const store_hist_row *rows, size_t n, char **tracks, char **plays,
                            kt_err *err)
{
    json_t *t = json_array(), *p = json_array(), *seen = json_object();
    kt_status st = KT_OK;
    *tracks = *plays = NULL;
    for (size_t i = 0; i < n && t && p && seen && st == KT_OK; i++) {
        const store_hist_row *r = &rows[i];
        int unresolved = strcmp(r->kind, "unresolved") == 0;
        if (!json_object_get(seen, r->uri)) {
            if (json_object_set_new(seen, r->uri, json_true()) != 0 ||
                json_array_append_new(
                    t, json_pack("[s,o,s,o,o,o]", r->uri, str_or_null(r->id), r->kind,
                                 str_or_null(r->track_name),
                                 str_or_null(unresolved ? r->artist_name : NULL),
                                 str_or_null(unresolved ? r->album_name : NULL))) != 0)
                st = nomem(err);
        }
        if (st == KT_OK &&
            json_array_append_new(p, json_pack("[I,s,I,I,o,o,o]", (json_int_t)r->played_at,
                                               r->uri, (json_int_t)r->ms_played,
                                               (json_int_t)r->source_ts,
                                               str_or_null(r->track_name),
                                               str_or_null(r->artist_name),
                                               str_or_null(r->album_name))) != 0)
            st = nomem(err);
    }
    if (st == KT_OK && (!t || !p || !seen))
        st = nomem(err);
    if (st == KT_OK) {
        *tracks = json_dumps(t, JSON_COMPACT);
        *plays = json_dumps(p, JSON_COMPACT);
        if (!*tracks || !*plays) {
            free(*tracks);
            free(*plays);
            *tracks = *plays = NULL;
            st = nomem(err);
        }
    }
    json_decref(t);
    json_decref(p);
    json_decref(seen);
    return st;
}

static kt_status write_progress(store *s, int64_t import_id, const store_hist_progress *p,
                                int64_t now_ms, kt_err *err)
{
    store_param q[] = {SP_INT(p->records),    SP_INT(p->committed_bytes), SP_TEXT(p->prefix_hash),
                       SP_INT(p->imported),   SP_INT(p->duplicates),      SP_INT(p->skipped),
                       SP_INT(p->rejected),   SP_INT(now_ms),             SP_INT(import_id)};
    return store_exec(s,
                      "UPDATE history_imports SET records = ?, committed_bytes = ?, prefix_hash = "
                      "?, imported = ?, duplicates = ?, skipped = ?, rejected = ?, updated_at = ? "
                      "WHERE id = ?",
                      q, 9, NULL, err);
}

kt_status store_history_commit(store *s, int64_t user_id, int64_t import_id,
                               const store_hist_row *rows, size_t n,
                               const store_hist_progress *progress, int64_t now_ms,
                               int64_t *added, kt_err *err)
{
    char *tracks = NULL, *plays = NULL;
    int pg = store_get_backend(s) == STORE_POSTGRES;
    int64_t changes = 0;
    kt_status st = n && pg ? batch_json(rows, n, &tracks, &plays, err) : KT_OK;
    if (st != KT_OK)
        return st;
    st = store_begin(s, err);
    if (st == KT_OK && n && pg) {
        store_param tp[] = {SP_TEXT(tracks)};
        store_param pp[] = {SP_INT(user_id), SP_TEXT(plays)};
        st = store_exec(s, tracks_sql, tp, 1, NULL, err);
        if (st == KT_OK)
            st = store_exec(s, plays_sql, pp, 2, &changes, err);
    }
    for (size_t i = 0; i < n && !pg && st == KT_OK; i++)
        st = sqlite_row(s, user_id, &rows[i], &changes, err);
    if (st == KT_OK)
        st = write_progress(s, import_id, progress, now_ms, err);
    if (st == KT_OK)
        st = store_commit(s, err);
    store_rollback(s);
    free(tracks);
    free(plays);
    if (st == KT_OK && added)
        *added = changes;
    return st;
}

kt_status store_history_import_start(store *s, int64_t user_id, const char *file_name,
                                     int64_t now_ms, int64_t *id, kt_err *err)
{
    store_param p[] = {SP_INT(user_id), SP_TEXT(file_name), SP_INT(now_ms), SP_INT(now_ms)};
    return store_query_int(s,
                           "INSERT INTO history_imports (user_id, file_name, status, started_at, "
                           "updated_at) VALUES (?, ?, 'running', ?, ?) RETURNING id",
                           p, 4, id, err);
}

kt_status store_history_resumable(store *s, int64_t user_id, const char *file_name,
                                  store_hist_import *out, kt_err *err)
{
    store_rows *r = NULL;
    store_param p[] = {SP_INT(user_id), SP_TEXT(file_name)};
    kt_status st = store_query(s,
                               "SELECT id, records, committed_bytes, prefix_hash, imported, "
                               "duplicates, skipped, rejected FROM history_imports WHERE user_id "
                               "= ? AND file_name = ? AND status IN ('running', 'failed') AND "
                               "records > 0 AND prefix_hash IS NOT NULL ORDER BY id DESC LIMIT 1",
                               p, 2, &r, err);
    if (st != KT_OK)
        return st;
    if (store_rows_count(r) == 0) {
        store_rows_free(r);
        return err_set(err, KT_ERR_NOT_FOUND, "not_found", "no unfinished import of this file");
    }
    store_hist_import h;
    memset(&h, 0, sizeof h);
    h.id = store_rows_int(r, 0, 0);
    h.records = store_rows_int(r, 0, 1);
    h.committed_bytes = store_rows_int(r, 0, 2);
    snprintf(h.prefix_hash, sizeof h.prefix_hash, "%s", store_rows_text(r, 0, 3));
    h.imported = store_rows_int(r, 0, 4);
    h.duplicates = store_rows_int(r, 0, 5);
    h.skipped = store_rows_int(r, 0, 6);
    h.rejected = store_rows_int(r, 0, 7);
    store_rows_free(r);
    *out = h;
    return KT_OK;
}

kt_status store_history_import_resume(store *s, int64_t import_id, int64_t now_ms, kt_err *err)
{
    store_param p[] = {SP_INT(now_ms), SP_INT(import_id)};
    return store_exec(s,
                      "UPDATE history_imports SET status = 'running', error = NULL, updated_at = "
                      "?, finished_at = NULL WHERE id = ?",
                      p, 2, NULL, err);
}

kt_status store_history_import_finish(store *s, int64_t import_id, const char *status,
                                      const store_hist_progress *p, const char *content_hash,
                                      const char *error, const char *report_json,
                                      int64_t now_ms, kt_err *err)
{
    kt_status st = store_begin(s, err);
    if (st == KT_OK && p->prefix_hash)
        st = write_progress(s, import_id, p, now_ms, err);
    if (st == KT_OK) {
        store_param q[] = {SP_TEXT(status),   SP_TEXT(content_hash), SP_TEXT(error),
                           SP_TEXT(report_json), SP_INT(p->imported), SP_INT(p->duplicates),
                           SP_INT(p->skipped), SP_INT(p->rejected),  SP_INT(now_ms),
                           SP_INT(now_ms),     SP_INT(import_id)};
        st = store_exec(s,
                        "UPDATE history_imports SET status = ?, content_hash = ?, error = ?, "
                        "report = ?, imported = ?, duplicates = ?, skipped = ?, rejected = ?, "
                        "updated_at = ?, finished_at = ? WHERE id = ?",
                        q, 11, NULL, err);
    }
    if (st == KT_OK)
        st = store_commit(s, err);
    store_rollback(s);
    return st;
}

kt_status store_history_imports_list(store *s, int64_t user_id, size_t limit, size_t offset,
                                     store_rows **out, int64_t *total, kt_err *err)
{
    int64_t count = 0;
    store_param c[] = {SP_INT(user_id)};
    store_param p[] = {SP_INT(user_id), SP_INT(limit), SP_INT(offset)};
    if (limit < 1 || limit > 500)
        return err_set(err, KT_ERR_INVALID, "bad_limit", "limit must be 1..500");
    kt_status st = store_query_int(s, "SELECT COUNT(*) FROM history_imports WHERE user_id = ?", c,
                                   1, &count, err);
    if (st == KT_OK)
        st = store_query(s,
                         "SELECT id, file_name, status, records, imported, duplicates, skipped, "
                         "rejected, error, started_at, finished_at, report FROM history_imports "
                         "WHERE user_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
                         p, 3, out, err);
    if (st == KT_OK)
        *total = count;
    return st;
}
