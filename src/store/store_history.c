/* store_history.c - domain SQL of listening-history imports (see
 * store_history.h). PostgreSQL batches travel as one array parameter per
 * column (store_array.h), unpacked by unnest.
 */
#include "store/store_history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strset.h"
#include "store/store_array.h"

static kt_status nomem(kt_err *err)
{
    return err_set(err, KT_ERR_NOMEM, "out_of_memory", "out of memory");
}

/* PostgreSQL: one statement per table per batch, each column one array
 * parameter (store_array.h). The stub tracks skip the uris the catalog
 * already has before ON CONFLICT sees them: after the first batches of a
 * file nearly every uri is known, and a NOT EXISTS probe is cheaper than a
 * speculative insertion. */
static const char *const tracks_sql =
    "INSERT INTO tracks (uri, id, kind, name, local_artist, local_album, updated_at) "
    "SELECT u.uri, u.id, u.kind, u.name, u.artist, u.album, 0 FROM unnest(CAST(? AS text[]), "
    "CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), "
    "CAST(? AS text[])) AS u(uri, id, kind, name, artist, album) WHERE NOT EXISTS (SELECT 1 "
    "FROM tracks t WHERE t.uri = u.uri) ON CONFLICT (uri) DO NOTHING";

static const char *const plays_sql =
    "INSERT INTO plays (user_id, played_at, track_uri, source, ms_played, source_ts, track_name, "
    "artist_name, album_name) SELECT ?, u.played_at, u.uri, 'import', u.ms, u.ts, u.track, "
    "u.artist, u.album FROM unnest(CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS bigint[]), "
    "CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[])) AS "
    "u(played_at, uri, ms, ts, track, artist, album) ON CONFLICT (user_id, played_at) DO "
    "NOTHING";

#define TRACK_COLS 6
#define PLAY_COLS 7

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

/* The column arrays of a batch: distinct stub tracks (t), and the plays (p). */
static kt_status batch_arrays(const store_hist_row *rows, size_t n, store_array *t,
                              store_array *p, kt_err *err)
{
    strset *seen = strset_new();
    kt_status st = seen ? KT_OK : nomem(err);
    for (size_t i = 0; i < n && st == KT_OK; i++) {
        const store_hist_row *r = &rows[i];
        int unresolved = strcmp(r->kind, "unresolved") == 0, fresh = strset_add(seen, r->uri);
        if (fresh < 0) {
            st = nomem(err);
            break;
        }
        if (fresh) {
            store_array_text(&t[0], r->uri);
            store_array_text(&t[1], r->id);
            store_array_text(&t[2], r->kind);
            store_array_text(&t[3], r->track_name);
            store_array_text(&t[4], unresolved ? r->artist_name : NULL);
            store_array_text(&t[5], unresolved ? r->album_name : NULL);
        }
        store_array_int(&p[0], r->played_at);
        store_array_text(&p[1], r->uri);
        store_array_int(&p[2], r->ms_played);
        store_array_int(&p[3], r->source_ts);
        store_array_text(&p[4], r->track_name);
        store_array_text(&p[5], r->artist_name);
        store_array_text(&p[6], r->album_name);
    }
    strset_free(seen);
    return st;
}

/* PostgreSQL: the batch's two statements (inside the caller's transaction). */
static kt_status pg_batch(store *s, int64_t user_id, const store_hist_row *rows, size_t n,
                          int64_t *changes, kt_err *err)
{
    store_array t[TRACK_COLS], p[PLAY_COLS];
    store_param tp[TRACK_COLS], pp[1 + PLAY_COLS];
    kt_status st;
    for (size_t c = 0; c < TRACK_COLS; c++)
        store_array_init(&t[c]);
    for (size_t c = 0; c < PLAY_COLS; c++)
        store_array_init(&p[c]);
    st = batch_arrays(rows, n, t, p, err);
    for (size_t c = 0; c < TRACK_COLS && st == KT_OK; c++) {
        const char *lit = store_array_end(&t[c], err);
        st = lit ? KT_OK : KT_ERR_NOMEM;
        tp[c] = SP_TEXT(lit);
    }
    pp[0] = SP_INT(user_id);
    for (size_t c = 0; c < PLAY_COLS && st == KT_OK; c++) {
        const char *lit = store_array_end(&p[c], err);
        st = lit ? KT_OK : KT_ERR_NOMEM;
        pp[1 + c] = SP_TEXT(lit);
    }
    if (st == KT_OK)
        st = store_exec(s, tracks_sql, tp, TRACK_COLS, NULL, err);
    if (st == KT_OK)
        st = store_exec(s, plays_sql, pp, 1 + PLAY_COLS, changes, err);
    for (size_t c = 0; c < TRACK_COLS; c++)
        store_array_free(&t[c]);
    for (size_t c = 0; c < PLAY_COLS; c++)
        store_array_free(&p[c]);
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
    int pg = store_get_backend(s) == STORE_POSTGRES;
    int64_t changes = 0;
    kt_status st = store_begin(s, err);
    if (st == KT_OK && n && pg)
        st = pg_batch(s, user_id, rows, n, &changes, err);
    for (size_t i = 0; i < n && !pg && st == KT_OK; i++)
        st = sqlite_row(s, user_id, &rows[i], &changes, err);
    store_hist_progress counted = *progress;
    counted.imported += changes;
    counted.rejected += (int64_t)n - changes; /* another play took the instant */
    if (st == KT_OK)
        st = write_progress(s, import_id, &counted, now_ms, err);
    if (st == KT_OK)
        st = store_commit(s, err);
    store_rollback(s);
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
